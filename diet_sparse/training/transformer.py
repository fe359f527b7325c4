"""The randomly connected transformer, shared by every model: its dense layer and encoder.

`RandomlyConnectedDense` is a Keras `Dense` whose kernel is multiplied by a fixed 0/1 mask.
`TransformerEncoder` uses it for every projection, so one `connection_density` sets how many
weights the encoder trains. `SparseToDense` projects sparse count features without densifying
them. Constants and weight names come from `diet_sparse.network.weights`, which the ONNX prediction
graph reads too.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import tensorflow as tf

from diet_sparse.config import check_connection_density, check_heads_divide_size
from diet_sparse.network import weights as names
from diet_sparse.network.connectivity import (
    block_mask,
    block_offsets,
    encoder_blocks,
    fan_in_scale,
    from_blocks,
    head_layout,
    layer_seed,
    to_blocks,
)
from diet_sparse.network.weights import (
    ATTENTION_MASK_VALUE,
    FEED_FORWARD_FACTOR,
    LAYER_NORM_EPSILON,
    POSITION_ENCODING_BASE,
)


def connection_mask(
    input_dim: int, units: int, connection_density: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw the fixed 0/1 connection mask of a randomly connected kernel.

    Entries are Bernoulli(``connection_density``), united with a tiled identity so that every
    input reaches at least one output and every output has at least one input, even at
    density 0.0.

    Example:
        >>> mask = connection_mask(4, 2, 0.0, np.random.default_rng(0))
        >>> mask.astype(int).tolist()
        [[1, 0], [0, 1], [1, 0], [0, 1]]
    """
    random_part = rng.random((input_dim, units)) < connection_density
    shorter = min(input_dim, units)
    rows = np.arange(input_dim)[:, None] % shorter
    cols = np.arange(units)[None, :] % shorter
    return (random_part | (rows == cols)).astype(np.float32)


class RandomlyConnectedDense(tf.keras.layers.Dense):
    """A Dense layer in which each output sees only a random fraction of the inputs.

    The topology is drawn once in `build` and never changes: the kernel is multiplied by a
    non-trainable 0/1 ``kernel_mask`` in every forward pass, so disconnected weights get no
    gradient and stay exactly zero. ``connection_density=1.0`` is a plain Dense layer.

    Args:
        units: number of outputs.
        connection_density: fraction of kernel entries that are connected, in [0, 1].
        mask_seed: seed of the mask draw; layers built with the same seed and shape get the
            same topology. None draws a fresh topology.
        fan_in_initialization: scale each output's initial weights by sqrt(inputs / connected
            inputs), so that they start with the variance Glorot gives a dense layer of the
            inputs it really has; off, the kernel starts as a dense one would, masked (as in
            Rasa), and at density d each output's initial variance is about d times smaller.
        **kwargs: any other `tf.keras.layers.Dense` argument.

    Example:
        >>> layer = RandomlyConnectedDense(8, connection_density=0.25, mask_seed=1)
        >>> _ = layer(tf.zeros((1, 16)))
        >>> layer.kernel_mask.shape
        TensorShape([16, 8])
    """

    def __init__(
        self,
        units: int,
        connection_density: float = 0.2,
        mask_seed: int | None = None,
        fan_in_initialization: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(units, **kwargs)
        self.connection_density = check_connection_density(connection_density)
        self.mask_seed = mask_seed
        self.fan_in_initialization = bool(fan_in_initialization)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        input_dim = int(input_shape[-1])
        if self.connection_density >= 1.0:
            mask = np.ones((input_dim, self.units), dtype=np.float32)
        else:
            rng = np.random.default_rng(self.mask_seed)
            mask = connection_mask(input_dim, self.units, self.connection_density, rng)
        self.kernel_mask = self.add_weight(
            name="kernel_mask",
            shape=mask.shape,
            initializer=tf.keras.initializers.Constant(mask),
            trainable=False,
            dtype=self.dtype,
        )
        # Disconnected weights start at zero too, so the stored kernel is the effective one.
        if self.fan_in_initialization:
            mask = mask * fan_in_scale(mask)
        self.kernel.assign(self.kernel * mask)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        # The mask is applied in the graph, so the gradient of a disconnected weight is zero.
        outputs = tf.tensordot(inputs, self.effective_kernel, axes=[[-1], [0]])
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    @property
    def effective_kernel(self) -> tf.Tensor:
        return self.kernel * self.kernel_mask

    def count_connected_weights(self) -> int:
        """Trainable weights that are connected: unmasked kernel entries plus the bias."""
        bias = self.units if self.use_bias else 0
        return int(np.sum(self.kernel_mask.numpy())) + bias

    def dense_equivalent_weights(self) -> int:
        """The weights of a dense layer of the same shape: kernel plus bias."""
        return int(self.kernel.shape.num_elements()) + self.units

    def stored_kernel(self) -> np.ndarray:
        """The kernel as a model directory stores it, (inputs, units), disconnected entries 0."""
        return self.kernel.numpy()

    def stored_mask(self) -> np.ndarray:
        """The connection mask of `stored_kernel`, as booleans."""
        return self.kernel_mask.numpy().astype(bool)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            connection_density=self.connection_density,
            mask_seed=self.mask_seed,
            fan_in_initialization=self.fan_in_initialization,
        )
        return config


class BlockConnectedDense(tf.keras.layers.Layer):
    """A randomly connected layer with the block structure (`diet_sparse.network.connectivity`): it
    computes only its connected blocks, on block-layout activations ``(B, rows, inputs / B) ->
    (B, rows, units / B)``.

    The topology (offsets, and the random weights of a partly connected last offset) is drawn
    once in `build` from ``mask_seed``. The kernel is held as one ``(blocks, inputs / B, units /
    B)`` stack per offset, multiplied by its fixed 0/1 mask, so disconnected weights get no
    gradient and stay zero; a model directory stores it as the dense ``(inputs, units)`` kernel
    with its mask, as for `RandomlyConnectedDense`. Initial weights are a dense Glorot draw
    masked (``fan_in_initialization`` scales them as there).

    Example:
        >>> layer = BlockConnectedDense(64, blocks=8, connection_density=0.2, mask_seed=1)
        >>> layer(tf.zeros((8, 3, 4))).shape
        TensorShape([8, 3, 8])
    """

    def __init__(
        self,
        units: int,
        blocks: int,
        connection_density: float = 0.2,
        mask_seed: int | None = None,
        fan_in_initialization: bool = False,
        activation=None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units, self.blocks = units, blocks
        self.connection_density = check_connection_density(connection_density)
        self.mask_seed = mask_seed
        self.fan_in_initialization = bool(fan_in_initialization)
        self.activation = tf.keras.activations.get(activation)

    def build(self, input_shape) -> None:
        self.input_dim = int(input_shape[-1]) * self.blocks
        mask = block_mask(
            self.input_dim,
            self.units,
            self.blocks,
            self.connection_density,
            np.random.default_rng(self.mask_seed),
        )
        self.offsets = tuple(block_offsets(mask, self.blocks))
        initial = tf.keras.initializers.GlorotUniform()((self.input_dim, self.units)).numpy()
        initial = initial * mask
        if self.fan_in_initialization:
            initial = initial * fan_in_scale(mask)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(
                len(self.offsets),
                self.blocks,
                self.input_dim // self.blocks,
                self.units // self.blocks,
            ),
            initializer=tf.keras.initializers.Constant(
                to_blocks(initial, self.blocks, self.offsets)
            ),
        )
        self.kernel_mask = self.add_weight(
            name="kernel_mask",
            shape=self.kernel.shape,
            initializer=tf.keras.initializers.Constant(to_blocks(mask, self.blocks, self.offsets)),
            trainable=False,
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        kernel = self.effective_kernel
        outputs = None
        for t, offset in enumerate(self.offsets):
            # output block j reads input block j + offset: a roll of the blocks, whose gradient
            # is a roll back (a gather's would be a scatter)
            source = inputs if offset == 0 else tf.roll(inputs, shift=-offset, axis=0)
            product = tf.matmul(source, kernel[t])
            outputs = product if outputs is None else outputs + product
        outputs += tf.reshape(self.bias, (self.blocks, 1, self.units // self.blocks))
        return outputs if self.activation is None else self.activation(outputs)

    @property
    def effective_kernel(self) -> tf.Tensor:
        return self.kernel * self.kernel_mask

    def count_connected_weights(self) -> int:
        return int(np.sum(self.kernel_mask.numpy())) + self.units

    def dense_equivalent_weights(self) -> int:
        return self.input_dim * self.units + self.units

    def stored_kernel(self) -> np.ndarray:
        return from_blocks(self.effective_kernel.numpy(), self.offsets)

    def stored_mask(self) -> np.ndarray:
        return from_blocks(self.kernel_mask.numpy(), self.offsets).astype(bool)


def to_block_layout(x: tf.Tensor, blocks: int) -> tf.Tensor:
    """``(batch, T, width)`` -> ``(blocks, batch * T, width / blocks)``."""
    width = int(x.shape[-1])
    return tf.transpose(tf.reshape(x, (-1, blocks, width // blocks)), (1, 0, 2))


def from_block_layout(x: tf.Tensor, batch: tf.Tensor, length: tf.Tensor) -> tf.Tensor:
    """``(blocks, batch * T, c)`` -> ``(batch, T, blocks * c)``."""
    width = int(x.shape[0]) * int(x.shape[-1])
    return tf.reshape(tf.transpose(x, (1, 0, 2)), (batch, length, width))


def _shape(template: tuple, batch: tf.Tensor, length: tf.Tensor) -> tf.Tensor:
    sizes = {"batch": batch, "T": length}
    return tf.stack([sizes.get(d, d) if isinstance(d, str) else d for d in template])


def count_trainable_weights(
    randomly_connected: list, trainable: list[tf.Variable]
) -> dict[str, int]:
    """How many weights a model trains, counted as Rasa's figures of randomly connected layers
    count them.

    Returns:
        ``randomly_connected``: the connected kernel entries (nonzero in the mask) and the
        biases of the randomly connected layers; ``randomly_connected_if_dense``: as many if
        they were dense; ``total``: every weight in ``trainable``, a randomly connected kernel
        counting only its connected entries. A block-structured kernel's variable holds only
        its connected blocks, so it is counted by its mask too, never by its variable's size.
    """
    connected = sum(layer.count_connected_weights() for layer in randomly_connected)
    dense_equivalent = sum(layer.dense_equivalent_weights() for layer in randomly_connected)
    # the kernels and biases that `connected` counted already
    counted = {
        id(variable)
        for layer in randomly_connected
        for variable in (layer.kernel, getattr(layer, "bias", None))
        if variable is not None
    }
    others = sum(int(w.shape.num_elements()) for w in trainable if id(w) not in counted)
    return {
        "randomly_connected": connected,
        "randomly_connected_if_dense": dense_equivalent,
        "total": others + connected,
    }


class SparseToDense(tf.keras.layers.Layer):
    """Project sparse count features to dense vectors without densifying the input.

    Only the kernel rows of features present in the batch are gathered, so the kernel's gradient
    is sparse (`tf.IndexedSlices`) and an optimizer can update just those rows: the input
    vocabulary can be large without every training step touching all of it. The L2 penalty
    (`regularization_constant`) likewise applies to the rows in use.

    Input dropout zeroes a random fraction of the non-zero input values during training, which
    regularises the large input vocabulary the way Rasa's sparse input dropout does.
    """

    def __init__(
        self,
        units: int,
        input_dim: int,
        drop_rate: float = 0.0,
        regularization_constant: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.input_dim = input_dim
        self.drop_rate = drop_rate
        self.regularization_constant = regularization_constant

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.input_dim, self.units),
            initializer="glorot_uniform",
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs: tf.SparseTensor, training: bool = False) -> tf.Tensor:
        if training and self.drop_rate > 0:
            keep = tf.random.uniform(tf.shape(inputs.values)) >= self.drop_rate
            inputs = tf.sparse.retain(inputs, keep)
            inputs = inputs.with_values(inputs.values / (1.0 - self.drop_rate))
        rows, columns = inputs.indices[:, 0], inputs.indices[:, 1]
        used, position = tf.unique(columns)
        used_rows = tf.gather(self.kernel, used)  # (U, D): the only rows that get a gradient
        if training and self.regularization_constant > 0:
            self.add_loss(self.regularization_constant * tf.reduce_sum(tf.square(used_rows)))
        # (B*T, U) x (U, D) -> (B*T, D): a sparse product never holds the (nnz, D) weighted
        # rows (50 MB per copy in a SNIPS batch of 256), nor their gradient
        compact = tf.SparseTensor(
            tf.stack([rows, tf.cast(position, tf.int64)], axis=1),
            inputs.values,
            tf.stack([inputs.dense_shape[0], tf.cast(tf.shape(used)[0], tf.int64)]),
        )
        return tf.sparse.sparse_dense_matmul(compact, used_rows) + self.bias


def sinusoidal_positions(length: tf.Tensor, depth: int) -> tf.Tensor:
    """Fixed sinusoidal position encodings, shape (length, depth)."""
    positions = tf.cast(tf.range(length), tf.float32)[:, None]
    frequencies = tf.exp(
        -math.log(POSITION_ENCODING_BASE) * tf.range(0, depth, 2, dtype=tf.float32) / float(depth)
    )[None, :]
    angles = positions * frequencies
    encoding = tf.stack([tf.sin(angles), tf.cos(angles)], axis=-1)
    return tf.reshape(encoding, (length, -1))[:, :depth]


def _block_seed(random_seed: int, block_index: int, part: str) -> int:
    return layer_seed(random_seed, part, index=block_index)


class MultiHeadSelfAttention(tf.keras.layers.Layer):
    """Self-attention whose query, key, value and output projections are randomly connected.

    With relative attention (Shaw et al. 2018, as Rasa's ``use_key_relative_attention`` and
    ``use_value_relative_attention``), the layer learns an embedding per relative position
    ``clip(j - i, -max_relative_position, max_relative_position)``, as wide as a head and shared
    by the heads: for keys, query i's score of key j gains ``q_i . r_k[i, j]`` (scaled as
    ``q_i . k_j``); for values, its output gains ``sum_j weight_ij r_v[i, j]``.
    """

    def __init__(
        self,
        size: int,
        heads: int,
        connection_density: float,
        seed: int,
        drop_rate: float,
        fan_in_initialization: bool = False,
        use_key_relative_attention: bool = False,
        use_value_relative_attention: bool = False,
        max_relative_position: int = 5,
        blocks: int | None = None,
        block_index: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_heads_divide_size(size, heads)
        self.size, self.heads = size, heads
        # the seed of each of this block's draws (`layer_seed`; ``seed`` is the random_seed)
        self.seed_of = functools.partial(_block_seed, seed, block_index)
        self.blocks = blocks
        self.use_key_relative_attention = bool(use_key_relative_attention)
        self.use_value_relative_attention = bool(use_value_relative_attention)
        self.max_relative_position = max_relative_position
        projection = dict(
            connection_density=connection_density, fan_in_initialization=fan_in_initialization
        )
        layer = RandomlyConnectedDense
        if blocks is not None:
            layer, projection["blocks"] = BlockConnectedDense, blocks
            self.layout = head_layout(blocks, heads, size)
        self.query = layer(
            size, mask_seed=self.seed_of(names.QUERY), name=names.QUERY, **projection
        )
        self.key = layer(size, mask_seed=self.seed_of(names.KEY), name=names.KEY, **projection)
        self.value = layer(
            size, mask_seed=self.seed_of(names.VALUE), name=names.VALUE, **projection
        )
        self.output_projection = layer(
            size,
            mask_seed=self.seed_of(names.ATTENTION_OUTPUT),
            name=names.ATTENTION_OUTPUT,
            **projection,
        )
        self.attention_dropout = tf.keras.layers.Dropout(drop_rate)

    def build(self, input_shape) -> None:
        self.key_relative_embeddings = self.value_relative_embeddings = None
        if self.use_key_relative_attention:
            self.key_relative_embeddings = self._relative_embeddings(names.KEY_RELATIVE_EMBEDDINGS)
        if self.use_value_relative_attention:
            self.value_relative_embeddings = self._relative_embeddings(
                names.VALUE_RELATIVE_EMBEDDINGS
            )
        super().build(input_shape)

    def _relative_embeddings(self, name: str) -> tf.Variable:
        # Rasa's (Keras Embedding's) initial range; seeded, so the draw takes nothing from the
        # global generator and turning the option on leaves every other initial weight as is.
        return self.add_weight(
            name=name,
            shape=(2 * self.max_relative_position + 1, self.size // self.heads),
            initializer=tf.keras.initializers.RandomUniform(-0.05, 0.05, seed=self.seed_of(name)),
        )

    def _relative_positions(self, length: tf.Tensor) -> tf.Tensor:
        """The embedding row query i uses for key j (`network.relative_positions`), (T, T)."""
        positions = tf.range(length)
        offsets = positions[None, :] - positions[:, None]  # key - query
        furthest = self.max_relative_position
        return tf.clip_by_value(offsets, -furthest, furthest) + furthest

    def _split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, (batch, length, self.heads, self.size // self.heads))
        return tf.transpose(x, (0, 2, 1, 3))  # (B, H, T, D/H)

    def _heads_from_blocks(self, x: tf.Tensor, batch: tf.Tensor, length: tf.Tensor) -> tf.Tensor:
        """(B, batch * T, size / B) -> (batch, H, T, size / H), one transpose."""
        split = tf.reshape(x, _shape(self.layout.split, batch, length))
        heads = tf.transpose(split, self.layout.query_perm)
        return tf.reshape(heads, (batch, self.heads, length, self.size // self.heads))

    def _blocks_from_heads(self, x: tf.Tensor, batch: tf.Tensor, length: tf.Tensor) -> tf.Tensor:
        """(batch, H, T, size / H) -> (B, batch * T, size / B), one transpose."""
        merged = tf.transpose(
            tf.reshape(x, _shape(self.layout.merge, batch, length)), self.layout.merge_perm
        )
        return tf.reshape(merged, (self.blocks, batch * length, self.size // self.blocks))

    def call(self, x: tf.Tensor, attention_bias: tf.Tensor, training: bool = False) -> tf.Tensor:
        """x: (batch, T, size) -> (batch, T, size)."""
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        if self.blocks is None:
            q = self._split_heads(self.query(x))
            k = self._split_heads(self.key(x))
            v = self._split_heads(self.value(x))
        else:  # the three projections read one block-layout copy of x
            x_blocks = to_block_layout(x, self.blocks)
            q, k, v = (
                self._heads_from_blocks(projection(x_blocks), batch, length)
                for projection in (self.query, self.key, self.value)
            )
        if self.use_key_relative_attention or self.use_value_relative_attention:
            relative = self._relative_positions(tf.shape(x)[1])  # (T, T)
        scores = tf.matmul(q, k, transpose_b=True)  # (B, H, T, T)
        if self.use_key_relative_attention:
            r_k = tf.gather(self.key_relative_embeddings, relative)  # (T, T, D/H)
            scores += tf.einsum("bhid,ijd->bhij", q, r_k)
        scores = scores / math.sqrt(self.size // self.heads)
        weights = tf.nn.softmax(scores + attention_bias, axis=-1)  # (B, H, T, T)
        weights = self.attention_dropout(weights, training=training)
        context = tf.matmul(weights, v)  # (B, H, T, D/H)
        if self.use_value_relative_attention:
            r_v = tf.gather(self.value_relative_embeddings, relative)  # (T, T, D/H)
            context += tf.einsum("bhij,ijd->bhid", weights, r_v)
        if self.blocks is not None:
            attended = self.output_projection(self._blocks_from_heads(context, batch, length))
            return from_block_layout(attended, batch, length)
        context = tf.transpose(context, (0, 2, 1, 3))  # (B, T, H, D/H)
        context = tf.reshape(context, (batch, length, self.size))
        return self.output_projection(context)


class EncoderLayer(tf.keras.layers.Layer):
    """Pre-LayerNorm transformer block: the residual stream itself stays unnormalised."""

    def __init__(
        self,
        size: int,
        heads: int,
        connection_density: float,
        seed: int,
        drop_rate: float,
        drop_rate_attention: float,
        fan_in_initialization: bool = False,
        use_key_relative_attention: bool = False,
        use_value_relative_attention: bool = False,
        max_relative_position: int = 5,
        blocks: int | None = None,
        block_index: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.blocks = blocks
        self.attention_norm = tf.keras.layers.LayerNormalization(
            epsilon=LAYER_NORM_EPSILON, name=names.ATTENTION_NORM
        )
        self.attention = MultiHeadSelfAttention(
            size,
            heads,
            connection_density,
            seed,
            drop_rate_attention,
            fan_in_initialization,
            use_key_relative_attention=use_key_relative_attention,
            use_value_relative_attention=use_value_relative_attention,
            max_relative_position=max_relative_position,
            blocks=blocks,
            block_index=block_index,
            name=names.ATTENTION,
        )
        self.feed_forward_norm = tf.keras.layers.LayerNormalization(
            epsilon=LAYER_NORM_EPSILON, name=names.FEED_FORWARD_NORM
        )
        layer, structure = RandomlyConnectedDense, {}
        if blocks is not None:
            layer, structure = BlockConnectedDense, {"blocks": blocks}
        self.feed_forward_in = layer(
            FEED_FORWARD_FACTOR * size,
            connection_density=connection_density,
            mask_seed=_block_seed(seed, block_index, names.FEED_FORWARD_IN),
            fan_in_initialization=fan_in_initialization,
            activation=tf.nn.gelu,  # exact (erf) GELU
            name=names.FEED_FORWARD_IN,
            **structure,
        )
        self.feed_forward_out = layer(
            size,
            connection_density=connection_density,
            mask_seed=_block_seed(seed, block_index, names.FEED_FORWARD_OUT),
            fan_in_initialization=fan_in_initialization,
            name=names.FEED_FORWARD_OUT,
            **structure,
        )
        self.dropout = tf.keras.layers.Dropout(drop_rate)

    def call(self, x: tf.Tensor, attention_bias: tf.Tensor, training: bool = False) -> tf.Tensor:
        attended = self.attention(self.attention_norm(x), attention_bias, training=training)
        x = x + self.dropout(attended, training=training)
        normed = self.feed_forward_norm(x)
        if self.blocks is None:
            hidden = self.feed_forward_out(self.feed_forward_in(normed))
        else:  # in block layout from the first layer's input to the second's output
            hidden_blocks = self.feed_forward_in(to_block_layout(normed, self.blocks))
            hidden = from_block_layout(
                self.feed_forward_out(hidden_blocks), tf.shape(x)[0], tf.shape(x)[1]
            )
        return x + self.dropout(hidden, training=training)


class TransformerEncoder(tf.keras.layers.Layer):
    """Randomly connected embedding layer, sinusoidal positions, N encoder blocks, final norm.

    Args:
        size: the encoder's width (``transformer_size``).
        layers: number of encoder blocks.
        heads: attention heads; they must divide ``size``.
        connection_density: of every randomly connected layer, in [0, 1].
        seed: the config's ``random_seed``: each layer's mask has its own seed derived from it
            (`connectivity.layer_seed`).
        drop_rate: dropout after the embedding and on each block's residual branches.
        drop_rate_attention: dropout of attention weights.
        causal: each position attends only to itself and earlier positions (unidirectional,
            as a dialogue model reading turns in order needs); DIET attends both ways.
        fan_in_initialization: of every randomly connected layer (see `RandomlyConnectedDense`).
        use_key_relative_attention, use_value_relative_attention, max_relative_position:
            relative position attention in every block (see `MultiHeadSelfAttention`); off, the
            encoder creates and draws exactly what it did before the option existed.
        connection_structure: ``random`` (`RandomlyConnectedDense` everywhere) or ``block``:
            the encoder blocks' layers are `BlockConnectedDense`, with
            `connectivity.structure_blocks` blocks; the embedding layer stays ``random`` (its
            input width need not divide into blocks, and it is one small layer of many).
    """

    def __init__(
        self,
        size: int,
        layers: int,
        heads: int,
        connection_density: float,
        seed: int,
        drop_rate: float,
        drop_rate_attention: float,
        causal: bool = False,
        fan_in_initialization: bool = False,
        use_key_relative_attention: bool = False,
        use_value_relative_attention: bool = False,
        max_relative_position: int = 5,
        connection_structure: str = "random",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.size = size
        self.causal = causal
        check_heads_divide_size(size, heads)
        blocks = encoder_blocks(connection_structure, size, heads, connection_density)
        self.blocks = blocks
        self.embedding = RandomlyConnectedDense(
            size,
            connection_density=connection_density,
            mask_seed=layer_seed(seed, names.EMBEDDING),
            fan_in_initialization=fan_in_initialization,
            name=names.EMBEDDING,
        )
        self.encoder_layers = [
            EncoderLayer(
                size,
                heads,
                connection_density,
                seed,
                drop_rate,
                drop_rate_attention,
                fan_in_initialization,
                use_key_relative_attention=use_key_relative_attention,
                use_value_relative_attention=use_value_relative_attention,
                max_relative_position=max_relative_position,
                blocks=blocks,
                block_index=i,
                name=names.encoder_block_name(i),
            )
            for i in range(layers)
        ]
        self.final_norm = tf.keras.layers.LayerNormalization(
            epsilon=LAYER_NORM_EPSILON, name=names.FINAL_NORM
        )
        self.dropout = tf.keras.layers.Dropout(drop_rate)

    def call(self, x: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        """x: (B, T, D_in) features, mask: (B, T) 1.0 for real positions -> (B, T, size)."""
        x = self.embedding(x) + sinusoidal_positions(tf.shape(x)[1], self.size)
        x = self.dropout(x, training=training)
        attention_bias = self.attention_bias(mask)
        for layer in self.encoder_layers:
            x = layer(x, attention_bias, training=training)
        return self.final_norm(x)

    def attention_bias(self, mask: tf.Tensor) -> tf.Tensor:
        """Added to the attention scores: padded keys (and, if causal, later ones) get
        `ATTENTION_MASK_VALUE`, so no position attends to them. (B, 1, 1 or T, T)"""
        bias = (1.0 - mask[:, None, None, :]) * ATTENTION_MASK_VALUE  # (B, 1, 1, T)
        if self.causal:
            length = tf.shape(mask)[1]
            later = 1.0 - tf.linalg.band_part(tf.ones((length, length)), -1, 0)  # key > query
            bias = bias + later[None, None] * ATTENTION_MASK_VALUE  # (B, 1, T, T)
        return bias

    def randomly_connected_layers(self) -> list:
        """The embedding and every encoder block's layers (`RandomlyConnectedDense` or
        `BlockConnectedDense`)."""
        found = [self.embedding]
        for layer in self.encoder_layers:
            attention = layer.attention
            found += [attention.query, attention.key, attention.value, attention.output_projection]
            found += [layer.feed_forward_in, layer.feed_forward_out]
        return found
