"""The DIET model (Keras): its named parts, the weights they own, and their losses."""

import numpy as np
import pytest
import tensorflow as tf

from diet_sparse.config import resolve_config
from diet_sparse.network import weights as network
from diet_sparse.training.model import (
    DIET,
    IntentHead,
    MaskedLanguageModelHead,
    TagHead,
    stored_name,
)


@pytest.mark.parametrize(
    "values, n_intents, tag_counts",
    [
        ({}, 5, {"entity": 9, "role": 3, "group": 4}),
        ({"number_of_transformer_layers": 0}, 2, {}),
        ({"intent_classification": False, "number_of_transformer_layers": 3}, 4, {"entity": 5}),
        ({"use_key_relative_attention": True, "number_of_attention_heads": 2}, 3, {"entity": 5}),
        ({"use_value_relative_attention": True, "max_relative_position": 2}, 3, {}),
    ],
)
def test_weights_are_named_and_shaped_as_the_shared_spec_says(values, n_intents, tag_counts):
    config = resolve_config(dict(transformer_size=32, dense_dimension=16, **values))
    model = DIET(config, 50, n_intents, tag_counts)
    features = tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), (2, 50))
    model(features, tf.ones((1, 2)), tf.constant([1]))
    # as stored: block-structured kernels are held in blocks, and saved as the dense kernel
    found = {name: tuple(w.shape) for name, w in model.to_weights().weights.items()}
    variables = {stored_name(v.name) for v in model.weights if not v.name.endswith("kernel_mask:0")}
    assert variables == set(found)
    expected = network.diet_weight_shapes(config, 50, n_intents, tag_counts)
    wide = {name for name in expected if name.startswith("intent_head/wide_path/")}
    assert bool(wide) == (config.use_wide_path and config.intent_classification and n_intents > 1)
    assert found == {name: shape for name, shape in expected.items() if name not in wide}


def built_model(values: dict) -> DIET:
    tf.keras.utils.set_random_seed(0)
    model = DIET(resolve_config(dict(transformer_size=32, dense_dimension=16, **values)), 50, 3, {})
    model.build_all()
    return model


def test_relative_attention_off_creates_and_draws_exactly_the_weights_it_did_before():
    """Off (the default), no relative embedding exists; on, the embeddings are added and every
    other weight starts as it does without them, so default models train as they always did."""
    plain = built_model({})
    names = [stored_name(v.name) for v in plain.weights]
    assert not [name for name in names if "relative" in name]
    relative = built_model(
        {"use_key_relative_attention": True, "use_value_relative_attention": True}
    )
    others = {stored_name(v.name): v.numpy() for v in relative.weights}
    added = sorted(set(others) - set(names))
    assert added == [
        f"encoder/layer_{i}/attention/{which}_relative_embeddings"
        for i in range(2)
        for which in ("key", "value")
    ]
    for variable in plain.weights:
        np.testing.assert_array_equal(variable.numpy(), others[stored_name(variable.name)])


def test_heads_own_their_weights(trained_nlu):
    model = trained_nlu.keras_model
    assert isinstance(model.intent_head, IntentHead)
    assert set(model.tag_heads) == {"entity", "role", "group"}
    assert all(isinstance(head, TagHead) for head in model.tag_heads.values())
    owned = {stored_name(v.name) for v in model.intent_head.weights}
    assert owned == {
        "intent_head/sentence_embedding/kernel",
        "intent_head/sentence_embedding/bias",
        "intent_head/intent_embeddings",
    }
    entity = {stored_name(v.name) for v in model.tag_heads["entity"].weights}
    assert entity == {
        "entity_head/logits/kernel",
        "entity_head/logits/bias",
        "entity_head/transitions",
    }


def test_intent_loss_falls_when_the_true_intent_scores_higher():
    head = IntentHead(resolve_config({"number_of_negative_examples": 2}), n_intents=4)
    ids = tf.constant([0, 3])
    even = tf.zeros((2, 4))
    right = tf.one_hot(ids, 4) * 5.0
    loss_even, _ = head.loss(even, ids)
    loss_right, accuracy = head.loss(right, ids)
    assert float(loss_right) < float(loss_even)
    assert float(accuracy) == 1.0
    # the softmax covers the true intent and 2 sampled others: ln 3 for even scores
    assert float(loss_even) == pytest.approx(np.log(3), rel=1e-5)


def test_masked_language_model_masks_only_tokens_about_15_percent():
    head = MaskedLanguageModelHead(8)
    tf.random.set_seed(0)
    x = tf.random.normal((64, 20, 16))
    token_counts = tf.constant(np.random.default_rng(0).integers(1, 19, 64), tf.int32)
    masked, chosen = head(x, token_counts)
    chosen = chosen.numpy()
    is_token = np.arange(20)[None, :] < token_counts.numpy()[:, None]
    assert not (chosen & ~is_token).any()  # never the sentence slot or padding
    assert 0.11 < chosen.sum() / is_token.sum() < 0.19
    unchanged = np.all(masked.numpy() == x.numpy(), axis=-1)
    assert unchanged[~chosen].all()
    by_mask = np.all(masked.numpy() == head.mask_vector.numpy(), axis=-1)
    assert 0.6 < by_mask.sum() / chosen.sum() < 0.8


def test_masked_language_model_trains_and_changes_nothing_at_prediction(example_data):
    from diet_sparse.training import train

    values = {"epochs": 2, "transformer_size": 16, "dense_dimension": 16, "batch_size": 32}
    nlu = train(example_data, dict(values, use_masked_language_model=True), progress=False)
    history = nlu.metadata["history"]
    assert all(epoch["mlm_loss"] > 0 for epoch in history)
    assert not any(name.startswith("mlm_head") for name in nlu.network.weights)
    plain = train(example_data, values, progress=False)
    assert set(nlu.network.weights) == set(plain.network.weights)
    assert (
        nlu.metadata["trainable_weights"]["total"] == plain.metadata["trainable_weights"]["total"]
    )
    assert nlu.parse("book a flight to Paris")["intent"]["name"] in nlu.intents


def test_wide_path_trains_saves_and_loads(example_data, tmp_path):
    from diet_sparse.persistence import load, save
    from diet_sparse.training import train

    values = {"epochs": 3, "transformer_size": 16, "dense_dimension": 16, "batch_size": 32}
    nlu = train(example_data, dict(values, use_wide_path=True), progress=False)
    kernel = nlu.network.weights["intent_head/wide_path/kernel"]
    assert kernel.shape == (nlu.featurizer.n_features_, len(nlu.intents))
    bias = nlu.network.weights["intent_head/wide_path/bias"]
    assert nlu.metadata["trainable_weights"]["wide_path"] == kernel.size + bias.size
    plain = train(example_data, dict(values, use_wide_path=False), progress=False)
    assert "intent_head/wide_path/kernel" not in plain.network.weights
    # the network trains as it would without the wide path; prediction adds the regression
    for name, value in plain.network.weights.items():
        np.testing.assert_array_equal(nlu.network.weights[name], value)
    text = "book a flight to Paris"
    with_wide = nlu.parse(text)["intent_ranking"]
    assert with_wide != plain.parse(text)["intent_ranking"]
    save(nlu, tmp_path / "model")
    loaded = load(tmp_path / "model")
    text = "book a flight to Paris"
    np.testing.assert_allclose(
        [i["confidence"] for i in loaded.parse(text)["intent_ranking"]],
        [i["confidence"] for i in nlu.parse(text)["intent_ranking"]],
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "structure, hidden", [("random", False), ("random", True), ("block", False), ("block", True)]
)
def test_trainable_weights_are_the_trainable_values_saved(
    example_data, tmp_path, structure, hidden
):
    from conftest import stored_trainable_values

    from diet_sparse.training import train

    values = {
        "epochs": 1,
        "transformer_size": 16,
        "dense_dimension": 16,
        "number_of_transformer_layers": 1,
        "connection_structure": structure,
        "use_wide_path": True,
    }
    if hidden:
        values["hidden_layers_sizes"] = {"text": [32]}
    nlu = train(example_data, values, out=tmp_path / "model", progress=False)
    counts = nlu.metadata["trainable_weights"]
    wide = ("intent_head/wide_path/",)
    assert counts["total"] == stored_trainable_values(tmp_path / "model", fitted_apart=wide)
    kernel, bias = (nlu.network.weights[f"intent_head/wide_path/{n}"] for n in ("kernel", "bias"))
    assert counts["wide_path"] == kernel.size + bias.size
    masks = nlu.network.masks.values()
    assert counts["randomly_connected"] < counts["randomly_connected_if_dense"]
    assert counts["randomly_connected"] - sum(int(m.sum()) for m in masks) == sum(
        m.shape[1] for m in masks
    )  # the connected kernel entries, and a bias per unit


def test_renormalized_confidences_of_the_ranking_sum_to_one(trained_nlu):
    from dataclasses import replace

    plain = replace(trained_nlu, config=replace(trained_nlu.config, ranking_length=2))
    renormalized = replace(
        trained_nlu,
        config=replace(trained_nlu.config, ranking_length=2, renormalize_confidences=True),
    )
    text = "book a table in Berlin"
    before = [r["confidence"] for r in plain.parse(text)["intent_ranking"]]
    after = [r["confidence"] for r in renormalized.parse(text)["intent_ranking"]]
    assert sum(before) < 1 - 1e-4  # the case where renormalizing changes something
    assert sum(after) == pytest.approx(1.0, abs=1e-6)
    assert after == pytest.approx([c / sum(before) for c in before], rel=1e-5)


def test_input_dropout_follows_use_sparse_and_use_dense_input_dropout():
    default = built_model({"drop_rate": 0.5})
    assert default.input_projection.drop_rate == 0.5 and default.dense_input_dropout is None
    no_sparse = built_model({"drop_rate": 0.5, "use_sparse_input_dropout": False})
    assert no_sparse.input_projection.drop_rate == 0.0
    assert no_sparse.input_projection.dense_dropout.rate == 0.5  # the projection's own stays
    values = dict(transformer_size=32, dense_dimension=16, drop_rate=0.5,
                  pretrained_encoder="minilm-l6", pretrained_vector_in_network=True,
                  use_dense_input_dropout=True)  # fmt: skip
    model = DIET(resolve_config(values), 50, 3, {})
    features = tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), (2, 50))
    mask, token_counts = tf.ones((1, 2)), tf.constant([1], tf.int32)
    sentence = tf.ones((1, model.n_dense))
    tf.keras.utils.set_random_seed(0)
    trained = model.inputs_of(features, mask, token_counts, sentence, training=True)[0, 1, 16:]
    predicted = model.inputs_of(features, mask, token_counts, sentence, training=False)[0, 1, 16:]
    assert np.all(predicted.numpy() == 1.0)
    kept = trained.numpy()
    assert set(np.unique(kept)) == {0.0, 2.0} and 0.3 < np.mean(kept == 0.0) < 0.7


HIDDEN = {"hidden_layers_sizes": {"text": [24, 12], "label": [10]}}


@pytest.mark.parametrize("structure", ["random", "block"])
def test_hidden_layers_are_named_and_shaped_as_the_shared_spec_says(structure):
    """Text hidden layers are stored (randomly connected, with masks); the label layers are
    training-only: prediction gets the intent embedding table they compute."""
    values = dict(transformer_size=32, dense_dimension=16, connection_structure=structure)
    config = resolve_config(dict(values, **HIDDEN))
    model = DIET(config, 50, 4, {"entity": 5})
    model.build_all()
    weights = model.to_weights()
    found = {name: tuple(w.shape) for name, w in weights.weights.items()}
    expected = network.diet_weight_shapes(config, 50, 4, {"entity": 5})
    assert found == {n: s for n, s in expected.items() if "wide_path" not in n}
    assert found["text_hidden_0/kernel"] == (16, 24) and found["text_hidden_1/kernel"] == (24, 12)
    assert found["encoder/embedding/kernel"] == (12, 32)
    assert {"text_hidden_0/kernel", "text_hidden_1/kernel"} <= set(weights.masks)
    training_only = {stored_name(v.name) for v in model.training_only_weights()}
    assert training_only == {
        "intent_head/label_hidden_0/kernel", "intent_head/label_hidden_0/bias",
        "intent_head/label_embedding/kernel", "intent_head/label_embedding/bias",
    }  # fmt: skip
    assert not training_only & set(found)
    table = model.intent_head.intent_embedding_table(training=False).numpy()
    np.testing.assert_array_equal(weights.weights["intent_head/intent_embeddings"], table)
    # the label layers are counted among the trained weights: 4 -> 10 -> 20 (embeddings)
    from diet_sparse.training.transformer import count_trainable_weights

    without = count_trainable_weights(
        model.randomly_connected_layers(), [w for w in model.prediction_weights() if w.trainable]
    )
    added = (4 * 10 + 10) + (10 * 20 + 20)
    assert model.count_trainable_weights()["total"] == without["total"] + added


def test_without_hidden_layers_the_model_draws_the_weights_it_did_before():
    plain = built_model({})
    listed = built_model({"hidden_layers_sizes": {"text": [], "label": []}})
    for mine, theirs in zip(plain.weights, listed.weights, strict=True):
        assert mine.name == theirs.name
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_hidden_layers_train_keep_masked_weights_zero_and_save_and_load(example_data, tmp_path):
    from diet_sparse.persistence import load, save
    from diet_sparse.training import train

    values = {"epochs": 2, "transformer_size": 16, "dense_dimension": 16, "batch_size": 32}
    nlu = train(example_data, dict(values, **HIDDEN), progress=False)
    for name in ("text_hidden_0/kernel", "text_hidden_1/kernel"):
        kernel, mask = nlu.network.weights[name], nlu.network.masks[name]
        assert 0 < mask.mean() < 1 and (kernel[mask == 0] == 0).all()
        assert np.abs(kernel[mask == 1]).min() > 0
    save(nlu, tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert loaded.config.hidden_layers_sizes == HIDDEN["hidden_layers_sizes"]
    text = "book a flight to Paris"
    np.testing.assert_allclose(
        [i["confidence"] for i in loaded.parse(text)["intent_ranking"]],
        [i["confidence"] for i in nlu.parse(text)["intent_ranking"]],
        atol=1e-6,
    )


@pytest.mark.parametrize("regularize_encoder_layers", [True, False])
def test_the_l2_penalty_holds_the_encoder_blocks_only_where_the_config_says(
    regularize_encoder_layers,
):
    model = built_model({"regularize_encoder_layers": regularize_encoder_layers})
    before = float(model._l2_of_unregularised_kernels())
    query = model.encoder.encoder_layers[0].attention.query.kernel
    query.assign(query * 2.0)
    after_query = float(model._l2_of_unregularised_kernels())
    embedding = model.encoder.embedding.kernel
    embedding.assign(embedding * 2.0)
    after_embedding = float(model._l2_of_unregularised_kernels())
    assert after_embedding > after_query  # the embedding layer is always held (as Rasa's)
    if regularize_encoder_layers:
        assert after_query > before
    else:  # Rasa's encoder blocks carry no L2
        assert after_query == pytest.approx(before)
