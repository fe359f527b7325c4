"""Linear-chain CRF: the only module that touches tensorflow-addons.

tensorflow-addons is end of life; training uses its log-likelihood and Viterbi ops through the
two wrappers below, so replacing it means changing this file alone. Prediction decodes in numpy
(`viterbi_decode`, `token_confidences`), which is faster than a graph call for one message.
"""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf

with warnings.catch_warnings():
    # tensorflow-addons announces its end of life on import; the project knows (see above).
    warnings.simplefilter("ignore")
    from tensorflow_addons.text import crf_decode as _tfa_crf_decode
    from tensorflow_addons.text import crf_log_likelihood as _tfa_crf_log_likelihood


def crf_log_likelihood(
    logits: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor, transitions: tf.Variable
) -> tf.Tensor:
    """Log-likelihood of the gold tag sequences: logits (B, T, N), tags (B, T), lengths (B,)."""
    log_likelihood, _ = _tfa_crf_log_likelihood(logits, tags, lengths, transitions)
    return log_likelihood


def crf_decode(logits: tf.Tensor, lengths: tf.Tensor, transitions: tf.Variable) -> tf.Tensor:
    """Most likely tag sequences (B, T) inside a graph."""
    tags, _ = _tfa_crf_decode(logits, transitions, lengths)
    return tags


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
