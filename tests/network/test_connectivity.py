"""The block structure of randomly connected layers (``connection_structure: block``): the same
guarantees as the random mask, the block products equal to the dense product they replace, and
models that train, save, load and parse with it."""

import math

import numpy as np
import pytest
import tensorflow as tf

from diet_sparse.network.connectivity import (
    block_mask,
    block_offsets,
    from_blocks,
    structure_blocks,
    to_blocks,
)
from diet_sparse.training.transformer import (
    BlockConnectedDense,
    from_block_layout,
    to_block_layout,
)

SHAPES = {"square": (64, 64), "wide": (64, 256), "tall": (256, 64)}


def built(units: int, input_dim: int, blocks: int, density: float, seed: int = 3):
    layer = BlockConnectedDense(units, blocks=blocks, connection_density=density, mask_seed=seed)
    layer(tf.zeros((blocks, 1, input_dim // blocks)))
    return layer


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("density", [0.0, 0.01, 0.2])
def test_every_input_reaches_an_output_and_every_output_has_an_input(shape, density):
    blocks = structure_blocks(64, 4, density)
    mask = block_mask(*shape, blocks, density, np.random.default_rng(0))
    assert (mask.sum(axis=1) >= 1).all(), "an input reaches no output"
    assert (mask.sum(axis=0) >= 1).all(), "an output has no input"


@pytest.mark.parametrize("shape", [(256, 256), (256, 1024), (1024, 256), (128, 512)])
@pytest.mark.parametrize("density", [0.5, 0.2, 0.05, 0.01])
def test_realized_density_is_within_statistical_bounds(shape, density):
    blocks = structure_blocks(min(shape), 4, density)
    mask = block_mask(*shape, blocks, density, np.random.default_rng(7))
    n = mask.size
    expected = max(density, 1 / blocks)  # offset 0 is always whole
    # only the partly connected offset's weights are random: one block of each output block
    fraction = density * blocks - math.floor(density * blocks)
    random_weights = n / blocks
    slack = 5 * math.sqrt(random_weights * fraction * (1 - fraction)) + 1
    assert abs(mask.sum() - expected * n) <= slack


def test_the_structure_computes_near_the_density_with_whole_heads():
    for size, heads, density in [(256, 4, 0.2), (256, 4, 0.05), (128, 4, 0.2), (64, 8, 0.5)]:
        blocks = structure_blocks(size, heads, density)
        assert size % blocks == 0 and (blocks % heads == 0 or heads % blocks == 0)
        computed = math.ceil(density * blocks - 1e-9) / blocks
        assert density <= computed <= 1.25 * density, (size, heads, density, blocks)
    assert structure_blocks(256, 4, 1.0) == 1


def test_offsets_and_block_kernels_round_trip_through_the_dense_kernel():
    rng = np.random.default_rng(4)
    mask = block_mask(64, 128, 8, 0.3, rng)
    offsets = block_offsets(mask, 8)
    assert offsets[0] == 0 and len(offsets) == math.ceil(0.3 * 8)
    kernel = rng.normal(size=mask.shape).astype(np.float32) * mask
    np.testing.assert_array_equal(from_blocks(to_blocks(kernel, 8, offsets), offsets), kernel)


@pytest.mark.parametrize("density", [1.0, 0.5, 0.2, 0.05])
def test_the_block_products_equal_the_dense_product_of_the_stored_kernel(density):
    blocks = structure_blocks(64, 4, density)
    layer = built(256, 64, blocks, density)
    x = tf.random.stateless_normal((3, 5, 64), seed=(1, 2))
    y = from_block_layout(layer(to_block_layout(x, blocks)), 3, 5)
    dense = tf.tensordot(x, layer.stored_kernel(), 1) + layer.bias
    np.testing.assert_allclose(y.numpy(), dense.numpy(), atol=1e-5)
    stored = layer.stored_kernel()
    assert np.all(stored[~layer.stored_mask()] == 0.0)
    assert layer.count_connected_weights() == int(layer.stored_mask().sum()) + 256


def test_density_one_is_one_block_equal_to_dense():
    layer = built(6, 10, 1, 1.0)
    dense = tf.keras.layers.Dense(6)
    dense(tf.zeros((1, 10)))
    dense.set_weights([layer.stored_kernel(), layer.bias.numpy()])
    x = np.random.default_rng(2).normal(size=(1, 7, 10)).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy()[0], dense(x[0]).numpy(), rtol=1e-6, atol=1e-6)
    assert layer.stored_mask().all() and layer.count_connected_weights() == 66


def test_masked_weights_stay_exactly_zero_after_training_steps():
    layer = BlockConnectedDense(64, blocks=8, connection_density=0.2, mask_seed=5)
    x = tf.random.stateless_normal((8, 32, 4), seed=(3, 4))
    layer(x)
    before = layer.kernel.numpy().copy()
    optimizer = tf.keras.optimizers.Adam(0.05)
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x) - 1.0))
        optimizer.apply_gradients(zip(tape.gradient(loss, [layer.kernel]), [layer.kernel]))
    mask = layer.kernel_mask.numpy()
    effective = layer.effective_kernel.numpy()
    assert np.all(effective[mask == 0] == 0.0)
    assert np.all(layer.stored_kernel()[~layer.stored_mask()] == 0.0)
    assert not np.allclose(layer.kernel.numpy()[mask == 1], before[mask == 1])


def test_same_seed_same_topology():
    a, b, c = (built(64, 64, 8, 0.2, seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(a.stored_mask(), b.stored_mask())
    assert not np.array_equal(a.stored_mask(), c.stored_mask())


def test_the_prediction_graph_holds_only_the_connected_blocks():
    from onnx import load_from_string
    from test_onnx_graph import random_model

    from diet_sparse.network.onnx_graph import build_diet_graph

    sizes = {}
    for structure in ("random", "block"):
        model = random_model(
            dict(connection_structure=structure, transformer_size=64, random_seed=1),
            {"entity": 4},
            3,
        )
        graph = load_from_string(build_diet_graph(model.to_weights())).graph
        sizes[structure] = sum(
            int(np.prod(t.dims)) for t in graph.initializer if "/layer_" in t.name
        )
    # each encoder block's layers: 12 x 64 x 64 dense weights; density 0.2 computes a quarter
    assert sizes["block"] < 0.3 * sizes["random"]


def test_a_block_structured_model_trains_saves_loads_and_parses_the_same(example_data, tmp_path):
    from diet_sparse.persistence import load
    from diet_sparse.training import train

    config = {
        "epochs": 3,
        "transformer_size": 32,
        "dense_dimension": 16,
        "connection_structure": "block",
    }
    trained = train(example_data, config, out=tmp_path / "model", progress=False)
    assert trained.keras_model.encoder.blocks == 8
    loaded = load(tmp_path / "model")
    texts = [e.text for e in example_data.examples[::4]]
    assert loaded.parse_batch(texts) == trained.parse_batch(texts)
    assert loaded.config.connection_structure == "block"


def test_a_block_structured_policy_trains_and_predicts_its_stories():
    from diet_sparse.training import train_policy

    policy = train_policy(
        "data/domain.yml",
        "data/stories.yml",
        {"epochs": 2, "transformer_size": 32, "connection_structure": "block"},
        progress=False,
    )
    assert policy.keras_model.encoder.blocks == 8
    assert policy.metadata["trainable_weights"]["randomly_connected"] < (
        0.5 * policy.metadata["trainable_weights"]["randomly_connected_if_dense"]
    )


@pytest.mark.parametrize("structure", ["random", "block"])
def test_diet_passes_fan_in_initialization_to_its_encoder(structure):
    from diet_sparse.config import resolve_config
    from diet_sparse.training.model import DIET

    spreads = {}
    for scaled in (False, True):
        values = dict(connection_structure=structure, fan_in_initialization=scaled, random_seed=2)
        model = DIET(resolve_config(values), 40, 3, {"entity": 4})
        model.build_all()
        layer = model.encoder.encoder_layers[0].feed_forward_in
        spreads[scaled] = layer.stored_kernel()[layer.stored_mask()].std()
    # at density 0.2 the connected inputs are a fifth: sqrt(5) times the spread
    assert spreads[True] / spreads[False] == pytest.approx(math.sqrt(5), rel=0.1)
