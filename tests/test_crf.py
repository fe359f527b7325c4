import itertools

import numpy as np
import pytest
import tensorflow as tf

from diet_sparse.crf import (
    crf_decode,
    crf_log_likelihood,
    decode_with_confidence,
    tag_marginals,
    viterbi_decode,
)


def sequence_score(logits, transitions, tags):
    emission = sum(logits[t, tag] for t, tag in enumerate(tags))
    return emission + sum(transitions[a, b] for a, b in zip(tags, tags[1:]))


@pytest.mark.parametrize("seed", range(5))
def test_numpy_viterbi_matches_tensorflow_addons(seed):
    rng = np.random.default_rng(seed)
    length, n_tags = 7, 5
    logits = rng.normal(size=(length, n_tags)).astype(np.float32)
    transitions = rng.normal(size=(n_tags, n_tags)).astype(np.float32)
    expected = crf_decode(logits[None], tf.constant([length]), tf.constant(transitions)).numpy()[0]
    np.testing.assert_array_equal(viterbi_decode(logits, transitions), expected)


def test_viterbi_finds_the_best_sequence_by_brute_force():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 3))
    transitions = rng.normal(size=(3, 3))
    best = max(
        itertools.product(range(3), repeat=4),
        key=lambda tags: sequence_score(logits, transitions, tags),
    )
    assert tuple(viterbi_decode(logits, transitions)) == best


def test_marginals_match_brute_force_and_sum_to_one():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(4, 3))
    transitions = rng.normal(size=(3, 3))
    sequences = list(itertools.product(range(3), repeat=4))
    weights = np.exp([sequence_score(logits, transitions, s) for s in sequences])
    weights /= weights.sum()
    expected = np.zeros((4, 3))
    for sequence, weight in zip(sequences, weights):
        for t, tag in enumerate(sequence):
            expected[t, tag] += weight
    marginals = tag_marginals(logits, transitions)
    np.testing.assert_allclose(marginals, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0)


def test_log_likelihood_of_brute_force():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(3, 2)).astype(np.float32)
    transitions = rng.normal(size=(2, 2)).astype(np.float32)
    tags = (1, 0, 1)
    scores = [sequence_score(logits, transitions, s) for s in itertools.product(range(2), repeat=3)]
    expected = sequence_score(logits, transitions, tags) - np.log(np.sum(np.exp(scores)))
    log_likelihood = crf_log_likelihood(
        logits[None], tf.constant([tags]), tf.constant([3]), tf.constant(transitions)
    )
    assert float(log_likelihood[0]) == pytest.approx(expected, rel=1e-5)


def test_confidences_are_probabilities_and_empty_input_works():
    tags, confidences = decode_with_confidence(np.zeros((0, 4)), np.zeros((4, 4)))
    assert tags.shape == (0,) and confidences.shape == (0,)
    logits = np.array([[5.0, 0.0], [0.0, 5.0]])
    tags, confidences = decode_with_confidence(logits, np.zeros((2, 2)))
    assert tags.tolist() == [0, 1]
    assert ((confidences > 0.9) & (confidences <= 1.0)).all()
