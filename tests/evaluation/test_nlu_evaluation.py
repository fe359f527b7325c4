"""Evaluation: reports and errors against hand-computed numbers, written report files, and
cross-validation; the library prints nothing."""

import json
import logging
import re

import numpy as np
import pytest

from diet_sparse.config import ConfigError
from diet_sparse.evaluation import nlu as evaluation
from diet_sparse.rasa.nlu_data import EntityAnnotation, Example, TrainingData, TrainingDataWarning

# matplotlib's mathtext uses pyparsing names that pyparsing >= 3.3 deprecates
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:matplotlib.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing.*"),
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORT_KEYS = {"precision", "recall", "f1-score", "support"}


def parsed(intent, confidence=0.9, entities=()):
    return {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities)}


def predicted_entity(start, end, entity, **attributes):
    return {"start": start, "end": end, "entity": entity, "value": "x", **attributes}


def test_intent_report_of_a_two_intent_confusion_matches_hand_computed_numbers():
    # 3 greet and 2 bye; one greet is predicted as bye.
    examples = [Example(f"g{i}", "greet") for i in range(3)] + [
        Example(f"b{i}", "bye") for i in range(2)
    ]
    results = [parsed("greet"), parsed("greet"), parsed("bye", 0.7), parsed("bye"), parsed("bye")]
    report = evaluation.evaluate_results(examples, results)["intent_report"]

    assert report["greet"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1-score": 0.8, "support": 3}
    )
    assert report["bye"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1-score": 0.8, "support": 2}
    )
    assert report["accuracy"] == pytest.approx(0.8)
    assert report["macro avg"]["precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert report["weighted avg"]["precision"] == pytest.approx((3 * 1 + 2 * 2 / 3) / 5)
    assert report["weighted avg"]["recall"] == pytest.approx(0.8)


def test_intent_errors_list_gold_and_prediction_most_confident_first():
    examples = [Example("hi", "greet"), Example("bye", "bye"), Example("yo", "greet")]
    results = [parsed("bye", 0.4), parsed("bye", 0.99), parsed("bye", 0.8)]
    errors = evaluation.evaluate_results(examples, results)["intent_errors"]
    assert errors == [
        {"text": "yo", "intent": "greet", "intent_prediction": {"name": "bye", "confidence": 0.8}},
        {"text": "hi", "intent": "greet", "intent_prediction": {"name": "bye", "confidence": 0.4}},
    ]


def test_a_partly_overlapping_span_is_both_a_false_positive_and_a_false_negative():
    text = "Berlin at 10 am"
    example = Example(
        text,
        "travel",
        [EntityAnnotation(0, 6, "Berlin", "city"), EntityAnnotation(10, 15, "10 am", "time")],
    )
    result = parsed(
        "travel", entities=[predicted_entity(0, 3, "city"), predicted_entity(10, 15, "time")]
    )
    report = evaluation.evaluate_results([example], [result])["entity_report"]

    assert report["city"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert report["time"] == {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 1}
    assert report["micro avg"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    )
    assert report["macro avg"]["f1-score"] == pytest.approx(0.5)
    assert set(report["weighted avg"]) == REPORT_KEYS


def test_roles_and_groups_are_scored_on_their_own_spans():
    examples = [
        Example("from Rome to Oslo", "fly", [
            EntityAnnotation(5, 9, "Rome", "city", role="departure", group="1"),
            EntityAnnotation(13, 17, "Oslo", "city", role="destination", group="1"),
        ]),
    ]  # fmt: skip
    results = [
        parsed("fly", entities=[
            predicted_entity(5, 9, "city", role="departure", group="1"),
            predicted_entity(13, 17, "city", role="departure", group="1"),
        ]),
    ]  # fmt: skip
    result = evaluation.evaluate_results(examples, results)

    assert result["entity_report"]["micro avg"]["f1-score"] == 1.0
    roles = result["role_report"]
    assert roles["departure"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1}
    )
    assert roles["destination"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert roles["micro avg"]["f1-score"] == pytest.approx(0.5)
    assert result["group_report"]["1"]["f1-score"] == 1.0
    # The role error makes the message an entity error although every span and type is right.
    assert [error["text"] for error in result["entity_errors"]] == ["from Rome to Oslo"]
    assert result["summary"]["role_micro_f1"] == pytest.approx(0.5)


def test_no_role_or_group_report_without_roles_or_groups():
    examples = [Example("in Rome", "weather", [EntityAnnotation(3, 7, "Rome", "city")])]
    result = evaluation.evaluate_results(
        examples, [parsed("weather", entities=[predicted_entity(3, 7, "city")])]
    )
    assert "role_report" not in result and "group_report" not in result
    assert result["entity_errors"] == []
    assert result["summary"] == {
        "intent_accuracy": 1.0,
        "intent_macro_f1": 1.0,
        "intent_weighted_f1": 1.0,
        "entity_micro_f1": 1.0,
        "entity_macro_f1": 1.0,
        "entity_weighted_f1": 1.0,
    }


def test_entity_errors_list_gold_and_predicted_entities():
    examples = [
        Example("in Rome", "weather", [EntityAnnotation(3, 7, "Rome", "city")]),
        Example("in Oslo", "weather", [EntityAnnotation(3, 7, "Oslo", "city")]),
        Example("hello", "greet"),
    ]
    wrong = predicted_entity(0, 2, "city", confidence_entity=0.6)
    results = [
        parsed("weather", entities=[predicted_entity(3, 7, "city")]),
        parsed("weather", entities=[wrong]),
        parsed("greet", entities=[wrong]),
    ]
    errors = evaluation.evaluate_results(examples, results)["entity_errors"]
    assert errors == [
        {
            "text": "in Oslo",
            "entities": [{"start": 3, "end": 7, "value": "Oslo", "entity": "city"}],
            "predicted_entities": [wrong],
        },
        {"text": "hello", "entities": [], "predicted_entities": [wrong]},
    ]


def test_evaluate_results_needs_one_result_per_example():
    with pytest.raises(ValueError, match="one parse result per example"):
        evaluation.evaluate_results([Example("hi", "greet")], [])


def test_test_writes_reports_and_plots_and_prints_nothing(
    nlu, trained_model_dir, example_data, tmp_path, capsys
):
    out = tmp_path / "results"
    returned = evaluation.test(trained_model_dir, example_data, out=out)

    files = {path.name for path in out.iterdir()}
    assert {
        "intent_report.json", "intent_errors.json", "entity_report.json", "entity_errors.json",
        "role_report.json", "group_report.json",
        "intent_confusion_matrix.png", "intent_histogram.png",
    } <= files  # fmt: skip
    for name in ("intent_confusion_matrix.png", "intent_histogram.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000

    intents = json.loads((out / "intent_report.json").read_text())
    assert set(intents["weighted avg"]) == REPORT_KEYS
    assert set(example_data.intents) <= set(intents)
    errors = json.loads((out / "intent_errors.json").read_text())
    n = len(example_data.examples)
    assert len(errors) == round((1 - intents["accuracy"]) * n)
    for error in errors:
        assert error["intent"] != error["intent_prediction"]["name"]
    entities = json.loads((out / "entity_report.json").read_text())
    assert set(example_data.entity_types) <= set(entities)
    assert {"micro avg", "macro avg", "weighted avg"} <= set(entities)
    assert entities["micro avg"]["support"] == sum(len(e.entities) for e in example_data.examples)
    entity_errors = json.loads((out / "entity_errors.json").read_text())
    assert all({"text", "entities", "predicted_entities"} == set(e) for e in entity_errors)
    assert returned["intent_report"] == intents

    assert capsys.readouterr() == ("", "")
    table = evaluation.format_summary(returned)
    assert "accuracy" in table and "weighted F1" in table
    assert f"{intents['accuracy']:.3f}" in table
    assert f"{len(errors)} of {n} messages" in table


def test_cross_validation_reports_mean_and_std_per_metric(example_data, tmp_path, capsys, caplog):
    kept = ["book_flight", "greet", "play_music"]
    examples = [e for e in example_data.examples if e.intent in kept]
    rare = Example("wake me at seven", "set_alarm")  # one example: fewer than folds
    data = TrainingData(examples + [rare], example_data.synonyms, example_data.regexes)
    config = {"epochs": 2, "transformer_size": 8, "dense_dimension": 16, "batch_size": 64}

    for name in ("role_report.json", "group_report.json"):  # an earlier run's
        (tmp_path / name).write_text("{}")
    caplog.set_level(logging.INFO, logger="diet_sparse.evaluation.nlu")
    with pytest.warns(TrainingDataWarning, match="set_alarm"):
        summary = evaluation.cross_validate(data, config, folds=2, out=tmp_path, progress=False)

    written = json.loads((tmp_path / "cross_validation.json").read_text())
    assert written == summary
    assert summary["folds"] == 2
    assert summary["tested_examples"] == len(examples)
    assert summary["train_only_intents"] == ["set_alarm"]
    metrics = summary["metrics"]
    assert {"intent_accuracy", "intent_macro_f1", "intent_weighted_f1", "entity_micro_f1",
            "entity_macro_f1", "entity_weighted_f1"} <= set(metrics)  # fmt: skip
    for values in metrics.values():
        assert len(values["per_fold"]) == 2
        assert values["mean"] == pytest.approx(np.mean(values["per_fold"]))
        assert values["std"] == pytest.approx(np.std(values["per_fold"]))
    # The pooled test-fold predictions are reported like `test`: every tested message once.
    pooled = json.loads((tmp_path / "intent_report.json").read_text())
    assert pooled["weighted avg"]["support"] == len(examples)
    assert (tmp_path / "intent_confusion_matrix.png").read_bytes().startswith(PNG_SIGNATURE)
    for name in ("role_report.json", "group_report.json"):  # removed, or this run's
        assert not (tmp_path / name).exists() or json.loads((tmp_path / name).read_text())

    assert capsys.readouterr().out == ""  # training may write to stderr; evaluation does not
    logged = [r.getMessage() for r in caplog.records if r.name == "diet_sparse.evaluation.nlu"]
    pattern = r"Fold (\d)/2: training on (\d+) examples, testing on (\d+)"
    folds = [re.fullmatch(pattern, line) for line in logged]
    assert [int(fold[1]) for fold in folds] == [1, 2]
    assert sum(int(fold[3]) for fold in folds) == len(examples)
    assert all(int(fold[2]) + int(fold[3]) == len(examples) + 1 for fold in folds)
    table = evaluation.format_cross_validation(summary)
    assert table.splitlines()[0] == f"Cross-validation, 2 folds, {len(examples)} messages tested:"
    mean = metrics["intent_accuracy"]["mean"]
    assert f"intent_accuracy{mean:>15.3f}" in table


def test_cross_validation_needs_two_folds(example_data):
    with pytest.raises(ValueError, match="folds must be an integer >= 2, got 1"):
        evaluation.cross_validate(example_data, None, folds=1)


def test_cross_validation_checks_out_before_training(example_data, tmp_path, monkeypatch):
    from diet_sparse import training

    monkeypatch.setattr(training, "train", lambda *args, **kwargs: pytest.fail("trained"))
    (tmp_path / "taken").write_text("")
    with pytest.raises(FileExistsError, match="taken is an existing file"):
        evaluation.cross_validate(example_data, None, folds=2, out=tmp_path / "taken")
    with pytest.raises(ConfigError, match="epoch"):
        evaluation.cross_validate(example_data, {"epoch": 1}, folds=2, out=tmp_path / "cv")
    assert not (tmp_path / "cv").exists()


# --- writing reports -----------------------------------------------------------------------------


def _evaluation(roles: bool) -> dict:
    attributes = {"role": "departure"} if roles else {}
    examples = [
        Example("from Rome", "fly", [EntityAnnotation(5, 9, "Rome", "city", **attributes)]),
        Example("hi", "greet"),
    ]
    results = [
        parsed("fly", entities=[predicted_entity(5, 9, "city", **attributes)]),
        parsed("greet"),
    ]
    return evaluation.evaluate_results(examples, results)


def test_reports_of_an_earlier_run_are_removed_and_other_files_kept(tmp_path):
    evaluation.write_results(_evaluation(roles=True), tmp_path)
    (tmp_path / "cross_validation.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    assert (tmp_path / "role_report.json").is_file()

    written = evaluation.write_results(_evaluation(roles=False), tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [path.name for path in written] + ["notes.txt"]
    )
    assert "role_report.json" not in {path.name for path in written}


def test_fallback_report_counts_messages_below_each_threshold():
    examples = [Example("a", "x"), Example("b", "y"), Example("c", "y")]
    results = [
        {"intent_ranking": [{"name": "x", "confidence": 0.95}, {"name": "y", "confidence": 0.05}]},
        {"intent_ranking": [{"name": "x", "confidence": 0.6}, {"name": "y", "confidence": 0.4}]},
        {"intent_ranking": [{"name": "y", "confidence": 0.52}, {"name": "x", "confidence": 0.48}]},
    ]
    rows = {
        (row["fallback_threshold"], row["ambiguity_threshold"]): row
        for row in evaluation.fallback_report(examples, results)
    }
    assert rows[0.3, None]["fallen_back"] == 0
    assert rows[0.3, None]["accuracy_of_the_rest"] == pytest.approx(2 / 3)
    assert rows[0.7, None]["fallen_back"] == 2  # 0.6 and 0.52 fall back; the right one is kept
    assert rows[0.7, None]["accuracy_of_the_rest"] == 1.0
    assert rows[0.3, 0.1]["fallen_back"] == 1  # 0.52 against 0.48: ambiguous
    assert rows[0.9, 0.2]["accuracy_of_the_rest"] == 1.0
    assert rows[0.9, 0.2]["fallen_back_share"] == pytest.approx(2 / 3)
