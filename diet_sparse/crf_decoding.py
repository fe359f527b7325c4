"""CRF decoding in numpy: the Viterbi tag path of a message and per-token confidences.

Decoding one message is a short loop over its tokens; in numpy that costs microseconds, far
less than a TensorFlow graph call, and needs no TensorFlow at all.
"""

from __future__ import annotations

import numpy as np


def viterbi_decode(logits: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Most likely tag sequence of one message: logits (T, N), transitions (N, N) -> (T,)."""
    length = logits.shape[0]
    if length == 0:
        return np.zeros(0, dtype=np.int64)
    score = logits[0]
    backpointers = np.empty((length, logits.shape[1]), dtype=np.int64)
    for t in range(1, length):
        candidates = score[:, None] + transitions  # (previous tag, next tag)
        backpointers[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + logits[t]
    tags = np.empty(length, dtype=np.int64)
    tags[-1] = score.argmax()
    for t in range(length - 1, 0, -1):
        tags[t - 1] = backpointers[t, tags[t]]
    return tags


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    peak = x.max(axis=axis, keepdims=True)
    return np.squeeze(peak, axis=axis) + np.log(np.exp(x - peak).sum(axis=axis))


def tag_marginals(logits: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Posterior probability of every tag at every position (forward-backward): (T, N)."""
    length = logits.shape[0]
    if length == 0:
        return np.zeros_like(logits)
    forward = np.empty_like(logits)
    backward = np.zeros_like(logits)
    forward[0] = logits[0]
    for t in range(1, length):
        forward[t] = logits[t] + _logsumexp(forward[t - 1][:, None] + transitions, axis=0)
    for t in range(length - 2, -1, -1):
        backward[t] = _logsumexp(transitions + (logits[t + 1] + backward[t + 1])[None, :], axis=1)
    joint = forward + backward
    return np.exp(joint - _logsumexp(joint, axis=1)[:, None])


def decode_with_confidence(
    logits: np.ndarray, transitions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi tags of one message and, per token, the posterior probability of its tag."""
    tags = viterbi_decode(logits, transitions)
    marginals = tag_marginals(logits, transitions)
    return tags, marginals[np.arange(len(tags)), tags]
