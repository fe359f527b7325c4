"""CRF decoding in numpy: the Viterbi tag path of each message and per-token confidences.

Decoding is a short loop over token positions, done for a whole batch of messages at once; in
numpy that costs microseconds per position and needs no TensorFlow. Confidences are posterior
tag probabilities from the forward-backward algorithm, computed as one small matrix product per
position rather than a log-sum-exp over every pair of tags. What depends only on the
transitions is computed once per model, in `CRFDecoder`.
"""

from __future__ import annotations

import numpy as np

TINY = np.finfo(np.float64).tiny


class CRFDecoder:
    """Decodes the tag logits of one CRF head with its transition scores (N, N).

    Example:
        >>> decoder = CRFDecoder(np.zeros((2, 2)))
        >>> decoder.decode(np.array([[[3.0, 0.0], [0.0, 3.0]]]), np.array([2]))[0]
        array([[0, 1]])
    """

    def __init__(self, transitions: np.ndarray) -> None:
        self.transitions = transitions
        # (next tag, previous tag): Viterbi's maximum over previous tags runs along contiguous
        # memory
        self._incoming = np.ascontiguousarray(transitions.T, dtype=np.float32)
        # the forward-backward algorithm's step in probabilities: exp(transitions), scaled to a
        # maximum of 1; float64 leaves room for transition ranges in the hundreds
        scaled = transitions.astype(np.float64) - transitions.max()
        self._steps = np.exp(scaled)
        self._steps_back = np.ascontiguousarray(self._steps.T)

    def decode(self, logits: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Viterbi tags (B, T) and, per token, the posterior probability of its tag (B, T)."""
        tags = self.viterbi(logits, lengths)
        marginals = self.marginals(logits, lengths)
        confidences = np.take_along_axis(marginals, tags[:, :, None], axis=2)[:, :, 0]
        return tags, confidences

    def viterbi(self, logits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Most likely tag sequences: logits (B, T, N), lengths (B,) -> (B, T).

        Positions at or beyond a message's length get tag 0.
        """
        batch, length, n_tags = logits.shape
        tags = np.zeros((batch, length), dtype=np.int64)
        if length == 0:
            return tags
        logits = logits.astype(np.float32, copy=False)
        score = logits[:, 0].copy()  # (B, N): best score of a path ending in each tag
        backpointers = np.zeros((length, batch, n_tags), dtype=np.int64)
        candidates = np.empty((batch, n_tags, n_tags), dtype=np.float32)  # (B, next, previous)
        row_starts = np.arange(batch * n_tags).reshape(batch, n_tags) * n_tags
        all_full = bool((lengths == length).all())
        for t in range(1, length):
            np.add(score[:, None, :], self._incoming, out=candidates)
            best = candidates.argmax(axis=2)
            backpointers[t] = best
            new = candidates.reshape(-1)[row_starts + best] + logits[:, t]
            score = new if all_full else np.where((t < lengths)[:, None], new, score)
        rows = np.arange(batch)
        last = np.maximum(lengths - 1, 0)
        tags[rows, last] = score.argmax(axis=1)
        for t in range(length - 1, 0, -1):
            inside = t <= last  # messages whose path reaches position t
            tags[rows[inside], t - 1] = backpointers[t, rows[inside], tags[rows[inside], t]]
        tags[np.arange(length)[None, :] >= lengths[:, None]] = 0
        return tags

    def marginals(self, logits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Posterior probability of every tag at every position (forward-backward): (B, T, N).

        Runs in probabilities rather than logs, normalized at every position so that they
        neither overflow nor vanish: alpha_t = normalize((alpha_{t-1} @ steps) * emissions_t).
        """
        batch, length, _ = logits.shape
        if length == 0:
            return np.zeros(logits.shape, dtype=np.float32)
        logits = logits.astype(np.float64)
        emissions = np.exp(logits - logits.max(axis=2, keepdims=True))  # (B, T, N), max 1

        forward = np.empty_like(emissions)
        forward[:, 0] = emissions[:, 0] / emissions[:, 0].sum(axis=1, keepdims=True)
        for t in range(1, length):
            reached = (forward[:, t - 1] @ self._steps) * emissions[:, t]
            forward[:, t] = reached / np.maximum(reached.sum(axis=1, keepdims=True), TINY)

        backward = np.ones_like(emissions)
        all_full = bool((lengths == length).all())
        inside = np.arange(length)[None, :] < lengths[:, None] - 1  # (B, T): a next token exists
        for t in range(length - 2, -1, -1):
            ahead = (backward[:, t + 1] * emissions[:, t + 1]) @ self._steps_back
            ahead /= np.maximum(ahead.sum(axis=1, keepdims=True), TINY)
            backward[:, t] = ahead if all_full else np.where(inside[:, t, None], ahead, 1.0)

        joint = forward * backward
        return (joint / np.maximum(joint.sum(axis=2, keepdims=True), TINY)).astype(np.float32)


def decode_with_confidence(
    logits: np.ndarray, transitions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Viterbi tags of one message (T, N) and, per token, the posterior probability of its tag."""
    tags, confidences = CRFDecoder(transitions).decode(logits[None], np.array([len(logits)]))
    return tags[0], confidences[0]


def viterbi_decode(logits: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Most likely tag sequence of one message: logits (T, N), transitions (N, N) -> (T,)."""
    return CRFDecoder(transitions).viterbi(logits[None], np.array([len(logits)]))[0]


def tag_marginals(logits: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Posterior tag probabilities of one message: (T, N)."""
    return CRFDecoder(transitions).marginals(logits[None], np.array([len(logits)]))[0]
