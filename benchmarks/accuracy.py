"""Test accuracy of diet-sparse over several seeds and training-set sizes, beside a TF-IDF +
logistic-regression intent baseline trained on the very same data.

    python benchmarks/accuracy.py            # SNIPS, configs/default.yml, 3 seeds, full data
    python benchmarks/accuracy.py --dataset sara --epochs 20 --seeds 5
    python benchmarks/accuracy.py --dataset atis --examples-per-intent 5 10 20 full
    python benchmarks/accuracy.py --config configs/dense.yml --set drop_rate=0.1 --tag drop01
    python benchmarks/accuracy.py --train path/train.yml [more.yml] --test path/test.yml

For every training-set size (``--examples-per-intent K``: at most K examples of each intent,
chosen at random with the run's seed; ``full`` or 0 = the whole training set) and every seed
(the config's ``random_seed`` + 0 .. N-1) it trains diet-sparse and the baseline on the same
examples and scores both on the whole test set: intent accuracy and weighted F1, and for
diet-sparse entity micro precision, recall and F1 on exact spans, training time and throughput
(training examples x epochs / second), and the median and p99 time to parse one message (the
first 300 test messages, one at a time, in this process: one thread for BLAS, ONNX Runtime's
default threads). A dataset's ``train_extras.yml`` (Sara's synonyms,
lookups and regexes), when there is one, is read with its ``train.yml``.

Prints one line per run and a table of means and sample standard deviations (n - 1) over the
seeds, and writes benchmarks/results/accuracy_<dataset>_<config>[_<tag>].json (or ``--out``):
the command, machine, reference workload time at start and end, resolved config and every
run's figures. The file is rewritten after every run, so an interrupted benchmark keeps the
runs it finished (``"complete": false``).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    RESULTS,
    ROOT,
    cap_per_intent,
    dataset,
    latency_ms,
    machine,
    mean_and_std,
    reference_seconds,
    write_json,
)

from diet_sparse.config import ConfigError, DIETConfig, as_config
from diet_sparse.evaluation.nlu import entity_report, intent_report, load_test_data
from diet_sparse.rasa.nlu_data import Example, TrainingData, TrainingDataError, load_training_data

DIET_METRICS = (
    "intent_accuracy",
    "intent_weighted_f1",
    "entity_micro_precision",
    "entity_micro_recall",
    "entity_micro_f1",
    "train_seconds",
    "train_examples_per_second",
    "parse_median_ms",
    "parse_p99_ms",
)
LATENCY_MESSAGES = 300  # test messages parsed one at a time for the latency figures
BASELINE_METRICS = ("intent_accuracy", "intent_weighted_f1", "train_seconds")
FULL = "full"  # --examples-per-intent value (and JSON value) for the whole training set
STD = "sample standard deviation over the seeds (n - 1 denominator); null for a single seed"
TAG = re.compile(r"[A-Za-z0-9._-]+")


# --- Arguments -----------------------------------------------------------------------------------


def examples_per_intent(text: str) -> int | None:
    """An ``--examples-per-intent`` value: a whole number >= 1, or None for ``full`` / 0.

    Example:
        >>> examples_per_intent("10"), examples_per_intent("full"), examples_per_intent("0")
        (10, None, None)
    """
    if text.lower() == FULL:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0 or 'full', got {text!r}")
    return value or None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", help="folder name under the datasets: snips, atis or sara (default snips)"
    )
    parser.add_argument(
        "--train", nargs="+", help="training data files (default: <dataset>/train.yml)"
    )
    parser.add_argument("--test", help="test data (default: <dataset>/test.yml)")
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--epochs", type=positive_int, help="override the config's epochs")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override config values (YAML values)",
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=3,
        help="runs per size, seeded random_seed + 0 .. N-1 (default 3)",
    )
    parser.add_argument(
        "--examples-per-intent",
        nargs="+",
        type=examples_per_intent,
        default=[None],
        metavar="K",
        help="train on at most K examples per intent; 'full' or 0 = all (default full)",
    )
    parser.add_argument("--tag", help="suffix of the result file's name, for variants")
    parser.add_argument("--out", type=Path, help="result file (overrides the default name)")
    args = parser.parse_args(argv)
    if args.tag is not None and not TAG.fullmatch(args.tag):
        parser.error(f"--tag may hold only letters, digits, '.', '_' and '-', got {args.tag!r}")
    for item in args.set:
        if "=" not in item or not item.partition("=")[0]:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
    args.examples_per_intent = list(dict.fromkeys(args.examples_per_intent))  # once each
    return args


def build_config(args: argparse.Namespace) -> DIETConfig:
    """The config file with ``--epochs`` and ``--set`` applied, validated."""
    import yaml

    try:
        values = as_config(args.config).to_dict()
        if args.epochs is not None:
            values["epochs"] = args.epochs
        for item in args.set:
            key, _, value = item.partition("=")
            values[key] = yaml.safe_load(value)
        return as_config(values)
    except (ConfigError, yaml.YAMLError) as error:
        raise SystemExit(f"accuracy.py: {error}") from None


def data_paths(args: argparse.Namespace) -> tuple[str, list[Path], Path]:
    """The dataset's name (for the result file) and the training and test files, all present."""
    name = args.dataset or "snips"
    if args.train:
        train = [Path(path) for path in args.train]
    else:
        train = [dataset(name, "train")]
        extras = train[0].with_name("train_extras.yml")
        if extras.is_file():
            train.append(extras)
    test = Path(args.test) if args.test else dataset(name, "test")
    for path in (*train, test):
        if not path.exists():
            raise SystemExit(f"accuracy.py: data file {path} not found")
    if args.dataset is None and (args.train or args.test):
        name = test.resolve().parent.name  # e.g. .../sara/test.yml -> sara
    return name, train, test


def output_path(args: argparse.Namespace, name: str) -> Path:
    """Where the results go, checked to be writable before anything is trained."""
    tag = f"_{args.tag}" if args.tag else ""
    path = args.out or RESULTS / f"accuracy_{name}_{Path(args.config).stem}{tag}.json"
    if path.is_dir():
        raise SystemExit(f"accuracy.py: --out {path} is a directory; name a .json file")
    existing = path.parent.resolve()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SystemExit(f"accuracy.py: cannot create {path.parent}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SystemExit(f"accuracy.py: cannot write to {existing}: permission denied")
    return path


def load_data(train: list[Path], test: Path) -> tuple[TrainingData, TrainingData]:
    try:
        return load_training_data(train), load_test_data(test)
    except TrainingDataError as error:
        raise SystemExit(f"accuracy.py: {error}") from None


# --- Measuring -----------------------------------------------------------------------------------


def diet_scores(train_data: TrainingData, test_data: TrainingData, config: DIETConfig) -> dict:
    """Train diet-sparse on ``train_data`` and score it on ``test_data``."""
    from diet_sparse.training import train  # TensorFlow: only once the arguments are checked

    started = time.perf_counter()
    nlu = train(train_data, config, progress=False)
    seconds = time.perf_counter() - started
    texts = [example.text for example in test_data.examples]
    results = nlu.parse_batch(texts)
    intents = intent_report(test_data.examples, results)
    entities = entity_report(test_data.examples, results)["micro avg"]
    latency = latency_ms(nlu.parse, texts[:LATENCY_MESSAGES])
    return {
        "intent_accuracy": intents["accuracy"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "entity_micro_precision": entities["precision"],
        "entity_micro_recall": entities["recall"],
        "entity_micro_f1": entities["f1-score"],
        "train_seconds": seconds,
        "train_examples_per_second": len(train_data.examples) * config.epochs / seconds,
        # the epochs after the first (which traces the training step), as performance.py
        "train_examples_per_second_after_first_epoch": after_first_epoch(
            len(train_data.examples), nlu.metadata["history"]
        ),
        "parse_median_ms": latency["median_ms"],
        "parse_p99_ms": latency["p99_ms"],
    }


def after_first_epoch(examples: int, history: list[dict]) -> float | None:
    """Training examples per second over the epochs after the first (None with one epoch)."""
    seconds = sum(epoch["seconds"] for epoch in history[1:])
    return examples * (len(history) - 1) / seconds if seconds else None


def baseline_pipeline(seed: int):
    """TF-IDF of word 1-2-grams and of character 1-4-grams within word boundaries, into a
    logistic regression (C=10): the usual strong bag-of-n-grams intent classifier."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2))),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4))),
        ]
    )
    return make_pipeline(features, LogisticRegression(C=10, max_iter=2000, random_state=seed))


def baseline_scores(train: list[Example], test: list[Example], seed: int) -> dict:
    """Train the baseline on ``train`` and score its intents on ``test`` as diet-sparse's are."""
    pipeline = baseline_pipeline(seed)
    started = time.perf_counter()
    pipeline.fit([example.text for example in train], [example.intent or "" for example in train])
    seconds = time.perf_counter() - started
    predicted = pipeline.predict([example.text for example in test])
    intents = intent_report(test, [{"intent": {"name": str(name)}} for name in predicted])
    return {
        "intent_accuracy": intents["accuracy"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "train_seconds": seconds,
    }


# --- Reporting -----------------------------------------------------------------------------------


def size_label(limit: int | None) -> int | str:
    return FULL if limit is None else limit


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and sample standard deviation of every figure, per training-set size, in run order."""
    sizes = list(dict.fromkeys(run["examples_per_intent"] for run in runs))
    summary = []
    for size in sizes:
        group = [run for run in runs if run["examples_per_intent"] == size]
        summary.append(
            {
                "examples_per_intent": size,
                "train_examples": group[0]["train_examples"],
                "seeds": [run["seed"] for run in group],
                "diet": {m: mean_and_std([run["diet"][m] for run in group]) for m in DIET_METRICS},
                "baseline": {
                    m: mean_and_std([run["baseline"][m] for run in group]) for m in BASELINE_METRICS
                },
            }
        )
    return summary


def format_table(summary: list[dict]) -> str:
    """One row per training-set size: means ± sample standard deviations over the seeds.

    Example:
        >>> figure = {"mean": 0.9, "std": 0.01}
        >>> print(format_table([{"examples_per_intent": 5, "train_examples": 35, "seeds": [1, 2],
        ...     "diet": {"intent_accuracy": figure, "entity_micro_f1": figure,
        ...              "train_seconds": {"mean": 12.0, "std": 1.0}},
        ...     "baseline": {"intent_accuracy": figure}}]))
        per intent  train ex  seeds  intent acc      entity F1       baseline acc    train s
        5                 35      2  0.900 ± 0.010   0.900 ± 0.010   0.900 ± 0.010      12.0
    """

    def shown(figure: dict) -> str:
        std = "  -  " if figure["std"] is None else f"{figure['std']:.3f}"
        return f"{figure['mean']:.3f} ± {std}"

    lines = [
        f"{'per intent':<10}{'train ex':>10}{'seeds':>7}  {'intent acc':<16}{'entity F1':<16}"
        f"{'baseline acc':<16}{'train s':>7}"
    ]
    for row in summary:
        diet, baseline = row["diet"], row["baseline"]
        lines.append(
            f"{row['examples_per_intent']!s:<10}{row['train_examples']:>10}{len(row['seeds']):>7}"
            f"  {shown(diet['intent_accuracy']):<16}{shown(diet['entity_micro_f1']):<16}"
            f"{shown(baseline['intent_accuracy']):<16}{diet['train_seconds']['mean']:>7.1f}"
        )
    return "\n".join(lines)


def git_commit() -> str | None:
    """The checked-out commit, with ``-dirty`` when files differ from it; None outside git."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return described.stdout.strip() or None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_header(benchmark: str, command: list[str], name: str, train_paths, test_path) -> dict:
    """The first fields of a benchmark's JSON record: what ran, on which commit and machine,
    when (``finished`` and ``complete`` set at the end), how fast the machine was at the
    start, and on which data."""
    return {
        "benchmark": benchmark,
        "command": shlex.join(command),
        "commit": git_commit(),
        "started": now(),
        "finished": None,
        "complete": False,
        "machine": machine(),
        "reference_seconds": {"start": reference_seconds(), "end": None},
        "dataset": name,
        "train": [str(p) for p in train_paths],
        "test": str(test_path),
    }


# --- Main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    command = ["python", *sys.argv] if argv is None else ["python", __file__, *argv]
    args = parse_arguments(argv)
    config = build_config(args)
    name, train_paths, test_path = data_paths(args)
    path = output_path(args, name)
    train_data, test_data = load_data(train_paths, test_path)
    seeds = [config.random_seed + i for i in range(args.seeds)]

    import diet_sparse.training  # noqa: F401  TensorFlow loads here, not in the first run's time

    record = {
        **run_header("accuracy", command, name, train_paths, test_path),
        "train_examples": len(train_data.examples),
        "test_examples": len(test_data.examples),
        "config": config.to_dict(),
        "seeds": seeds,
        "examples_per_intent": [size_label(limit) for limit in args.examples_per_intent],
        "std": STD,
        "baseline": "TF-IDF word 1-2-grams + char_wb 1-4-grams, LogisticRegression(C=10)",
        "runs": [],
        "summary": [],
    }
    write_json(path, record)
    print(
        f"{name}: {len(train_data.examples)} training, {len(test_data.examples)} test examples; "
        f"{len(seeds)} seeds x {len(args.examples_per_intent)} sizes; results in {path}",
        flush=True,
    )
    for limit in args.examples_per_intent:
        for seed in seeds:
            subsample = cap_per_intent(train_data, limit, seed)
            seeded = as_config({**config.to_dict(), "random_seed": seed})
            diet = diet_scores(subsample, test_data, seeded)
            baseline = baseline_scores(subsample.examples, test_data.examples, seed)
            run = {
                "examples_per_intent": size_label(limit),
                "seed": seed,
                "train_examples": len(subsample.examples),
                "diet": diet,
                "baseline": baseline,
            }
            record["runs"].append(run)
            record["summary"] = summarise(record["runs"])
            write_json(path, record)
            print(
                f"per intent {run['examples_per_intent']}, seed {seed}: "
                f"intent acc {diet['intent_accuracy']:.3f}, entity F1 {diet['entity_micro_f1']:.3f}"
                f", {diet['train_seconds']:.1f} s; baseline intent acc "
                f"{baseline['intent_accuracy']:.3f}",
                flush=True,
            )
    record["reference_seconds"]["end"] = reference_seconds()
    record["finished"] = now()
    record["complete"] = True
    write_json(path, record)
    print()
    print(format_table(record["summary"]))
    print(
        "\nmean ± sample standard deviation over seeds; reference workload (s, start / end): "
        f"{record['reference_seconds']['start']:.3f} / {record['reference_seconds']['end']:.3f}"
    )
    print("written", path)


if __name__ == "__main__":
    main()
