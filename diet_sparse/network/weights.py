"""What the training network (Keras, in `diet_sparse.training`) and the prediction network (ONNX,
in `onnx_graph`) share: the constants of their arithmetic, the names of their weights, and the
container of trained weights that prediction runs on.

Both networks read every constant and every weight name from here, so they cannot drift apart;
tests check that they compute the same outputs. Nothing here needs TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diet_sparse.config import DIETConfig

# --- arithmetic both networks do -----------------------------------------------------------
LAYER_NORM_EPSILON = 1e-6
ATTENTION_MASK_VALUE = -1e9  # added to the score of a key a position must not attend to
FEED_FORWARD_FACTOR = 4  # the feed-forward block's hidden width, in transformer widths
POSITION_ENCODING_BASE = 10000.0  # wavelengths of the sinusoidal positions grow up to this

# --- weight names: Keras layer names, and the parts of the names in ``weights.npz`` ----------
INPUT_PROJECTION = "input_projection"
TEXT_HIDDEN = "text_hidden"  # hidden_layers_sizes.text: text_hidden_0, text_hidden_1, ...
ENCODER = "encoder"
EMBEDDING = "embedding"  # the randomly connected layer in front of the encoder blocks
ATTENTION_NORM = "attention_norm"
ATTENTION = "attention"
QUERY, KEY, VALUE = "query", "key", "value"
# relative position embeddings of keys and values, shared by an attention layer's heads
KEY_RELATIVE_EMBEDDINGS = "key_relative_embeddings"
VALUE_RELATIVE_EMBEDDINGS = "value_relative_embeddings"
ATTENTION_OUTPUT = "attention_output"
FEED_FORWARD_NORM = "feed_forward_norm"
FEED_FORWARD_IN, FEED_FORWARD_OUT = "feed_forward_in", "feed_forward_out"
FINAL_NORM = "final_norm"
INTENT_HEAD = "intent_head"
SENTENCE_EMBEDDING = "sentence_embedding"
INTENT_EMBEDDINGS = "intent_embeddings"
WIDE_PATH = "wide_path"  # the intent head's logistic regression (`diet_sparse.network.wide_path`)
LOGITS = "logits"
TRANSITIONS = "transitions"
# The entity heads a model can have, in the order role and group heads see the entity head.
TAG_HEADS = ("entity", "role", "group")
# The length of each pretrained encoder's sentence vector (`diet_sparse.nlu.pretrained`), known
# without its package installed: the network's input width depends on it.
ENCODER_DIMENSIONS = {"minilm-l6": 384, "use-m3": 512}


def encoder_block_name(index: int) -> str:
    """The name of the encoder's block ``index``: ``layer_0``, ``layer_1``, ..."""
    return f"layer_{index}"


def text_hidden_name(index: int) -> str:
    """The name of the text's hidden layer ``index`` (``hidden_layers_sizes.text``):
    ``text_hidden_0``, ..."""
    return f"{TEXT_HIDDEN}_{index}"


def tag_head_name(head: str) -> str:
    """The name of a CRF tag head: ``entity_head``, ``role_head``, ``group_head``."""
    return f"{head}_head"


def weight_path(*parts: str) -> str:
    """A stored weight's name from its layer path: ``encoder/layer_0/attention/query/kernel``."""
    return "/".join(parts)


def sinusoidal_positions(length: int, depth: int) -> np.ndarray:
    """Fixed sinusoidal position encodings, (length, depth): sin and cos interleaved.

    Example:
        >>> sinusoidal_positions(3, 4).shape
        (3, 4)
    """
    positions = np.arange(length, dtype=np.float32)[:, None]
    frequencies = np.exp(
        -math.log(POSITION_ENCODING_BASE) * np.arange(0, depth, 2, dtype=np.float32) / depth
    ).astype(np.float32)[None, :]
    angles = positions * frequencies
    encoding = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(length, -1)
    return encoding[:, :depth].astype(np.float32)


def relative_positions(length: int, max_relative_position: int) -> np.ndarray:
    """Row of the relative position embeddings that query ``i`` uses for key ``j``, (length,
    length) int64: ``clip(j - i, -max, max) + max``.

    Example:
        >>> relative_positions(4, 2).tolist()
        [[2, 3, 4, 4], [1, 2, 3, 4], [0, 1, 2, 3], [0, 0, 1, 2]]
    """
    offsets = np.arange(length)[None, :] - np.arange(length)[:, None]  # key - query
    clipped = np.clip(offsets, -max_relative_position, max_relative_position)
    return (clipped + max_relative_position).astype(np.int64)


@dataclass
class DIETWeights:
    """A trained DIET's weights, as prediction and the model directory hold them.

    Args:
        config: the config the model was trained with.
        weights: every weight by its stored name (`weight_path`); randomly connected kernels
            with their disconnected entries zero.
        masks: the connection mask of each randomly connected kernel, by kernel name.
        tag_heads: the CRF tag heads the model has, of ``"entity"``, ``"role"``, ``"group"``.
    """

    config: DIETConfig
    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    tag_heads: list[str] = field(default_factory=list)

    @property
    def has_intent_head(self) -> bool:
        return weight_path(INTENT_HEAD, INTENT_EMBEDDINGS) in self.weights

    @property
    def has_wide_path(self) -> bool:
        return weight_path(INTENT_HEAD, WIDE_PATH, "kernel") in self.weights

    def transitions(self, head: str) -> np.ndarray:
        """The CRF transition scores of a tag head, (tags, tags)."""
        return self.weights[weight_path(tag_head_name(head), TRANSITIONS)]


def relative_embedding_shapes(config: DIETConfig) -> dict[str, tuple[int, int]]:
    """Name -> shape of the relative position embeddings each attention layer of DIET learns
    (Shaw et al. 2018): one row per clipped relative position, as wide as a head, for keys and
    for values where the config turns them on.

    Example:
        >>> config = DIETConfig(use_key_relative_attention=True, max_relative_position=3)
        >>> relative_embedding_shapes(config)
        {'key_relative_embeddings': (7, 64)}
    """
    rows = 2 * config.max_relative_position + 1
    width = config.transformer_size // config.number_of_attention_heads
    used = {
        KEY_RELATIVE_EMBEDDINGS: config.use_key_relative_attention,
        VALUE_RELATIVE_EMBEDDINGS: config.use_value_relative_attention,
    }
    return {name: (rows, width) for name, on in used.items() if on}


def encoder_weight_shapes(
    prefix: str,
    input_dim: int,
    size: int,
    layers: int,
    relative_embeddings: dict[str, tuple[int, int]] | None = None,
) -> dict:
    """Name -> shape of every weight of a transformer encoder stored under ``prefix``; each
    attention layer also has the ``relative_embeddings`` (`relative_embedding_shapes`)."""
    shapes = {}

    def dense(name: str, fan_in: int, units: int) -> None:
        shapes[weight_path(name, "kernel")] = (fan_in, units)
        shapes[weight_path(name, "bias")] = (units,)

    def norm(name: str) -> None:
        shapes[weight_path(name, "gamma")] = shapes[weight_path(name, "beta")] = (size,)

    dense(weight_path(prefix, EMBEDDING), input_dim, size)
    for i in range(layers):
        block = weight_path(prefix, encoder_block_name(i))
        norm(weight_path(block, ATTENTION_NORM))
        for name in (QUERY, KEY, VALUE, ATTENTION_OUTPUT):
            dense(weight_path(block, ATTENTION, name), size, size)
        for name, shape in (relative_embeddings or {}).items():
            shapes[weight_path(block, ATTENTION, name)] = shape
        norm(weight_path(block, FEED_FORWARD_NORM))
        dense(weight_path(block, FEED_FORWARD_IN), size, FEED_FORWARD_FACTOR * size)
        dense(weight_path(block, FEED_FORWARD_OUT), FEED_FORWARD_FACTOR * size, size)
    norm(weight_path(prefix, FINAL_NORM))
    return shapes


def pretrained_width(config: DIETConfig) -> int:
    """The width of the model's pretrained sentence vector (0 without an encoder).

    Example:
        >>> pretrained_width(DIETConfig(pretrained_encoder="use-m3"))
        512
    """
    return ENCODER_DIMENSIONS[config.pretrained_encoder] if config.pretrained_encoder else 0


def encoder_input_width(config: DIETConfig) -> int:
    """The width of DIET's encoder input: the projected sparse features, then the pretrained
    sentence vector (zeros at the token positions) when the model has one and sends it into
    the network (``pretrained_vector_in_network``).

    Example:
        >>> encoder_input_width(DIETConfig(dense_dimension=128, pretrained_encoder="minilm-l6",
        ...                                pretrained_vector_in_network=True))
        512
        >>> encoder_input_width(DIETConfig(dense_dimension=128, pretrained_encoder="minilm-l6"))
        128
    """
    extra = pretrained_width(config) if config.pretrained_vector_in_network else 0
    return config.dense_dimension + extra


def encoder_fan_in(config: DIETConfig) -> int:
    """The width the encoder's embedding layer reads: the last text hidden layer's, or without
    hidden layers the encoder input's (`encoder_input_width`).

    Example:
        >>> encoder_fan_in(DIETConfig(hidden_layers_sizes={"text": [64, 32], "label": []}))
        32
    """
    sizes = config.hidden_layers_sizes.get("text") or []
    return sizes[-1] if sizes else encoder_input_width(config)


def diet_weight_shapes(
    config: DIETConfig, n_features: int, n_intents: int, tag_counts: dict[str, int]
) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight a DIET model with these inputs and labels has.

    Example:
        >>> shapes = diet_weight_shapes(DIETConfig(), 500, 3, {"entity": 9})
        >>> shapes["intent_head/intent_embeddings"], shapes["entity_head/transitions"]
        ((3, 20), (9, 9))
    """
    size = config.transformer_size
    shapes = {
        weight_path(INPUT_PROJECTION, "kernel"): (n_features, config.dense_dimension),
        weight_path(INPUT_PROJECTION, "bias"): (config.dense_dimension,),
    }
    fan_in = encoder_input_width(config)
    for i, units in enumerate(config.hidden_layers_sizes.get("text") or []):
        shapes[weight_path(text_hidden_name(i), "kernel")] = (fan_in, units)
        shapes[weight_path(text_hidden_name(i), "bias")] = (units,)
        fan_in = units
    shapes |= {
        **encoder_weight_shapes(
            ENCODER,
            fan_in,
            size,
            config.number_of_transformer_layers,
            relative_embedding_shapes(config),
        ),
    }
    if config.intent_classification and n_intents > 1:
        embedding = weight_path(INTENT_HEAD, SENTENCE_EMBEDDING)
        shapes[weight_path(embedding, "kernel")] = (size, config.embedding_dimension)
        shapes[weight_path(embedding, "bias")] = (config.embedding_dimension,)
        shapes[weight_path(INTENT_HEAD, INTENT_EMBEDDINGS)] = (
            n_intents,
            config.embedding_dimension,
        )
        if config.use_wide_path:
            n_dense = pretrained_width(config)
            wide = weight_path(INTENT_HEAD, WIDE_PATH)
            shapes[weight_path(wide, "kernel")] = (n_features + n_dense, n_intents)
            shapes[weight_path(wide, "bias")] = (n_intents,)
            shapes[weight_path(wide, "idf")] = (n_features,)
            shapes[weight_path(wide, "column_block")] = (n_features,)
    head_input = size
    for head in (head for head in TAG_HEADS if head in tag_counts):
        count, name = tag_counts[head], tag_head_name(head)
        shapes[weight_path(name, LOGITS, "kernel")] = (head_input, count)
        shapes[weight_path(name, LOGITS, "bias")] = (count,)
        shapes[weight_path(name, TRANSITIONS)] = (count, count)
        if head == "entity":
            head_input = size + count  # role and group heads also see the entity tag scores
    return shapes


# --- the dialogue policy (TED) ---------------------------------------------------------------
DIALOGUE_ENCODER = "dialogue_encoder"
DIALOGUE_EMBEDDING = "dialogue_embedding"
LABEL = "label"  # the action labels' path: label_projection, label_encoding, label_embedding
# turn attributes in the order their vectors are concatenated into a turn's vector; intent and
# previous action (and the labels) pass a randomly connected encoding layer, as in Rasa's TED
TURN_ATTRIBUTES = ("intent", "prev_action", "entities", "slots", "active_loop")
ENCODED_ATTRIBUTES = ("intent", "prev_action")


def projection_name(attribute: str) -> str:
    """``intent_projection``: the plain dense layer every turn attribute passes first."""
    return f"{attribute}_projection"


def encoding_name(attribute: str) -> str:
    """``intent_encoding``: the randomly connected layer after the projection, for
    `ENCODED_ATTRIBUTES` and the labels."""
    return f"{attribute}_encoding"


def ted_weight_shapes(
    config: Any, attribute_sizes: dict[str, int], n_actions: int
) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight of a TED policy whose turn attributes have these widths.

    Example:
        >>> from diet_sparse.config import TEDConfig
        >>> shapes = ted_weight_shapes(TEDConfig(), {"intent": 4, "prev_action": 9}, 9)
        >>> shapes["intent_encoding/kernel"], shapes["dialogue_encoder/embedding/kernel"]
        ((20, 50), (100, 128))
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def dense(name: str, fan_in: int, units: int) -> None:
        shapes[weight_path(name, "kernel")] = (fan_in, units)
        shapes[weight_path(name, "bias")] = (units,)

    turn_width = 0
    for attribute in TURN_ATTRIBUTES:
        if not attribute_sizes.get(attribute):
            continue
        dense(projection_name(attribute), attribute_sizes[attribute], config.dense_dimension)
        width = config.dense_dimension
        if attribute in ENCODED_ATTRIBUTES:
            dense(encoding_name(attribute), config.dense_dimension, config.encoding_dimension)
            width = config.encoding_dimension
        turn_width += width
    shapes.update(
        encoder_weight_shapes(
            DIALOGUE_ENCODER,
            turn_width,
            config.transformer_size,
            config.number_of_transformer_layers,
        )
    )
    dense(DIALOGUE_EMBEDDING, config.transformer_size, config.embedding_dimension)
    dense(projection_name(LABEL), n_actions, config.dense_dimension)
    dense(encoding_name(LABEL), config.dense_dimension, config.encoding_dimension)
    dense(weight_path(f"{LABEL}_embedding"), config.encoding_dimension, config.embedding_dimension)
    return shapes


@dataclass
class TEDWeights:
    """A trained TED policy's weights, as prediction and the model directory hold them.

    Args:
        config: the `TEDConfig` it was trained with.
        weights: every weight by its stored name; randomly connected kernels with their
            disconnected entries zero.
        masks: the connection mask of each randomly connected kernel, by kernel name.
        attribute_sizes: the width of each turn attribute's features (0 or absent: none).
        n_actions: the number of actions it scores.
    """

    config: Any
    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    attribute_sizes: dict[str, int] = field(default_factory=dict)
    n_actions: int = 0
