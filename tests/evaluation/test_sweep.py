"""The density sweep: rows, resuming, checks before training, subsampling; it prints nothing."""

import csv
import math
from collections import Counter
from pathlib import Path

import pytest
from conftest import EXAMPLE_DATA

from diet_sparse import training
from diet_sparse.config import ConfigError
from diet_sparse.evaluation.sweep import (
    COLUMNS,
    SETTINGS_NAME,
    attention_heads,
    check_argument,
    format_point,
    stratified_subsample,
    sweep,
    trainable_weights,
)
from diet_sparse.rasa.nlu_data import Example, TrainingData, TrainingDataError, load_training_data

# matplotlib's mathtext uses pyparsing names that pyparsing >= 3.3 deprecates
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:matplotlib.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing.*"),
]

TINY = {"epochs": 2, "dense_dimension": 16, "batch_size": 64, "number_of_attention_heads": 4}


def markup(example):
    """An example's text with its entities marked up again, as in the YAML files."""
    text, end = "", 0
    for a in sorted(example.entities, key=lambda a: a.start):
        text += f"{example.text[end : a.start]}[{example.text[a.start : a.end]}]({a.entity})"
        end = a.end
    return text + example.text[end:]


@pytest.fixture
def small_data(tmp_path):
    """Four intents of the example data, with their entity types (no roles), as a YAML file."""
    data = load_training_data(EXAMPLE_DATA)
    lines = ['version: "3.1"', "nlu:"]
    for intent in ("book_flight", "greet", "play_music", "goodbye"):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {markup(e)}" for e in data.examples if e.intent == intent][:12]
    path = tmp_path / "small" / "train.yml"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sweep_writes_one_row_per_point_and_resumes_without_training(
    small_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "sweep"
    arguments = dict(train=[small_data], test=[small_data], densities=[1.0, 0.2], sizes=[8, 12],
                     out=out, epochs=2)  # fmt: skip
    points = []
    rows = sweep(TINY, **arguments, on_point=lambda *point: points.append(point))
    assert capsys.readouterr().out == ""  # training may write to stderr; the sweep does not
    assert points == [(row, n, 4) for n, row in enumerate(rows, start=1)]
    assert format_point(rows[0], 1, 4).startswith("[1/4] density 1, size 8, seed 42: ")

    with (out / "sweep.csv").open() as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames) == COLUMNS
        written = list(reader)
    assert len(rows) == len(written) == 4
    assert {(row["density"], row["size"]) for row in rows} == {(1.0, 8), (1.0, 12), (0.2, 8),
                                                                (0.2, 12)}  # fmt: skip
    for row in rows:
        assert 0.0 <= row["intent_weighted_f1"] <= 1.0
        assert 0.0 <= row["entity_micro_f1"] <= 1.0
        assert 0 < row["randomly_connected_weights"] < row["total_trainable_weights"]
        assert row["train_seconds"] > 0
    by_point = {(row["density"], row["size"]): row for row in rows}
    for size in (8, 12):  # fewer connected weights at lower density, more at larger size
        assert (by_point[0.2, size]["randomly_connected_weights"]
                < by_point[1.0, size]["randomly_connected_weights"])  # fmt: skip
    assert (
        by_point[1.0, 8]["randomly_connected_weights"]
        < by_point[1.0, 12]["randomly_connected_weights"]
    )
    for name in ("sweep_intent.png", "sweep_entity.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")
        (out / name).unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("a point already in sweep.csv was trained again")

    monkeypatch.setattr(training, "train", no_training)
    again = sweep(TINY, **arguments, on_point=no_training)
    assert again == rows
    assert (out / "sweep_intent.png").stat().st_size > 0
    assert (out / "sweep_entity.png").stat().st_size > 0
    assert len((out / "sweep.csv").read_text().splitlines()) == 5


def test_resuming_with_other_settings_is_refused(small_data, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: calls.append(args))
    (tmp_path / "sweep_settings.json").write_text('{"config": {}}')
    (tmp_path / "sweep.csv").write_text(",".join(COLUMNS) + "\n1.0,8,42,100,200,0.5,0.5,1.0\n")
    with pytest.raises(FileExistsError, match="other settings"):
        sweep(TINY, train=[small_data], test=[small_data], densities=[1.0], sizes=[8],
              out=tmp_path, epochs=3)  # fmt: skip
    assert calls == []


@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("densities", [1.5], "connection_density must be a number in \\[0, 1\\], got 1.5"),
        ("sizes", [8, 0], "transformer_size must be an integer >= 1, got 0"),
        ("repeats", 0, "repeats must be an integer >= 1, got 0"),
        ("epochs", 0, "epochs must be an integer >= 1, got 0"),
        ("subsample", 0, "subsample must be a fraction in \\(0, 1\\]"),
        ("subsample", 2.5, "or a whole number of examples >= 1, got 2.5"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    small_data, tmp_path, monkeypatch, argument, value, message
):
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: pytest.fail("trained"))
    with pytest.raises(ConfigError, match=message):
        sweep(TINY, train=small_data, test=small_data, out=tmp_path / "out", **{argument: value})
    assert not (tmp_path / "out").exists()


def test_out_and_test_data_are_checked_before_training(small_data, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: pytest.fail("trained"))
    (tmp_path / "taken").write_text("")
    with pytest.raises(FileExistsError, match="taken is an existing file"):
        sweep(TINY, train=small_data, test=small_data, out=tmp_path / "taken")
    with pytest.raises(TrainingDataError, match="missing.yml does not exist"):
        sweep(TINY, train=small_data, test=tmp_path / "missing.yml", out=tmp_path / "out")
    assert not (tmp_path / "out" / SETTINGS_NAME).exists()


def test_check_argument_is_the_rule_of_the_command_line_too():
    check_argument("densities", 0.0)
    check_argument("subsample", 1.0)
    check_argument("subsample", 2000.0)
    for name, value in (("densities", True), ("sizes", 8.0), ("subsample", math.nan)):
        with pytest.raises(ConfigError):
            check_argument(name, value)


def test_trainable_weights_come_from_the_metadata_or_a_clear_error():
    class Model:
        metadata = {"trainable_weights": {"randomly_connected": 1, "total": 2}}

    assert trainable_weights(Model()) == {"randomly_connected": 1, "total": 2}
    Model.metadata = {}
    with pytest.raises(ValueError, match="no 'trainable_weights'"):
        trainable_weights(Model())


def test_stratified_subsample_keeps_every_intent_and_is_deterministic():
    examples = [Example(f"a{i}", "a") for i in range(40)] + [
        Example(f"b{i}", "b") for i in range(10)
    ] + [Example("c", "c")]  # fmt: skip
    data = TrainingData(examples, synonyms={"x": "y"})

    half = stratified_subsample(data, 0.5, seed=1)
    assert Counter(e.intent for e in half.examples) == {"a": 20, "b": 5, "c": 1}
    assert half.synonyms == {"x": "y"}
    assert [e.text for e in half.examples] == [
        e.text for e in stratified_subsample(data, 0.5, 1).examples
    ]
    assert [e.text for e in half.examples] != [
        e.text for e in stratified_subsample(data, 0.5, 2).examples
    ]
    counted = stratified_subsample(data, 10, seed=1)
    assert Counter(e.intent for e in counted.examples) == {"a": 8, "b": 2, "c": 1}
    assert len(stratified_subsample(data, 1000, seed=1).examples) == len(examples)
    with pytest.raises(ValueError, match="subsample"):
        stratified_subsample(data, 0, seed=1)


def test_attention_heads_divide_the_size():
    assert [attention_heads(size, 4) for size in (256, 12, 10, 9, 2, 1)] == [4, 4, 2, 3, 2, 1]


def test_smallest_within_best_dense_averages_seeds_and_reports_never():
    from diet_sparse.evaluation.sweep import smallest_within_best_dense

    def row(density, size, weights, f1):
        return {"density": density, "size": size, "randomly_connected_weights": weights, "f1": f1}

    rows = [
        row(1.0, 8, 1000, 0.80), row(1.0, 16, 4000, 0.90),
        row(0.2, 8, 300, 0.70), row(0.2, 16, 900, 0.88), row(0.2, 16, 900, 0.90),
        row(0.05, 16, 200, 0.70),
    ]  # fmt: skip
    found = smallest_within_best_dense(rows, "f1")
    assert found == {1.0: (16, 4000), 0.2: (16, 900), 0.05: None}  # 0.2 @ 16: mean 0.89


def test_policy_sweep_writes_rows_and_plots_and_resumes(tmp_path, monkeypatch):
    """A real, tiny sweep of TED policies on the dialogue fixture, then a resume that trains
    nothing."""
    fixture = Path(__file__).parents[1] / "fixtures" / "dialogue"
    arguments = dict(
        config={"epochs": 3, "batch_size": 8},
        domain=fixture / "domain.yml",
        train=fixture / "data" / "stories.yml",
        test=fixture / "data" / "stories.yml",
        densities=[1.0, 0.2],
        sizes=[8],
        out=tmp_path / "sweep",
    )
    from diet_sparse.evaluation.sweep import POLICY, read_rows, sweep_core

    rows = sweep_core(**arguments)
    assert [(row["density"], row["size"]) for row in rows] == [(1.0, 8), (0.2, 8)]
    assert rows[1]["randomly_connected_weights"] < rows[0]["randomly_connected_weights"]
    assert all(0.0 <= row["action_weighted_f1"] <= 1.0 for row in rows)
    assert read_rows(tmp_path / "sweep" / "sweep.csv", POLICY) == rows
    assert {p.name for p in (tmp_path / "sweep").iterdir()} >= set(POLICY.plots.values())

    from diet_sparse import training

    monkeypatch.setattr(training, "train_policy", lambda *a, **k: pytest.fail("trained again"))
    assert sweep_core(**arguments) == rows
