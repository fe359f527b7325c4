"""Training: the only part of diet-sparse that imports TensorFlow.

    transformer.py  RandomlyConnectedDense and the randomly connected transformer encoder
    model.py        the DIET model: input projection -> encoder -> intent head, CRF tag heads
    crf.py          the CRF loss (tensorflow-addons is its test reference, kept in this file)
    batching.py     featurized messages -> padded tensors; the order of an epoch's batches
    trainer.py      `train`: featurize, build, fit, return an `NLU` (and save it)
    similarity.py   the sampled softmax loss of DIET's intent head and TED's action head
    policy_model.py the TED dialogue policy model
    policy_trainer.py `train_policy`: stories -> examples -> fit -> a `Policy` (and save it)

Loading and parsing (`diet_sparse.persistence`, `diet_sparse.nlu`) never import this package.
"""

from diet_sparse.training.policy_trainer import train_policy
from diet_sparse.training.trainer import train

__all__ = ["train", "train_policy"]
