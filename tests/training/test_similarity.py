"""The similarity loss of DIET's intent head and TED's action head, against numpy references."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from diet_sparse.config import DIETConfig, TEDConfig  # noqa: E402
from diet_sparse.training.similarity import (  # noqa: E402
    LossOptions,
    loss_options,
    sampled_softmax_loss,
)

RNG = np.random.default_rng(0)
SIMILARITIES = RNG.normal(scale=3.0, size=(6, 5)).astype(np.float32)
LABELS = np.array([0, 1, 1, 2, 4, 0], dtype=np.int32)
ALL = 100  # more negatives than there are: every other label and input takes part


def log_softmax_at(logits: np.ndarray, index: int) -> float:
    shifted = logits - logits.max()
    return float(shifted[index] - np.log(np.exp(shifted).sum()))


def other_inputs(b: int) -> np.ndarray:
    """Similarities of the batch's inputs with another label to example b's true label."""
    return SIMILARITIES[LABELS != LABELS[b], LABELS[b]]


def loss(options: LossOptions | None = None) -> float:
    value, _ = sampled_softmax_loss(tf.constant(SIMILARITIES), tf.constant(LABELS), ALL, options)
    return float(value)


def per_example(contrast: bool) -> np.ndarray:
    rows = []
    for b, y in enumerate(LABELS):
        logits = SIMILARITIES[b]
        if contrast:
            logits = np.concatenate([logits, other_inputs(b)])
        rows.append(-log_softmax_at(logits, y))
    return np.array(rows)


def test_the_plain_loss_is_the_softmax_cross_entropy_over_all_labels():
    assert loss() == pytest.approx(per_example(False).mean(), rel=1e-5)


def test_contrast_inputs_adds_the_true_label_against_other_inputs_to_the_softmax():
    assert loss(LossOptions(contrast_inputs=True)) == pytest.approx(
        per_example(True).mean(), rel=1e-5
    )
    assert loss(LossOptions(contrast_inputs=True)) > loss()


def test_scale_loss_weighs_each_example_by_how_badly_it_is_predicted():
    losses = per_example(False)
    p = np.exp(-losses)
    assert p.max() > 0.5  # the scaling applies only once some example is learned
    expected = (losses * ((1 - p) / 0.5) ** 4).mean()
    assert loss(LossOptions(scale_loss=True)) == pytest.approx(expected, rel=1e-4)


def test_scale_loss_leaves_the_loss_alone_while_no_example_is_learned():
    flat = np.zeros_like(SIMILARITIES)  # every label equally likely: p = 1/5
    plain, _ = sampled_softmax_loss(tf.constant(flat), tf.constant(LABELS), ALL)
    scaled, _ = sampled_softmax_loss(
        tf.constant(flat), tf.constant(LABELS), ALL, LossOptions(scale_loss=True)
    )
    assert float(scaled) == pytest.approx(float(plain)) == pytest.approx(np.log(5), rel=1e-6)


def sigmoid_cross_entropy(logit: np.ndarray, label: float) -> np.ndarray:
    return np.maximum(logit, 0) - logit * label + np.log1p(np.exp(-np.abs(logit)))


@pytest.mark.parametrize("contrast", [False, True])
def test_constrain_similarities_adds_the_mean_sigmoid_loss_of_each_similarity(contrast):
    extra = []
    for b, y in enumerate(LABELS):
        negatives = np.delete(SIMILARITIES[b], y)
        if contrast:
            negatives = np.concatenate([negatives, other_inputs(b)])
        terms = [sigmoid_cross_entropy(SIMILARITIES[b, y], 1.0)]
        terms += list(sigmoid_cross_entropy(negatives, 0.0))
        extra.append(np.mean(terms))
    options = LossOptions(constrain_similarities=True, contrast_inputs=contrast)
    expected = per_example(contrast).mean() + np.mean(extra)
    assert loss(options) == pytest.approx(expected, rel=1e-5)


def test_only_the_sampled_negatives_take_part():
    """With one negative per example, each example's softmax holds two labels."""
    value, _ = sampled_softmax_loss(
        tf.constant(SIMILARITIES), tf.constant(LABELS), 1, LossOptions(constrain_similarities=True)
    )
    two_label_losses = []
    for b, y in enumerate(LABELS):
        pairs = [np.array([SIMILARITIES[b, y], SIMILARITIES[b, j]]) for j in range(5) if j != y]
        two_label_losses.append([-log_softmax_at(pair, 0) for pair in pairs])
    lowest = sum(min(x) for x in two_label_losses) / len(LABELS)
    highest = sum(max(x) for x in two_label_losses) / len(LABELS)
    plain, _ = sampled_softmax_loss(tf.constant(SIMILARITIES), tf.constant(LABELS), 1)
    assert lowest - 1e-5 <= float(plain) <= highest + 1e-5
    assert float(value) > float(plain)


def test_the_accuracy_is_over_all_labels_whatever_the_options():
    expected = np.mean(SIMILARITIES.argmax(axis=1) == LABELS)
    for options in (LossOptions(), LossOptions(True, True, True)):
        _, accuracy = sampled_softmax_loss(
            tf.constant(SIMILARITIES), tf.constant(LABELS), 2, options
        )
        assert float(accuracy) == pytest.approx(expected)


@pytest.mark.parametrize("kind", [DIETConfig, TEDConfig])
def test_both_configs_name_the_options_as_rasa_does(kind):
    config = kind(scale_loss=True, constrain_similarities=True, contrast_inputs=False)
    assert loss_options(config) == LossOptions(
        scale_loss=True, contrast_inputs=False, constrain_similarities=True
    )
