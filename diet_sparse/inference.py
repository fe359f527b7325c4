"""Prediction without TensorFlow: the DIET forward pass in numpy.

For one message TensorFlow spends milliseconds dispatching a graph of hundreds of tiny ops;
numpy does the same arithmetic in a fraction of that, and a process that only predicts never
imports TensorFlow (faster start, far less memory). The outputs equal the Keras model's up to
float rounding; tests check this.

Weights are named as in the model directory's ``weights.npz``, e.g.
``encoder/layer_0/attention/query/kernel``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from scipy.special import erf

from diet_sparse.config import DIETConfig

LAYER_NORM_EPSILON = 1e-6


def sinusoidal_positions(length: int, depth: int) -> np.ndarray:
    """Fixed sinusoidal position encodings (length, depth), as `layers.sinusoidal_positions`."""
    positions = np.arange(length, dtype=np.float32)[:, None]
    frequencies = np.exp(
        -math.log(10000.0) * np.arange(0, depth, 2, dtype=np.float32) / float(depth)
    ).astype(np.float32)[None, :]
    angles = positions * frequencies
    encoding = np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(length, -1)
    return encoding[:, :depth].astype(np.float32)


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + LAYER_NORM_EPSILON) * gamma + beta


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / np.float32(math.sqrt(2.0)))).astype(np.float32)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    exponentials = np.exp(x - x.max(axis=axis, keepdims=True))
    return exponentials / exponentials.sum(axis=axis, keepdims=True)


def dense_inputs(
    weights: dict[str, np.ndarray], features: scipy.sparse.csr_matrix, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sparse input projection of a featurized batch, padded: x (B, T, dense_dimension),
    the mask of real positions (B, T) and each message's row count (tokens + sentence slot)."""
    row_counts = np.diff(offsets)
    batch, length = len(row_counts), int(row_counts.max())
    projected = features @ weights["input_projection/kernel"]
    x = np.tile(weights["input_projection/bias"], (batch, length, 1))  # padding: bias
    rows = np.arange(features.shape[0]) - np.repeat(offsets[:-1], row_counts)
    x[np.repeat(np.arange(batch), row_counts), rows] += projected
    mask = np.arange(length)[None, :] < row_counts[:, None]
    return x.astype(np.float32, copy=False), mask, row_counts


@dataclass
class NumpyDIET:
    """A trained DIET's weights and its forward pass.

    Args:
        config: the config the model was trained with.
        weights: every weight by name; randomly connected kernels with their disconnected
            entries zero.
        masks: the connection mask of each randomly connected kernel, by kernel name.
        tag_heads: the entity heads the model has, of ``"entity"``, ``"role"``, ``"group"``.
    """

    config: DIETConfig
    weights: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    tag_heads: list[str] = field(default_factory=list)

    @property
    def has_intent_head(self) -> bool:
        return "intent_embeddings" in self.weights

    def transitions(self, head: str) -> np.ndarray:
        return self.weights[f"{head}_transitions"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        kernel = self.weights[f"{name}/kernel"]
        # One (B*T, in) x (in, out) product: numpy would run B small ones for a (B, T, in) x.
        flat = x.reshape(-1, x.shape[-1]) @ kernel + self.weights[f"{name}/bias"]
        return flat.reshape(*x.shape[:-1], kernel.shape[1])

    def __call__(
        self, features: scipy.sparse.csr_matrix, offsets: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Outputs for a batch of featurized messages (see `featurizer.FeaturizedBatch`).

        Returns intent probabilities (B, I) under ``"intent"`` and tag logits (B, T, N) under
        each tag head's name, where position ``t < tokens`` is a token.
        """
        x, mask, row_counts = dense_inputs(self.weights, features, offsets)
        batch = len(row_counts)
        encoded = self._encode(x, mask)
        outputs = {}
        if self.has_intent_head:
            sentence = encoded[np.arange(batch), row_counts - 1]  # (B, size)
            similarities = (
                self._dense(sentence, "sentence_embedding") @ self.weights["intent_embeddings"].T
            )
            outputs["intent"] = _softmax(similarities)
        head_input = encoded
        for head in self.tag_heads:
            logits = self._dense(head_input, f"{head}_logits")
            outputs[head] = logits
            if head == "entity":
                head_input = np.concatenate([encoded, _softmax(logits)], axis=-1)
        return outputs

    def _split_heads(self, x: np.ndarray) -> np.ndarray:
        """(B, T, size) -> (B, H, T, size/H)"""
        batch, length, size = x.shape
        heads = self.config.number_of_attention_heads
        return x.reshape(batch, length, heads, size // heads).transpose(0, 2, 1, 3)

    def _encode(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        size = self.config.transformer_size
        x = self._dense(x, "encoder/embedding") + sinusoidal_positions(x.shape[1], size)
        attention_bias = np.where(mask, 0.0, -1e9).astype(np.float32)[:, None, None, :]
        batch, length = mask.shape
        for i in range(self.config.number_of_transformer_layers):
            layer = f"encoder/layer_{i}"
            normed = _layer_norm(
                x,
                self.weights[f"{layer}/attention_norm/gamma"],
                self.weights[f"{layer}/attention_norm/beta"],
            )
            q, k, v = (
                self._split_heads(self._dense(normed, f"{layer}/attention/{name}"))
                for name in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(q.shape[-1]))
            context = _softmax(scores + attention_bias) @ v  # (B, H, T, size/H)
            context = context.transpose(0, 2, 1, 3).reshape(batch, length, size)
            x = x + self._dense(context, f"{layer}/attention/attention_output")
            normed = _layer_norm(
                x,
                self.weights[f"{layer}/feed_forward_norm/gamma"],
                self.weights[f"{layer}/feed_forward_norm/beta"],
            )
            hidden = _gelu(self._dense(normed, f"{layer}/feed_forward_in"))
            x = x + self._dense(hidden, f"{layer}/feed_forward_out")
        return _layer_norm(
            x, self.weights["encoder/final_norm/gamma"], self.weights["encoder/final_norm/beta"]
        )


def weight_name(variable_name: str) -> str:
    """The stored name of a Keras variable: ``diet/encoder/embedding/kernel:0`` ->
    ``encoder/embedding/kernel``."""
    name = variable_name.split(":")[0]
    return name.split("/", 1)[1] if name.startswith("diet/") else name
