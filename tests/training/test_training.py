"""Training end to end: what train returns, what it refuses before training, weights it keeps."""

import subprocess
import sys

import numpy as np
import pytest
from comparing import assert_same_parse

from diet_sparse.rasa.nlu_data import EntityAnnotation, Example, TrainingData, TrainingDataError
from diet_sparse.training import train

QUICK = {"epochs": 3, "transformer_size": 16, "dense_dimension": 16, "batch_size": 64}


def test_learns_the_example_data(nlu, example_data):
    results = nlu.parse_batch([example.text for example in example_data.examples])
    correct = [r["intent"]["name"] == e.intent for r, e in zip(results, example_data.examples)]
    assert np.mean(correct) >= 0.95
    gold = {
        (i, a.start, a.end, a.entity)
        for i, e in enumerate(example_data.examples)
        for a in e.entities
    }
    found = {
        (i, x["start"], x["end"], x["entity"]) for i, r in enumerate(results) for x in r["entities"]
    }
    assert len(gold & found) / len(gold) >= 0.8


def test_parse_result_has_rasa_shape(nlu):
    result = nlu.parse("book a flight from Berlin to Paris")
    assert set(result) == {"text", "intent", "entities", "intent_ranking"}
    assert result["intent"]["name"] == "book_flight"
    assert result["intent_ranking"][0] == result["intent"]
    assert len(result["intent_ranking"]) == min(10, len(nlu.intents))
    confidences = [r["confidence"] for r in result["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    for entity in result["entities"]:
        assert result["text"][entity["start"] : entity["end"]] == entity["value"]
        assert 0.0 <= entity["confidence_entity"] <= 1.0
        assert entity["extractor"] == "DIETClassifier"


def test_roles_are_learned(nlu, example_data):
    with_roles = [e for e in example_data.examples if any(a.role for a in e.entities)]
    results = nlu.parse_batch([e.text for e in with_roles])
    gold = {(i, a.start, a.role) for i, e in enumerate(with_roles) for a in e.entities if a.role}
    found = {
        (i, x["start"], x.get("role"))
        for i, r in enumerate(results)
        for x in r["entities"]
        if "role" in x
    }
    assert len(with_roles) >= 10
    assert len(gold & found) / len(gold) >= 0.75
    assert all(
        0.0 <= x["confidence_role"] <= 1.0 for r in results for x in r["entities"] if "role" in x
    )


def test_synonyms_map_entity_values(nlu):
    entities = nlu.parse("what's the weather like in NYC today")["entities"]
    values = {e["value"] for e in entities}
    assert "New York" in values


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_gives_a_valid_result(nlu, text):
    result = nlu.parse(text)
    assert result["text"] == text
    assert result["entities"] == []
    assert result["intent"]["name"] in nlu.intents


def test_parse_batch_equals_parse(nlu):
    texts = ["hello", "set an alarm for 7 am", "play some jazz by Miles Davis please", ""]
    for batched, single in zip(nlu.parse_batch(texts), [nlu.parse(t) for t in texts]):
        assert_same_parse(batched, single)


@pytest.mark.parametrize("workers", [1, 3])
def test_parse_batch_in_small_groups_on_several_threads_equals_parse(nlu, example_data, workers):
    texts = [example.text for example in example_data.examples][:40] + ["", "?!"]
    batched = nlu.parse_batch(texts, batch_size=4, workers=workers)
    assert [result["text"] for result in batched] == texts  # answers in the order asked
    for result, text in zip(batched, texts):
        assert_same_parse(result, nlu.parse(text))


def test_parse_batch_rejects_a_string(nlu):
    with pytest.raises(TypeError, match="list of texts"):
        nlu.parse_batch("hello")


def test_disconnected_weights_are_zero_after_training(trained_nlu):
    for layer in trained_nlu.keras_model.randomly_connected_layers():
        kernel, mask = layer.kernel.numpy(), layer.kernel_mask.numpy()
        assert np.all(kernel[mask == 0] == 0.0), layer.name
        assert np.all(layer.stored_kernel()[~layer.stored_mask()] == 0.0), layer.name
        assert 0.1 < layer.stored_mask().mean() < 0.4, layer.name


def test_same_seed_gives_identical_predictions(example_data):
    texts = [e.text for e in example_data.examples[::5]]
    first = train(example_data, QUICK, progress=False).parse_batch(texts)
    second = train(example_data, QUICK, progress=False).parse_batch(texts)
    assert first == second
    third = train(example_data, dict(QUICK, random_seed=7), progress=False).parse_batch(texts)
    assert first != third


def test_intents_only_data_trains(example_data):
    data = TrainingData(
        examples=[
            Example(e.text, e.intent)
            for e in example_data.examples
            if e.intent in ("greet", "goodbye", "affirm")
        ]
    )
    nlu = train(data, QUICK, progress=False)
    result = nlu.parse("hello")
    assert result["entities"] == []
    assert result["intent"]["name"] in ("greet", "goodbye", "affirm")
    assert nlu.network.tag_heads == []


def test_single_intent_data_trains_entities_only():
    examples = [
        Example(f"I live in {city}", "inform", [EntityAnnotation(10, 10 + len(city), city, "city")])
        for city in ["Berlin", "Paris", "Rome", "Oslo", "Lima", "Cairo", "Delhi", "Tokyo"]
    ]
    config = dict(QUICK, epochs=60, batch_size=4)
    nlu = train(TrainingData(examples=examples), config, progress=False)
    result = nlu.parse("I live in Paris")
    assert result["intent"] == {"name": "inform", "confidence": 1.0}
    assert not nlu.network.has_intent_head
    assert [e["value"] for e in result["entities"]] == ["Paris"]


def test_nothing_to_learn_is_an_error():
    data = TrainingData(examples=[Example("hi", "greet"), Example("hello", "greet")])
    with pytest.raises(TrainingDataError, match="nothing to learn"):
        train(data, QUICK, progress=False)


def test_split_entities_by_comma_naming_an_unknown_entity_type_is_an_error_before_training(
    example_data,
):
    config = dict(QUICK, split_entities_by_comma={"adress": False})
    with pytest.raises(TrainingDataError, match="'adress', which is not an entity type"):
        train(example_data, config, progress=False)


def test_the_nlu_splits_entities_at_commas_as_configured(trained_nlu):
    from dataclasses import replace

    text = "Berlin, Lisbon"
    tokens = trained_nlu.featurizer.transform([text]).tokens[0]
    vocabulary = trained_nlu.tag_vocabularies["entity"]
    city = vocabulary.labels()[0]
    tags = np.array([vocabulary.index(f"B-{city}"), vocabulary.index(f"L-{city}")])
    decoded = {"entity": (tags, np.ones(2))}
    values = {}
    for setting in (True, False):
        config = replace(trained_nlu.config, split_entities_by_comma=setting)
        nlu = replace(trained_nlu, config=config)
        values[setting] = [e["value"] for e in nlu._entities(text, tokens, decoded)]
    assert values == {True: ["Berlin", "Lisbon"], False: ["Berlin, Lisbon"]}


def test_train_prints_nothing_and_reports_each_epoch_to_a_callback(example_data, capsys, caplog):
    import logging

    epochs = []
    with caplog.at_level(logging.INFO, logger="diet_sparse"):
        train(example_data, QUICK, progress=epochs.append)
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    assert [summary["epoch"] for summary in epochs] == [1, 2, 3]
    assert {"loss", "seconds", "batch_size", "intent_accuracy"} <= set(epochs[0])
    assert any("Trainable weights" in record.getMessage() for record in caplog.records)


def test_the_learning_rate_schedule_reaches_the_optimizer(example_data):
    texts = [e.text for e in example_data.examples[::5]]
    epochs = []
    config = dict(QUICK, epochs=4, learning_rate_schedule="linear", warmup_epochs=1)
    scheduled = train(example_data, config, progress=epochs.append)
    base = 0.001  # the default learning rate
    assert [e["learning_rate"] for e in epochs] == pytest.approx(
        [base, base, base * 2 / 3, base / 3], abs=1e-8
    )
    # the same seed with a constant rate: had the schedule not reached Adam, nothing differs
    constant = train(example_data, dict(QUICK, epochs=4), progress=False)
    assert scheduled.parse_batch(texts) != constant.parse_batch(texts)


def test_fallback_thresholds_answer_nlu_fallback_and_keep_the_ranking(nlu):
    from dataclasses import replace

    # the least confident of a few messages, so that a threshold above it is at most 1
    candidates = ["book a flight from Berlin to Paris", "what", "maybe tomorrow", "ok then"]
    text = min(candidates, key=lambda t: nlu.parse(t)["intent"]["confidence"])
    plain = nlu.parse(text)
    confident = plain["intent"]["confidence"]
    assert confident < 0.99
    nlu.config = replace(nlu.config, fallback_threshold=min(1.0, confident + 0.01))
    try:
        fallen = nlu.parse(text)
        assert fallen["intent"] == {
            "name": "nlu_fallback",
            "confidence": nlu.config.fallback_threshold,
        }
        assert fallen["intent_ranking"][1:] == plain["intent_ranking"]
        assert fallen["entities"] == plain["entities"]
        nlu.config = replace(nlu.config, fallback_threshold=confident / 2)
        assert nlu.parse(text) == plain
        nlu.config = replace(nlu.config, fallback_threshold=None, ambiguity_threshold=1.0)
        assert nlu.parse(text)["intent"] == {"name": "nlu_fallback", "confidence": confident}
    finally:
        nlu.config = replace(nlu.config, fallback_threshold=None, ambiguity_threshold=None)
    assert nlu.parse(text) == plain


def test_training_runs_on_keras_2_even_when_tensorflow_was_imported_first():
    """From TensorFlow 2.16 on, `tf.keras` is Keras 3 unless diet_sparse.training selects
    tf-keras; TensorFlow imported before it (as a user's script may) must not change that."""
    script = (
        "import sys\n"
        "import tensorflow as tf\n"
        "import diet_sparse.training.transformer as transformer\n"
        "package = transformer.RandomlyConnectedDense.__mro__[1].__module__.split('.')[0]\n"
        "print(package, sys.modules[package].__version__)\n"
    )
    package, version = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert package in ("keras", "tf_keras") and version.startswith("2."), (package, version)
