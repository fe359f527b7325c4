"""Prediction with ONNX Runtime: the network as an ONNX graph, built from the saved weights.

This is the only forward pass that prediction runs; training's Keras model
(`diet_sparse.training.model`) is the other definition of the same network, and tests check
that both compute the same outputs. Constants and weight names come from
`diet_sparse.network.weights`.

For a 10-token message the network is about 18 M multiply-adds in matrices of 11 rows.
numpy's OpenBLAS runs such thin products at about a third of ONNX Runtime's speed (MLAS), and
ONNX Runtime runs the whole graph in one call and fuses layer norm, GELU and the bias additions.
The sparse input projection runs in scipy in front of the graph (ONNX has no sparse product
that would pay here).

`add_encoder` writes the randomly connected transformer encoder into a graph, for any model
built on it; `build_diet_graph` and `OnnxDIET` are DIET's graph and its runner, `build_ted_graph`
and `OnnxTED` the dialogue policy's.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np
import onnx
import onnxruntime
import scipy.sparse
from onnx import TensorProto, helper, numpy_helper

from diet_sparse.config import DIETConfig
from diet_sparse.network import weights as names
from diet_sparse.network.connectivity import (
    block_offsets,
    encoder_blocks,
    gather_indices,
    head_layout,
    to_blocks,
)
from diet_sparse.network.weights import (
    ATTENTION_MASK_VALUE,
    ENCODED_ATTRIBUTES,
    LABEL,
    LAYER_NORM_EPSILON,
    TURN_ATTRIBUTES,
    DIETWeights,
    TEDWeights,
    relative_positions,
    sinusoidal_positions,
    weight_path,
)
from diet_sparse.network.wide_path import wide_scores

OPSET = 17  # the first with LayerNormalization


class GraphBuilder:
    """Collects the nodes and weights of an ONNX graph, naming intermediate values uniquely."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self._count = 0

    def constant(self, name: str, value: np.ndarray) -> str:
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(value, name)
        return name

    def weight(self, name: str) -> str:
        return self.constant(name, self.weights[name].astype(np.float32))

    def op(self, op_type: str, *inputs: str, **attributes) -> str:
        self._count += 1
        output = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def dense(self, x: str, name: str) -> str:
        product = self.op("MatMul", x, self.weight(weight_path(name, "kernel")))
        return self.op("Add", product, self.weight(weight_path(name, "bias")))

    def layer_norm(self, x: str, name: str) -> str:
        gamma = self.weight(weight_path(name, "gamma"))
        beta = self.weight(weight_path(name, "beta"))
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=LAYER_NORM_EPSILON)

    def softmax(self, x: str) -> str:
        return self.op("Softmax", x, axis=-1)

    def gelu(self, x: str) -> str:
        """Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); ONNX Runtime fuses it into one kernel."""
        half = self.constant("half", np.array(0.5, np.float32))
        one = self.constant("one", np.array(1.0, np.float32))
        root2 = self.constant("root2", np.array(math.sqrt(2.0), np.float32))
        erf = self.op("Erf", self.op("Div", x, root2))
        return self.op("Mul", self.op("Mul", x, half), self.op("Add", erf, one))

    def model(self, name: str, inputs: list, outputs: dict[str, str], shapes: dict) -> bytes:
        """The finished graph as a serialized, checked ONNX model; ``outputs`` maps each
        output name to the value it exposes, ``shapes`` each output name to its shape."""
        self.nodes += [
            helper.make_node("Identity", [value], [out]) for out, value in outputs.items()
        ]
        graph = helper.make_graph(
            self.nodes,
            name,
            inputs,
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, shapes[out]) for out in outputs],
            list(self.initializers.values()),
        )
        # The IR version goes with the opset, not with the installed onnx package (whose
        # default, the newest it knows, can be newer than ONNX Runtime reads).
        opsets = [helper.make_opsetid("", OPSET)]
        ir_version = helper.find_min_ir_version_for(opsets)
        model = helper.make_model(graph, opset_imports=opsets, ir_version=ir_version)
        onnx.checker.check_model(model)
        return model.SerializeToString()


def add_encoder(
    g: GraphBuilder,
    x: str,
    prefix: str,
    size: int,
    heads: int,
    layers: int,
    use_key_relative_attention: bool = False,
    use_value_relative_attention: bool = False,
    blocks: int | None = None,
    masks: dict[str, np.ndarray] | None = None,
) -> str:
    """The randomly connected transformer encoder (`training.transformer.TransformerEncoder`)
    on ``x`` (B, T, D_in), with weights under ``prefix``; returns the encoding (B, T, size).

    The graph reads the inputs ``positions`` (T, size), the sinusoidal positions, and
    ``attention_bias`` (B, 1, 1 or T, T), which is 0 where a position may attend and
    `ATTENTION_MASK_VALUE` where it may not (`attention_bias` computes it); with relative
    attention also ``relative_positions`` (T, T), the row of the relative position embeddings
    that query i uses for key j (`network.relative_positions`).

    With ``blocks`` (``connection_structure: block``), the encoder blocks' layers compute only
    their connected blocks, in block layout, as `connectivity` describes; ``masks`` (the
    stored masks, by kernel name) say which blocks are connected.
    """
    scale = g.constant("scale", np.array(1.0 / math.sqrt(size // heads), np.float32))
    x = g.op("Add", g.dense(x, weight_path(prefix, names.EMBEDDING)), "positions")
    if blocks is not None:
        layout = BlockLayout(g, x, size, heads, blocks, masks or {})
    for i in range(layers):
        block = weight_path(prefix, names.encoder_block_name(i))
        attention = weight_path(block, names.ATTENTION)
        normed = g.layer_norm(x, weight_path(block, names.ATTENTION_NORM))
        projections = [weight_path(attention, n) for n in (names.QUERY, names.KEY, names.VALUE)]
        if blocks is None:
            split = g.constant("split_shape", np.array([0, 0, heads, size // heads], np.int64))
            q, k, v = (g.op("Reshape", g.dense(normed, name), split) for name in projections)
            q = g.op("Transpose", q, perm=[0, 2, 1, 3])  # (B, H, T, size/H)
            k = g.op("Transpose", k, perm=[0, 2, 3, 1])  # (B, H, size/H, T)
            v = g.op("Transpose", v, perm=[0, 2, 1, 3])
        else:
            normed_blocks = layout.to_blocks(normed)
            q, k, v = (layout.dense(normed_blocks, name) for name in projections)
            q, k, v = layout.split_heads(q), layout.split_heads(k, keys=True), layout.split_heads(v)
        scores = g.op("MatMul", q, k)  # (B, H, T, T)
        if use_key_relative_attention:
            table = g.weight(weight_path(attention, names.KEY_RELATIVE_EMBEDDINGS))
            r_k = g.op("Gather", table, "relative_positions", axis=0)  # (T, T, size/H)
            scores = g.op("Add", scores, g.op("Einsum", q, r_k, equation="bhid,ijd->bhij"))
        weights = g.softmax(g.op("Add", g.op("Mul", scores, scale), "attention_bias"))
        context = g.op("MatMul", weights, v)  # (B, H, T, size/H)
        if use_value_relative_attention:
            table = g.weight(weight_path(attention, names.VALUE_RELATIVE_EMBEDDINGS))
            r_v = g.op("Gather", table, "relative_positions", axis=0)  # (T, T, size/H)
            context = g.op("Add", context, g.op("Einsum", weights, r_v, equation="bhij,ijd->bhid"))
        output = weight_path(attention, names.ATTENTION_OUTPUT)
        if blocks is None:
            merged_shape = g.constant("merged_shape", np.array([0, 0, size], np.int64))
            context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merged_shape)
            attended = g.dense(context, output)
        else:
            attended = layout.from_blocks(layout.dense(layout.merge(context), output))
        x = g.op("Add", x, attended)
        normed = g.layer_norm(x, weight_path(block, names.FEED_FORWARD_NORM))
        ffn_in = weight_path(block, names.FEED_FORWARD_IN)
        ffn_out = weight_path(block, names.FEED_FORWARD_OUT)
        if blocks is None:
            hidden = g.dense(g.gelu(g.dense(normed, ffn_in)), ffn_out)
        else:
            hidden_blocks = g.gelu(layout.dense(layout.to_blocks(normed), ffn_in))
            hidden = layout.from_blocks(layout.dense(hidden_blocks, ffn_out))
        x = g.op("Add", x, hidden)
    return g.layer_norm(x, weight_path(prefix, names.FINAL_NORM))


class BlockLayout:
    """The block-layout parts of an encoder graph (`connectivity`): layouts in and out, block
    products, and attention heads read from and written to blocks. ``x`` is a (B, T, size)
    value of the graph whose batch size and length the shapes are taken from."""

    def __init__(
        self,
        g: GraphBuilder,
        x: str,
        size: int,
        heads: int,
        blocks: int,
        masks: dict[str, np.ndarray],
    ) -> None:
        self.g, self.size, self.n_heads, self.blocks, self.masks = g, size, heads, blocks, masks
        self.layout = head_layout(blocks, heads, size)
        self.natural_shape = g.op("Shape", x)  # (batch, T, size)
        self.batch = g.op("Shape", x, start=0, end=1)
        self.length = g.op("Shape", x, start=1, end=2)
        self._shapes: dict[tuple, str] = {}  # template -> its shape value, made once

    def _shape(self, template: tuple) -> str:
        if template not in self._shapes:
            dynamic = {"batch": self.batch, "T": self.length}
            parts = [
                dynamic[d] if isinstance(d, str) else self.g.constant(f"dim_{d}", np.array([d]))
                for d in template
            ]
            self._shapes[template] = self.g.op("Concat", *parts, axis=0)
        return self._shapes[template]

    def to_blocks(self, x: str) -> str:
        """(batch, T, size) -> (blocks, batch * T, size / blocks)."""
        shape = np.array([-1, self.blocks, self.size // self.blocks], np.int64)
        rows = self.g.op("Reshape", x, self.g.constant(f"rows_by_{self.blocks}", shape))
        return self.g.op("Transpose", rows, perm=[1, 0, 2])

    def from_blocks(self, x: str) -> str:
        """(blocks, batch * T, size / blocks) -> (batch, T, size)."""
        return self.g.op("Reshape", self.g.op("Transpose", x, perm=[1, 0, 2]), self.natural_shape)

    def dense(self, x: str, name: str) -> str:
        """The block-structured layer ``name`` on block-layout ``x`` (`add_block_dense`)."""
        return add_block_dense(
            self.g, x, name, self.blocks, self.masks.get(weight_path(name, "kernel"))
        )

    def split_heads(self, x: str, keys: bool = False) -> str:
        """(blocks, batch * T, size / blocks) -> (batch, H, T, size / H), or for ``keys``
        (batch, H, size / H, T)."""
        g, layout, width = self.g, self.layout, self.size // self.n_heads
        split = g.op("Reshape", x, self._shape(layout.split))
        if keys:
            transposed = g.op("Transpose", split, perm=list(layout.key_perm))
            return g.op("Reshape", transposed, self._shape(("batch", self.n_heads, width, "T")))
        transposed = g.op("Transpose", split, perm=list(layout.query_perm))
        return g.op("Reshape", transposed, self._shape(("batch", self.n_heads, "T", width)))

    def merge(self, context: str) -> str:
        """(batch, H, T, size / H) -> (blocks, batch * T, size / blocks)."""
        g, layout = self.g, self.layout
        split = g.op("Reshape", context, self._shape(layout.merge))
        transposed = g.op("Transpose", split, perm=list(layout.merge_perm))
        shape = g.constant(
            f"blocks_shape_{self.blocks}",
            np.array([self.blocks, -1, self.size // self.blocks], np.int64),
        )
        return g.op("Reshape", transposed, shape)


def add_block_dense(
    g: GraphBuilder, x: str, name: str, blocks: int, mask: np.ndarray | None = None
) -> str:
    """A block-structured layer on block-layout ``x`` (blocks, rows, inputs / blocks): one
    gather of whole blocks and one batched product per offset, summed, plus the bias. The
    offsets come from the layer's ``mask`` (or the nonzeros of its stored kernel)."""
    kernel = g.weights[weight_path(name, "kernel")].astype(np.float32)
    offsets = block_offsets(kernel != 0 if mask is None else mask, blocks)
    stacks = to_blocks(kernel, blocks, offsets)  # (offsets, blocks, a, c)
    products = []
    for t, indices in enumerate(gather_indices(blocks, offsets)):
        source = x
        if indices is not None:
            source = g.op("Gather", x, g.constant(f"{name}/gather_{t}", indices), axis=0)
        products.append(g.op("MatMul", source, g.constant(f"{name}/blocks_{t}", stacks[t])))
    total = products[0] if len(products) == 1 else g.op("Sum", *products)
    bias = g.weights[weight_path(name, "bias")].astype(np.float32).reshape(blocks, 1, -1)
    return g.op("Add", total, g.constant(f"{name}/block_bias", bias))


def encoder_structure(config, masks: dict[str, np.ndarray]) -> dict:
    """`add_encoder`'s ``blocks`` and ``masks`` for a model's config (empty for ``random``)."""
    blocks = encoder_blocks(
        config.connection_structure,
        config.transformer_size,
        config.number_of_attention_heads,
        config.connection_density,
    )
    return {} if blocks is None else {"blocks": blocks, "masks": masks}


def attention_bias(mask: np.ndarray, causal: bool = False) -> np.ndarray:
    """The encoder's ``attention_bias`` input for a (B, T) mask of real positions:
    (B, 1, 1, T), or (B, 1, T, T) when ``causal`` (no position attends to a later one)."""
    bias = np.where(mask, 0.0, ATTENTION_MASK_VALUE).astype(np.float32)[:, None, None, :]
    if causal:
        length = mask.shape[1]
        later = np.triu(np.ones((length, length), np.float32), k=1) * ATTENTION_MASK_VALUE
        bias = bias + later[None, None]
    return bias


@lru_cache(maxsize=64)
def positions(length: int, depth: int) -> np.ndarray:
    """The encoder's ``positions`` input, cached per shape."""
    return sinusoidal_positions(length, depth)


@lru_cache(maxsize=64)
def relative_position_rows(length: int, max_relative_position: int) -> np.ndarray:
    """The encoder's ``relative_positions`` input, cached per shape."""
    return relative_positions(length, max_relative_position)


def uses_relative_attention(config: DIETConfig) -> bool:
    """Whether DIET's graph reads the ``relative_positions`` input."""
    return config.use_key_relative_attention or config.use_value_relative_attention


def build_diet_graph(network: DIETWeights) -> bytes:
    """DIET's forward pass from the projected inputs to the outputs, as a serialized ONNX model.

    Graph inputs: ``x`` (B, T, width) projected features (and the pretrained sentence vector,
    see `network.encoder_input_width`), which pass the text hidden layers first if the model
    has them, ``positions``,
    ``attention_bias`` (and with relative attention ``relative_positions``; see `add_encoder`),
    ``sentence`` (B, T, 1) one-hot sentence slot, and with the wide path, ``wide`` (B, I) its
    scores (`wide_path.wide_scores`).
    Outputs: ``intent`` (B, I) probabilities if the model has the intent head, and the tag
    logits (B, T, N) of each tag head.
    """
    config, weights = network.config, network.weights
    g = GraphBuilder(weights)
    x = "x"
    for i, _ in enumerate(config.hidden_layers_sizes.get("text") or []):
        x = g.gelu(g.dense(x, names.text_hidden_name(i)))  # hidden_layers_sizes.text
    encoded = add_encoder(
        g,
        x,
        names.ENCODER,
        config.transformer_size,
        config.number_of_attention_heads,
        config.number_of_transformer_layers,
        config.use_key_relative_attention,
        config.use_value_relative_attention,
        **encoder_structure(config, network.masks),
    )
    outputs, shapes = {}, {}
    if network.has_intent_head:
        time_axis = g.constant("time_axis", np.array([1], np.int64))
        sentence = g.op("ReduceSum", g.op("Mul", encoded, "sentence"), time_axis, keepdims=0)
        embedded = g.dense(sentence, weight_path(names.INTENT_HEAD, names.SENTENCE_EMBEDDING))
        intent_embeddings = weights[weight_path(names.INTENT_HEAD, names.INTENT_EMBEDDINGS)]
        transposed = g.constant("intent_embeddings_t", intent_embeddings.T.copy())
        similarities = g.op("MatMul", embedded, transposed)
        if network.has_wide_path:
            similarities = g.op("Add", similarities, "wide")
        outputs["intent"] = g.softmax(similarities)
        shapes["intent"] = ["B", len(intent_embeddings)]
    head_input = encoded
    for head in network.tag_heads:
        head_name = names.tag_head_name(head)
        outputs[head] = g.dense(head_input, weight_path(head_name, names.LOGITS))
        shapes[head] = ["B", "T", len(network.transitions(head))]
        if head == "entity":
            head_input = g.op("Concat", encoded, g.softmax(outputs[head]), axis=-1)

    inputs = [
        helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, ["B", "T", names.encoder_input_width(config)]
        ),
        helper.make_tensor_value_info(
            "positions", TensorProto.FLOAT, ["T", config.transformer_size]
        ),
        helper.make_tensor_value_info("attention_bias", TensorProto.FLOAT, ["B", 1, 1, "T"]),
        helper.make_tensor_value_info("sentence", TensorProto.FLOAT, ["B", "T", 1]),
    ]
    if uses_relative_attention(config):
        inputs.append(
            helper.make_tensor_value_info("relative_positions", TensorProto.INT64, ["T", "T"])
        )
    if network.has_wide_path:
        inputs.append(helper.make_tensor_value_info("wide", TensorProto.FLOAT, shapes["intent"]))
    return g.model("diet", inputs, outputs, shapes)


def project_inputs(
    weights: dict[str, np.ndarray], features: scipy.sparse.csr_matrix, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sparse input projection of a featurized batch, padded: x (B, T, dense_dimension),
    the mask of real positions (B, T) and each message's row count (tokens + sentence slot)."""
    row_counts = np.diff(offsets)
    batch, length = len(row_counts), int(row_counts.max())
    projected = features @ weights[weight_path(names.INPUT_PROJECTION, "kernel")]
    x = np.tile(weights[weight_path(names.INPUT_PROJECTION, "bias")], (batch, length, 1))
    rows = np.arange(features.shape[0]) - np.repeat(offsets[:-1], row_counts)
    x[np.repeat(np.arange(batch), row_counts), rows] += projected  # padding keeps the bias
    mask = np.arange(length)[None, :] < row_counts[:, None]
    return x.astype(np.float32, copy=False), mask, row_counts


class OnnxSessions:
    """One ONNX Runtime session of a graph per thread count, made on first use."""

    def __init__(self, graph: bytes) -> None:
        self.graph = graph
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}
        self._lock = threading.Lock()

    def __call__(self, threads: int) -> onnxruntime.InferenceSession:
        with self._lock:
            if threads not in self._sessions:
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
                self._sessions[threads] = onnxruntime.InferenceSession(
                    self.graph, options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]


class OnnxDIET:
    """DIET's forward pass in ONNX Runtime, from featurized messages to the outputs.

    Args:
        network: the trained weights to run.
        threads: ONNX Runtime's threads per call, unless a call asks for another number.
    """

    def __init__(self, network: DIETWeights, threads: int = 1) -> None:
        if network.has_wide_path and not isinstance(network.config.wide_path_weight, int | float):
            raise ValueError(
                f"wide_path_weight {network.config.wide_path_weight!r} is not a number: training "
                "turns auto into the weight it chose, so give a trained model's config a number"
            )
        self.network = network
        self.threads = threads
        self._sessions = OnnxSessions(build_diet_graph(network))
        # width of the pretrained sentence vector the encoder's input ends with (0: none)
        self._n_dense = names.encoder_input_width(network.config) - network.config.dense_dimension
        self._outputs = [output.name for output in self._sessions(threads).get_outputs()]

    def __call__(
        self,
        features: scipy.sparse.csr_matrix,
        offsets: np.ndarray,
        threads: int | None = None,
        dense: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Outputs for a batch of featurized messages (see `featurizer.FeaturizedBatch`; ``dense``
        its pretrained sentence vectors, if the model has them): intent probabilities (B, I)
        under ``"intent"`` and tag logits (B, T, N) under each tag head's name, where position
        ``t < tokens`` is a token."""
        x, mask, row_counts = project_inputs(self.network.weights, features, offsets)
        batch, length = mask.shape
        n_dense = self._n_dense
        if n_dense:
            if dense is None or dense.shape != (batch, n_dense):
                found = None if dense is None else dense.shape
                raise ValueError(
                    f"the model needs pretrained vectors of shape {(batch, n_dense)}, got {found}"
                )
            x = np.concatenate([x, np.zeros((batch, length, n_dense), np.float32)], axis=-1)
            x[np.arange(batch), row_counts - 1, -n_dense:] = dense
        sentence = np.zeros((batch, length, 1), np.float32)
        sentence[np.arange(batch), row_counts - 1] = 1.0
        inputs = {
            "x": x,
            "positions": positions(length, self.network.config.transformer_size),
            "attention_bias": attention_bias(mask),
            "sentence": sentence,
        }
        config = self.network.config
        if uses_relative_attention(config):
            inputs["relative_positions"] = relative_position_rows(
                length, config.max_relative_position
            )
        if self.network.has_wide_path:
            weight = self.network.config.wide_path_weight
            inputs["wide"] = wide_scores(self.network.weights, features, offsets, dense, weight)
        values = self._sessions(threads or self.threads).run(self._outputs, inputs)
        return dict(zip(self._outputs, values))


def build_ted_graph(network: TEDWeights) -> bytes:
    """The TED policy's forward pass (`training.policy_model.TED`) as a serialized ONNX model.

    Graph inputs: one (B, T, F_a) input per turn attribute the policy has, named after it,
    newest turn first; ``positions`` and ``attention_bias`` (see `add_encoder`). Output:
    ``scores`` (B, A), the softmax over every action.
    """
    config = network.config
    g = GraphBuilder(network.weights)
    attributes = [a for a in TURN_ATTRIBUTES if network.attribute_sizes.get(a)]
    parts = []
    for attribute in attributes:
        x = g.dense(attribute, names.projection_name(attribute))
        if attribute in ENCODED_ATTRIBUTES:
            x = g.gelu(g.dense(x, names.encoding_name(attribute)))
        parts.append(x)
    turns = g.op("Concat", *parts, axis=-1) if len(parts) > 1 else parts[0]
    encoded = add_encoder(
        g,
        turns,
        names.DIALOGUE_ENCODER,
        config.transformer_size,
        config.number_of_attention_heads,
        config.number_of_transformer_layers,
        **encoder_structure(config, network.masks),
    )
    newest = g.op("Gather", encoded, g.constant("first", np.array(0, np.int64)), axis=1)
    dialogue = g.dense(g.gelu(newest), names.DIALOGUE_EMBEDDING)  # (B, E)
    labels = g.constant("action_one_hot", np.eye(network.n_actions, dtype=np.float32))
    labels = g.dense(labels, names.projection_name(LABEL))
    labels = g.gelu(g.dense(labels, names.encoding_name(LABEL)))
    labels = g.dense(labels, f"{LABEL}_embedding")  # (A, E)
    similarities = g.op("MatMul", dialogue, g.op("Transpose", labels, perm=[1, 0]))
    inputs = [
        helper.make_tensor_value_info(
            attribute, TensorProto.FLOAT, ["B", "T", network.attribute_sizes[attribute]]
        )
        for attribute in attributes
    ] + [
        helper.make_tensor_value_info(
            "positions", TensorProto.FLOAT, ["T", config.transformer_size]
        ),
        helper.make_tensor_value_info("attention_bias", TensorProto.FLOAT, ["B", 1, 1, "T"]),
    ]
    outputs = {"scores": g.softmax(similarities)}
    return g.model("ted", inputs, outputs, {"scores": ["B", network.n_actions]})


class OnnxTED:
    """The TED policy's forward pass in ONNX Runtime: padded turn features -> action scores.

    Args:
        network: the trained weights to run.
        threads: ONNX Runtime's threads per call.
    """

    def __init__(self, network: TEDWeights, threads: int = 1) -> None:
        self.network = network
        self.threads = threads
        self._sessions = OnnxSessions(build_ted_graph(network))
        self._sessions(threads)  # built now, so a first prediction is as fast as the others

    def __call__(self, features: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
        """features: attribute -> (B, T, F_a) float32, newest turn first; mask (B, T) of real
        turns -> action probabilities (B, A)."""
        length = mask.shape[1]
        inputs = {
            attribute: np.ascontiguousarray(values, dtype=np.float32)
            for attribute, values in features.items()
            if self.network.attribute_sizes.get(attribute)
        }
        inputs["positions"] = positions(length, self.network.config.transformer_size)
        inputs["attention_bias"] = attention_bias(mask.astype(bool))
        return self._sessions(self.threads).run(["scores"], inputs)[0]
