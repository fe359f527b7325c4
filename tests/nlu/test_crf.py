"""The CRF: numpy Viterbi, marginals and confidences, and the training log-likelihood, against
a brute force over every tag path (on every Python) and tensorflow-addons (where it installs)."""

import importlib.util
import itertools

import numpy as np
import pytest
import tensorflow as tf

from diet_sparse.nlu.crf_decoding import CRFDecoder
from diet_sparse.training.crf import crf_log_likelihood, tfa_crf_decode, tfa_crf_log_likelihood

requires_tensorflow_addons = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_addons") is None,
    reason="tensorflow-addons has no wheels beyond Python 3.11, so it is installed only there; "
    "the brute-force tests check the same functions on every Python",
)


# one message at a time, through the batch decoder
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


def sequence_score(logits, transitions, tags):
    emission = sum(logits[t, tag] for t, tag in enumerate(tags))
    return emission + sum(transitions[a, b] for a, b in zip(tags, tags[1:]))


@requires_tensorflow_addons
@pytest.mark.parametrize("seed", range(5))
def test_numpy_viterbi_matches_tensorflow_addons(seed):
    rng = np.random.default_rng(seed)
    length, n_tags = 7, 5
    logits = rng.normal(size=(length, n_tags)).astype(np.float32)
    transitions = rng.normal(size=(n_tags, n_tags)).astype(np.float32)
    expected = tfa_crf_decode(logits[None], tf.constant([length]), tf.constant(transitions))
    expected = expected.numpy()[0]
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


def test_marginals_stay_finite_and_right_with_extreme_scores():
    logits = np.array([[0.0, 50.0], [0.0, -50.0], [30.0, 0.0]], dtype=np.float32)
    transitions = np.array([[0.0, -200.0], [-200.0, 0.0]], dtype=np.float32)
    marginals = tag_marginals(logits, transitions)
    assert np.isfinite(marginals).all()
    # switching tags costs 200, more than any logit gains, so one tag holds throughout: tag 0
    # (0 + 0 + 30) beats tag 1 (50 - 50 + 0) by 30, a posterior odds of e^30
    np.testing.assert_allclose(marginals[:, 1], np.exp(-30.0), rtol=1e-4)
    np.testing.assert_allclose(marginals[:, 0], 1.0, atol=1e-6)


def brute_force_log_likelihood(logits, tags, lengths, transitions):
    """Log-likelihood of each message's gold tags by enumerating every tag path: (B,).

    Written in TensorFlow from the definition (score of the gold path minus the log-sum-exp of
    the scores of all N^T paths), so that its gradients are a reference as well.
    """
    n_tags = transitions.shape[0]
    values = []
    for i, length in enumerate(lengths):
        if length == 0:
            values.append(tf.constant(0.0))
            continue
        paths = np.array(list(itertools.product(range(n_tags), repeat=length)))  # (P, T)
        positions = np.broadcast_to(np.arange(length), paths.shape)
        emissions = tf.reduce_sum(tf.gather_nd(logits[i], np.stack([positions, paths], -1)), 1)
        pairs = np.stack([paths[:, :-1], paths[:, 1:]], axis=-1)  # (P, T-1, 2)
        scores = emissions + tf.reduce_sum(tf.gather_nd(transitions, pairs), axis=1)  # (P,)
        gold = int(np.ravel_multi_index(tuple(tags[i, :length]), (n_tags,) * length))
        values.append(scores[gold] - tf.reduce_logsumexp(scores))
    return tf.stack(values)


def brute_force_viterbi(logits, length, transitions):
    """The highest-scoring tag path of one message, by trying them all: (T,)."""
    paths = itertools.product(range(transitions.shape[0]), repeat=length)
    return max(paths, key=lambda tags: sequence_score(logits[:length], transitions, tags))


# small cases: (batch lengths, number of tags, logit scale)
BRUTE_FORCE_CASES = [([3], 2, 1.0), ([5, 1, 0, 3], 3, 2.0), ([4, 2, 4], 4, 4.0), ([1, 5], 2, 8.0)]


@pytest.mark.parametrize("lengths, n_tags, scale", BRUTE_FORCE_CASES)
def test_log_likelihood_and_gradients_match_brute_force(lengths, n_tags, scale):
    rng = np.random.default_rng(n_tags * 10 + len(lengths))
    batch, longest = len(lengths), max(lengths)
    logits = tf.constant(rng.normal(scale=scale, size=(batch, longest, n_tags)), tf.float32)
    tags = rng.integers(0, n_tags, size=(batch, longest)).astype(np.int32)
    transitions = tf.Variable(rng.normal(scale=scale, size=(n_tags, n_tags)), dtype=tf.float32)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = crf_log_likelihood(logits, tf.constant(tags), tf.constant(lengths), transitions)
        reference = brute_force_log_likelihood(logits, tags, lengths, transitions)
        our_total, reference_total = tf.reduce_sum(ours), tf.reduce_sum(reference)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-4)
    for variable in (logits, transitions):
        ours_gradient = tf.convert_to_tensor(tape.gradient(our_total, variable)).numpy()
        reference_gradient = tf.convert_to_tensor(tape.gradient(reference_total, variable))
        np.testing.assert_allclose(ours_gradient, reference_gradient.numpy(), atol=1e-4)


@pytest.mark.parametrize("lengths, n_tags, scale", BRUTE_FORCE_CASES)
def test_batch_viterbi_matches_brute_force(lengths, n_tags, scale):
    rng = np.random.default_rng(n_tags * 10 + len(lengths) + 1)
    logits = rng.normal(scale=scale, size=(len(lengths), max(lengths), n_tags)).astype(np.float32)
    transitions = rng.normal(scale=scale, size=(n_tags, n_tags)).astype(np.float32)
    decoded = CRFDecoder(transitions).viterbi(logits, np.array(lengths))
    for i, length in enumerate(lengths):
        best = brute_force_viterbi(logits[i], length, transitions)
        assert tuple(decoded[i, :length]) == best


def test_confidences_are_probabilities_and_empty_input_works():
    tags, confidences = decode_with_confidence(np.zeros((0, 4)), np.zeros((4, 4)))
    assert tags.shape == (0,) and confidences.shape == (0,)
    logits = np.array([[5.0, 0.0], [0.0, 5.0]])
    tags, confidences = decode_with_confidence(logits, np.zeros((2, 2)))
    assert tags.tolist() == [0, 1]
    assert ((confidences > 0.9) & (confidences <= 1.0)).all()


@requires_tensorflow_addons
@pytest.mark.parametrize("n_tags", [3, 40, 317])
def test_log_likelihood_and_gradients_match_tensorflow_addons(n_tags):
    rng = np.random.default_rng(n_tags)
    batch, length = 6, 9
    logits = tf.constant(rng.normal(scale=3.0, size=(batch, length, n_tags)).astype(np.float32))
    tags = tf.constant(rng.integers(0, n_tags, size=(batch, length)).astype(np.int32))
    lengths = tf.constant([9, 1, 4, 9, 2, 7], dtype=tf.int32)
    transitions = tf.Variable(rng.normal(scale=2.0, size=(n_tags, n_tags)).astype(np.float32))

    def value_and_gradients(function):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = function(logits, tags, lengths, transitions)
            total = tf.reduce_sum(value)
        return value, tape.gradient(total, [logits, transitions])

    ours, our_gradients = value_and_gradients(crf_log_likelihood)
    reference, reference_gradients = value_and_gradients(tfa_crf_log_likelihood)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-3)
    for a, b in zip(our_gradients, reference_gradients):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(),
                                   tf.convert_to_tensor(b).numpy(), atol=1e-4)  # fmt: skip


def test_log_likelihood_stays_finite_with_extreme_transitions():
    logits = tf.constant([[[0.0, 50.0], [0.0, -50.0], [30.0, 0.0]]])
    transitions = tf.Variable([[0.0, -200.0], [-200.0, 0.0]])
    with tf.GradientTape() as tape:
        value = crf_log_likelihood(logits, tf.constant([[1, 1, 0]]), tf.constant([3]), transitions)
    gradient = tape.gradient(value, transitions)
    assert np.isfinite(value.numpy()).all() and np.isfinite(gradient.numpy()).all()


def test_empty_sequence_has_zero_log_likelihood():
    logits = tf.zeros((2, 3, 4))
    value = crf_log_likelihood(logits, tf.zeros((2, 3), tf.int32), tf.constant([0, 3]),
                               tf.zeros((4, 4)))  # fmt: skip
    assert value.numpy()[0] == 0.0
    assert value.numpy()[1] == pytest.approx(-3 * np.log(4.0), rel=1e-5)


def test_batch_decoding_equals_decoding_each_message():
    rng = np.random.default_rng(8)
    lengths = np.array([5, 1, 3, 5, 2])
    logits = rng.normal(scale=2.0, size=(5, 5, 6)).astype(np.float32)
    transitions = rng.normal(size=(6, 6)).astype(np.float32)
    tags, confidences = CRFDecoder(transitions).decode(logits, lengths)
    for i, n in enumerate(lengths):
        one_tags, one_confidences = decode_with_confidence(logits[i, :n], transitions)
        np.testing.assert_array_equal(tags[i, :n], one_tags)
        np.testing.assert_allclose(confidences[i, :n], one_confidences, rtol=1e-5)
        assert (tags[i, n:] == 0).all()


@pytest.mark.parametrize("logit_scale", [0.1, 8.0])  # pruning ruled out / exact and used
def test_pruned_viterbi_equals_full_viterbi(monkeypatch, logit_scale):
    import diet_sparse.nlu.crf_decoding as crf_decoding

    rng = np.random.default_rng(9)
    lengths = rng.integers(0, 12, size=40)
    logits = rng.normal(scale=logit_scale, size=(40, 12, 90)).astype(np.float32)
    transitions = rng.normal(size=(90, 90)).astype(np.float32)
    decoder = CRFDecoder(transitions)
    monkeypatch.setattr(crf_decoding, "PRUNE_ABOVE", 10**12)
    full = decoder.viterbi(logits, lengths)
    monkeypatch.setattr(crf_decoding, "PRUNE_ABOVE", 0)
    np.testing.assert_array_equal(decoder.viterbi(logits, lengths), full)
    for i, n in enumerate(lengths):
        np.testing.assert_array_equal(full[i, :n], viterbi_decode(logits[i, :n], transitions))


def test_constrained_decoding_finds_the_best_valid_sequence_by_brute_force():
    from diet_sparse.nlu.tagging import TagVocabulary

    vocabulary = TagVocabulary.for_entities(["city", "date"], bilou=True)  # 9 tags
    allowed, start, end = vocabulary.valid_transitions()
    rng = np.random.default_rng(8)
    n_tags, length = len(vocabulary), 4
    transitions = rng.normal(size=(n_tags, n_tags)).astype(np.float32)
    decoder = CRFDecoder(transitions, allowed=allowed, start=start, end=end)

    def valid(tags):
        return (
            start[tags[0]] and end[tags[-1]] and all(allowed[a, b] for a, b in zip(tags, tags[1:]))
        )

    sequences = [s for s in itertools.product(range(n_tags), repeat=length) if valid(s)]
    for seed in range(5):
        logits = np.random.default_rng(seed).normal(scale=3.0, size=(length, n_tags))
        scores = np.exp([sequence_score(logits, transitions, s) for s in sequences])
        best = sequences[int(np.argmax(scores))]
        tags, _ = decoder.decode(logits[None].astype(np.float32), np.array([length]))
        assert tuple(tags[0]) == best
        # the confidences are the marginals over the valid sequences only
        marginals = decoder.marginals(logits[None], np.array([length]))[0]
        expected = np.zeros((length, n_tags))
        for sequence, weight in zip(sequences, scores / scores.sum()):
            expected[np.arange(length), list(sequence)] += weight
        np.testing.assert_allclose(marginals, expected, atol=1e-5)


def test_an_unconstrained_decoder_can_return_an_invalid_bilou_sequence():
    """The test above can fail: without constraints the same scores give invalid paths."""
    from diet_sparse.nlu.tagging import TagVocabulary

    vocabulary = TagVocabulary.for_entities(["city"], bilou=True)  # O B I L U
    logits = np.full((1, 2, 5), -5.0, np.float32)
    logits[0, 0, 2] = logits[0, 1, 1] = 5.0  # I-city then B-city: invalid twice
    plain = CRFDecoder(np.zeros((5, 5), np.float32)).decode(logits, np.array([2]))[0]
    assert plain[0].tolist() == [2, 1]
    constrained = CRFDecoder(np.zeros((5, 5), np.float32), *vocabulary.valid_transitions())
    tags = constrained.decode(logits, np.array([2]))[0][0].tolist()
    assert tags in ([0, 4], [1, 3], [4, 0], [0, 0], [4, 4])
    # a single-token message may only be O or U-
    one = constrained.decode(np.eye(5, dtype=np.float32)[None, 1:2] * 9, np.array([1]))[0]
    assert one[0, 0] in (0, 4)


def test_the_nlu_decodes_with_bilou_constraints_when_configured(trained_nlu, example_data):
    from dataclasses import replace

    from diet_sparse.nlu.crf_decoding import FORBIDDEN

    unconstrained = replace(trained_nlu.config, constrain_entity_transitions=False)
    plain = replace(trained_nlu, config=unconstrained).decoders["entity"].transitions
    assert (plain > FORBIDDEN / 2).all()
    config = replace(trained_nlu.config, constrain_entity_transitions=True)
    constrained = replace(trained_nlu, config=config)
    allowed, _, _ = trained_nlu.tag_vocabularies["entity"].valid_transitions()
    transitions = constrained.decoders["entity"].transitions
    np.testing.assert_array_equal(transitions > FORBIDDEN / 2, allowed)
    np.testing.assert_array_equal(transitions[allowed], plain[allowed])
    # roles and groups are not BILOU-tagged: nothing forbidden
    assert (constrained.decoders["role"].transitions > FORBIDDEN / 2).all()
    texts = [example.text for example in example_data.examples[:50]]
    for result in constrained.parse_batch(texts):
        for entity in result["entities"]:
            assert entity["start"] < entity["end"]


@pytest.mark.parametrize("logit_scale, ties", [(0.5, False), (6.0, False), (1.0, True)])
def test_grouped_viterbi_equals_viterbi_over_all_pairs(monkeypatch, logit_scale, ties):
    """Constrained decoders weigh the allowed transitions group by group; the paths must be
    those of the step over all N x N pairs, for a batch of messages of mixed lengths, also
    where scores tie (integer logits and transitions: ties go to the lowest tag)."""
    import diet_sparse.nlu.crf_decoding as crf_decoding
    from diet_sparse.nlu.tagging import TagVocabulary

    monkeypatch.setattr(crf_decoding, "GROUP_ABOVE", 0)  # this small batch: grouped as well

    vocabulary = TagVocabulary.for_entities([f"e{i}" for i in range(6)], bilou=True)
    allowed, start, end = vocabulary.valid_transitions()
    rng = np.random.default_rng(10)
    n_tags = len(vocabulary)
    transitions = rng.normal(scale=2.0, size=(n_tags, n_tags)).astype(np.float32)
    if ties:
        transitions = np.round(transitions)
    decoder = CRFDecoder(transitions, allowed=allowed, start=start, end=end)
    assert decoder._groups is not None and len(decoder._groups) == 2  # outside tags, I/L pairs
    everything = CRFDecoder(transitions, allowed=allowed, start=start, end=end)
    everything._groups = None
    lengths = rng.integers(0, 9, size=30)
    logits = rng.normal(scale=logit_scale, size=(30, 8, n_tags)).astype(np.float32)
    if ties:
        logits = np.round(logits)
    grouped = decoder.viterbi(logits, lengths)
    np.testing.assert_array_equal(grouped, everything.viterbi(logits, lengths))
    for i, n in enumerate(lengths):
        path = grouped[i, :n]
        assert all(allowed[a, b] for a, b in zip(path, path[1:]))
        assert n == 0 or (start[path[0]] and end[path[-1]])


@pytest.mark.parametrize("constrained", [True, False])
def test_one_message_takes_a_shorter_path_to_the_same_tags_and_confidences(constrained):
    """A parse decodes one message at a time, in 1-D arrays (`_viterbi_one`,
    `_marginals_one`); it must give what the same message gives in a batch, at every length."""
    from diet_sparse.nlu.tagging import TagVocabulary

    vocabulary = TagVocabulary.for_entities([f"e{i}" for i in range(39)], bilou=True)
    n_tags = len(vocabulary)  # 157, as SNIPS's entity head
    allowed, start, end = vocabulary.valid_transitions()
    rng = np.random.default_rng(11)
    transitions = rng.normal(scale=2.0, size=(n_tags, n_tags)).astype(np.float32)
    bounds = {"allowed": allowed, "start": start, "end": end} if constrained else {}
    decoder = CRFDecoder(transitions, **bounds)
    assert decoder._one_message_full
    for length in range(0, 12):
        logits = rng.normal(scale=3.0, size=(2, 11, n_tags)).astype(np.float32)
        lengths = np.array([length, 11])
        tags, confidences = decoder.decode(logits[:1], lengths[:1])
        batch_tags, batch_confidences = decoder.decode(logits, lengths)
        np.testing.assert_array_equal(tags[0], batch_tags[0])
        assert (tags[0, length:] == 0).all()
        np.testing.assert_array_equal(confidences[0, :length], batch_confidences[0, :length])
        if constrained:
            path = tags[0, :length]
            assert all(allowed[a, b] for a, b in zip(path, path[1:]))
