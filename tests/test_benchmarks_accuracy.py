"""The pure helpers of benchmarks/accuracy.py and benchmarks/common.py: subsamples, summary
statistics, argument checks, the table and the baseline; nothing here trains diet-sparse."""

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from diet_sparse.rasa.nlu_data import Example, TrainingData

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


def test_summary_and_table():
    runs = [
        {
            "examples_per_intent": 5,
            "seed": seed,
            "train_examples": 10,
            "diet": dict.fromkeys(accuracy.DIET_METRICS, value),
            "baseline": dict.fromkeys(accuracy.BASELINE_METRICS, value),
        }
        for seed, value in ((42, 0.8), (43, 1.0))
    ]
    summary = accuracy.summarise(runs)
    assert summary[0]["seeds"] == [42, 43]
    assert summary[0]["diet"]["intent_accuracy"]["mean"] == pytest.approx(0.9)
    table = accuracy.format_table(summary).splitlines()
    assert table[1].split()[:4] == ["5", "10", "2", "0.900"]


def test_baseline_learns_the_example_data(example_data):
    scores = accuracy.baseline_scores(example_data.examples, example_data.examples, seed=0)
    assert scores["intent_accuracy"] > 0.9


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
