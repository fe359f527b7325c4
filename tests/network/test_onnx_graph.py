"""The ONNX prediction graph computes what the Keras training model computes (to 1e-5)."""

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
import scipy.sparse
import tensorflow as tf
from comparing import assert_same_parse

from diet_sparse.config import resolve_config
from diet_sparse.network import onnx_graph, wide_path
from diet_sparse.network import weights as network
from diet_sparse.network.onnx_graph import OnnxDIET
from diet_sparse.network.weights import sinusoidal_positions as numpy_positions
from diet_sparse.nlu.featurizer import FeaturizedBatch
from diet_sparse.training.batching import make_batch
from diet_sparse.training.model import DIET
from diet_sparse.training.transformer import MultiHeadSelfAttention
from diet_sparse.training.transformer import sinusoidal_positions as tensorflow_positions

TOLERANCE = 1e-5

# (config values, tag heads' tag counts, n_intents) of each case
CASES = {
    "default shape": ({}, {"entity": 9, "role": 3, "group": 3}, 6),
    "dense, 2 heads, 3 layers": (
        dict(connection_density=1.0, number_of_attention_heads=2, number_of_transformer_layers=3),
        {"entity": 5},
        4,
    ),
    "intents only, 8 heads": (dict(number_of_attention_heads=8, random_seed=7), {}, 12),
    "entities only, plain tags": (
        dict(intent_classification=False, random_seed=3),
        {"entity": 4},
        1,
    ),
    "wide path": (dict(use_wide_path=True, random_seed=5), {"entity": 5}, 6),
    "weighted wide path": (dict(wide_path_weight=2.5, random_seed=6), {}, 3),
    "one layer, 1 head": (
        dict(random_seed=11, number_of_transformer_layers=1, number_of_attention_heads=1),
        {"entity": 5, "role": 2},
        3,
    ),
    "key relative attention": (
        dict(use_key_relative_attention=True, random_seed=13),
        {"entity": 5},
        4,
    ),
    "value relative attention": (
        dict(use_value_relative_attention=True, number_of_attention_heads=2, random_seed=14),
        {"entity": 5, "role": 3},
        4,
    ),
    "key and value relative attention, clipped at 2": (
        dict(
            use_key_relative_attention=True,
            use_value_relative_attention=True,
            max_relative_position=2,
            random_seed=15,
        ),
        {"entity": 5},
        6,
    ),
    "block structure, a head is whole blocks": (
        dict(connection_structure="block", random_seed=16),
        {"entity": 5, "role": 3},
        5,
    ),
    "block structure, a block holds heads, relative attention": (
        dict(
            connection_structure="block",
            connection_density=0.5,
            number_of_attention_heads=8,
            use_key_relative_attention=True,
            use_value_relative_attention=True,
            random_seed=17,
        ),
        {"entity": 5},
        4,
    ),
    "block structure at density 1.0: dense layers": (
        dict(connection_structure="block", connection_density=1.0, random_seed=19),
        {"entity": 4},
        3,
    ),
    "block structure, one-wide blocks, 3 layers": (
        dict(
            connection_structure="block",
            connection_density=0.05,
            number_of_transformer_layers=3,
            random_seed=18,
        ),
        {"entity": 4},
        3,
    ),
    "hidden layers: text [24, 16], label [12]": (
        dict(hidden_layers_sizes={"text": [24, 16], "label": [12]}, random_seed=20),
        {"entity": 5, "role": 3},
        4,
    ),
    "hidden layers, block structure, wide path": (
        dict(
            hidden_layers_sizes={"text": [24, 16], "label": [12]},
            connection_structure="block",
            use_wide_path=True,
            random_seed=21,
        ),
        {"entity": 5},
        6,
    ),
}
RELATIVE = "key and value relative attention, clipped at 2"


def keras_outputs(
    model: DIET, featurized: FeaturizedBatch, network: network.DIETWeights
) -> dict[str, np.ndarray]:
    """What prediction computes, by the Keras model (and ``network``'s wide path, whose scores
    the Keras model takes as an input): intent probabilities and tag logits."""
    batch = make_batch(featurized, np.arange(len(featurized)))
    wide = None
    if network.has_wide_path:
        args = (featurized.features, featurized.offsets, featurized.dense)
        weight = network.config.wide_path_weight
        wide = tf.constant(wide_path.wide_scores(network.weights, *args, weight))
    outputs = model(
        batch.features, batch.mask, batch.token_counts, batch.dense_sentence, wide, training=False
    )
    if "intent" in outputs:
        outputs["intent"] = tf.nn.softmax(outputs["intent"], axis=-1)
    return {name: value.numpy() for name, value in outputs.items()}


def random_model(config_values: dict, tag_counts: dict, n_intents: int):
    """A DIET whose every weight (norms and transitions too) is random, so that no part of the
    network sits at a neutral initial value that would hide a difference."""
    config = resolve_config(
        dict(
            dict(
                transformer_size=32, dense_dimension=16, embedding_dimension=8, wide_path_weight=1
            ),
            **config_values,
        )
    )
    model = DIET(config, 40, n_intents, tag_counts)
    features = scipy.sparse.csr_matrix((2, 40), dtype=np.float32)
    batch = make_batch(FeaturizedBatch([[], []], features, np.array([0, 1, 2])), np.arange(2))
    model(batch.features, batch.mask, batch.token_counts)
    rng = np.random.default_rng(config.random_seed)
    for variable in model.weights:
        if variable.name.endswith("kernel_mask:0"):
            continue
        noise = rng.normal(scale=0.3, size=variable.shape).astype(np.float32)
        if "gamma" in variable.name:
            noise += 1.0
        masks = {
            layer.kernel.name: layer.kernel_mask for layer in model.randomly_connected_layers()
        }
        if variable.name in masks:
            noise *= masks[variable.name].numpy()
        variable.assign(noise)
    return model


def random_batch(n_features: int, lengths: list[int], seed: int) -> FeaturizedBatch:
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(np.array(lengths) + 1)])
    dense = rng.random((offsets[-1], n_features)) < 0.2
    features = scipy.sparse.csr_matrix(dense * rng.random(dense.shape), dtype=np.float32)
    return FeaturizedBatch([[]] * len(lengths), features, offsets)


def with_random_wide_path(model: DIET) -> network.DIETWeights:
    """The model's weights, and random wide path weights if its config has a wide path."""
    weights = model.to_weights()
    if model.config.use_wide_path and model.intent_head is not None:
        n_features, n_intents = model.n_features, model.intent_head.n_intents
        rng = np.random.default_rng(model.config.random_seed)
        rows = n_features + network.pretrained_width(model.config)
        weights.weights.update(
            {
                wide_path.KERNEL: rng.normal(size=(rows, n_intents)).astype(np.float32),
                wide_path.BIAS: rng.normal(size=n_intents).astype(np.float32),
                wide_path.IDF: rng.uniform(1, 3, size=n_features).astype(np.float32),
                wide_path.COLUMN_BLOCK: wide_path.column_blocks([10, n_features - 10]),
            }
        )
    return weights


def keras_and_onnx(
    model: DIET, featurized: FeaturizedBatch, weights: network.DIETWeights | None = None
) -> tuple[dict, dict]:
    weights = weights or with_random_wide_path(model)
    onnx = OnnxDIET(weights)(featurized.features, featurized.offsets, dense=featurized.dense)
    return keras_outputs(model, featurized, weights), onnx


def largest_difference(keras: dict, onnx: dict, featurized: FeaturizedBatch) -> float:
    assert set(keras) == set(onnx)
    token_counts = np.diff(featurized.offsets) - 1
    worst = 0.0
    for name, value in onnx.items():
        if name == "intent":
            worst = max(worst, np.abs(value - keras[name]).max())
            continue
        for i, n in enumerate(token_counts):  # padding positions are free to differ
            worst = max(worst, np.abs(value[i, :n] - keras[name][i, :n]).max(initial=0.0))
    return float(worst)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("lengths", [[3], [1, 7, 0, 12], [25, 2]])
def test_onnx_outputs_equal_keras_outputs(case, lengths):
    config_values, tag_counts, n_intents = CASES[case]
    model = random_model(config_values, tag_counts, n_intents)
    featurized = random_batch(40, lengths, seed=len(lengths))
    keras, onnx = keras_and_onnx(model, featurized)
    has_intent_head = n_intents > 1 and config_values.get("intent_classification", True)
    assert set(onnx) == set(tag_counts) | ({"intent"} if has_intent_head else set())
    assert largest_difference(keras, onnx, featurized) <= TOLERANCE


@pytest.mark.parametrize("wide", [False, True])
def test_pretrained_sentence_vectors_enter_both_networks_alike(wide):
    config = dict(pretrained_encoder="minilm-l6", random_seed=9, use_wide_path=wide,
                  pretrained_vector_in_network=True)  # fmt: skip
    model = random_model(config, {"entity": 4}, 5)
    featurized = random_batch(40, [3, 11, 0], seed=4)
    rng = np.random.default_rng(4)
    featurized.dense = rng.normal(size=(3, 384)).astype(np.float32)
    keras, onnx = keras_and_onnx(model, featurized)
    assert largest_difference(keras, onnx, featurized) <= TOLERANCE
    featurized.dense = -featurized.dense  # the vectors matter
    assert np.abs(keras_and_onnx(model, featurized)[1]["intent"] - onnx["intent"]).max() > 0.01
    with pytest.raises(ValueError, match="pretrained vectors"):
        OnnxDIET(model.to_weights())(featurized.features, featurized.offsets)


def test_pretrained_vectors_can_go_to_the_wide_path_only():
    config = dict(pretrained_encoder="minilm-l6", random_seed=9, pretrained_vector_in_network=False)
    model = random_model(config, {"entity": 4}, 5)
    weights = with_random_wide_path(model)
    assert weights.weights["encoder/embedding/kernel"].shape[0] == 16  # no vector columns
    assert weights.weights[wide_path.KERNEL].shape[0] == 40 + 384
    featurized = random_batch(40, [3, 11, 0], seed=4)
    featurized.dense = np.random.default_rng(4).normal(size=(3, 384)).astype(np.float32)
    keras, onnx = keras_and_onnx(model, featurized, weights)
    assert largest_difference(keras, onnx, featurized) <= TOLERANCE
    featurized.dense = -featurized.dense  # the vectors reach the intents, not the entity tags
    flipped = keras_and_onnx(model, featurized, weights)[1]
    assert np.abs(flipped["intent"] - onnx["intent"]).max() > 0.01
    np.testing.assert_array_equal(flipped["entity"], onnx["entity"])


def test_pretrained_vectors_pass_the_text_hidden_layers_in_both_networks():
    config = dict(
        pretrained_encoder="minilm-l6",
        pretrained_vector_in_network=True,
        hidden_layers_sizes={"text": [24]},
        random_seed=22,
    )
    model = random_model(config, {"entity": 4}, 5)
    featurized = random_batch(40, [3, 11, 0], seed=5)
    featurized.dense = np.random.default_rng(5).normal(size=(3, 384)).astype(np.float32)
    weights = model.to_weights()
    assert weights.weights["text_hidden_0/kernel"].shape == (16 + 384, 24)
    keras, onnx = keras_and_onnx(model, featurized)
    assert largest_difference(keras, onnx, featurized) <= TOLERANCE


def test_the_wide_path_counts_in_both_networks():
    model = random_model(*CASES["wide path"])
    featurized = random_batch(40, [4, 9], seed=2)
    weights = with_random_wide_path(model)
    keras, onnx = keras_and_onnx(model, featurized, weights)
    weights.weights[wide_path.KERNEL] = np.zeros_like(weights.weights[wide_path.KERNEL])
    keras_without, onnx_without = keras_and_onnx(model, featurized, weights)
    assert np.abs(keras["intent"] - keras_without["intent"]).max() > 0.01
    assert np.abs(onnx["intent"] - onnx_without["intent"]).max() > 0.01


def test_the_comparison_catches_a_changed_layer_norm_epsilon(monkeypatch):
    """The tolerance is tight enough that a second, different epsilon would be noticed."""
    config_values, tag_counts, n_intents = CASES["default shape"]
    model = random_model(config_values, tag_counts, n_intents)
    featurized = random_batch(40, [4, 9], seed=0)
    monkeypatch.setattr(onnx_graph, "LAYER_NORM_EPSILON", 1e-5)  # Keras keeps 1e-6
    keras, onnx = keras_and_onnx(model, featurized)
    assert largest_difference(keras, onnx, featurized) > TOLERANCE


def test_both_networks_read_the_shared_constants():
    model = random_model({}, {"entity": 3}, 3)
    layers = model._flatten_layers(include_self=False)
    norms = [layer for layer in layers if "LayerNormalization" in type(layer).__name__]
    assert len(norms) == 5 and {n.epsilon for n in norms} == {network.LAYER_NORM_EPSILON}
    graph = onnx.load_from_string(onnx_graph.build_diet_graph(model.to_weights()))
    epsilons = [
        attribute.f
        for node in graph.graph.node
        if node.op_type == "LayerNormalization"
        for attribute in node.attribute
        if attribute.name == "epsilon"
    ]
    assert len(epsilons) == 5
    np.testing.assert_allclose(epsilons, network.LAYER_NORM_EPSILON, rtol=1e-6)
    feed_forward_in = model.encoder.encoder_layers[0].feed_forward_in
    assert feed_forward_in.units == network.FEED_FORWARD_FACTOR * model.config.transformer_size


def test_the_comparison_catches_a_changed_attention_mask_value(monkeypatch):
    config_values, tag_counts, n_intents = CASES["default shape"]
    model = random_model(config_values, tag_counts, n_intents)
    featurized = random_batch(40, [2, 15], seed=1)
    monkeypatch.setattr(onnx_graph, "ATTENTION_MASK_VALUE", -3.0)  # padding leaks into attention
    keras, onnx = keras_and_onnx(model, featurized)
    assert largest_difference(keras, onnx, featurized) > 10 * TOLERANCE


def test_positions_match_tensorflow():
    np.testing.assert_allclose(
        numpy_positions(13, 32), tensorflow_positions(13, 32).numpy(), atol=1e-6
    )


def test_relative_positions_match_tensorflow():
    attention = MultiHeadSelfAttention(8, 2, 1.0, seed=0, drop_rate=0.0, max_relative_position=3)
    np.testing.assert_array_equal(
        network.relative_positions(9, 3), attention._relative_positions(9).numpy()
    )


def test_the_comparison_catches_reversed_relative_positions(monkeypatch):
    """Query i must use the embedding of j - i for key j, not of i - j: the comparison sees it."""
    model = random_model(*CASES[RELATIVE])
    featurized = random_batch(40, [4, 9], seed=0)

    def reversed_rows(length, max_relative_position):
        return network.relative_positions(length, max_relative_position).T.copy()

    monkeypatch.setattr(onnx_graph, "relative_position_rows", reversed_rows)
    keras, onnx = keras_and_onnx(model, featurized)
    assert largest_difference(keras, onnx, featurized) > 10 * TOLERANCE


@pytest.mark.parametrize("which", ["key", "value"])
def test_relative_embeddings_change_the_outputs_in_both_networks(which):
    model = random_model(*CASES[RELATIVE])
    featurized = random_batch(40, [4, 9], seed=3)
    keras, onnx = keras_and_onnx(model, featurized)
    for layer in model.encoder.encoder_layers:
        table = getattr(layer.attention, f"{which}_relative_embeddings")
        table.assign(tf.zeros_like(table))
    keras_without, onnx_without = keras_and_onnx(model, featurized)
    assert largest_difference(keras_without, onnx_without, featurized) <= TOLERANCE
    assert np.abs(keras["intent"] - keras_without["intent"]).max() > 0.01
    assert np.abs(onnx["intent"] - onnx_without["intent"]).max() > 0.01


def test_without_relative_attention_the_graph_has_no_trace_of_it():
    model = random_model(*CASES["default shape"])
    graph = onnx.load_from_string(onnx_graph.build_diet_graph(model.to_weights())).graph
    assert [i.name for i in graph.input] == ["x", "positions", "attention_bias", "sentence"]
    assert "Einsum" not in {node.op_type for node in graph.node}
    # (the block structure gathers blocks; no node reads a relative position or its embedding)
    assert not [n for n in graph.node if any("relative" in i for i in n.input)]
    assert not [i.name for i in graph.initializer if "relative" in i.name]
    relative = onnx.load_from_string(
        onnx_graph.build_diet_graph(random_model(*CASES[RELATIVE]).to_weights())
    ).graph
    assert "relative_positions" in [i.name for i in relative.input]
    assert sum(node.op_type == "Einsum" for node in relative.node) == 4  # 2 layers x key, value


def test_causal_attention_bias_hides_later_and_padded_positions():
    bias = onnx_graph.attention_bias(np.array([[True, True, False]]), causal=True)
    allowed = bias[0, 0] == 0  # (query, key)
    assert allowed.tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def test_trained_model_outputs_equal_keras_outputs(trained_nlu, example_data):
    texts = [example.text for example in example_data.examples][:64] + ["", "?!"]
    featurized = trained_nlu.featurizer.transform(texts)
    keras = keras_outputs(trained_nlu.keras_model, featurized, trained_nlu.network)
    ours = trained_nlu.predictor(featurized.features, featurized.offsets)
    assert set(ours) == {"intent", "entity", "role", "group"}
    assert largest_difference(keras, ours, featurized) <= TOLERANCE


def test_parse_results_equal_keras_based_parse(trained_nlu, example_data):
    """Parse every example through the Keras model's outputs and through ONNX Runtime."""
    texts = [example.text for example in example_data.examples]

    class KerasNetwork:
        def __call__(self, features, offsets, threads=None, dense=None):
            featurized = FeaturizedBatch([[]] * (len(offsets) - 1), features, offsets, dense)
            return keras_outputs(trained_nlu.keras_model, featurized, trained_nlu.network)

    keras_based = replace(trained_nlu)
    keras_based.predictor = KerasNetwork()
    for ours, theirs in zip(trained_nlu.parse_batch(texts), keras_based.parse_batch(texts)):
        assert_same_parse(ours, theirs, tolerance=1e-5)


def test_a_model_with_relative_attention_saves_loads_and_parses_as_the_keras_model(
    example_data, tmp_path
):
    from diet_sparse.persistence import ModelLoadError, load, save
    from diet_sparse.training import train

    values = dict(
        epochs=3,
        transformer_size=16,
        dense_dimension=16,
        batch_size=32,
        use_key_relative_attention=True,
        use_value_relative_attention=True,
        max_relative_position=3,
    )
    trained = train(example_data, values, progress=False)
    relative = [name for name in trained.network.weights if "relative_embeddings" in name]
    assert len(relative) == 4 and trained.network.weights[relative[0]].shape == (7, 4)
    directory = save(trained, tmp_path / "model")
    loaded = load(directory)
    texts = [example.text for example in example_data.examples]
    assert loaded.parse_batch(texts) == trained.parse_batch(texts)
    # the saved config and weights must agree: the relative embeddings are shape-checked
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps(dict(config, max_relative_position=4)))
    with pytest.raises(ModelLoadError, match="relative_embeddings has shape"):
        load(directory)

    class KerasNetwork:
        def __call__(self, features, offsets, threads=None, dense=None):
            featurized = FeaturizedBatch([[]] * (len(offsets) - 1), features, offsets, dense)
            return keras_outputs(trained.keras_model, featurized, trained.network)

    keras_based = replace(trained)
    keras_based.predictor = KerasNetwork()
    for ours, theirs in zip(loaded.parse_batch(texts), keras_based.parse_batch(texts)):
        assert_same_parse(ours, theirs, tolerance=1e-5)
