"""The training loop: featurize the data once, then a plain loop of compiled training steps."""

from __future__ import annotations

import logging
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from diet_sparse import __version__
from diet_sparse.config import ConfigLike, DIETConfig, as_config, rasa_config_report
from diet_sparse.network import wide_path
from diet_sparse.nlu.featurizer import Featurizer
from diet_sparse.nlu.parser import NLU
from diet_sparse.nlu.tagging import (
    TagVocabulary,
    attribute_tag_ids,
    entity_tag_ids,
    tag_vocabularies,
    warn_about_entities_off_token_boundaries,
)
from diet_sparse.persistence import check_model_directory, save
from diet_sparse.rasa.nlu_data import TrainingData, TrainingDataError, load_training_data
from diet_sparse.training.batching import (
    balanced_order,
    batch_signature,
    batch_size_for_epoch,
    epoch_batches,
    learning_rate_for_epoch,
    make_batch,
)
from diet_sparse.training.model import DIET

logger = logging.getLogger(__name__)

DataLike = TrainingData | str | Path | Sequence[str | Path]


def train(
    data: DataLike,
    config: ConfigLike = None,
    out: str | Path | None = None,
    progress: bool | Callable[[dict[str, float]], None] = True,
) -> NLU:
    """Train a model on Rasa YAML training data and, with ``out``, save it there.

    Everything that could make the run fail at its end (the config, the data, ``out``) is
    checked before training starts. The number of trainable weights is logged (``logging``,
    INFO) before training.

    Args:
        data: a `TrainingData`, or YAML files / directories of them.
        config: a `DIETConfig`, a dict of config values, a YAML config path, or None.
        out: model directory to write; an existing model there is replaced only once the new
            one is completely written.
        progress: True shows a progress bar (on stderr) with loss, intent accuracy and entity
            F1; a function is called after each epoch with that epoch's figures instead;
            False reports nothing.

    Returns:
        The trained `NLU`, ready to `parse`.

    Example:
        >>> nlu = train("data/", {"epochs": 20}, out="models/example")  # doctest: +SKIP
        >>> nlu.parse("hi")["intent"]["name"]  # doctest: +SKIP
        'greet'
    """
    from_rasa = rasa_config_report(config) if isinstance(config, str | Path) else None
    config = as_config(config)  # validated before anything expensive
    if out is not None:
        check_model_directory(out)
    if not isinstance(data, TrainingData):
        data = load_training_data(data)
    if not data.examples:
        raise TrainingDataError("the training data holds no examples")
    warn_about_entities_off_token_boundaries(data)
    intents = data.intents
    vocabularies = tag_vocabularies(data, config)
    if not vocabularies and not (config.intent_classification and len(intents) > 1):
        raise TrainingDataError(
            "nothing to learn: the data has fewer than 2 intents and no entities "
            "(or the tasks that would use them are switched off in the config)"
        )
    if isinstance(config.split_entities_by_comma, dict):
        unknown = sorted(set(config.split_entities_by_comma) - set(data.entity_types))
        if unknown:
            raise TrainingDataError(
                f"split_entities_by_comma names {unknown[0]!r}, which is not an entity type of "
                f"the training data ({', '.join(data.entity_types) or 'none'})"
            )

    resolved_weight = config.wide_path_weight == wide_path.AUTO
    if resolved_weight:
        weight = wide_path.automatic_weight(
            [example.intent for example in data.examples], bool(config.pretrained_encoder)
        )
        logger.info("wide_path_weight auto: %g (from the examples per intent)", weight)
        config = replace(config, wide_path_weight=weight)
    tf.keras.utils.set_random_seed(config.random_seed)
    started = time.perf_counter()
    featurizer = Featurizer.from_config(config).fit(data)
    featurized = featurizer.transform([example.text for example in data.examples])
    intent_index = {name: i for i, name in enumerate(intents)}
    intent_ids = np.array(
        [intent_index.get(example.intent, 0) for example in data.examples], dtype=np.int32
    )
    tags = _tag_ids(data, featurized.tokens, vocabularies)

    model = DIET(
        config,
        n_features=featurizer.n_features_,
        n_intents=len(intents),
        tag_counts={name: len(vocabulary) for name, vocabulary in vocabularies.items()},
    )
    model.build_all()  # every weight exists before counting and before the optimizer
    counts = model.count_trainable_weights()
    logger.info(
        "Trainable weights: %s connected in the randomly connected layers (of %s if dense, "
        "connection_density=%g); %s in total.",
        f"{counts['randomly_connected']:,}",
        f"{counts['randomly_connected_if_dense']:,}",
        config.connection_density,
        f"{counts['total']:,}",
    )
    wide_weights = {}
    if config.use_wide_path and model.intent_head is not None:
        wide_weights = wide_path.fit_wide_path(
            featurized.features,
            featurized.offsets,
            featurized.dense,
            intent_ids,
            len(intents),
            list(featurizer.feature_blocks_.values()),
            config.random_seed,
        )
    history = _fit(model, config, featurized, intent_ids, tags, progress)
    # The input projection is most of a model's size; rounded to float16 it is stored in half
    # the space, and the model in memory stays equal to the one saved.
    kernel = model.input_projection.kernel
    kernel.assign(tf.cast(tf.cast(kernel, tf.float16), tf.float32))
    network = model.to_weights()
    for name, value in wide_weights.items():  # rounded as the input projection, for its size
        network.weights[name] = value.astype(np.float16).astype(np.float32)
    if wide_weights:
        # the logistic regression fitted beside the network: its kernel and bias
        fitted = wide_weights[wide_path.KERNEL].size + wide_weights[wide_path.BIAS].size
        counts = dict(counts, wide_path=int(fitted))
    seconds = time.perf_counter() - started

    metadata = {
        "diet_sparse_version": __version__,
        "tensorflow_version": tf.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "training_seconds": round(seconds, 2),
        "training_examples": len(data.examples),
        "trainable_weights": counts,
        "wide_path_weight_from": "auto" if resolved_weight else "config",
        "history": history,
    }
    if from_rasa is not None:  # what of the Rasa config.yml was mapped, and what ignored
        metadata["rasa_config"] = from_rasa
    nlu = NLU(
        config,
        featurizer,
        network,
        intents,
        vocabularies,
        dict(data.synonyms),
        metadata,
        keras_model=model,
    )
    if out is not None:
        save(nlu, out)
    return nlu


def _tag_ids(
    data: TrainingData, tokens: list, vocabularies: dict[str, TagVocabulary]
) -> dict[str, list[np.ndarray]]:
    """Per tag head, the tag ids of every training message's tokens."""

    def ids(name: str, vocabulary: TagVocabulary, t: list, entities: list) -> np.ndarray:
        if name == "entity":
            return entity_tag_ids(t, entities, vocabulary)
        return attribute_tag_ids(t, entities, vocabulary, name)

    return {
        name: [ids(name, vocabulary, t, e.entities) for t, e in zip(tokens, data.examples)]
        for name, vocabulary in vocabularies.items()
    }


class LazyAdam(tf.keras.optimizers.Adam):
    """Adam that applies a sparse gradient to the touched rows only (like tfa's LazyAdam).

    The input projection's gradient covers only the features present in a batch; plain Adam
    would still decay the moments of, and move, every row of its large kernel at every step.
    Dense gradients get the usual Adam update.

    With ``use_ema`` the moving average of the weights warms up as tf.train's
    ExponentialMovingAverage with ``num_updates`` does: its momentum is
    min(ema_momentum, (1 + step) / (10 + step)), so short trainings are not pulled back
    towards the initial weights.
    """

    def _update_model_variables_moving_average(self, var_list):
        if not self.use_ema:
            return
        step = tf.cast(self.iterations, tf.float32)
        momentum = tf.minimum(self.ema_momentum, (1.0 + step) / (10.0 + step))
        for variable in var_list:
            average = self._model_variables_moving_average[
                self._index_dict[self._var_key(variable)]
            ]
            average.assign(momentum * average + (1.0 - momentum) * variable)

    def update_step(self, gradient, variable):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = (
            tf.cast(self.learning_rate, dtype)
            * tf.sqrt(1 - tf.pow(beta_2, step))
            / (1 - tf.pow(beta_1, step))
        )
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
        m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(values)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        step_rows = alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon)
        variable.scatter_sub(tf.IndexedSlices(step_rows, rows))


def _fit(
    model: DIET,
    config: DIETConfig,
    featurized,
    intent_ids: np.ndarray,
    tags: dict[str, list[np.ndarray]],
    progress: bool | Callable[[dict[str, float]], None],
) -> list[dict[str, float]]:
    """DIET's epochs: balanced, length-bucketed batches of the featurized messages."""
    lengths = np.diff(featurized.offsets)
    # Batches of the longest messages are cut down to the padded size of a largest batch of
    # messages twice the average length: peak memory stays near the typical batch's.
    max_rows = int(max(config.batch_size) * 2 * lengths.mean())

    def batches_of(batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
        order = balanced_order(intent_ids, rng)
        return epoch_batches(order, lengths, batch_size, rng, max_rows=max_rows)

    return fit_epochs(
        model,
        config,
        batch_signature(
            featurized.features.shape[1],
            0 if featurized.dense is None else featurized.dense.shape[1],
        ),
        batches_of,
        lambda indices: make_batch(featurized, indices, intent_ids, tags),
        progress,
        shown={"loss": "loss", "intent_accuracy": "i_acc", "entity_f1": "e_f1"},
    )


def fit_epochs(
    model: tf.keras.Model,
    config: Any,
    signature: Any,
    batches_of: Callable[[int, np.random.Generator], list[np.ndarray]],
    make: Callable[[np.ndarray], Any],
    progress: bool | Callable[[dict[str, float]], None],
    shown: dict[str, str],
) -> list[dict[str, float]]:
    """The training loop of any model with ``losses_and_metrics``: one compiled step per
    batch, ``config.epochs`` epochs of ``batches_of(batch_size, rng)`` (index arrays that
    ``make`` turns into batches of ``signature``), the batch size growing per epoch, the
    learning rate following ``config.learning_rate_schedule``, weight averaging as
    ``config.ema_momentum`` says. Returns per epoch its seconds, batch size, learning rate and
    mean training metrics; ``shown`` names the metrics of the progress bar (metric -> label).
    """
    averaging = config.ema_momentum is not None
    optimizer = LazyAdam(
        learning_rate=config.learning_rate,
        use_ema=averaging,
        ema_momentum=config.ema_momentum if averaging else 0.99,
    )
    # Creating the slot variables now spares tf.function a second trace on the first step.
    optimizer.build(model.trainable_variables)

    @tf.function(input_signature=[signature], autograph=False)
    def train_step(batch):
        with tf.GradientTape() as tape:
            results = model.losses_and_metrics(batch, training=True)
        gradients = tape.gradient(results["loss"], model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return results

    rng = np.random.default_rng(config.random_seed)
    show_bar = progress is True
    epochs = tqdm(
        range(config.epochs), desc="Epochs", unit="epoch", disable=not show_bar, file=sys.stderr
    )
    history = []
    for epoch in epochs:
        epoch_started = time.perf_counter()
        batch_size = batch_size_for_epoch(epoch, config.epochs, config.batch_size)
        learning_rate = learning_rate_for_epoch(
            epoch,
            config.epochs,
            config.learning_rate,
            config.learning_rate_schedule,
            config.warmup_epochs,
        )
        optimizer.learning_rate = learning_rate
        batches = batches_of(batch_size, rng)
        totals: dict[str, float] = {}
        for indices in batches:
            for name, value in train_step(make(indices)).items():
                totals[name] = totals.get(name, 0.0) + float(value)
        means = {name: value / len(batches) for name, value in totals.items()}
        if not all(math.isfinite(v) for v in means.values()):
            raise FloatingPointError(
                f"training diverged in epoch {epoch + 1} (loss {means['loss']}); "
                "lower learning_rate in the config"
            )
        seconds = round(time.perf_counter() - epoch_started, 3)
        summary = {
            "epoch": epoch + 1,
            "seconds": seconds,
            "batch_size": batch_size,
            "learning_rate": round(learning_rate, 8),
        }
        history.append({**summary, **{name: round(value, 5) for name, value in means.items()}})
        if show_bar:
            epochs.set_postfix(
                {label: f"{means[name]:.3f}" for name, label in shown.items() if name in means}
            )
        elif callable(progress):
            progress(history[-1])
    if averaging:
        optimizer.finalize_variable_values(model.trainable_variables)  # weights := averages
    return history
