"""Training the TED dialogue policy: domain and stories -> training examples -> a plain loop of
compiled training steps -> a `Policy` (saved with ``out``)."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from diet_sparse import __version__
from diet_sparse.config import ConfigLike, TEDConfig, as_config, rasa_config_report
from diet_sparse.dialogue.featurization import TurnFeaturizer, training_examples
from diet_sparse.dialogue.policy import Policy
from diet_sparse.dialogue.rules import lookup_for
from diet_sparse.persistence import check_model_directory, save_policy
from diet_sparse.rasa.domain import Domain, load_domain
from diet_sparse.rasa.nlu_data import TrainingDataError
from diet_sparse.rasa.stories import Story, load_stories, validate_stories
from diet_sparse.training.policy_model import TED, DialogueBatch, dialogue_batch
from diet_sparse.training.trainer import fit_epochs

logger = logging.getLogger(__name__)

PathsLike = str | Path | Sequence[str | Path]


def train_policy(
    domain: Domain | PathsLike,
    stories: Sequence[Story] | PathsLike,
    config: ConfigLike = None,
    out: str | Path | None = None,
    progress: bool | Callable[[dict[str, float]], None] = True,
    augmentation_factor: int | None = None,
) -> Policy:
    """Train a TED policy on Rasa stories and, with ``out``, save it there.

    The config, the domain, the stories (checked against the domain) and ``out`` are checked
    before training starts. As in Rasa, TED does not train on rules: with ``rules`` on, the
    policy applies them before TED, and with ``memoization`` on it remembers the stories'
    states (`rules.build_lookup`). TED also trains on stories glued together
    (``augmentation_factor``, `featurization.augmented_stories`); the rules and memoization
    see only the stories as written. The number of trainable weights is logged before training.

    Args:
        domain: a `Domain`, or ``domain.yml`` files / folders.
        stories: `Story` objects, or YAML files / folders holding ``stories:`` (and ``rules:``).
        config: a `TEDConfig`, a dict of its values, a YAML config path, or None.
        out: policy directory to write; an existing one is replaced only once complete.
        progress: True shows a progress bar with the loss and action accuracy; a function is
            called after each epoch with its figures instead; False reports nothing.
        augmentation_factor: replaces the config's ``augmentation_factor`` (Rasa's
            ``rasa train --augmentation``); None keeps it.

    Returns:
        The trained `Policy`.

    Example:
        >>> policy = train_policy("data/domain.yml", "data/", out="models/policy")  # doctest: +SKIP
    """
    from_rasa = rasa_config_report(config) if isinstance(config, str | Path) else None
    config = as_config(config, kind=TEDConfig)
    if augmentation_factor is not None:
        config = as_config({**config.to_dict(), "augmentation_factor": augmentation_factor},
                           kind=TEDConfig)  # fmt: skip
    if out is not None:
        check_model_directory(out)
    paths = not (isinstance(stories, Sequence) and all(isinstance(s, Story) for s in stories))
    if not isinstance(domain, Domain):  # with the responses of the data files, as Rasa's
        domain = load_domain(domain, data=stories if paths else None)
    if paths:
        stories = load_stories(stories)
    validate_stories(stories, domain)
    lookup = lookup_for(config, stories, domain)  # checked before training
    rules = sum(story.is_rule for story in stories)
    if rules:
        applied = "the policy applies them before TED" if config.rules else "rules: false"
        logger.info("%d rules read; TED trains on stories only (%s)", rules, applied)
    histories, actions = training_examples(
        stories, domain, config.max_history, config.augmentation_factor, config.random_seed
    )
    if not histories:
        raise TrainingDataError("nothing to learn: the stories hold no bot actions")

    tf.keras.utils.set_random_seed(config.random_seed)
    started = time.perf_counter()
    featurizer = TurnFeaturizer(domain)
    features, lengths = featurizer.featurize(histories, config.max_history)
    action_ids = np.array([featurizer.action_id(action) for action in actions], np.int32)
    model = TED(config, featurizer.attribute_sizes, len(domain.action_names))
    model.build_all()
    counts = model.count_trainable_weights()
    logger.info(
        "Trainable weights: %s connected in the randomly connected layers (of %s if dense, "
        "connection_density=%g); %s in total. %d training examples.",
        f"{counts['randomly_connected']:,}",
        f"{counts['randomly_connected_if_dense']:,}",
        config.connection_density,
        f"{counts['total']:,}",
        len(action_ids),
    )
    history = _fit(model, config, features, lengths, action_ids, progress)
    metadata = {
        "kind": "policy",
        "diet_sparse_version": __version__,
        "tensorflow_version": tf.__version__,
        "python_version": platform.python_version(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "training_seconds": round(time.perf_counter() - started, 2),
        "training_examples": len(action_ids),
        "trainable_weights": counts,
        "history": history,
    }
    if from_rasa is not None:  # what of the Rasa config.yml was mapped, and what ignored
        metadata["rasa_config"] = from_rasa
    policy = Policy(config, domain, model.to_weights(), metadata, lookup, keras_model=model)
    if out is not None:
        save_policy(policy, out)
    return policy


def _fit(
    model: TED,
    config: TEDConfig,
    features: dict[str, np.ndarray],
    lengths: np.ndarray,
    action_ids: np.ndarray,
    progress: bool | Callable[[dict[str, float]], None],
) -> list[dict[str, float]]:
    """TED's epochs: shuffled batches of the training dialogues."""
    signature = DialogueBatch(
        features={
            a: tf.TensorSpec([None, None, f.shape[2]], tf.float32) for a, f in features.items()
        },
        mask=tf.TensorSpec([None, None], tf.float32),
        action_ids=tf.TensorSpec([None], tf.int32),
    )

    def batches_of(batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
        order = rng.permutation(len(action_ids))
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def make(indices: np.ndarray) -> DialogueBatch:
        return dialogue_batch(
            {a: f[indices] for a, f in features.items()}, lengths[indices], action_ids[indices]
        )

    shown = {"loss": "loss", "action_accuracy": "acc"}
    return fit_epochs(model, config, signature, batches_of, make, progress, shown)
