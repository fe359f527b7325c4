"""The block structure of randomly connected layers (``connection_structure: block``): which
inputs each output sees, drawn so that the layer computes only its connected weights with dense
kernels. Shared by training (Keras) and prediction (ONNX); nothing here needs TensorFlow.

Why blocks. A `random` layer's mask is a Bernoulli draw over single weights, so computing only
the connected weights needs sparse kernels, which at these sizes are slower than the dense
product they replace: the layer costs a dense layer's time whatever its density. Here the
inputs and the outputs of a layer are cut into ``B`` equal blocks, and output block ``j`` sees
input blocks ``j + o`` (mod ``B``) for a few offsets ``o`` drawn at random per layer: offset 0
always (so every input reaches an output and every output has inputs, at any density), further
offsets fully connected, and the last one, where ``density * B`` is not whole, with each of its
weights connected with the remaining probability. The expected density is ``density`` as for
`random`, and the layer is one gather of whole blocks plus one batched matrix product per
offset, a ``ceil(density * B) / B`` share of the dense product's work.

Layout. Activations between two block layers stay in block layout, ``(B, rows, width / B)``,
which is what makes the saving real: a layer that turned its input from and back to
``(rows, width)`` around every product would spend the gain in transposes. In the encoder the
query, key and value layers read one block-layout copy of the normalised input, attention reads
their heads straight from the blocks (a head is ``B / H`` whole blocks, or a block ``H / B``
heads), and the feed-forward pair stays in blocks between its two layers.

Stored models keep every kernel as the dense ``(inputs, outputs)`` matrix with its mask, as for
`random`; the blocks and offsets are recovered from the mask (`block_offsets`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diet_sparse.network import weights as names

# the block count is the smallest one whose computed share stays within this factor of the
# density: fewer, wider blocks make faster products than the exact share with narrow ones
_COMPUTED_SHARE_SLACK = 1.25


def structure_blocks(size: int, heads: int, density: float) -> int:
    """The number of blocks ``B`` of a transformer of width ``size`` with ``heads`` attention
    heads at ``density``: a divisor of ``size`` that divides or is divided by ``heads`` (so a
    head is whole blocks or a block whole heads), with ``density * B >= 1`` where possible, and
    the smallest whose computed share ``ceil(density * B) / B`` is within 1.25x of ``density``
    (else the one with the least share). Density 1.0 is one block: a dense layer.

    Example:
        >>> [structure_blocks(256, 4, density) for density in (1.0, 0.2, 0.05)]
        [1, 8, 32]
    """
    if density >= 1.0:
        return 1
    candidates = [
        b for b in range(1, size + 1) if size % b == 0 and (b % heads == 0 or heads % b == 0)
    ]
    reachable = [b for b in candidates if b * density >= 1.0]
    if not reachable:
        return max(candidates)

    def share(b: int) -> float:
        return math.ceil(b * density - 1e-9) / b

    for b in reachable:
        if share(b) <= _COMPUTED_SHARE_SLACK * density + 1e-12:
            return b
    return min(reachable, key=lambda b: (share(b), b))


def encoder_blocks(structure: str, size: int, heads: int, density: float) -> int | None:
    """The block count of an encoder's block-structured layers, or None where its layers are
    plain (`random`) ones: for ``random``, and for ``block`` at one block, which is a dense
    layer whose plain product is faster than a batch of one.

    Example:
        >>> encoder_blocks("block", 256, 4, 0.2), encoder_blocks("block", 256, 4, 1.0)
        (8, None)
    """
    if structure == "random":
        return None
    if structure != "block":
        raise ValueError(f"unknown connection_structure {structure!r}")
    blocks = structure_blocks(size, heads, density)
    return None if blocks == 1 else blocks


def fan_in_scale(mask: np.ndarray) -> np.ndarray:
    """Per output, the factor sqrt(inputs / connected inputs) that gives a masked Glorot draw
    the variance Glorot gives a dense layer of the inputs the output really has, (1, units)."""
    connected = np.maximum(mask.sum(axis=0, keepdims=True), 1.0)
    return np.sqrt(mask.shape[0] / connected).astype(np.float32)


def block_mask(
    input_dim: int, units: int, blocks: int, density: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw the 0/1 ``(input_dim, units)`` mask of a block-structured layer (see the module's
    description): input block ``i`` and output block ``j`` are connected where
    ``(i - j) mod blocks`` is one of the drawn offsets.

    Example:
        >>> mask = block_mask(4, 4, 2, 0.5, np.random.default_rng(0))
        >>> mask.astype(int).tolist()
        [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]]
    """
    if input_dim % blocks or units % blocks:
        raise ValueError(f"{blocks} blocks do not divide a {input_dim} -> {units} layer")
    expected = max(density * blocks, 1.0)  # connected input blocks per output block
    whole = min(int(math.floor(expected + 1e-9)), blocks)
    fraction = expected - whole if whole < blocks else 0.0
    count = whole + (1 if fraction > 1e-9 else 0)
    offsets = [0, *(1 + rng.permutation(blocks - 1)[: count - 1]).tolist()]
    a, c = input_dim // blocks, units // blocks
    mask = np.zeros((blocks, a, blocks, c), dtype=np.float32)  # (input block, ., output block, .)
    for t, offset in enumerate(offsets):
        for j in range(blocks):
            if t < whole:
                mask[(j + offset) % blocks, :, j, :] = 1.0
            else:  # the last, partly connected offset
                mask[(j + offset) % blocks, :, j, :] = rng.random((a, c)) < fraction
    return mask.reshape(input_dim, units)


def block_offsets(mask: np.ndarray, blocks: int) -> list[int]:
    """The offsets of a block-structured mask (`block_mask`): every ``(i - j) mod blocks`` for
    which input block ``i`` and output block ``j`` have a connected weight, 0 first.

    Example:
        >>> block_offsets(block_mask(8, 8, 4, 0.5, np.random.default_rng(1)), 4)
        [0, 1]
    """
    input_dim, units = mask.shape
    a, c = input_dim // blocks, units // blocks
    used = mask.reshape(blocks, a, blocks, c).any(axis=(1, 3))  # (input block, output block)
    found = {int((i - j) % blocks) for i, j in zip(*np.nonzero(used))}
    return [0, *sorted(found - {0})]


def to_blocks(kernel: np.ndarray, blocks: int, offsets: list[int]) -> np.ndarray:
    """A dense ``(input_dim, units)`` kernel as the ``(offsets, blocks, a, c)`` kernels of its
    block products: ``[t, j]`` connects input block ``(j + offsets[t]) mod blocks`` to output
    block ``j``."""
    input_dim, units = kernel.shape
    a, c = input_dim // blocks, units // blocks
    tiles = kernel.reshape(blocks, a, blocks, c)
    return np.stack(
        [np.stack([tiles[(j + o) % blocks, :, j, :] for j in range(blocks)]) for o in offsets]
    ).astype(kernel.dtype, copy=False)


def from_blocks(block_kernel: np.ndarray, offsets: list[int]) -> np.ndarray:
    """The dense ``(input_dim, units)`` kernel of ``(offsets, blocks, a, c)`` block kernels
    (the inverse of `to_blocks`); weights of no block are zero."""
    count, blocks, a, c = block_kernel.shape
    tiles = np.zeros((blocks, a, blocks, c), dtype=block_kernel.dtype)
    for t, offset in enumerate(offsets):
        for j in range(blocks):
            tiles[(j + offset) % blocks, :, j, :] = block_kernel[t, j]
    return tiles.reshape(blocks * a, blocks * c)


def gather_indices(blocks: int, offsets: list[int]) -> list[np.ndarray | None]:
    """Per offset, the input block each output block reads (None for offset 0: no gather)."""
    return [None if offset == 0 else (np.arange(blocks) + offset) % blocks for offset in offsets]


@dataclass(frozen=True)
class HeadLayout:
    """How attention reads its heads from block-layout queries, keys and values ``(B, batch *
    T, a)`` and writes its context back in blocks, with one transpose each (as the dense
    encoder's head split has one). A head is ``B / H`` consecutive blocks when ``B >= H``, a
    block holds ``H / B`` heads when ``B < H``.

    Shapes are templates: an int, or ``"batch"`` / ``"T"`` for the batch size and length.
    ``split``: the 5-d shape blocks are reshaped to; ``query_perm`` (and ``key_perm``) turn it
    into ``(batch, H, T, ., .)`` (``(batch, H, ., ., T)``), which reshapes to ``(batch, H, T,
    size / H)`` (``(batch, H, size / H, T)``). ``merge``: the 5-d shape of the ``(batch, H, T,
    size / H)`` context before ``merge_perm`` turns it into ``split``'s order.
    """

    split: tuple
    query_perm: tuple[int, ...]
    key_perm: tuple[int, ...]
    merge: tuple
    merge_perm: tuple[int, ...]


def head_layout(blocks: int, heads: int, size: int) -> HeadLayout:
    """The `HeadLayout` of ``blocks`` blocks and ``heads`` heads of a ``size``-wide layer.

    Example:
        >>> head_layout(8, 4, 256).split
        (4, 2, 'batch', 'T', 32)
    """
    a, width = size // blocks, size // heads
    if blocks % heads == 0:
        per = blocks // heads  # blocks per head
        return HeadLayout(
            split=(heads, per, "batch", "T", a),
            query_perm=(2, 0, 3, 1, 4),  # (batch, H, T, B/H, a)
            key_perm=(2, 0, 1, 4, 3),  # (batch, H, B/H, a, T)
            merge=("batch", heads, "T", per, a),
            merge_perm=(1, 3, 0, 2, 4),  # (H, B/H, batch, T, a)
        )
    if heads % blocks == 0:
        per = heads // blocks  # heads per block
        return HeadLayout(
            split=(blocks, "batch", "T", per, width),
            query_perm=(1, 0, 3, 2, 4),  # (batch, B, H/B, T, width)
            key_perm=(1, 0, 3, 4, 2),  # (batch, B, H/B, width, T)
            merge=("batch", blocks, per, "T", width),
            merge_perm=(1, 0, 3, 2, 4),  # (B, batch, T, H/B, width)
        )
    raise ValueError(f"{blocks} blocks and {heads} heads: one must divide the other")


# --- Seeds ---------------------------------------------------------------------------------------

# Each random draw of a network (a layer's connection mask, the relative-position embeddings'
# initial values) has a seed of its own, derived from the config's random_seed by `layer_seed`.
# Masks are saved with the weights, so these seeds decide what a random_seed trains, never how a
# saved model predicts; changing one changes every model trained after.
_SEEDS_PER_MODEL = 1000  # a random_seed's draws take seeds random_seed * 1000 + offset
_SEEDS_PER_ENCODER_BLOCK = 10  # encoder block i: offsets 10 * (i + 1) + its part's position
_ENCODER_BLOCK_PARTS = (
    names.QUERY,
    names.KEY,
    names.VALUE,
    names.ATTENTION_OUTPUT,
    names.FEED_FORWARD_IN,
    names.FEED_FORWARD_OUT,
    names.KEY_RELATIVE_EMBEDDINGS,
    names.VALUE_RELATIVE_EMBEDDINGS,
)
_ENCODING_OFFSET = 500  # TED's randomly connected encodings: the i-th turn attribute, then label
_TEXT_HIDDEN_OFFSET = 700  # DIET's hidden_layers_sizes.text layers


def layer_seed(random_seed: int, layer: str, index: int = 0) -> int:
    """The seed of one random draw of a network trained with ``random_seed``.

    Args:
        random_seed: the config's ``random_seed``.
        layer: `names.EMBEDDING` (the encoder's embedding layer); a part of encoder block
            ``index`` (`names.QUERY`, `KEY`, `VALUE`, `ATTENTION_OUTPUT`, `FEED_FORWARD_IN`,
            `FEED_FORWARD_OUT`, and the `KEY_RELATIVE_EMBEDDINGS` / `VALUE_RELATIVE_EMBEDDINGS`
            initial values); `names.TEXT_HIDDEN` (DIET's text hidden layer ``index``); or
            ``"encoding"`` (TED's encoding of turn attribute ``index``; the label's comes after
            the attributes).
        index: which block, hidden layer or attribute.

    Example:
        >>> layer_seed(2, names.EMBEDDING), layer_seed(2, names.KEY, index=1)
        (2000, 2021)
    """
    base = random_seed * _SEEDS_PER_MODEL
    if layer == names.EMBEDDING:
        return base
    if layer in _ENCODER_BLOCK_PARTS:
        return base + _SEEDS_PER_ENCODER_BLOCK * (index + 1) + _ENCODER_BLOCK_PARTS.index(layer)
    if layer == "encoding":
        return base + _ENCODING_OFFSET + index
    if layer == names.TEXT_HIDDEN:
        return base + _TEXT_HIDDEN_OFFSET + index
    raise ValueError(f"no seed is drawn for layer {layer!r}")
