"""The dot-product similarity loss of DIET's intent head and TED's action head (StarSpace-style):
a softmax over the true label and a sample of other labels."""

from __future__ import annotations

import tensorflow as tf


def sampled_softmax_loss(
    similarities: tf.Tensor, label_ids: tf.Tensor, number_of_negative_examples: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Softmax cross-entropy over the true label and ``number_of_negative_examples`` others
    drawn at random per example (all others when there are fewer); returns the mean loss and
    the accuracy of the best label over all labels.

    similarities: (B, L) scores of every label; label_ids: (B,) the true labels.
    """
    n_labels = tf.shape(similarities)[1]
    is_true = tf.one_hot(label_ids, n_labels, on_value=True, off_value=False)
    # Random scores pick the negatives: the k highest among the other labels.
    draw = tf.where(is_true, -1.0, tf.random.uniform(tf.shape(similarities)))
    k = tf.minimum(number_of_negative_examples, n_labels - 1)
    threshold = tf.math.top_k(draw, k=k).values[:, -1:]
    in_softmax = is_true | (draw >= threshold)
    logits = tf.where(in_softmax, similarities, -1e9)  # left out of the softmax
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label_ids, logits=logits)
    )
    predicted = tf.argmax(similarities, axis=-1, output_type=tf.int32)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, label_ids), tf.float32))
    return loss, accuracy
