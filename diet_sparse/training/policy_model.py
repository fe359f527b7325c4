"""The TED dialogue policy model: dialogue turns -> randomly connected transformer -> similarity
to every action.

A dialogue is a sequence of turns, newest first (as Rasa's TED with max_history reads it: the
current turn always sits at position 0 and gets the same position encoding). Each turn is the
features of its attributes (`network.TURN_ATTRIBUTES`: intent, previous action, entities, slots,
active form), each a (B, T, F) tensor of 0/1 and slot values.

    attribute features (B, T, F_a)
      -> Dense projection to dense_dimension, per attribute
      -> intent and previous action: randomly connected encoding layer (encoding_dimension)
      -> concatenated turn vectors                          (B, T, W)
      -> TransformerEncoder (the shared encoder, bidirectional)  (B, T, transformer_size)
      -> position 0, GELU, Dense -> dialogue embedding      (B, E)
      -> dot product with every action's embedding          (B, A)
    actions (one-hot) -> Dense -> randomly connected encoding -> Dense -> action embeddings (A, E)

The prediction graph (`diet_sparse.network.onnx_graph.build_ted_graph`) computes the same
scores from the saved weights, whose names come from `diet_sparse.network.weights`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from diet_sparse.config import TEDConfig
from diet_sparse.network import weights as names
from diet_sparse.network.connectivity import layer_seed
from diet_sparse.network.weights import ENCODED_ATTRIBUTES, LABEL, TURN_ATTRIBUTES, TEDWeights
from diet_sparse.training.model import stored_name
from diet_sparse.training.similarity import loss_options, sampled_softmax_loss
from diet_sparse.training.transformer import (
    RandomlyConnectedDense,
    TransformerEncoder,
    count_trainable_weights,
)


class DialogueBatch(NamedTuple):
    """B dialogues of T turns (newest first) and the action that followed each."""

    features: dict[str, tf.Tensor]  # attribute -> (B, T, F_a) float32
    mask: tf.Tensor  # (B, T) float32: 1.0 for real turns
    action_ids: tf.Tensor  # (B,) int32


class TED(tf.keras.Model):
    """Transformer Embedding Dialogue policy with randomly connected layers.

    Args:
        config: hyper-parameters.
        attribute_sizes: the feature width of each turn attribute; attributes of width 0 (a
            domain without forms has no active-form features) are left out.
        n_actions: the number of actions, which are scored.
    """

    def __init__(self, config: TEDConfig, attribute_sizes: dict[str, int], n_actions: int):
        super().__init__(name="ted")
        self.config = config
        self.attributes = [a for a in TURN_ATTRIBUTES if attribute_sizes.get(a)]
        self.attribute_sizes = {a: attribute_sizes[a] for a in self.attributes}
        self.n_actions = n_actions
        regularizer = tf.keras.regularizers.L2(config.regularization_constant)

        def projection(attribute: str) -> tf.keras.layers.Dense:
            return tf.keras.layers.Dense(
                config.dense_dimension,
                kernel_regularizer=regularizer,
                name=names.projection_name(attribute),
            )

        def encoding(attribute: str, offset: int) -> RandomlyConnectedDense:
            return RandomlyConnectedDense(
                config.encoding_dimension,
                connection_density=config.connection_density,
                mask_seed=layer_seed(config.random_seed, "encoding", index=offset),
                fan_in_initialization=config.fan_in_initialization,
                activation=tf.nn.gelu,
                name=names.encoding_name(attribute),
            )

        self.projections = {a: projection(a) for a in self.attributes}
        self.encodings = {
            a: encoding(a, i) for i, a in enumerate(self.attributes) if a in ENCODED_ATTRIBUTES
        }
        self.encoder = TransformerEncoder(
            config.transformer_size,
            config.number_of_transformer_layers,
            config.number_of_attention_heads,
            config.connection_density,
            seed=config.random_seed,
            drop_rate=config.drop_rate_dialogue,
            drop_rate_attention=config.drop_rate_attention,
            fan_in_initialization=config.fan_in_initialization,
            connection_structure=config.connection_structure,
            name=names.DIALOGUE_ENCODER,
        )
        self.dialogue_embedding = tf.keras.layers.Dense(
            config.embedding_dimension,
            kernel_regularizer=regularizer,
            name=names.DIALOGUE_EMBEDDING,
        )
        self.label_projection = projection(LABEL)
        self.label_encoding = encoding(LABEL, len(TURN_ATTRIBUTES))
        self.label_embedding = tf.keras.layers.Dense(
            config.embedding_dimension, kernel_regularizer=regularizer, name=f"{LABEL}_embedding"
        )

    def call(
        self, features: dict[str, tf.Tensor], mask: tf.Tensor, training: bool = False
    ) -> tf.Tensor:
        """Similarities (B, A) of each dialogue's next turn to every action."""
        return tf.matmul(
            self.embed_dialogues(features, mask, training),
            self.embed_actions(),
            transpose_b=True,
        )

    def embed_dialogues(
        self, features: dict[str, tf.Tensor], mask: tf.Tensor, training: bool = False
    ) -> tf.Tensor:
        """features: attribute -> (B, T, F_a), mask (B, T) -> dialogue embeddings (B, E)."""
        parts = []
        for attribute in self.attributes:
            x = self.projections[attribute](features[attribute])  # (B, T, dense_dimension)
            if attribute in self.encodings:
                x = self.encodings[attribute](x)  # (B, T, encoding_dimension)
            parts.append(x)
        turns = tf.concat(parts, axis=-1)  # (B, T, W); Rasa's TED drops no input features
        encoded = self.encoder(turns, mask, training=training)  # (B, T, transformer_size)
        return self.dialogue_embedding(tf.nn.gelu(encoded[:, 0]))  # the newest turn: (B, E)

    def embed_actions(self) -> tf.Tensor:
        """Every action's embedding (A, E), from its one-hot label."""
        labels = tf.eye(self.n_actions)
        return self.label_embedding(self.label_encoding(self.label_projection(labels)))

    def build_all(self) -> None:
        """Create every weight, with one dialogue of one empty turn."""
        features = {a: tf.zeros((1, 1, size)) for a, size in self.attribute_sizes.items()}
        self(features, tf.ones((1, 1)))

    def losses_and_metrics(self, batch: DialogueBatch, training: bool) -> dict[str, tf.Tensor]:
        """Loss = sampled softmax over actions + L2, with the action accuracy."""
        similarities = self(batch.features, batch.mask, training=training)
        loss, accuracy = sampled_softmax_loss(
            similarities,
            batch.action_ids,
            self.config.number_of_negative_examples,
            loss_options(self.config),
        )
        total = loss + (tf.add_n(self.losses) if self.losses else 0.0)
        kernels = [layer.effective_kernel for layer in self.randomly_connected_layers()]
        l2 = tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])
        total += self.config.regularization_constant * l2
        return {"loss": total, "action_loss": loss, "action_accuracy": accuracy}

    def randomly_connected_layers(self) -> list:
        """The encoding layers and every randomly connected layer of the dialogue encoder."""
        return [
            *self.encodings.values(),
            self.label_encoding,
            *self.encoder.randomly_connected_layers(),
        ]

    def count_trainable_weights(self) -> dict[str, int]:
        """Connected weights of the randomly connected layers, and trainable weights in all."""
        return count_trainable_weights(self.randomly_connected_layers(), self.trainable_weights)

    def to_weights(self) -> TEDWeights:
        """The trained weights as a `TEDWeights`, which prediction runs on without TensorFlow."""
        layers = self.randomly_connected_layers()
        masks = {stored_name(layer.kernel.name, "ted"): layer.stored_mask() for layer in layers}
        weights = {
            stored_name(variable.name, "ted"): variable.numpy()
            for variable in self.weights
            if not variable.name.endswith("kernel_mask:0")
        }
        # block-structured kernels are stored as the dense kernel, like the others
        weights.update(
            {stored_name(layer.kernel.name, "ted"): layer.stored_kernel() for layer in layers}
        )
        return TEDWeights(self.config, weights, masks, dict(self.attribute_sizes), self.n_actions)


def dialogue_batch(
    features: dict[str, np.ndarray], lengths: np.ndarray, action_ids: np.ndarray
) -> DialogueBatch:
    """A `DialogueBatch` from padded numpy arrays: features (B, T, F_a), turns per dialogue."""
    length = max(int(lengths.max()), 1)
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.float32)
    return DialogueBatch(
        features={a: tf.constant(f[:, :length], tf.float32) for a, f in features.items()},
        mask=tf.constant(mask),
        action_ids=tf.constant(action_ids, tf.int32),
    )
