"""CRF decoding in numpy: the Viterbi tag path of each message and per-token confidences.

Decoding is a short loop over token positions, done for a whole batch of messages at once; in
numpy that costs microseconds per message and needs no TensorFlow. Confidences are posterior
tag probabilities from the forward-backward algorithm, computed like the training loss
(`crf.crf_log_norm`) as one small matrix product per position rather than a log-sum-exp over
every pair of tags.
"""

from __future__ import annotations

import numpy as np


def batch_viterbi(logits: np.ndarray, lengths: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Most likely tag sequences: logits (B, T, N), lengths (B,), transitions (N, N) -> (B, T).

    Positions at or beyond a message's length get tag 0.
    """
    batch, length, _ = logits.shape
    tags = np.zeros((batch, length), dtype=np.int64)
    if length == 0:
        return tags
    score = logits[:, 0].copy()  # (B, N): best score of a path ending in each tag
    backpointers = np.zeros((batch, length, logits.shape[2]), dtype=np.int64)
    rows = np.arange(batch)
    for t in range(1, length):
        candidates = score[:, :, None] + transitions  # (B, previous tag, next tag)
        best = candidates.argmax(axis=1)  # (B, N)
        backpointers[:, t] = best
        new = np.take_along_axis(candidates, best[:, None, :], axis=1)[:, 0] + logits[:, t]
        score = np.where((t < lengths)[:, None], new, score)
    last = np.maximum(lengths - 1, 0)
    tags[rows, last] = score.argmax(axis=1)
    for t in range(length - 1, 0, -1):
        inside = t <= last  # messages whose path reaches position t
        tags[rows[inside], t - 1] = backpointers[rows[inside], t, tags[rows[inside], t]]
    tags[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return tags


def batch_marginals(logits: np.ndarray, lengths: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Posterior probability of every tag at every position (forward-backward): (B, T, N)."""
    batch, length, _ = logits.shape
    if length == 0:
        return np.zeros_like(logits)
    row_max = transitions.max(axis=1)  # r_i = max_j transitions_ij
    from_scaled = np.exp(transitions - row_max[:, None])
    column_max = transitions.max(axis=0)  # q_j = max_i transitions_ij
    to_scaled = np.exp(transitions - column_max[None, :])
    live = np.arange(length)[None, :] < lengths[:, None]  # (B, T)

    forward = np.empty_like(logits)
    forward[:, 0] = logits[:, 0]
    for t in range(1, length):
        # log sum_i exp(forward_i + T_ij) = c + log sum_i exp(forward_i + r_i - c) e^(T_ij - r_i)
        shifted = forward[:, t - 1] + row_max
        peak = shifted.max(axis=1, keepdims=True)
        summed = np.exp(shifted - peak) @ from_scaled
        forward[:, t] = logits[:, t] + peak + np.log(np.maximum(summed, 1e-30))

    backward = np.zeros_like(logits)
    for t in range(length - 2, -1, -1):
        # log sum_j exp(T_ij + s_j), s = logits[t+1] + backward[t+1]; only inside a message
        following = logits[:, t + 1] + backward[:, t + 1] + column_max
        peak = following.max(axis=1, keepdims=True)
        summed = np.exp(following - peak) @ to_scaled.T
        inside = np.log(np.maximum(summed, 1e-30)) + peak
        backward[:, t] = np.where(live[:, t + 1, None], inside, 0.0)

    joint = forward + backward
    joint -= joint.max(axis=2, keepdims=True)
    probabilities = np.exp(joint)
    return probabilities / probabilities.sum(axis=2, keepdims=True)


def batch_decode_with_confidence(
    logits: np.ndarray, lengths: np.ndarray, transitions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi tags (B, T) and, per token, the posterior probability of its tag (B, T)."""
    tags = batch_viterbi(logits, lengths, transitions)
    marginals = batch_marginals(logits, lengths, transitions)
    confidences = np.take_along_axis(marginals, tags[:, :, None], axis=2)[:, :, 0]
    return tags, confidences


def viterbi_decode(logits: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Most likely tag sequence of one message: logits (T, N), transitions (N, N) -> (T,)."""
    return batch_viterbi(logits[None], np.array([len(logits)]), transitions)[0]


def tag_marginals(logits: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Posterior tag probabilities of one message: (T, N)."""
    return batch_marginals(logits[None], np.array([len(logits)]), transitions)[0]


def decode_with_confidence(
    logits: np.ndarray, transitions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi tags of one message and, per token, the posterior probability of its tag."""
    tags, confidences = batch_decode_with_confidence(
        logits[None], np.array([len(logits)]), transitions
    )
    return tags[0], confidences[0]
