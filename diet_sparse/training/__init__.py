"""Training: the only part of diet-sparse that imports TensorFlow.

    transformer.py  RandomlyConnectedDense and the randomly connected transformer encoder
    model.py        the DIET model: input projection -> encoder -> intent head, CRF tag heads
    crf.py          the CRF loss (tensorflow-addons is its test reference, kept in this file)
    batching.py     featurized messages -> padded tensors; the order of an epoch's batches
    trainer.py      `train`: featurize, build, fit, return an `NLU` (and save it)
    similarity.py   the sampled softmax loss of DIET's intent head and TED's action head
    policy_model.py the TED dialogue policy model
    policy_trainer.py `train_policy`: stories -> examples -> fit -> a `Policy` (and save it)

Loading and parsing (`diet_sparse.persistence`, `diet_sparse.nlu.parser`) never import this package.

The layers and the training loop are Keras 2 code. TensorFlow 2.15 (Python 3.11) brings Keras 2
as `tf.keras`; from TensorFlow 2.16 on (Python 3.12 and 3.13) `tf.keras` is Keras 3 unless
TF_USE_LEGACY_KERAS is set before `tf.keras` is first used, and then it is the tf-keras package,
Keras 2 kept up to date with TensorFlow, which the project installs there. TensorFlow 2.15 reads
the setting too, but without tf-keras it would find no Keras, so it is set only where tf-keras
is installed. This package is imported before any of its modules, so the setting covers them
all. docs/python-versions.md says why not Keras 3.
"""

import importlib.util
import os

if importlib.util.find_spec("tf_keras") is not None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"

from diet_sparse.training.policy_trainer import train_policy  # noqa: E402 (after the setting)
from diet_sparse.training.trainer import train  # noqa: E402

__all__ = ["train", "train_policy"]
