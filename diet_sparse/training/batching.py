"""From featurized messages to padded model batches, and the order of batches in an epoch."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from diet_sparse.nlu.featurizer import FeaturizedBatch
from diet_sparse.training.model import Batch


def batch_signature(n_features: int, n_dense: int = 0) -> Batch:
    """The `tf.function` input signature of a `Batch`: any batch size and length, one trace."""
    matrix = tf.TensorSpec([None, None], tf.int32)
    return Batch(
        features=tf.SparseTensorSpec([None, n_features], tf.float32),
        dense_sentence=tf.TensorSpec([None, n_dense], tf.float32),
        mask=tf.TensorSpec([None, None], tf.float32),
        token_counts=tf.TensorSpec([None], tf.int32),
        intent_ids=tf.TensorSpec([None], tf.int32),
        entity_tags=matrix,
        role_tags=matrix,
        group_tags=matrix,
    )


def make_batch(
    featurized: FeaturizedBatch,
    indices: np.ndarray,
    intent_ids: np.ndarray | None = None,
    tags: dict[str, list[np.ndarray]] | None = None,
) -> Batch:
    """Pad the messages ``indices`` of ``featurized`` into one `Batch`.

    A message's feature rows are its tokens followed by its sentence row, which is exactly its
    layout in the batch (tokens at 0..n-1, sentence slot at n), so rows are copied in order.
    """
    starts = featurized.offsets[indices]
    row_counts = featurized.offsets[indices + 1] - starts  # tokens + 1
    length = int(row_counts.max())
    batch_size = len(indices)

    rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, row_counts)])
    # Position of each selected row in the flattened (B*T) batch.
    positions = np.concatenate(
        [np.arange(n) + b * length for b, n in enumerate(row_counts)]
    ).astype(np.int64)
    selected = featurized.features[rows].tocoo()
    sparse_indices = np.stack([positions[selected.row], selected.col.astype(np.int64)], axis=1)
    features = tf.SparseTensor(
        sparse_indices,
        selected.data.astype(np.float32),
        dense_shape=(batch_size * length, featurized.features.shape[1]),
    )

    if featurized.dense is None:
        dense = np.zeros((batch_size, 0), np.float32)
    else:
        dense = featurized.dense[indices]
    mask = (np.arange(length)[None, :] < row_counts[:, None]).astype(np.float32)
    padded = {
        name: np.zeros((batch_size, length), np.int32) for name in ("entity", "role", "group")
    }
    for name, per_message in (tags or {}).items():
        for b, i in enumerate(indices):
            padded[name][b, : len(per_message[i])] = per_message[i]
    return Batch(
        features=features,
        dense_sentence=tf.constant(dense, tf.float32),
        mask=tf.constant(mask),
        token_counts=tf.constant(row_counts - 1, dtype=tf.int32),
        intent_ids=tf.constant(
            np.zeros(batch_size, np.int32) if intent_ids is None else intent_ids[indices],
            dtype=tf.int32,
        ),
        entity_tags=tf.constant(padded["entity"]),
        role_tags=tf.constant(padded["role"]),
        group_tags=tf.constant(padded["group"]),
    )


def balanced_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shuffled epoch in which every intent is spread evenly, so each batch holds each intent
    in proportion to its share of the data rather than in clumps.

    Example:
        >>> order = balanced_order(np.array([0, 0, 0, 0, 1, 1]), np.random.default_rng(0))
        >>> sorted(order.tolist())
        [0, 1, 2, 3, 4, 5]
    """
    keys = np.empty(len(labels))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        keys[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return np.argsort(keys, kind="stable")


def epoch_batches(
    order: np.ndarray,
    lengths: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    batches_per_bucket: int = 16,
    max_rows: int | None = None,
) -> list[np.ndarray]:
    """Cut an epoch's order into batches of messages of similar length, in random order.

    Within each run of ``batches_per_bucket`` batches the messages are sorted by length, so a
    batch pads little (a batch is as long as its longest message) while every batch still
    draws from a broad, balanced slice of the epoch. A batch of long messages whose padded
    size (messages x length) exceeds ``max_rows`` is cut into equal parts that fit: training's
    peak memory follows the largest batch, and the longest messages would otherwise make it
    several times the typical one.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> lengths = np.array([2, 2, 2, 2, 9, 9])
        >>> sorted(map(len, epoch_batches(np.arange(6), lengths, 3, rng, max_rows=20)))
        [1, 2, 3]
    """
    batches = []
    span = batch_size * batches_per_bucket
    for start in range(0, len(order), span):
        bucket = order[start : start + span]
        bucket = bucket[np.argsort(lengths[bucket], kind="stable")]
        for i in range(0, len(bucket), batch_size):
            batch = bucket[i : i + batch_size]
            parts = 1
            if max_rows is not None:
                parts = min(len(batch), -(-len(batch) * int(lengths[batch].max()) // max_rows))
            batches += np.array_split(batch, parts)
    return [batches[i] for i in rng.permutation(len(batches))]


def learning_rate_for_epoch(
    epoch: int, epochs: int, base: float, schedule: str = "constant", warmup_epochs: int = 0
) -> float:
    """The learning rate of a (0-based) epoch: ``base`` times a linear warm-up over the first
    ``warmup_epochs`` and, after it, a ``linear`` or ``cosine`` decay towards 0 at the end of
    training (``constant``: none).

    Example:
        >>> [round(learning_rate_for_epoch(e, 4, 1.0, "linear"), 2) for e in range(4)]
        [1.0, 0.75, 0.5, 0.25]
        >>> [round(learning_rate_for_epoch(e, 4, 1.0, "constant", 2), 2) for e in range(4)]
        [0.5, 1.0, 1.0, 1.0]
    """
    if epoch < warmup_epochs:
        return base * (epoch + 1) / warmup_epochs
    decaying = max(epochs - warmup_epochs, 1)
    progress = (epoch - warmup_epochs) / decaying
    if schedule == "linear":
        return base * (1.0 - progress)
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "constant":
        return base
    raise ValueError(f"unknown learning_rate_schedule {schedule!r}")


def batch_size_for_epoch(epoch: int, epochs: int, sizes: list[int]) -> int:
    """Batch size growing linearly from ``sizes[0]`` to ``sizes[-1]`` over the epochs."""
    start, end = sizes[0], sizes[-1]
    if epochs <= 1:
        return start
    return int(round(start + (end - start) * epoch / (epochs - 1)))
