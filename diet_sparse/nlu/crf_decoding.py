"""CRF decoding in numpy: the Viterbi tag path of each message and per-token confidences.

Decoding is a short loop over token positions, done for a whole batch of messages at once; in
numpy that costs microseconds per position and needs no TensorFlow. Confidences are posterior
tag probabilities from the forward-backward algorithm, computed as one small matrix product per
position rather than a log-sum-exp over every pair of tags. What depends only on the
transitions is computed once per model, in `CRFDecoder`. One message (a parse) is decoded in
1-D arrays with fewer numpy calls per position, to the same tags and confidences as in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TINY = np.finfo(np.float64).tiny
# Viterbi weighs only this many previous tags per message when a step would otherwise touch
# more than PRUNE_ABOVE scores, and the pruning is exact (see `CRFDecoder._step`).
PRUNED_CANDIDATES = 12
PRUNE_ABOVE = 50_000
# Added to the score of a forbidden transition, start or end (see `CRFDecoder`): far below any
# learned transition, so no path with it wins while another exists, and exp() of it is 0.
FORBIDDEN = -1e4
# Viterbi weighs only the allowed transitions, group by group, when at most this share of them
# is allowed (see `_group_by_previous`).
MOSTLY_ALLOWED = 0.75
# ... and when a batch's step would weigh more than this many pairs (messages x N x N): below
# it, the step over all pairs is faster (fewer numpy calls); measured with 157 and 317 BILOU
# tags, batches of 1 and 64, for the grouped step before `_viterbi_grouped` (not re-measured).
GROUP_ABOVE = 40_000


class CRFDecoder:
    """Decodes the tag logits of one CRF head with its transition scores (N, N).

    ``allowed`` (N, N) [previous, next], ``start`` and ``end`` (N,), if given, forbid the
    transitions, first tags and last tags that are False (e.g. the BILOU rules of
    `tagging.TagVocabulary.valid_transitions`): neither the Viterbi path nor the confidences
    use them, unless a message has no path without them.

    Example:
        >>> decoder = CRFDecoder(np.zeros((2, 2)))
        >>> decoder.decode(np.array([[[3.0, 0.0], [0.0, 3.0]]]), np.array([2]))[0]
        array([[0, 1]])
        >>> no_1_after_0 = CRFDecoder(np.zeros((2, 2)), allowed=np.array([[1, 0], [1, 1]]) > 0)
        >>> no_1_after_0.decode(np.array([[[3.0, 0.0], [0.0, 4.0]]]), np.array([2]))[0]
        array([[1, 1]])
    """

    def __init__(
        self,
        transitions: np.ndarray,
        allowed: np.ndarray | None = None,
        start: np.ndarray | None = None,
        end: np.ndarray | None = None,
    ) -> None:
        if allowed is not None:
            transitions = np.where(allowed, transitions, FORBIDDEN).astype(np.float32)
        n_tags = len(transitions)
        self._start = np.zeros(n_tags, np.float32)
        if start is not None:
            self._start = np.where(start, 0.0, FORBIDDEN).astype(np.float32)
        self._end = np.zeros(n_tags, np.float32)
        if end is not None:
            self._end = np.where(end, 0.0, FORBIDDEN).astype(np.float32)
        self._has_bounds = start is not None or end is not None
        self.transitions = transitions
        # (next tag, previous tag): Viterbi's maximum over previous tags runs along contiguous
        # memory
        self._incoming = np.ascontiguousarray(transitions.T, dtype=np.float32)
        self._spread = float(transitions.max() - transitions.min())
        # the forward-backward algorithm's step in probabilities: exp(transitions), scaled to a
        # maximum of 1; float64 leaves room for transition ranges in the hundreds
        scaled = transitions.astype(np.float64) - transitions.max()
        self._steps = np.exp(scaled)
        self._steps_back = np.ascontiguousarray(self._steps.T)
        self._groups = None if allowed is None else _group_by_previous(transitions, allowed)
        # one message (a parse) takes a shorter path, in 1-D arrays, where a step is the full
        # step: a batch of one would take the step over all pairs too
        self._one_message_full = n_tags * n_tags < (
            PRUNE_ABOVE if self._groups is None else GROUP_ABOVE
        )
        self._diagonal = np.arange(n_tags) * n_tags  # flat index of (tag, 0) in (N, N)

    def _bounded(self, logits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The logits with the forbidden first and last tags' penalties added."""
        if not self._has_bounds or logits.shape[1] == 0:
            return logits
        logits = logits.astype(np.float32, copy=True)
        logits[:, 0] += self._start
        rows = np.flatnonzero(lengths > 0)
        logits[rows, lengths[rows] - 1] += self._end
        return logits

    def decode(self, logits: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Viterbi tags (B, T) and, per token, the posterior probability of its tag (B, T)."""
        tags = self.viterbi(logits, lengths)
        return tags, self.confidences(logits, lengths, tags)

    def confidences(self, logits: np.ndarray, lengths: np.ndarray, tags: np.ndarray) -> np.ndarray:
        """Per token, the posterior probability of its tag in ``tags`` (B, T)."""
        marginals = self.marginals(logits, lengths)
        return np.take_along_axis(marginals, tags[:, :, None], axis=2)[:, :, 0]

    def viterbi(self, logits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Most likely tag sequences: logits (B, T, N), lengths (B,) -> (B, T).

        Positions at or beyond a message's length get tag 0.
        """
        batch, length, n_tags = logits.shape
        tags = np.zeros((batch, length), dtype=np.int64)
        if length == 0:
            return tags
        logits = self._bounded(logits.astype(np.float32, copy=False), lengths)
        if batch == 1 and self._one_message_full:
            tags[0, : lengths[0]] = self._viterbi_one(logits[0, : lengths[0]])
            return tags
        if self._groups is not None and batch * n_tags * n_tags >= GROUP_ABOVE:
            return self._viterbi_grouped(logits, lengths, tags)
        score = logits[:, 0].copy()  # (B, N): best score of a path ending in each tag
        # backpointers[t, b, j]: the best tag before tag j at position t. Past a message's end
        # they point each tag to itself, so that following them from the last position
        # leads every message back through its own last tag.
        backpointers = np.zeros((length, batch, n_tags), dtype=np.int64)
        live = np.arange(length)[None, :] < lengths[:, None]  # (B, T)
        padded = not live.all()
        for t in range(1, length):
            best, new = self._step(score, logits[:, t])
            if padded:
                best = np.where(live[:, t, None], best, np.arange(n_tags))
                new = np.where(live[:, t, None], new, score)
            backpointers[t], score = best, new
        rows = np.arange(batch)
        tags[:, -1] = score.argmax(axis=1)
        for t in range(length - 1, 0, -1):
            tags[:, t - 1] = backpointers[t, rows, tags[:, t]]
        tags[~live] = 0
        return tags

    def _viterbi_one(self, logits: np.ndarray) -> list[int]:
        """The Viterbi path of one message's bounded logits (T, N), T >= 0: the same
        arithmetic as `_full_step` on a batch of one, with a fifth of its numpy calls."""
        if len(logits) == 0:
            return []
        score = logits[0]
        candidates = np.empty_like(self._incoming)
        flat = candidates.reshape(-1)
        backpointers = []
        for position in logits[1:]:
            np.add(self._incoming, score, out=candidates)  # (next tag, previous tag)
            best = candidates.argmax(axis=1)
            backpointers.append(best)
            score = flat[self._diagonal + best] + position
        tag = int(score.argmax())
        path = [tag]
        for best in reversed(backpointers):
            tag = int(best[tag])
            path.append(tag)
        return path[::-1]

    def _step(self, score: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One Viterbi step: for every next tag, the best previous tag and the new best score.

        Where a step would weigh many scores (many messages, or many tags), only the best few
        previous tags of each message are weighed, when that is provably exact: a tag whose
        score trails the best one by more than the spread of the transitions can be no next
        tag's best predecessor.
        """
        batch, n_tags = score.shape
        keep = PRUNED_CANDIDATES
        if batch * n_tags * n_tags < PRUNE_ABOVE or keep >= n_tags:
            return self._full_step(score, logits)
        order = np.argpartition(-score, keep, axis=1)
        top = np.sort(order[:, :keep], axis=1)  # sorted: ties go to the lowest tag, as in full
        candidates = np.take_along_axis(score, top, axis=1)[:, :, None] + self.transitions[top]
        best = np.take_along_axis(top, candidates.argmax(axis=1), axis=1)
        new = candidates.max(axis=1) + logits
        cutoff = np.take_along_axis(score, order[:, keep : keep + 1], axis=1)[:, 0]
        inexact = np.flatnonzero(cutoff + self._spread >= score.max(axis=1))
        if len(inexact):
            best[inexact], new[inexact] = self._full_step(score[inexact], logits[inexact])
        return best, new

    def _viterbi_grouped(
        self, logits: np.ndarray, lengths: np.ndarray, tags: np.ndarray
    ) -> np.ndarray:
        """`viterbi` of a batch over the allowed transitions only, group by group (see
        `_group_by_previous`), into ``tags`` (B, T) of zeros.

        The forward pass keeps every position's best scores and takes maxima only: a maximum
        over the previous tags along the middle axis of (B, G, p, n) runs vectorized, where an
        argmax along the last axis cost 3-4x more (numpy 1.26, SNIPS's 157 tags, 64 messages).
        The best previous tag is found while tracing back, for the one tag each message has at
        that position: N sums per message and position instead of N x N. It adds what the
        forward pass added, in the same float32 arithmetic, so ties and paths are those of the
        step over all pairs (ties go to the lowest tag).
        """
        batch, length, n_tags = logits.shape
        scores = np.empty((length, batch, n_tags), dtype=np.float32)
        scores[0] = logits[:, 0]
        live = np.arange(length)[None, :] < lengths[:, None]  # (B, T)
        for t in range(1, length):
            score, new = scores[t - 1], scores[t]
            for group in self._groups:
                # (B, G, p, 1) + (G, p, n): each group's previous scores, gathered once
                candidates = score[:, group.previous][:, :, :, None] + group.transitions
                new[:, group.following] = candidates.max(axis=2)
            new += logits[:, t]
            if not live[:, t].all():  # past a message's end, its score stays as it was
                np.copyto(new, score, where=~live[:, t, None])
        rows = np.arange(batch)
        last = np.maximum(lengths - 1, 0)
        tags[rows, last] = scores[last, rows].argmax(axis=1)
        for t in range(length - 1, 0, -1):
            known = np.flatnonzero(lengths > t)  # the messages with a tag at t
            if len(known):
                tags[known, t - 1] = (scores[t - 1, known] + self._incoming[tags[known, t]]).argmax(
                    axis=1
                )
        tags[~live] = 0
        return tags

    def _full_step(self, score: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch, n_tags = score.shape
        candidates = score[:, None, :] + self._incoming  # (B, next tag, previous tag)
        best = candidates.argmax(axis=2)
        rows = np.arange(batch * n_tags).reshape(batch, n_tags) * n_tags
        return best, candidates.reshape(-1)[rows + best] + logits

    def marginals(self, logits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Posterior probability of every tag at every position (forward-backward): (B, T, N).

        Runs in probabilities rather than logs, normalized at every position so that they
        neither overflow nor vanish: alpha_t = normalize((alpha_{t-1} @ steps) * emissions_t).
        """
        batch, length, _ = logits.shape
        if length == 0:
            return np.zeros(logits.shape, dtype=np.float32)
        logits = self._bounded(logits, lengths).astype(np.float64)
        if batch == 1:
            marginals = np.zeros(logits.shape, dtype=np.float32)
            marginals[0, : lengths[0]] = self._marginals_one(logits[0, : lengths[0]])
            return marginals
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

    def _marginals_one(self, logits: np.ndarray) -> np.ndarray:
        """`marginals` of one message's bounded logits (T, N), T >= 0, in 1-D arrays: the same
        arithmetic with half the numpy calls per position."""
        if len(logits) == 0:
            return np.zeros(logits.shape, dtype=np.float32)
        emissions = np.exp(logits - logits.max(axis=1, keepdims=True))
        forward = np.empty_like(emissions)
        alpha = emissions[0] / emissions[0].sum()
        forward[0] = alpha
        for t in range(1, len(emissions)):
            reached = (alpha @ self._steps) * emissions[t]
            alpha = reached / max(reached.sum(), TINY)
            forward[t] = alpha
        backward = np.ones_like(emissions)
        for t in range(len(emissions) - 2, -1, -1):
            ahead = (backward[t + 1] * emissions[t + 1]) @ self._steps_back
            backward[t] = ahead / max(ahead.sum(), TINY)
        joint = forward * backward
        return (joint / np.maximum(joint.sum(axis=1, keepdims=True), TINY)).astype(np.float32)


@dataclass(frozen=True)
class _Group:
    """Next tags that share their allowed previous tags, stacked with others of the same
    shape (G groups of n next tags, each with the same p previous tags): ``following``
    (G, n) the next tags, ``previous`` (G, p) the tags they may follow and ``transitions``
    (G, p, n) the scores of those pairs."""

    following: np.ndarray
    previous: np.ndarray
    transitions: np.ndarray

    @classmethod
    def stack(cls, transitions: np.ndarray, members: list[tuple[np.ndarray, list[int]]]):
        previous = np.array([p for p, _ in members], dtype=np.int64)  # (G, p)
        following = np.array([f for _, f in members], dtype=np.int64)  # (G, n)
        return cls(
            following=following,
            previous=previous,
            transitions=transitions[previous[:, :, None], following[:, None, :]].astype(np.float32),
        )


def _group_by_previous(transitions: np.ndarray, allowed: np.ndarray) -> list[_Group] | None:
    """The allowed transitions as dense groups, or None when they are (nearly) all allowed.

    Under BILOU rules most pairs of tags are forbidden: B-, U- and O follow only O, L- and U-,
    while I-x and L-x follow only B-x and I-x. Grouping the next tags by the set of tags they
    may follow turns one Viterbi step over all N x N pairs into one product over the outside
    tags (a quarter of the pairs) and one tiny product per entity type, with equal results. A
    tag that may follow none keeps every previous tag (at the forbidden score), so a path
    always exists.

    Example:
        >>> allowed = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]]) > 0
        >>> [g.previous.tolist() for g in _group_by_previous(np.zeros((3, 3)), allowed)]
        [[[0, 2], [0, 1], [1, 2]]]
    """
    allowed = np.asarray(allowed, dtype=bool)
    if allowed.mean() > MOSTLY_ALLOWED:
        return None
    by_previous: dict[bytes, list[int]] = {}
    for tag in range(len(allowed)):
        column = allowed[:, tag] if allowed[:, tag].any() else np.ones(len(allowed), bool)
        by_previous.setdefault(np.packbits(column).tobytes(), []).append(tag)
    by_shape: dict[tuple[int, int], list[tuple[np.ndarray, list[int]]]] = {}
    for following in by_previous.values():
        column = allowed[:, following[0]]
        previous = np.flatnonzero(column) if column.any() else np.arange(len(allowed))
        by_shape.setdefault((len(previous), len(following)), []).append((previous, following))
    return [_Group.stack(transitions, members) for members in by_shape.values()]
