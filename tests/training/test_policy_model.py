"""The TED policy model (Keras): its weights, its loss, and the ONNX graph that predicts with it."""

import numpy as np
import pytest
import tensorflow as tf

from diet_sparse.config import TEDConfig, resolve_config
from diet_sparse.network import weights as network
from diet_sparse.network.onnx_graph import OnnxTED
from diet_sparse.training.model import stored_name
from diet_sparse.training.policy_model import TED, dialogue_batch

SIZES = {"intent": 5, "prev_action": 9, "entities": 4, "slots": 3}


def random_policy(values: dict, sizes: dict = SIZES, n_actions: int = 9) -> TED:
    config = resolve_config(dict(dict(transformer_size=32), **values), kind=TEDConfig)
    model = TED(config, sizes, n_actions)
    model.build_all()
    rng = np.random.default_rng(config.random_seed)
    masks = {layer.kernel.name: layer.kernel_mask for layer in model.randomly_connected_layers()}
    for variable in model.weights:
        if variable.name.endswith("kernel_mask:0"):
            continue
        noise = rng.normal(scale=0.3, size=variable.shape).astype(np.float32)
        if "gamma" in variable.name:
            noise += 1.0
        if variable.name in masks:
            noise *= masks[variable.name].numpy()
        variable.assign(noise)
    return model


def random_dialogues(sizes: dict, lengths: list[int], seed: int) -> tuple[dict, np.ndarray]:
    rng = np.random.default_rng(seed)
    longest = max(lengths)
    features = {
        attribute: (rng.random((len(lengths), longest, size)) < 0.3).astype(np.float32)
        for attribute, size in sizes.items()
    }
    return features, np.array(lengths)


@pytest.mark.parametrize(
    "values, sizes",
    [
        ({}, SIZES),
        ({"connection_density": 1.0, "number_of_attention_heads": 2}, SIZES),
        ({"number_of_transformer_layers": 2, "random_seed": 3}, {**SIZES, "active_loop": 2}),
        ({"random_seed": 5}, {"intent": 3, "prev_action": 9}),
        ({"connection_structure": "block", "random_seed": 6}, SIZES),
        (
            {"connection_structure": "block", "connection_density": 0.5},
            {**SIZES, "active_loop": 2},
        ),
    ],
)
@pytest.mark.parametrize("lengths", [[1], [5, 2, 3], [10, 1]])
def test_onnx_scores_equal_keras_scores(values, sizes, lengths):
    model = random_policy(values, sizes)
    features, turns = random_dialogues(sizes, lengths, seed=len(lengths))
    batch = dialogue_batch(features, turns, np.zeros(len(lengths), np.int32))
    keras = tf.nn.softmax(model(batch.features, batch.mask)).numpy()
    onnx = OnnxTED(model.to_weights())(
        {a: f[:, : turns.max()] for a, f in features.items()}, batch.mask.numpy()
    )
    np.testing.assert_allclose(onnx, keras, atol=1e-5)
    assert onnx.shape == (len(lengths), 9)


def test_weights_are_named_and_shaped_as_the_shared_spec_says():
    sizes = {**SIZES, "active_loop": 2}
    model = random_policy({"number_of_transformer_layers": 2}, sizes, n_actions=7)
    found = {
        stored_name(v.name, "ted"): tuple(v.shape)
        for v in model.weights
        if not v.name.endswith("kernel_mask:0")
    }
    assert found == network.ted_weight_shapes(model.config, sizes, 7)


def test_randomly_connected_layers_are_the_encodings_and_the_encoder():
    model = random_policy({}, SIZES)
    names = {stored_name(layer.kernel.name, "ted") for layer in model.randomly_connected_layers()}
    assert {
        "intent_encoding/kernel",
        "prev_action_encoding/kernel",
        "label_encoding/kernel",
    } < names
    assert len(names) == 3 + 7  # 3 encodings; embedding + q, k, v, o + 2 feed-forward
    counts = model.count_trainable_weights()
    assert counts["randomly_connected"] < counts["randomly_connected_if_dense"]


def test_padding_turns_do_not_change_the_scores():
    model = random_policy({}, SIZES)
    features, _ = random_dialogues(SIZES, [4], seed=0)
    short = dialogue_batch(features, np.array([2]), np.zeros(1, np.int32))
    padded = dialogue_batch(
        {a: f.copy() for a, f in features.items()}, np.array([4]), np.zeros(1, np.int32)
    )
    padded_mask = tf.constant([[1.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        model(short.features, short.mask).numpy(),
        model(padded.features, padded_mask).numpy(),
        atol=1e-5,
    )


def test_a_few_steps_learn_a_deterministic_mapping():
    """Each dialogue's newest intent decides the action: the loss falls and accuracy reaches 1."""
    sizes = {"intent": 4, "prev_action": 6}
    model = TED(
        resolve_config({"transformer_size": 16, "drop_rate_dialogue": 0.0}, kind=TEDConfig),
        sizes,
        6,
    )
    model.build_all()
    rng = np.random.default_rng(0)
    intents = rng.integers(0, 4, 64)
    features = {
        "intent": np.eye(4, dtype=np.float32)[intents][:, None, :],
        "prev_action": np.zeros((64, 1, 6), np.float32),
    }
    batch = dialogue_batch(features, np.ones(64, int), (intents + 1).astype(np.int32))
    optimizer = tf.keras.optimizers.Adam(0.01)
    first = None
    for _ in range(60):
        with tf.GradientTape() as tape:
            results = model.losses_and_metrics(batch, training=True)
        gradients = tape.gradient(results["loss"], model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        first = first if first is not None else float(results["action_loss"])
    assert float(results["action_loss"]) < first / 4
    assert float(results["action_accuracy"]) == 1.0
