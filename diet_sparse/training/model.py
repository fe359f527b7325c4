"""The DIET model: sparse features -> randomly connected transformer -> intent and tag heads.

A message of n tokens occupies positions 0..n-1 of its row; position n is the sentence slot,
which carries the message's sentence features in and its sentence embedding out.

    features (B*T, F) sparse
      -> InputProjection                    (B, T, dense_dimension)
      [+ pretrained sentence vector (B, P) at the sentence slot, zeros at the tokens]
      [-> text hidden layers: randomly connected, GELU, dropout (hidden_layers_sizes.text)]
      -> TransformerEncoder                 (B, T, transformer_size)
      -> IntentHead: sentence slot -> embedding, similarity to every intent embedding (B, I)
         (the intent embeddings: a table, or hidden_layers_sizes.label's layers on one-hots)
      -> TagHead per entity attribute: token positions -> tag logits (B, T, N), CRF loss

Each head owns its weights and its loss, so `DIET.call` reads "project, encode, heads". With
``use_masked_language_model``, a training-only `MaskedLanguageModelHead` masks some input tokens
before the encoder and learns to recover them; its weights are never saved. The prediction
graph (`diet_sparse.network.onnx_graph`) computes the same outputs from the saved weights,
whose names come from `diet_sparse.network.weights`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from diet_sparse.config import DIETConfig
from diet_sparse.network import weights as names
from diet_sparse.network.connectivity import layer_seed
from diet_sparse.network.weights import TAG_HEADS, DIETWeights
from diet_sparse.training.crf import crf_log_likelihood
from diet_sparse.training.similarity import loss_options, sampled_softmax_loss
from diet_sparse.training.transformer import (
    RandomlyConnectedDense,
    SparseToDense,
    TransformerEncoder,
    count_trainable_weights,
)

MLM_HEAD = "mlm_head"  # training only: never saved, so not among the shared weight names
# hidden_layers_sizes.label's layers (training only, like the MLM head): label_hidden_0, ...,
# then label_embedding to the embedding space
LABEL_HIDDEN, LABEL_EMBEDDING = "label_hidden", "label_embedding"


class Batch(NamedTuple):
    """Model inputs and targets of a batch of B messages padded to T positions."""

    features: tf.SparseTensor  # (B*T, F): row b*T + t holds position t of message b
    dense_sentence: tf.Tensor  # (B, P) float32: pretrained sentence vectors; P = 0 without
    mask: tf.Tensor  # (B, T) float32: 1.0 for tokens and the sentence slot
    token_counts: tf.Tensor  # (B,) int32: tokens per message = index of its sentence slot
    intent_ids: tf.Tensor  # (B,) int32
    entity_tags: tf.Tensor  # (B, T) int32, 0 = O
    role_tags: tf.Tensor  # (B, T) int32
    group_tags: tf.Tensor  # (B, T) int32


class InputProjection(SparseToDense):
    """Sparse features (B*T, F) -> dense vectors (B, T, dense_dimension), with dropout of the
    sparse input values and of the projected vectors during training."""

    def __init__(
        self, units: int, input_dim: int, drop_rate: float, sparse_drop_rate: float, **kwargs
    ) -> None:
        super().__init__(units, input_dim, sparse_drop_rate, **kwargs)
        self.dense_dropout = tf.keras.layers.Dropout(drop_rate)

    def call(self, features: tf.SparseTensor, mask: tf.Tensor, training: bool = False):
        x = super().call(features, training=training)  # (B*T, D)
        x = tf.reshape(x, (tf.shape(mask)[0], tf.shape(mask)[1], self.units))
        return self.dense_dropout(x, training=training)


class IntentHead(tf.keras.layers.Layer):
    """The sentence slot's encoding, embedded and compared by dot product with one learned
    embedding per intent; trained with a softmax over the true intent and sampled others.

    With ``use_wide_path``, prediction adds the scores of the wide path
    (`diet_sparse.network.wide_path`: a logistic regression on the message's bag of features,
    fitted apart) to the similarities; the network trains without them.

    With ``hidden_layers_sizes.label``, as in Rasa, the intent embeddings are not a table but
    the output of dense layers (GELU, dropout) and a last dense layer to the embedding space,
    run on each intent's one-hot vector. Those layers are training-only: what prediction needs
    of them is the table they give (`intent_embedding_table`), stored as the table is.
    """

    def __init__(self, config: DIETConfig, n_intents: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_intents = n_intents
        regularizer = tf.keras.regularizers.L2(config.regularization_constant)
        label_sizes = config.hidden_layers_sizes.get("label") or []
        self.label_layers = [
            tf.keras.layers.Dense(
                units, activation=tf.nn.gelu, kernel_regularizer=regularizer,
                name=f"{LABEL_HIDDEN}_{i}",
            )
            for i, units in enumerate(label_sizes)
        ]  # fmt: skip
        if self.label_layers:
            self.label_layers.append(
                tf.keras.layers.Dense(
                    config.embedding_dimension, kernel_regularizer=regularizer, name=LABEL_EMBEDDING
                )
            )
        self.label_dropout = tf.keras.layers.Dropout(config.drop_rate)
        self.number_of_negative_examples = config.number_of_negative_examples
        self.loss_options = loss_options(config)
        self.sentence_embedding = tf.keras.layers.Dense(
            config.embedding_dimension,
            kernel_regularizer=tf.keras.regularizers.L2(config.regularization_constant),
            name=names.SENTENCE_EMBEDDING,
        )
        self.embedding_dimension = config.embedding_dimension

    def build(self, input_shape) -> None:
        if not self.label_layers:
            self.intent_embeddings = self.add_weight(
                name=names.INTENT_EMBEDDINGS,
                shape=(self.n_intents, self.embedding_dimension),
                initializer="glorot_uniform",
            )
        super().build(input_shape)

    def intent_embedding_table(self, training: bool = False) -> tf.Tensor:
        """The embedding of every intent (I, E): the table, or the label layers' output on
        the intents' one-hot vectors."""
        if not self.label_layers:
            return self.intent_embeddings
        x = tf.eye(self.n_intents)
        for layer in self.label_layers[:-1]:
            x = self.label_dropout(layer(x), training=training)
        return self.label_layers[-1](x)

    def call(
        self,
        encoded: tf.Tensor,
        token_counts: tf.Tensor,
        wide: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf.Tensor:
        """encoded (B, T, size), token_counts (B,), the wide path's scores (B, I) or None ->
        intent scores (B, I)."""
        sentence = tf.gather(encoded, token_counts, batch_dims=1)  # (B, size): sentence slot
        embedded = self.sentence_embedding(sentence)  # (B, E)
        table = self.intent_embedding_table(training)
        similarities = tf.matmul(embedded, table, transpose_b=True)  # (B, I)
        return similarities if wide is None else similarities + wide

    def training_only_weights(self) -> list[tf.Variable]:
        """The label layers' variables, which prediction does not need."""
        return [variable for layer in self.label_layers for variable in layer.weights]

    def loss(self, similarities: tf.Tensor, intent_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Softmax over the true intent and `number_of_negative_examples` sampled others;
        returns the loss and the accuracy over all intents."""
        return sampled_softmax_loss(
            similarities, intent_ids, self.number_of_negative_examples, self.loss_options
        )


class TagHead(tf.keras.layers.Layer):
    """Per-token tag logits and the CRF transition scores of one entity attribute."""

    def __init__(self, n_tags: int, regularization_constant: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_tags = n_tags
        self.logits = tf.keras.layers.Dense(
            n_tags,
            kernel_regularizer=tf.keras.regularizers.L2(regularization_constant),
            name=names.LOGITS,
        )

    def build(self, input_shape) -> None:
        self.transitions = self.add_weight(
            name=names.TRANSITIONS, shape=(self.n_tags, self.n_tags), initializer="zeros"
        )
        super().build(input_shape)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """x (B, T, D) -> tag logits (B, T, N)."""
        return self.logits(x)

    def loss(self, logits: tf.Tensor, gold: tf.Tensor, token_counts: tf.Tensor) -> tf.Tensor:
        """Mean negative CRF log-likelihood of the gold tags over the batch."""
        log_likelihood = crf_log_likelihood(logits, gold, token_counts, self.transitions)
        return -tf.reduce_mean(log_likelihood)


class MaskedLanguageModelHead(tf.keras.layers.Layer):
    """DIET's masked language model, for training only: of the token positions (not the sentence
    slot, not padding), 15% are chosen; 70% of those are replaced by a learned mask vector, 10%
    by another token of the batch, 20% left as they are. The encoder's output at each chosen
    position is embedded and must be most similar to the embedding of the token's own input
    vector, against the other chosen tokens of the batch (in-batch negatives; tokens with the
    same input are not counted as negatives)."""

    MASKED_SHARE = 0.15
    REPLACED_BY_MASK, REPLACED_BY_OTHER = 0.7, 0.1

    def __init__(self, embedding_dimension: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.output_embedding = tf.keras.layers.Dense(embedding_dimension, name="output_embedding")
        self.target_embedding = tf.keras.layers.Dense(embedding_dimension, name="target_embedding")

    def build(self, input_shape) -> None:
        self.mask_vector = self.add_weight(
            name="mask_vector", shape=(int(input_shape[-1]),), initializer="glorot_uniform"
        )
        super().build(input_shape)

    def call(self, x: tf.Tensor, token_counts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """x (B, T, D) -> (x with the chosen tokens replaced, chosen (B, T) bool)."""
        shape = tf.shape(x)[:2]
        is_token = tf.sequence_mask(token_counts, shape[1])
        chosen = is_token & (tf.random.uniform(shape) < self.MASKED_SHARE)
        roll = tf.random.uniform(shape)
        by_mask = chosen & (roll < self.REPLACED_BY_MASK)
        by_other = chosen & ~by_mask & (roll < self.REPLACED_BY_MASK + self.REPLACED_BY_OTHER)
        tokens = tf.boolean_mask(x, is_token)  # (N, D)
        picked = tf.random.uniform(shape, maxval=tf.maximum(tf.shape(tokens)[0], 1), dtype=tf.int32)
        others = tf.gather(tokens, tf.minimum(picked, tf.shape(tokens)[0] - 1))  # (B, T, D)
        x = tf.where(by_other[..., None], others, x)
        x = tf.where(by_mask[..., None], self.mask_vector, x)
        return x, chosen

    def loss(self, encoded: tf.Tensor, inputs: tf.Tensor, chosen: tf.Tensor) -> tf.Tensor:
        """Mean softmax cross-entropy of recovering each chosen token (0 if none is chosen)."""
        targets = tf.boolean_mask(inputs, chosen)  # (M, D): the unmasked input vectors
        outputs = self.output_embedding(tf.boolean_mask(encoded, chosen))  # (M, E)
        similarities = tf.matmul(outputs, self.target_embedding(targets), transpose_b=True)
        unit = tf.math.l2_normalize(tf.stop_gradient(targets), axis=-1)
        same_token = tf.matmul(unit, unit, transpose_b=True) > 0.9999
        others = tf.logical_not(tf.eye(tf.shape(targets)[0], dtype=tf.bool))
        similarities = tf.where(same_token & others, -1e9, similarities)
        # cross-entropy with each token's own target as the class; also fine with no tokens
        losses = tf.reduce_logsumexp(similarities, axis=1) - tf.linalg.diag_part(similarities)
        return tf.math.divide_no_nan(tf.reduce_sum(losses), tf.cast(tf.size(losses), tf.float32))


class DIET(tf.keras.Model):
    """Dual Intent and Entity Transformer with randomly connected layers.

    Args:
        config: hyper-parameters.
        n_features: width of the sparse input features.
        n_intents: number of intents; 0 or 1 turns the intent head off.
        tag_counts: number of tags (including O) of each tag head to build, keyed by
            ``"entity"``, ``"role"``, ``"group"``.
    """

    def __init__(
        self, config: DIETConfig, n_features: int, n_intents: int, tag_counts: dict[str, int]
    ) -> None:
        super().__init__(name="diet")
        self.config = config
        self.n_features = n_features
        self.n_dense = names.encoder_input_width(config) - config.dense_dimension
        self.input_projection = InputProjection(
            config.dense_dimension,
            n_features,
            config.drop_rate,
            config.drop_rate if config.use_sparse_input_dropout else 0.0,
            regularization_constant=config.regularization_constant,
            name=names.INPUT_PROJECTION,
        )
        self.dense_input_dropout = (
            tf.keras.layers.Dropout(config.drop_rate) if config.use_dense_input_dropout else None
        )
        # Rasa's feed-forward layers in front of the encoder, randomly connected as Rasa's are
        # (always the random structure: their widths need not divide into blocks)
        self.text_hidden = [
            RandomlyConnectedDense(
                units,
                connection_density=config.connection_density,
                mask_seed=layer_seed(config.random_seed, names.TEXT_HIDDEN, index=i),
                fan_in_initialization=config.fan_in_initialization,
                activation=tf.nn.gelu,
                name=names.text_hidden_name(i),
            )
            for i, units in enumerate(config.hidden_layers_sizes.get("text") or [])
        ]
        self.text_hidden_dropout = tf.keras.layers.Dropout(config.drop_rate)
        self.encoder = TransformerEncoder(
            config.transformer_size,
            config.number_of_transformer_layers,
            config.number_of_attention_heads,
            config.connection_density,
            seed=config.random_seed,
            drop_rate=config.drop_rate,
            drop_rate_attention=config.drop_rate_attention,
            use_key_relative_attention=config.use_key_relative_attention,
            use_value_relative_attention=config.use_value_relative_attention,
            max_relative_position=config.max_relative_position,
            connection_structure=config.connection_structure,
            fan_in_initialization=config.fan_in_initialization,
            name=names.ENCODER,
        )
        self.intent_head = None
        if config.intent_classification and n_intents > 1:
            self.intent_head = IntentHead(config, n_intents, name=names.INTENT_HEAD)
        self.tag_heads = {
            head: TagHead(
                tag_counts[head], config.regularization_constant, name=names.tag_head_name(head)
            )
            for head in TAG_HEADS
            if head in tag_counts
        }
        self.mlm_head = None
        if config.use_masked_language_model:
            self.mlm_head = MaskedLanguageModelHead(config.embedding_dimension, name=MLM_HEAD)

    def call(
        self,
        features: tf.SparseTensor,
        mask: tf.Tensor,
        token_counts: tf.Tensor,
        dense_sentence: tf.Tensor | None = None,
        wide: tf.Tensor | None = None,
        training: bool = False,
    ) -> dict[str, tf.Tensor]:
        """Intent scores (B, I) under ``"intent"`` and tag logits (B, T, N) per tag head, from
        the features, their pretrained sentence vectors (B, P) and the wide path's scores
        (B, I) where the model has them."""
        x = self.inputs_of(features, mask, token_counts, dense_sentence, training)
        encoded = self.encoder(x, mask, training=training)  # (B, T, transformer_size)
        return self.heads(encoded, token_counts, wide, training=training)

    def inputs_of(
        self,
        features: tf.SparseTensor,
        mask: tf.Tensor,
        token_counts: tf.Tensor,
        dense_sentence: tf.Tensor | None,
        training: bool,
    ) -> tf.Tensor:
        """The encoder's input (B, T, width): the projected sparse features, then, with a
        pretrained encoder, its sentence vector at the sentence slot and zeros at the tokens
        (as Rasa concatenates dense features after the sparse ones), through the text hidden
        layers if there are any."""
        x = self.input_projection(features, mask, training=training)  # (B, T, dense_dimension)
        if self.n_dense:
            if dense_sentence is None:
                dense_sentence = tf.zeros((tf.shape(mask)[0], self.n_dense))
            elif self.dense_input_dropout is not None:
                dense_sentence = self.dense_input_dropout(dense_sentence, training=training)
            at_sentence = tf.one_hot(token_counts, tf.shape(mask)[1])[..., None]  # (B, T, 1)
            x = tf.concat([x, at_sentence * dense_sentence[:, None, :]], axis=-1)
        for layer in self.text_hidden:
            x = self.text_hidden_dropout(layer(x), training=training)
        return x

    def build_all(self) -> None:
        """Create every weight, the training-only heads' too, from one empty message."""
        features = tf.SparseTensor(
            np.zeros((0, 2), np.int64), np.zeros(0, np.float32), (2, self.n_features)
        )
        mask, token_counts = tf.ones((1, 2)), tf.constant([1], tf.int32)
        self(features, mask, token_counts)
        if self.mlm_head is not None:
            x = self.inputs_of(features, mask, token_counts, None, training=False)
            masked, chosen = self.mlm_head(x, token_counts)
            self.mlm_head.loss(self.encoder(masked, mask), x, chosen)

    def heads(
        self,
        encoded: tf.Tensor,
        token_counts: tf.Tensor,
        wide: tf.Tensor | None = None,
        training: bool = False,
    ) -> dict[str, tf.Tensor]:
        """The intent head's and the tag heads' outputs on the encoding (B, T, size) (and the
        wide path's intent scores)."""
        outputs = {}
        if self.intent_head is not None:
            outputs["intent"] = self.intent_head(
                encoded, token_counts, wide if self.config.use_wide_path else None,
                training=training,
            )  # fmt: skip
        head_input = encoded
        for name, head in self.tag_heads.items():
            outputs[name] = head(head_input)
            if name == "entity":
                # Roles and groups depend on the entity type, so their heads see its tag scores.
                entity_probabilities = tf.stop_gradient(tf.nn.softmax(outputs[name]))
                head_input = tf.concat([encoded, entity_probabilities], -1)
        return outputs

    def losses_and_metrics(self, batch: Batch, training: bool) -> dict[str, tf.Tensor]:
        """Loss = intent loss + one CRF loss per tag head (+ the masked language model's) + L2,
        with training metrics."""
        x = self.inputs_of(
            batch.features, batch.mask, batch.token_counts, batch.dense_sentence, training
        )
        results = {}
        if self.mlm_head is not None and training:
            masked, chosen = self.mlm_head(x, batch.token_counts)
            encoded = self.encoder(masked, batch.mask, training=training)
            results["mlm_loss"] = self.mlm_head.loss(encoded, x, chosen)
        else:
            encoded = self.encoder(x, batch.mask, training=training)
        outputs = self.heads(encoded, batch.token_counts, training=training)
        total = tf.add_n(self.losses) if self.losses else tf.constant(0.0)
        total += self.config.regularization_constant * self._l2_of_unregularised_kernels()
        total += results.get("mlm_loss", 0.0)
        if self.intent_head is not None:
            loss, accuracy = self.intent_head.loss(outputs["intent"], batch.intent_ids)
            results.update(intent_loss=loss, intent_accuracy=accuracy)
            total += loss
        gold_tags = {
            "entity": batch.entity_tags,
            "role": batch.role_tags,
            "group": batch.group_tags,
        }
        for name, head in self.tag_heads.items():
            loss = head.loss(outputs[name], gold_tags[name], batch.token_counts)
            results[f"{name}_loss"] = loss
            total += loss
            if name == "entity":
                # A progress signal only: per-token best tags, not the CRF's Viterbi path.
                predicted = tf.argmax(outputs[name], axis=-1, output_type=tf.int32)
                token_mask = tf.sequence_mask(batch.token_counts, tf.shape(batch.entity_tags)[1])
                results["entity_f1"] = _token_f1(batch.entity_tags, predicted, token_mask)
        results["loss"] = total
        return results

    def _l2_of_unregularised_kernels(self) -> tf.Tensor:
        """L2 of the text hidden layers' and the encoder's kernels, which carry no Keras
        regulariser: of the encoder's embedding layer only, as Rasa's DIET, unless
        ``regularize_encoder_layers`` adds its blocks' attention and feed-forward kernels.

        Randomly connected kernels contribute only their connected entries, so disconnected
        weights get no gradient from the penalty either and stay exactly zero. (The input
        projection adds its own penalty, on the rows a batch uses.)
        """
        if self.config.regularize_encoder_layers:
            layers = self.randomly_connected_layers()
        else:
            layers = [*self.text_hidden, self.encoder.embedding]
        kernels = [layer.effective_kernel for layer in layers]
        return tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])

    def randomly_connected_layers(self) -> list:
        return [*self.text_hidden, *self.encoder.randomly_connected_layers()]

    def training_only_weights(self) -> list[tf.Variable]:
        """The masked language model's and the intent label layers' variables."""
        found = list(self.mlm_head.weights) if self.mlm_head else []
        if self.intent_head is not None:
            found += self.intent_head.training_only_weights()
        return found

    def prediction_weights(self) -> list[tf.Variable]:
        """The variables prediction uses: all but the masks and training-only weights (the
        intent label layers give prediction their table instead, see `to_weights`)."""
        training_only = {id(v) for v in self.training_only_weights()}
        return [
            variable
            for variable in self.weights
            if not variable.name.endswith("kernel_mask:0") and id(variable) not in training_only
        ]

    def to_weights(self) -> DIETWeights:
        """The trained weights as a `DIETWeights`, which prediction runs on without TensorFlow."""
        layers = self.randomly_connected_layers()
        masks = {stored_name(layer.kernel.name): layer.stored_mask() for layer in layers}
        weights = {
            stored_name(variable.name): variable.numpy() for variable in self.prediction_weights()
        }
        # block-structured kernels are stored as the dense kernel, like the others
        weights.update({stored_name(layer.kernel.name): layer.stored_kernel() for layer in layers})
        if self.intent_head is not None and self.intent_head.label_layers:
            table = self.intent_head.intent_embedding_table(training=False).numpy()
            weights[names.weight_path(names.INTENT_HEAD, names.INTENT_EMBEDDINGS)] = table
        return DIETWeights(self.config, weights, masks, list(self.tag_heads))

    def count_trainable_weights(self) -> dict[str, int]:
        """Connected weights of the randomly connected layers, and trainable weights in all."""
        label_layers = self.intent_head.training_only_weights() if self.intent_head else []
        trained = [w for w in [*self.prediction_weights(), *label_layers] if w.trainable]
        return count_trainable_weights(self.randomly_connected_layers(), trained)


def stored_name(variable_name: str, model_name: str = "diet") -> str:
    """The stored name of a Keras variable: ``diet/encoder/embedding/kernel:0`` ->
    ``encoder/embedding/kernel``."""
    name = variable_name.split(":")[0]
    return name.removeprefix(f"{model_name}/")


def _token_f1(gold: tf.Tensor, predicted: tf.Tensor, token_mask: tf.Tensor) -> tf.Tensor:
    """F1 of non-O tags over the real tokens of a batch."""
    gold = tf.boolean_mask(gold, token_mask)
    predicted = tf.boolean_mask(predicted, token_mask)
    true_positive = tf.reduce_sum(tf.cast((gold == predicted) & (gold > 0), tf.float32))
    predicted_positive = tf.reduce_sum(tf.cast(predicted > 0, tf.float32))
    gold_positive = tf.reduce_sum(tf.cast(gold > 0, tf.float32))
    return tf.math.divide_no_nan(2.0 * true_positive, predicted_positive + gold_positive)
