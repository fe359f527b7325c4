"""Prediction with ONNX Runtime: the DIET network as an ONNX graph, built from the weights.

For a 10-token message the network is about 18 M multiply-adds in matrices of 11 rows. numpy's
OpenBLAS runs such thin products at about a third of ONNX Runtime's speed (MLAS), and numpy
pays Python's overhead for each of its ~100 operations; ONNX Runtime runs the whole graph in
one call and fuses layer norm, GELU and the bias additions. The graph is built when a model is
loaded, from the same weights `inference.NumpyDIET` holds, so model files do not change. Inputs
and outputs are those of `NumpyDIET`, and tests check that both give the same numbers.
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

from diet_sparse.inference import LAYER_NORM_EPSILON, NumpyDIET, dense_inputs, sinusoidal_positions

OPSET = 17  # the first with LayerNormalization


class _GraphBuilder:
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
        return self.op("Add", self.op("MatMul", x, self.weight(f"{name}/kernel")),
                       self.weight(f"{name}/bias"))  # fmt: skip

    def layer_norm(self, x: str, name: str) -> str:
        gamma, beta = self.weight(f"{name}/gamma"), self.weight(f"{name}/beta")
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=LAYER_NORM_EPSILON)

    def softmax(self, x: str) -> str:
        return self.op("Softmax", x, axis=-1)


def build_graph(network: NumpyDIET) -> onnx.ModelProto:
    """The network's forward pass from dense inputs to outputs, as `NumpyDIET` computes it.

    Graph inputs: ``x`` (B, T, dense_dimension) projected features, ``positions`` (T, size),
    ``attention_bias`` (B, 1, 1, T) 0 or -1e9, ``sentence`` (B, T, 1) one-hot sentence slot.
    Outputs: ``intent`` (B, I) probabilities if the model has the intent head, and the tag
    logits (B, T, N) of each tag head.
    """
    config, weights = network.config, network.weights
    size, heads = config.transformer_size, config.number_of_attention_heads
    g = _GraphBuilder(weights)
    split_shape = g.constant("split_shape", np.array([0, 0, heads, size // heads], np.int64))
    merged_shape = g.constant("merged_shape", np.array([0, 0, size], np.int64))
    scale = g.constant("scale", np.array(1.0 / math.sqrt(size // heads), np.float32))
    half, one = (
        g.constant("half", np.array(0.5, np.float32)),
        g.constant("one", np.array(1.0, np.float32)),
    )
    root2 = g.constant("root2", np.array(math.sqrt(2.0), np.float32))

    x = g.op("Add", g.dense("x", "encoder/embedding"), "positions")
    for i in range(config.number_of_transformer_layers):
        layer = f"encoder/layer_{i}"
        normed = g.layer_norm(x, f"{layer}/attention_norm")
        q, k, v = (
            g.op("Reshape", g.dense(normed, f"{layer}/attention/{name}"), split_shape)
            for name in ("query", "key", "value")
        )  # (B, T, H, size/H)
        q = g.op("Transpose", q, perm=[0, 2, 1, 3])  # (B, H, T, size/H)
        k = g.op("Transpose", k, perm=[0, 2, 3, 1])  # (B, H, size/H, T)
        v = g.op("Transpose", v, perm=[0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), scale), "attention_bias")
        context = g.op("MatMul", g.softmax(scores), v)  # (B, H, T, size/H)
        context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merged_shape)
        x = g.op("Add", x, g.dense(context, f"{layer}/attention/attention_output"))
        hidden = g.dense(g.layer_norm(x, f"{layer}/feed_forward_norm"), f"{layer}/feed_forward_in")
        # exact GELU, 0.5 h (1 + erf(h / sqrt 2)); ONNX Runtime fuses it into one kernel
        gelu = g.op("Mul", g.op("Mul", hidden, half),
                    g.op("Add", g.op("Erf", g.op("Div", hidden, root2)), one))  # fmt: skip
        x = g.op("Add", x, g.dense(gelu, f"{layer}/feed_forward_out"))
    encoded = g.layer_norm(x, "encoder/final_norm")

    outputs = {}
    if network.has_intent_head:
        sentence = g.op("ReduceSum", g.op("Mul", encoded, "sentence"),
                        g.constant("time_axis", np.array([1], np.int64)), keepdims=0)  # fmt: skip
        intent_embeddings = g.constant("intent_embeddings_t", weights["intent_embeddings"].T.copy())
        similarities = g.op("MatMul", g.dense(sentence, "sentence_embedding"), intent_embeddings)
        outputs["intent"] = g.softmax(similarities)
    head_input = encoded
    for head in network.tag_heads:
        logits = g.dense(head_input, f"{head}_logits")
        outputs[head] = logits
        if head == "entity":
            head_input = g.op("Concat", encoded, g.softmax(logits), axis=-1)

    g.nodes += [helper.make_node("Identity", [value], [name]) for name, value in outputs.items()]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", "T", config.dense_dimension]),
        helper.make_tensor_value_info("positions", TensorProto.FLOAT, ["T", size]),
        helper.make_tensor_value_info("attention_bias", TensorProto.FLOAT, ["B", 1, 1, "T"]),
        helper.make_tensor_value_info("sentence", TensorProto.FLOAT, ["B", "T", 1]),
    ]
    graph = helper.make_graph(
        g.nodes,
        "diet",
        inputs,
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
            for name, shape in _output_shapes(network).items()
        ],  # fmt: skip
        list(g.initializers.values()),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model


def _output_shapes(network: NumpyDIET) -> dict[str, list]:
    shapes: dict[str, list] = {}
    if network.has_intent_head:
        shapes["intent"] = ["B", len(network.weights["intent_embeddings"])]
    for head in network.tag_heads:
        shapes[head] = ["B", "T", len(network.transitions(head))]
    return shapes


@lru_cache(maxsize=64)
def _positions(length: int, depth: int) -> np.ndarray:
    return sinusoidal_positions(length, depth)


class OnnxDIET:
    """`NumpyDIET`'s forward pass run by ONNX Runtime; called and answering as `NumpyDIET`.

    Args:
        network: the weights (and reference forward pass) to run.
        threads: ONNX Runtime's threads per call, unless a call asks for another number (each
            number gets its own session, made on first use).
    """

    def __init__(self, network: NumpyDIET, threads: int = 1) -> None:
        self.network = network
        self.threads = threads
        self._graph = build_graph(network).SerializeToString()
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}
        self._lock = threading.Lock()
        self._outputs = [output.name for output in self._session(threads).get_outputs()]

    def _session(self, threads: int) -> onnxruntime.InferenceSession:
        with self._lock:
            if threads not in self._sessions:
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
                self._sessions[threads] = onnxruntime.InferenceSession(
                    self._graph, options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]

    def __call__(
        self, features: scipy.sparse.csr_matrix, offsets: np.ndarray, threads: int | None = None
    ) -> dict[str, np.ndarray]:
        x, mask, row_counts = dense_inputs(self.network.weights, features, offsets)
        batch, length = mask.shape
        sentence = np.zeros((batch, length, 1), np.float32)
        sentence[np.arange(batch), row_counts - 1] = 1.0
        values = self._session(threads or self.threads).run(
            self._outputs,
            {
                "x": x,
                "positions": _positions(length, self.network.config.transformer_size),
                "attention_bias": np.where(mask, 0.0, -1e9).astype(np.float32)[:, None, None, :],
                "sentence": sentence,
            },
        )
        return dict(zip(self._outputs, values))
