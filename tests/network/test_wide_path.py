"""The wide path: a logistic regression on the bag of sentence features, fitted apart from the
network and added to its intent scores at prediction."""

import numpy as np
import pytest
import scipy.sparse

from diet_sparse.config import resolve_config
from diet_sparse.network import wide_path
from diet_sparse.nlu.featurizer import Featurizer


@pytest.fixture(scope="module")
def featurized_examples(example_data):
    featurizer = Featurizer.from_config(resolve_config({})).fit(example_data)
    featurized = featurizer.transform([example.text for example in example_data.examples])
    intents = example_data.intents
    ids = np.array([intents.index(example.intent) for example in example_data.examples])
    return featurizer, featurized, ids, len(intents)


def fit(featurized_examples, dense=None):
    featurizer, featurized, ids, n_intents = featurized_examples
    widths = list(featurizer.feature_blocks_.values())
    return wide_path.fit_wide_path(
        featurized.features, featurized.offsets, dense, ids, n_intents, widths, seed=0
    )


def test_the_regression_learns_the_training_intents(featurized_examples):
    _, featurized, ids, n_intents = featurized_examples
    weights = fit(featurized_examples)
    scores = wide_path.wide_scores(weights, featurized.features, featurized.offsets)
    assert scores.shape == (len(ids), n_intents)
    assert (scores.argmax(axis=1) == ids).mean() > 0.95


def test_the_inputs_are_log_idf_rows_of_unit_length_per_block(featurized_examples):
    featurizer, featurized, ids, _ = featurized_examples
    weights = fit(featurized_examples)
    inputs = wide_path.wide_inputs(
        featurized.features,
        featurized.offsets,
        None,
        weights[wide_path.IDF],
        weights[wide_path.COLUMN_BLOCK],
    )
    assert inputs.shape == (len(ids), featurizer.n_features_)
    start = 0
    for width in featurizer.feature_blocks_.values():
        block = inputs[:, start : start + width].toarray()
        norms = np.linalg.norm(block, axis=1)
        assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)
        start += width
    # only the sentence rows count: a changed token row changes nothing
    changed = featurized.features.tolil()
    changed[0, :] = 7.0
    before = wide_path.wide_scores(weights, featurized.features, featurized.offsets)
    after = wide_path.wide_scores(weights, changed.tocsr(), featurized.offsets)
    np.testing.assert_array_equal(before, after)


def test_pretrained_vectors_join_the_inputs(featurized_examples):
    _, featurized, ids, n_intents = featurized_examples
    dense = np.random.default_rng(0).normal(size=(len(ids), 8)).astype(np.float32)
    weights = fit(featurized_examples, dense)
    assert weights[wide_path.KERNEL].shape == (featurized.features.shape[1] + 8, n_intents)
    with_dense = wide_path.wide_scores(weights, featurized.features, featurized.offsets, dense)
    moved = wide_path.wide_scores(weights, featurized.features, featurized.offsets, dense + 1)
    assert np.abs(with_dense - moved).max() > 1e-3


def test_two_intents_and_an_intent_without_examples():
    rows = scipy.sparse.csr_matrix(np.eye(6, dtype=np.float32))
    offsets = np.arange(0, 7, 1)  # each message: just its sentence row
    ids = np.array([0, 0, 0, 1, 1, 1])
    weights = wide_path.fit_wide_path(rows, offsets, None, ids, 2, [6], seed=0)
    assert weights[wide_path.KERNEL].shape == (6, 2)
    scores = wide_path.wide_scores(weights, rows, offsets)
    assert (scores.argmax(axis=1) == ids).all()
    ids = np.array([0, 0, 0, 1, 1, 2])
    weights = wide_path.fit_wide_path(rows, offsets, None, ids, 4, [6], seed=0)
    scores = wide_path.wide_scores(weights, rows, offsets)
    assert (scores.argmax(axis=1) == ids).all()
    assert (scores[:, 3] < -1e3).all()  # an intent it never saw never wins


def test_the_weight_scales_the_scores(featurized_examples):
    _, featurized, _, _ = featurized_examples
    weights = fit(featurized_examples)
    args = (weights, featurized.features, featurized.offsets)
    np.testing.assert_allclose(
        wide_path.wide_scores(*args, None, 2.5), 2.5 * wide_path.wide_scores(*args), rtol=1e-6
    )


@pytest.mark.parametrize(
    "per_intent, weight", [(5, 5.657), (10, 4.0), (40, 2.0), (160, 1.0), (2000, 1.0)]
)
def test_auto_weight_is_4_sqrt_10_over_the_mean_examples_per_intent_at_least_1(per_intent, weight):
    intents = ["a"] * (per_intent - 3) + ["b"] * (per_intent + 3) + ["c"] * per_intent
    assert wide_path.automatic_weight(intents) == pytest.approx(weight, abs=1e-3)


@pytest.mark.parametrize(
    "per_intent, weight", [(5, 26.909), (10, 16.0), (40, 5.657), (160, 2.0), (2000, 1.0)]
)
def test_auto_weight_with_a_sentence_vector_is_16_times_10_over_n_to_the_0_75(per_intent, weight):
    intents = ["a"] * (per_intent - 3) + ["b"] * (per_intent + 3) + ["c"] * per_intent
    with_vector = wide_path.automatic_weight(intents, sentence_vector=True)
    assert with_vector == pytest.approx(weight, abs=1e-3)
    assert with_vector >= wide_path.automatic_weight(intents)  # the vector makes it stronger


def test_training_turns_auto_into_the_weight_it_chose(trained_nlu, example_data):
    expected = wide_path.automatic_weight([e.intent for e in example_data.examples])
    assert trained_nlu.config.wide_path_weight == expected
    assert trained_nlu.metadata["wide_path_weight_from"] == "auto"


@pytest.mark.parametrize("value", ["fast", -1, True])
def test_wide_path_weight_is_a_number_or_auto(value):
    from diet_sparse.config import ConfigError

    assert resolve_config({"wide_path_weight": "auto"}).wide_path_weight == "auto"
    with pytest.raises(ConfigError, match="wide_path_weight must be a number >= 0 or auto"):
        resolve_config({"wide_path_weight": value})


def test_a_saved_model_with_auto_instead_of_a_weight_fails_to_load(trained_model_dir, tmp_path):
    import json
    import shutil

    from diet_sparse.persistence import ModelLoadError, load

    copy = shutil.copytree(trained_model_dir, tmp_path / "model")
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps(dict(config, wide_path_weight="auto")))
    with pytest.raises(ModelLoadError, match="config.json: wide_path_weight must be a number"):
        load(copy)


@pytest.mark.parametrize("with_dense", [False, True])
def test_the_scores_equal_the_regression_on_its_inputs(featurized_examples, with_dense):
    """`wide_scores` works on the CSR arrays directly; it must equal inputs @ kernel + bias."""
    _, featurized, ids, _ = featurized_examples
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(len(ids), 5)).astype(np.float32) if with_dense else None
    weights = fit(featurized_examples, dense)
    inputs = wide_path.wide_inputs(
        featurized.features,
        featurized.offsets,
        dense,
        weights[wide_path.IDF],
        weights[wide_path.COLUMN_BLOCK],
    )
    expected = 2.5 * (inputs @ weights[wide_path.KERNEL] + weights[wide_path.BIAS])
    scores = wide_path.wide_scores(
        weights, featurized.features, featurized.offsets, dense, weight=2.5
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    # one message at a time, as parse sees them
    for i in (0, len(ids) // 2, len(ids) - 1):
        start, end = featurized.offsets[i], featurized.offsets[i + 1]
        one = wide_path.wide_scores(
            weights,
            featurized.features[start:end],
            np.array([0, end - start]),
            None if dense is None else dense[i : i + 1],
            weight=2.5,
        )
        np.testing.assert_allclose(one[0], expected[i], rtol=1e-5, atol=1e-5)


def test_messages_without_known_terms_get_the_bias_alone():
    """Messages whose sentence rows are empty (no term seen in training), among others and at
    either end of the batch, score the bias; the others score as the regression says."""
    rng = np.random.default_rng(0)
    train = scipy.sparse.csr_matrix(rng.poisson(0.5, size=(30, 8)).astype(np.float32))
    ids = np.arange(30) % 3
    weights = wide_path.fit_wide_path(train, np.arange(31), None, ids, 3, [5, 3], seed=0)
    dense = rng.poisson(0.8, size=(6, 8)).astype(np.float32) + 1
    dense[[0, 2, 3, 5]] = 0
    rows = scipy.sparse.csr_matrix(dense)
    offsets = np.arange(7)  # each message: just its sentence row
    inputs = wide_path.wide_inputs(
        rows, offsets, None, weights[wide_path.IDF], weights[wide_path.COLUMN_BLOCK]
    )
    expected = inputs @ weights[wide_path.KERNEL] + weights[wide_path.BIAS]
    scores = wide_path.wide_scores(weights, rows, offsets)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores[[0, 2, 3, 5]], np.tile(weights[wide_path.BIAS], (4, 1)))
    assert np.abs(scores[[1, 4]] - weights[wide_path.BIAS]).max() > 1e-2


def _noisy_words_and_vectors(vector_noise: float, word_noise: float, seed: int = 0):
    """120 messages of 6 intents: one-hot word rows that name the intent unless replaced by a
    random word (share ``word_noise``), and 16-d unit vectors near the intent's own direction
    (``vector_noise``: the spread around it)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(120) % 6
    words = np.where(rng.random(120) < word_noise, rng.integers(6, 40, 120), ids)
    rows = scipy.sparse.csr_matrix((np.ones(120, np.float32), (np.arange(120), words)), (120, 40))
    directions = rng.normal(size=(6, 16))
    vectors = directions[ids] + vector_noise * rng.normal(size=(120, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return rows, vectors.astype(np.float32), ids


def test_the_vectors_scale_is_chosen_by_cross_validation_on_the_training_data():
    # random words and vectors that tell the intent, with noise: the vector gets more than 1
    rows, vectors, ids = _noisy_words_and_vectors(vector_noise=1.5, word_noise=1.0)
    inputs = wide_path.wide_inputs(rows, np.arange(121), vectors, np.ones(40), np.zeros(40))
    assert wide_path.sentence_vector_scale(inputs, 40, ids, seed=0) > 1.0
    # words that tell the intent and vectors that are noise: nothing to gain, the smallest scale
    rows, vectors, ids = _noisy_words_and_vectors(vector_noise=50.0, word_noise=0.0)
    inputs = wide_path.wide_inputs(rows, np.arange(121), vectors, np.ones(40), np.zeros(40))
    assert wide_path.sentence_vector_scale(inputs, 40, ids, seed=0) == 1.0


def test_the_chosen_scale_lives_in_the_kernel_so_prediction_reads_vectors_as_they_are(monkeypatch):
    rows, vectors, ids = _noisy_words_and_vectors(vector_noise=0.6, word_noise=0.7)
    offsets = np.arange(121)
    monkeypatch.setattr(wide_path, "sentence_vector_scale", lambda *args: 3.0)
    weights = wide_path.fit_wide_path(rows, offsets, vectors, ids, 6, [40], seed=0)
    inputs = wide_path.wide_inputs(rows, offsets, 3.0 * vectors, *_idf_and_blocks(weights))
    kernel = weights[wide_path.KERNEL].copy()
    kernel[40:] /= 3.0  # the regression as fitted, on vectors times 3
    expected = inputs @ kernel + weights[wide_path.BIAS]
    scores = wide_path.wide_scores(weights, rows, offsets, vectors)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


def _idf_and_blocks(weights):
    return weights[wide_path.IDF], weights[wide_path.COLUMN_BLOCK]


def test_too_few_messages_per_intent_for_three_folds_keep_the_scale_at_1():
    rows, vectors, ids = _noisy_words_and_vectors(vector_noise=0.6, word_noise=0.7)
    inputs = wide_path.wide_inputs(
        rows[:12], np.arange(13), vectors[:12], np.ones(40), np.zeros(40)
    )
    assert wide_path.sentence_vector_scale(inputs, 40, ids[:12], seed=0) == 1.0
