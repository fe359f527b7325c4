"""The randomly connected dense layer and the transformer encoder built from it (Keras)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from diet_sparse.config import ConfigError, resolve_config
from diet_sparse.training.transformer import (
    RandomlyConnectedDense,
    SparseToDense,
    TransformerEncoder,
    connection_mask,
)


def built(layer: RandomlyConnectedDense, input_dim: int) -> RandomlyConnectedDense:
    layer(tf.zeros((1, input_dim)))
    return layer


@pytest.mark.parametrize("shape", [(64, 64), (300, 40), (40, 300), (128, 512)])
@pytest.mark.parametrize("density", [0.01, 0.2, 0.5, 0.9])
def test_realized_density_is_within_statistical_bounds(shape, density):
    input_dim, units = shape
    layer = built(RandomlyConnectedDense(units, connection_density=density, mask_seed=7), input_dim)
    mask = layer.kernel_mask.numpy()
    n = mask.size
    # The identity part adds at most max(shape) ones beyond the Bernoulli draws.
    identity = max(shape)
    expected_low = density * n
    expected_high = density * n + identity * (1 - density)
    slack = 5 * math.sqrt(n * density * (1 - density))
    assert expected_low - slack <= mask.sum() <= expected_high + slack


@pytest.mark.parametrize("shape", [(32, 32), (100, 7), (7, 100), (1, 50), (50, 1)])
def test_density_zero_connects_every_input_and_every_output(shape):
    mask = connection_mask(*shape, connection_density=0.0, rng=np.random.default_rng(0))
    assert (mask.sum(axis=1) >= 1).all(), "an input reaches no output"
    assert (mask.sum(axis=0) >= 1).all(), "an output has no input"
    # At density 0 it is only the tiled identity: exactly max(shape) ones.
    assert mask.sum() == max(shape)


def test_masked_kernel_entries_stay_exactly_zero_after_training_steps():
    layer = RandomlyConnectedDense(16, connection_density=0.1, mask_seed=3, kernel_regularizer="l2")
    model = tf.keras.Sequential([tf.keras.Input((32,)), layer, tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    before = layer.kernel.numpy().copy()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    kernel, mask = layer.kernel.numpy(), layer.kernel_mask.numpy()
    assert np.all(kernel[mask == 0] == 0.0)
    assert not np.allclose(kernel[mask == 1], before[mask == 1]), "connected weights must train"


def test_disconnected_inputs_do_not_change_the_output():
    layer = built(RandomlyConnectedDense(4, connection_density=0.0, mask_seed=1), 8)
    x = np.random.default_rng(1).normal(size=(1, 8)).astype(np.float32)
    mask = layer.kernel_mask.numpy()
    # Perturb input 0 and check only the outputs it is connected to move.
    nudged = x.copy()
    nudged[0, 0] += 10.0
    moved = ~np.isclose(layer(x).numpy(), layer(nudged).numpy())[0]
    assert (moved == (mask[0] == 1)).all()


def test_density_one_equals_dense():
    x = np.random.default_rng(2).normal(size=(3, 5, 10)).astype(np.float32)
    sparse_layer = built(RandomlyConnectedDense(6, connection_density=1.0), 10)
    dense = tf.keras.layers.Dense(6)
    dense(tf.zeros((1, 10)))
    dense.set_weights([sparse_layer.kernel.numpy(), sparse_layer.bias.numpy()])
    assert sparse_layer.kernel_mask.numpy().min() == 1.0
    np.testing.assert_allclose(sparse_layer(x).numpy(), dense(x).numpy(), rtol=1e-6, atol=1e-6)
    assert sparse_layer.count_connected_weights() == 10 * 6 + 6


@pytest.mark.parametrize("density", [-0.1, 1.5, float("nan"), "0.2", True])
def test_invalid_density_raises_the_config_message(density):
    """The layer's guard and the config's validation say the same thing."""
    with pytest.raises(ConfigError) as from_config:
        resolve_config({"connection_density": density})
    with pytest.raises(ConfigError) as from_layer:
        RandomlyConnectedDense(4, connection_density=density)
    expected = f"connection_density must be a number in [0, 1], got {density!r}"
    assert str(from_layer.value).endswith(expected)
    assert str(from_config.value).endswith(expected)


def test_heads_must_divide_the_size_in_config_and_layer():
    with pytest.raises(ConfigError) as from_config:
        resolve_config({"transformer_size": 30, "number_of_attention_heads": 4})
    with pytest.raises(ConfigError) as from_layer:
        TransformerEncoder(30, 1, 4, 0.2, seed=0, drop_rate=0.0, drop_rate_attention=0.0)
    expected = "transformer_size (30) must be divisible by number_of_attention_heads (4)"
    assert str(from_config.value).endswith(expected)
    assert str(from_layer.value).endswith(expected)


def test_same_seed_same_topology_and_connected_count():
    a = built(RandomlyConnectedDense(20, connection_density=0.3, mask_seed=5), 30)
    b = built(RandomlyConnectedDense(20, connection_density=0.3, mask_seed=5), 30)
    c = built(RandomlyConnectedDense(20, connection_density=0.3, mask_seed=6), 30)
    np.testing.assert_array_equal(a.kernel_mask.numpy(), b.kernel_mask.numpy())
    assert not np.array_equal(a.kernel_mask.numpy(), c.kernel_mask.numpy())
    assert a.count_connected_weights() == int(a.kernel_mask.numpy().sum()) + 20


def test_mask_survives_keras_save_and_load(tmp_path):
    layer = RandomlyConnectedDense(8, connection_density=0.2, mask_seed=11)
    model = tf.keras.Sequential([tf.keras.Input((12,)), layer])
    path = tmp_path / "model.keras"
    model.save(path)
    restored = tf.keras.models.load_model(
        path, custom_objects={"RandomlyConnectedDense": RandomlyConnectedDense}
    )
    restored_layer = restored.layers[0]
    np.testing.assert_array_equal(restored_layer.kernel_mask.numpy(), layer.kernel_mask.numpy())
    x = np.ones((2, 12), np.float32)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy())


def test_get_config_round_trips():
    layer = RandomlyConnectedDense(8, connection_density=0.3, mask_seed=2, activation="relu")
    clone = RandomlyConnectedDense.from_config(layer.get_config())
    assert clone.connection_density == 0.3
    assert clone.units == 8
    assert clone.get_config() == layer.get_config()


def test_sparse_to_dense_matches_dense_matmul():
    layer = SparseToDense(4, input_dim=6)
    dense_input = np.array([[0, 2, 0, 0, 1, 0], [0, 0, 0, 3, 0, 0]], np.float32)
    sparse_input = tf.sparse.from_dense(dense_input)
    out = layer(sparse_input).numpy()
    expected = dense_input @ layer.kernel.numpy() + layer.bias.numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_encoder_ignores_padding():
    encoder = TransformerEncoder(16, 2, 4, 0.2, seed=0, drop_rate=0.0, drop_rate_attention=0.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 5, 8)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0]], np.float32)
    changed = x.copy()
    changed[0, 3:] = rng.normal(size=(2, 8))  # different padding content
    a = encoder(x, mask).numpy()[0, :3]
    b = encoder(changed, mask).numpy()[0, :3]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_encoder_uses_randomly_connected_layers_everywhere():
    encoder = TransformerEncoder(16, 2, 4, 0.1, seed=0, drop_rate=0.0, drop_rate_attention=0.0)
    encoder(np.zeros((1, 3, 8), np.float32), np.ones((1, 3), np.float32))
    layers = encoder.randomly_connected_layers()
    assert len(layers) == 1 + 2 * 6  # embedding + (q, k, v, out, ff_in, ff_out) per layer
    assert all(layer.connection_density == 0.1 for layer in layers)
    densities = [layer.kernel_mask.numpy().mean() for layer in layers]
    assert max(densities) < 0.5


@pytest.mark.parametrize("causal", [False, True])
def test_causal_attention_sees_only_earlier_positions(causal):
    encoder = TransformerEncoder(
        16, 2, 4, 0.2, seed=3, drop_rate=0.0, drop_rate_attention=0.0, causal=causal
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    changed = x.copy()
    changed[:, 4:] += rng.normal(size=(2, 2, 8)).astype(np.float32)  # only positions 4 and 5
    mask = tf.ones((2, 6))
    before, after = encoder(x, mask).numpy(), encoder(changed, mask).numpy()
    earlier_moved = np.abs(before[:, :4] - after[:, :4]).max()
    if causal:
        assert earlier_moved < 1e-6
    else:
        assert earlier_moved > 1e-3
    assert np.abs(before[:, 4:] - after[:, 4:]).max() > 1e-3


def test_causal_attention_still_ignores_padding():
    encoder = TransformerEncoder(
        16, 1, 2, 0.5, seed=1, drop_rate=0.0, drop_rate_attention=0.0, causal=True
    )
    x = np.random.default_rng(1).normal(size=(1, 5, 8)).astype(np.float32)
    short = encoder(x[:, :3], tf.ones((1, 3))).numpy()
    padded = encoder(x, tf.constant([[1.0, 1.0, 1.0, 0.0, 0.0]])).numpy()
    np.testing.assert_allclose(short[0], padded[0, :3], atol=1e-5)


def test_fan_in_initialization_gives_each_output_the_variance_of_its_connected_inputs():
    plain = built(RandomlyConnectedDense(512, connection_density=0.1, mask_seed=3), 512)
    scaled = built(
        RandomlyConnectedDense(
            512, connection_density=0.1, mask_seed=3, fan_in_initialization=True
        ),
        512,
    )
    np.testing.assert_array_equal(plain.kernel_mask.numpy(), scaled.kernel_mask.numpy())
    mask = scaled.kernel_mask.numpy().astype(bool)
    assert not scaled.kernel.numpy()[~mask].any()  # disconnected weights still exactly zero
    # per output: sum of squared weights ~ connected * var; scaled ~ 1/0.1 times the plain one
    ratio = np.square(scaled.kernel.numpy()).sum() / np.square(plain.kernel.numpy()).sum()
    assert 7 < ratio < 13
    assert scaled.get_config()["fan_in_initialization"] is True
