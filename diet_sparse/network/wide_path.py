"""The wide path of DIET's intent head: a logistic regression on each message's bag of sparse
sentence features (and its pretrained sentence vector, if the model has one), whose intent
scores are added to the transformer's intent similarities.

A bag-of-n-grams linear classifier is a strong intent model, hard to beat with little data, and
a transformer trained for a few hundred steps does not contain one: trained jointly by Adam, a
linear term never grew large enough to count (benchmarks/results/ablation_sara_levers3.json).
So the wide path is fitted apart, to convergence, by scikit-learn's logistic regression, and its
scores are added to the network's at prediction: an ensemble of the two. (Training the network
on top of the regression's out-of-fold scores, as in stacking, gave less on Sara's intents and
cost 2.5-4 points of entity F1, the intent loss no longer shaping the shared encoder:
benchmarks/results/ablation_sara_levers4.json.)

The inputs are those of a TF-IDF classifier, computed from the featurizer's sentence rows:
log(1 + count) times the inverse document frequency of the column, each block of columns (words,
char n-grams, regex matches) scaled to unit length, then the pretrained vector, whose weight
beside the n-grams is chosen by cross-validation on the training data (`sentence_vector_scale`;
the factor is folded into the kernel). Training and prediction compute the scores with the same
function, `wide_scores`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse

from diet_sparse.network.weights import INTENT_HEAD, WIDE_PATH, weight_path

INVERSE_REGULARIZATION = 10.0  # LogisticRegression's C, as the TF-IDF baseline's
MAX_ITERATIONS = 1000
SENTENCE_VECTOR_SCALES = (1.0, 2.0, 3.0)  # tried for the pretrained vector's block
SELECTION_MESSAGES = 2000  # at most this many training messages choose the scale

KERNEL = weight_path(INTENT_HEAD, WIDE_PATH, "kernel")  # (F [+ P], I)
BIAS = weight_path(INTENT_HEAD, WIDE_PATH, "bias")  # (I,)
IDF = weight_path(INTENT_HEAD, WIDE_PATH, "idf")  # (F,) inverse document frequencies
COLUMN_BLOCK = weight_path(INTENT_HEAD, WIDE_PATH, "column_block")  # (F,) block index per column


AUTO = "auto"  # wide_path_weight: chosen at training from the examples per intent


def automatic_weight(intents: list[str], sentence_vector: bool = False) -> float:
    """The ``wide_path_weight`` that ``auto`` gives for training examples with these intents,
    where n is the mean number of examples per intent: 4 x (10 / n) ** 0.5, at least 1; where
    the wide path has a pretrained sentence vector, 16 x (10 / n) ** 0.75, at least 1.

    The fewer the examples, the weaker the network beside the regression, and the more weight
    the regression's scores deserve (benchmarks/results/wide_weight_*.json, 3 seeds): with 10
    examples per intent weights of 4-8 are best (SNIPS +4.9, Sara +2.2 points over weight 1);
    with Sara's full data (60 per intent: 1.6) weights 1-4 are level; with SNIPS's and ATIS's
    hundreds to thousands 0.5-1 are best. (The mean, not the median: ATIS has a median of 17
    examples per intent but most of its messages in a few large intents, where weight 1 is best.)
    With a sentence vector the regression is the stronger by far (it is the "USE + TF-IDF LR"
    peer), and the network catches up only with many examples: at 10 per intent the sum
    improves up to weight 32 on Sara, SNIPS and ATIS (16 here: +2.7, +1.5, +3.1 points over 4),
    on Sara's full data weights 4-16 beat 1.6 by 1 point (4.2 here), and on ATIS's 1-2 are best
    (1.6 here; 4 costs 0.2-0.3) (`wide_weight_*_use_m3_*.json`).

    Example:
        >>> automatic_weight(["a"] * 10 + ["b"] * 10), automatic_weight(["a"] * 500)
        (4.0, 1.0)
        >>> automatic_weight(["a"] * 10 + ["b"] * 10, sentence_vector=True)
        16.0
    """
    if not intents:
        return 1.0
    mean = len(intents) / len(set(intents))
    scale, power = (16.0, 0.75) if sentence_vector else (4.0, 0.5)
    return round(max(1.0, scale * (10.0 / mean) ** power), 3)


def column_blocks(block_widths: list[int]) -> np.ndarray:
    """The block index of every feature column, from the featurizer's block widths.

    Example:
        >>> column_blocks([2, 0, 3]).tolist()
        [0.0, 0.0, 2.0, 2.0, 2.0]
    """
    return np.repeat(np.arange(len(block_widths)), block_widths).astype(np.float32)


def _sentence_values(
    features: scipy.sparse.csr_matrix,
    offsets: np.ndarray,
    idf: np.ndarray,
    column_block: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzero inputs of the regression, read from the sentence rows' CSR arrays: message
    index, column and value (log(1 + count) x idf, unit length per block of columns)."""
    rows = offsets[1:] - 1
    starts, ends = features.indptr[rows], features.indptr[rows + 1]
    counts = ends - starts
    positions = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    columns = features.indices[positions]
    values = np.log1p(features.data[positions]) * idf[columns]
    message = np.repeat(np.arange(len(rows)), counts)
    n_blocks = int(column_block.max(initial=0)) + 1
    group = message * n_blocks + column_block[columns].astype(np.int64)
    norms = np.sqrt(np.bincount(group, weights=values**2, minlength=len(rows) * n_blocks))
    values = (values / np.maximum(norms[group], 1e-12)).astype(np.float32)
    return message, columns, values


def wide_inputs(
    features: scipy.sparse.csr_matrix,
    offsets: np.ndarray,
    dense: np.ndarray | None,
    idf: np.ndarray,
    column_block: np.ndarray,
) -> scipy.sparse.csr_matrix:
    """The regression's inputs (B, F [+ P]) from a featurized batch: each message's sentence row
    as log(1 + count) x idf, unit length per block of columns, then its pretrained vector.

    Example:
        >>> rows = scipy.sparse.csr_matrix(np.array([[0, 0, 0], [3, 4, 1]], np.float32))
        >>> x = wide_inputs(rows, np.array([0, 2]), None, np.ones(3), np.array([0, 0, 1]))
        >>> np.round(x.toarray().astype(float), 3).tolist()  # log(1 + count), unit length per block
        [[0.653, 0.758, 1.0]]
    """
    message, columns, values = _sentence_values(features, offsets, idf, column_block)
    inputs = scipy.sparse.csr_matrix(
        (values, (message, columns)), shape=(len(offsets) - 1, features.shape[1])
    )
    if dense is not None:
        inputs = scipy.sparse.hstack([inputs, scipy.sparse.csr_matrix(dense)], format="csr")
    return inputs


def wide_scores(
    weights: dict[str, np.ndarray],
    features: scipy.sparse.csr_matrix,
    offsets: np.ndarray,
    dense: np.ndarray | None = None,
    weight: float = 1.0,
) -> np.ndarray:
    """The wide path's intent scores (B, I) of a featurized batch (``dense``: its pretrained
    sentence vectors, if the model has them), times ``weight`` (``wide_path_weight``).

    Computes what ``wide_inputs(...) @ kernel + bias`` computes, straight from the sentence
    rows' CSR arrays: at one message per parse, building the sparse input matrix cost more
    than the product (0.35 ms of a 2.3 ms SNIPS parse), and summing per message with
    ``np.add.reduceat`` costs a fifth of ``np.add.at``.
    """
    kernel = weights[KERNEL]
    message, columns, values = _sentence_values(
        features, offsets, weights[IDF], weights[COLUMN_BLOCK]
    )
    n_features, n_messages = features.shape[1], len(offsets) - 1
    scores = np.zeros((n_messages, kernel.shape[1]), np.float64)
    # each message's values are contiguous: one segment sum per message that has any
    counts = np.bincount(message, minlength=n_messages)
    present = np.flatnonzero(counts)
    if len(present):
        starts = (np.cumsum(counts) - counts)[present]
        contributions = values[:, None].astype(np.float64) * kernel[columns]
        scores[present] = np.add.reduceat(contributions, starts, axis=0)
    if dense is not None:
        scores += dense @ kernel[n_features:]
    return (weight * (scores + weights[BIAS])).astype(np.float32)


def fit_wide_path(
    features: scipy.sparse.csr_matrix,
    offsets: np.ndarray,
    dense: np.ndarray | None,
    intent_ids: np.ndarray,
    n_intents: int,
    block_widths: list[int],
    seed: int,
) -> dict[str, np.ndarray]:
    """Fit the wide path on the training messages; returns its weights by stored name."""
    sentences = features[offsets[1:] - 1]
    n_messages = sentences.shape[0]
    document_frequency = np.bincount(sentences.indices, minlength=sentences.shape[1])
    idf = (np.log((1 + n_messages) / (1 + document_frequency)) + 1).astype(np.float32)
    column_block = column_blocks(block_widths)
    inputs = wide_inputs(features, offsets, dense, idf, column_block)
    scale = 1.0
    if dense is not None:
        scale = sentence_vector_scale(inputs, features.shape[1], intent_ids, seed)
        inputs = _scaled(inputs, features.shape[1], scale)

    kernel, bias = _fit(inputs, intent_ids, n_intents, seed)
    kernel[features.shape[1] :] *= scale  # prediction reads the vector unscaled
    return {KERNEL: kernel, BIAS: bias, IDF: idf, COLUMN_BLOCK: column_block}


def _scaled(inputs: scipy.sparse.csr_matrix, n_features: int, scale: float):
    """``inputs`` with the pretrained vector's columns (from ``n_features`` on) times ``scale``."""
    column_scale = np.ones(inputs.shape[1], np.float32)
    column_scale[n_features:] = scale
    return (inputs @ scipy.sparse.diags(column_scale)).tocsr()


def sentence_vector_scale(
    inputs: scipy.sparse.csr_matrix, n_features: int, intent_ids: np.ndarray, seed: int
) -> float:
    """The factor, of `SENTENCE_VECTOR_SCALES`, for the pretrained vector's columns that gives
    the regression the best accuracy in 3-fold cross-validation on the training messages (at
    most `SELECTION_MESSAGES` of them, drawn per intent); the smallest of equals.

    The sparse blocks and the vector each have unit length, and one penalty (C) holds them all,
    so the scale of a block is its share of the penalty: with 2-4 sparse blocks beside one
    vector, the vector counts for less than it is worth where it is the better evidence (Sara,
    10 examples per intent: 0.690 at scale 1, 0.708 at 2) and about right where the n-grams are
    (ATIS, 10 per intent: 0.715 at 1, 0.710 at 2). Chosen on the training data, never the test.
    """
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    chosen = np.arange(len(intent_ids))
    if len(chosen) > SELECTION_MESSAGES:  # a share of every intent, at least one message each
        share = SELECTION_MESSAGES / len(chosen)
        chosen = np.sort(
            np.concatenate(
                [
                    rng.permutation(members)[: max(1, round(share * len(members)))]
                    for members in (np.flatnonzero(intent_ids == i) for i in np.unique(intent_ids))
                ]
            )
        )
    inputs, labels = inputs[chosen], intent_ids[chosen]
    if np.bincount(labels).max() < 3:  # no intent has a message for each fold
        return 1.0
    with warnings.catch_warnings():  # intents with fewer than 3 messages: fewer folds hold them
        warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
        folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(inputs, labels))
    best, best_correct = 1.0, -1
    for scale in SENTENCE_VECTOR_SCALES:
        scaled = _scaled(inputs, n_features, scale)
        correct = 0
        for train, held_out in folds:
            if len(np.unique(labels[train])) < 2:
                continue
            regression = _fitted_regression(scaled[train], labels[train], seed)
            correct += int((regression.predict(scaled[held_out]) == labels[held_out]).sum())
        if correct > best_correct:
            best, best_correct = scale, correct
    return best


def _fit(
    inputs: scipy.sparse.csr_matrix, intent_ids: np.ndarray, n_intents: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A multinomial logistic regression's kernel (F, I) and bias (I,); intents absent from
    ``intent_ids`` get scores that never win."""
    regression = _fitted_regression(inputs, intent_ids, seed)
    coefficients, intercepts = regression.coef_, regression.intercept_
    if len(regression.classes_) == 2:  # scikit-learn's binary form: one score, class 1 - class 0
        coefficients = np.vstack([np.zeros_like(coefficients), coefficients])
        intercepts = np.concatenate([[0.0], intercepts])
    kernel = np.zeros((inputs.shape[1], n_intents), np.float32)
    bias = np.full(n_intents, -1e4, np.float32)
    kernel[:, regression.classes_] = coefficients.T
    bias[regression.classes_] = intercepts
    return kernel, bias


def _fitted_regression(inputs: scipy.sparse.csr_matrix, labels: np.ndarray, seed: int):
    """scikit-learn's multinomial LogisticRegression with the wide path's settings, fitted."""
    from sklearn.linear_model import LogisticRegression

    regression = LogisticRegression(
        C=INVERSE_REGULARIZATION, max_iter=MAX_ITERATIONS, random_state=seed
    )
    with warnings.catch_warnings():
        # scikit-learn passes options that newer SciPy deprecates: noise to a user
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="sklearn")
        return regression.fit(inputs, labels)
