"""The DIET model: sparse features -> randomly connected transformer -> intent and entity heads.

A message of n tokens occupies positions 0..n-1 of its row; position n is the sentence slot,
which carries the message's sentence features in and its sentence embedding out.

    features (B*T, F) sparse
      -> SparseToDense                       (B, T, dense_dimension)
      -> TransformerEncoder                  (B, T, transformer_size)
      -> intent head: sentence slot -> embedding, similarity to every intent embedding (B, I)
      -> entity head: token positions -> tag logits -> CRF (B, T, N); roles and groups likewise
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from diet_sparse.config import DIETConfig
from diet_sparse.inference import NumpyDIET, weight_name
from diet_sparse.tagging import TAG_HEADS
from diet_sparse.training.crf import crf_log_likelihood
from diet_sparse.training.transformer import (
    RandomlyConnectedDense,
    SparseToDense,
    TransformerEncoder,
)


class Batch(NamedTuple):
    """Model inputs and targets of a batch of B messages padded to T positions."""

    features: tf.SparseTensor  # (B*T, F): row b*T + t holds position t of message b
    mask: tf.Tensor  # (B, T) float32: 1.0 for tokens and the sentence slot
    token_counts: tf.Tensor  # (B,) int32: tokens per message = index of its sentence slot
    intent_ids: tf.Tensor  # (B,) int32
    entity_tags: tf.Tensor  # (B, T) int32, 0 = O
    role_tags: tf.Tensor  # (B, T) int32
    group_tags: tf.Tensor  # (B, T) int32


class DIET(tf.keras.Model):
    """Dual Intent and Entity Transformer with randomly connected layers.

    Args:
        config: hyper-parameters.
        n_features: width of the sparse input features.
        n_intents: number of intents; 0 or 1 turns the intent head off.
        tag_counts: number of tags (including O) of each entity head to build, keyed by
            ``"entity"``, ``"role"``, ``"group"``.
    """

    def __init__(
        self, config: DIETConfig, n_features: int, n_intents: int, tag_counts: dict[str, int]
    ) -> None:
        super().__init__(name="diet")
        self.config = config
        self.n_intents = n_intents
        self.tag_heads = [name for name in TAG_HEADS if name in tag_counts]
        regularizer = tf.keras.regularizers.L2(config.regularization_constant)
        self.input_projection = SparseToDense(
            config.dense_dimension,
            n_features,
            config.drop_rate,
            config.regularization_constant,
            name="input_projection",
        )
        self.input_dropout = tf.keras.layers.Dropout(config.drop_rate)
        self.encoder = TransformerEncoder(
            config.transformer_size,
            config.number_of_transformer_layers,
            config.number_of_attention_heads,
            config.connection_density,
            seed=config.random_seed * 1000,
            drop_rate=config.drop_rate,
            drop_rate_attention=config.drop_rate_attention,
            name="encoder",
        )
        if self.has_intent_head:
            self.sentence_embedding = tf.keras.layers.Dense(
                config.embedding_dimension,
                kernel_regularizer=regularizer,
                name="sentence_embedding",
            )
            self.intent_embeddings = self.add_weight(
                name="intent_embeddings",
                shape=(n_intents, config.embedding_dimension),
                initializer="glorot_uniform",
            )
        self.tag_logits = {
            name: tf.keras.layers.Dense(
                count, kernel_regularizer=regularizer, name=f"{name}_logits"
            )
            for name, count in tag_counts.items()
        }
        self.transitions = {
            name: self.add_weight(
                name=f"{name}_transitions", shape=(count, count), initializer="zeros"
            )
            for name, count in tag_counts.items()
        }

    @property
    def has_intent_head(self) -> bool:
        return self.config.intent_classification and self.n_intents > 1

    def call(
        self,
        features: tf.SparseTensor,
        mask: tf.Tensor,
        token_counts: tf.Tensor,
        training: bool = False,
    ) -> dict[str, tf.Tensor]:
        batch_size, length = tf.shape(mask)[0], tf.shape(mask)[1]
        x = self.input_projection(features, training=training)  # (B*T, dense_dimension)
        x = tf.reshape(x, (batch_size, length, self.config.dense_dimension))
        x = self.input_dropout(x, training=training)
        encoded = self.encoder(x, mask, training=training)  # (B, T, transformer_size)

        outputs = {}
        if self.has_intent_head:
            sentence = tf.gather(encoded, token_counts, batch_dims=1)  # (B, transformer_size)
            sentence = self.sentence_embedding(sentence)  # (B, E)
            # (B, E) x (I, E)^T -> (B, I)
            outputs["intent"] = tf.matmul(sentence, self.intent_embeddings, transpose_b=True)
        head_input = encoded
        for name in self.tag_heads:
            logits = self.tag_logits[name](head_input)  # (B, T, N)
            outputs[name] = logits
            if name == "entity":
                # Roles and groups depend on the entity type, so their heads see its tag scores.
                head_input = tf.concat([encoded, tf.stop_gradient(tf.nn.softmax(logits))], -1)
        return outputs

    def randomly_connected_layers(self) -> list[RandomlyConnectedDense]:
        return self.encoder.randomly_connected_layers()

    def predict_outputs(
        self, features: tf.SparseTensor, mask: tf.Tensor, token_counts: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """What prediction uses: intent probabilities and tag logits (`NumpyDIET`'s outputs)."""
        outputs = self(features, mask, token_counts, training=False)
        if "intent" in outputs:
            outputs["intent"] = tf.nn.softmax(outputs["intent"], axis=-1)
        return outputs

    def to_numpy(self) -> NumpyDIET:
        """The trained weights as a `NumpyDIET`, which predicts without TensorFlow."""
        masks = {
            weight_name(layer.kernel.name): layer.kernel_mask.numpy().astype(bool)
            for layer in self.randomly_connected_layers()
        }
        weights = {
            weight_name(variable.name): variable.numpy()
            for variable in self.weights
            if not variable.name.endswith("kernel_mask:0")
        }
        return NumpyDIET(self.config, weights, masks, list(self.tag_heads))

    def losses_and_metrics(self, batch: Batch, training: bool) -> dict[str, tf.Tensor]:
        """Loss = intent loss + one CRF loss per tag head + L2, with training metrics."""
        outputs = self(batch.features, batch.mask, batch.token_counts, training=training)
        results = {}
        total = tf.add_n(self.losses) if self.losses else tf.constant(0.0)
        total += self.config.regularization_constant * self._l2_of_unregularised_kernels()
        if self.has_intent_head:
            loss, accuracy = self._intent_loss(outputs["intent"], batch.intent_ids)
            results.update(intent_loss=loss, intent_accuracy=accuracy)
            total += loss
        tags_by_head = {"entity": batch.entity_tags, "role": batch.role_tags,
                        "group": batch.group_tags}  # fmt: skip
        for name in self.tag_heads:
            logits, gold = outputs[name], tags_by_head[name]
            log_likelihood = crf_log_likelihood(
                logits, gold, batch.token_counts, self.transitions[name]
            )
            loss = -tf.reduce_mean(log_likelihood)
            results[f"{name}_loss"] = loss
            total += loss
            if name == "entity":
                # A progress signal only: per-token best tags, not the CRF's Viterbi path.
                predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
                token_mask = tf.sequence_mask(batch.token_counts, tf.shape(gold)[1])
                results["entity_f1"] = _token_f1(gold, predicted, token_mask)
        results["loss"] = total
        return results

    def _intent_loss(self, similarities: tf.Tensor, intent_ids: tf.Tensor):
        """Softmax over the true intent and `number_of_negative_examples` sampled others."""
        n_intents = tf.shape(similarities)[1]
        is_true = tf.one_hot(intent_ids, n_intents, on_value=True, off_value=False)
        # Random scores pick the negatives: the k highest among the other intents.
        draw = tf.where(is_true, -1.0, tf.random.uniform(tf.shape(similarities)))
        k = tf.minimum(self.config.number_of_negative_examples, n_intents - 1)
        threshold = tf.math.top_k(draw, k=k).values[:, -1:]
        in_softmax = is_true | (draw >= threshold)
        logits = tf.where(in_softmax, similarities, -1e9)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=intent_ids, logits=logits)
        )
        predicted = tf.argmax(similarities, axis=-1, output_type=tf.int32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, intent_ids), tf.float32))
        return loss, accuracy

    def _l2_of_unregularised_kernels(self) -> tf.Tensor:
        """L2 of the encoder's kernels, which carry no Keras regulariser.

        Randomly connected kernels contribute only their connected entries, so disconnected
        weights get no gradient from the penalty either and stay exactly zero. (The input
        projection adds its own penalty, on the rows a batch uses.)
        """
        kernels = [layer.effective_kernel for layer in self.randomly_connected_layers()]
        return tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])

    def count_trainable_weights(self) -> dict[str, int]:
        """Connected weights of the randomly connected layers, and trainable weights in all."""
        connected = sum(
            layer.count_connected_weights() for layer in self.randomly_connected_layers()
        )
        dense_equivalent = sum(
            int(layer.kernel.shape.num_elements()) + layer.units
            for layer in self.randomly_connected_layers()
        )
        all_weights = sum(int(w.shape.num_elements()) for w in self.trainable_weights)
        return {
            "randomly_connected": connected,
            "randomly_connected_if_dense": dense_equivalent,
            "total": all_weights - dense_equivalent + connected,
        }


def _token_f1(gold: tf.Tensor, predicted: tf.Tensor, token_mask: tf.Tensor) -> tf.Tensor:
    """F1 of non-O tags over the real tokens of a batch."""
    gold = tf.boolean_mask(gold, token_mask)
    predicted = tf.boolean_mask(predicted, token_mask)
    true_positive = tf.reduce_sum(tf.cast((gold == predicted) & (gold > 0), tf.float32))
    predicted_positive = tf.reduce_sum(tf.cast(predicted > 0, tf.float32))
    gold_positive = tf.reduce_sum(tf.cast(gold > 0, tf.float32))
    return tf.math.divide_no_nan(2.0 * true_positive, predicted_positive + gold_positive)
