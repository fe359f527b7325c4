"""The dot-product similarity loss of DIET's intent head and TED's action head (StarSpace-style):
a softmax over the true label and a sample of other labels, with Rasa's options on top."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from diet_sparse.config import DIETConfig, TEDConfig

LEFT_OUT = -1e9  # a logit that the softmax ignores


@dataclass(frozen=True)
class LossOptions:
    """Rasa's options of its dot-product loss (each off reproduces the plain sampled softmax).

    scale_loss: weigh each example by ``((1 - p) / 0.5) ** 4``, p the probability of its true
        label, once some example has p > 0.5, so the loss dwells on the examples not yet learned
        (a focal loss; Rasa's TED default).
    contrast_inputs: the softmax also holds the similarities of the true label to sampled other
        inputs of the batch that have another label, so each label is pulled towards its own
        inputs and away from others (Rasa's loss always has this term, ``sim_neg_li``).
    constrain_similarities: add a sigmoid cross-entropy pushing the true similarity towards 1
        and the sampled ones towards 0 in probability, which keeps similarities in a bounded
        range (Rasa's ``constrain_similarities``, on in its suggested TED config).
    """

    scale_loss: bool = False
    contrast_inputs: bool = False
    constrain_similarities: bool = False


def loss_options(config: DIETConfig | TEDConfig) -> LossOptions:
    """The loss options a config asks for."""
    return LossOptions(config.scale_loss, config.contrast_inputs, config.constrain_similarities)


def _sample(candidates: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    """A random ``k`` of the True entries of each row of ``candidates`` (all where fewer)."""
    draw = tf.where(candidates, tf.random.uniform(tf.shape(candidates)), -1.0)
    threshold = tf.math.top_k(draw, k=k).values[:, -1:]
    return candidates & (draw >= threshold)


def sampled_softmax_loss(
    similarities: tf.Tensor,
    label_ids: tf.Tensor,
    number_of_negative_examples: int,
    options: LossOptions | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Softmax cross-entropy over the true label and ``number_of_negative_examples`` others
    drawn at random per example (all others when there are fewer), with `LossOptions`; returns
    the mean loss and the accuracy of the best label over all labels.

    similarities: (B, L) scores of every label; label_ids: (B,) the true labels.
    """
    options = options or LossOptions()
    n_labels = tf.shape(similarities)[1]
    is_true = tf.one_hot(label_ids, n_labels, on_value=True, off_value=False)
    # Random scores pick the negatives: the k highest among the other labels.
    draw = tf.where(is_true, -1.0, tf.random.uniform(tf.shape(similarities)))
    k = tf.minimum(number_of_negative_examples, n_labels - 1)
    threshold = tf.math.top_k(draw, k=k).values[:, -1:]
    in_softmax = is_true | (draw >= threshold)
    logits = tf.where(in_softmax, similarities, LEFT_OUT)  # left out of the softmax
    extra = []  # (B, n) similarities of sampled negative inputs to each example's true label
    if options.contrast_inputs:
        # column y_b of row c: how similar input c is to example b's true label
        to_true_label = tf.transpose(tf.gather(similarities, label_ids, axis=1))  # (B_b, B_c)
        other_label = tf.not_equal(label_ids[:, None], label_ids[None, :])
        batch = tf.shape(similarities)[0]
        chosen = _sample(other_label, tf.minimum(number_of_negative_examples, batch))
        extra.append(tf.where(chosen, to_true_label, LEFT_OUT))
    full_logits = tf.concat([logits, *extra], axis=1)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label_ids, logits=full_logits)
    if options.scale_loss:
        p = tf.exp(-losses)
        scale = tf.cond(
            tf.reduce_max(p) > 0.5,
            lambda: tf.pow((1.0 - p) / 0.5, 4),
            lambda: tf.ones_like(p),
        )
        losses *= tf.stop_gradient(scale)
    if options.constrain_similarities:
        true_logit = tf.reduce_sum(tf.where(is_true, similarities, 0.0), axis=1, keepdims=True)
        negatives = tf.concat([tf.where(is_true, LEFT_OUT, logits), *extra], axis=1)
        used = negatives > LEFT_OUT / 2
        negative_terms = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.zeros_like(negatives), logits=tf.where(used, negatives, 0.0)
        )
        sigmoid = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.ones_like(true_logit), logits=true_logit
        )[:, 0] + tf.reduce_sum(tf.where(used, negative_terms, 0.0), axis=1)
        count = 1.0 + tf.reduce_sum(tf.cast(used, tf.float32), axis=1)
        losses += sigmoid / count  # the mean over the true and the sampled similarities
    loss = tf.reduce_mean(losses)
    predicted = tf.argmax(similarities, axis=-1, output_type=tf.int32)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, label_ids), tf.float32))
    return loss, accuracy
