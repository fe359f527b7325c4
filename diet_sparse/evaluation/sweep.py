"""The connection-density experiment: F1 against trainable weights, one curve per density.

`sweep` (behind ``diet-sparse sweep``) trains one model per (connection density, transformer
size, seed), evaluates it on test data and appends a row to ``sweep.csv`` as soon as the point is
done, so an interrupted sweep resumes where it stopped. After each point it redraws
``sweep_intent.png`` and ``sweep_entity.png`` from the whole CSV: F1 against the number of
connected weights in the randomly connected layers (log x axis), one curve per density, as in
Rasa's figures of randomly connected layers.

Nothing here prints: each finished point goes to the ``on_point`` callback (``diet-sparse sweep``
prints it with `format_point`, and the summary with `format_smallest`), other progress to the
``diet_sparse.evaluation.sweep`` logger.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from diet_sparse.config import DIETConfig, TEDConfig
from diet_sparse.dialogue.rules import TED_ALONE
from diet_sparse.errors import OutputDirectoryError
from diet_sparse.evaluation.options import (
    DEFAULT_DENSITIES,
    DEFAULT_POLICY_SIZES,
    DEFAULT_REPEATS,
    DEFAULT_SIZES,
    check_argument,
)
from diet_sparse.evaluation.options import DEFAULT_SWEEP_OUT as DEFAULT_OUT
from diet_sparse.persistence import atomic_file, check_output_directory, write_json
from diet_sparse.rasa.nlu_data import Example, TrainingData, TrainingDataError, load_training_data

logger = logging.getLogger(__name__)

POINT_COLUMNS = ("density", "size", "seed", "randomly_connected_weights", "total_trainable_weights")


@dataclass(frozen=True)
class SweepKind:
    """What is swept: the model's metric columns, their plots, and how one point is trained and
    scored (``run_point(config, train_data, test_data, progress)`` -> the metrics, the weight
    counts and the training seconds).
    """

    name: str
    metrics: tuple[str, ...]
    plots: dict[str, str]  # metric -> PNG file name
    run_point: Callable[..., tuple[dict[str, float], dict[str, int], float]]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*POINT_COLUMNS, *self.metrics, "train_seconds")


def _nlu_point(config, training_data, test_data, progress) -> tuple[dict, dict]:
    from diet_sparse.evaluation.nlu import evaluate
    from diet_sparse.training import train as train_model  # TensorFlow: now it is needed

    started = time.perf_counter()
    nlu = train_model(training_data, config, progress=progress)
    seconds = time.perf_counter() - started
    summary = evaluate(nlu, test_data)["summary"]
    metrics = {
        "intent_weighted_f1": summary["intent_weighted_f1"],
        "entity_micro_f1": summary.get("entity_micro_f1", math.nan),
    }
    return metrics, trainable_weights(nlu), seconds


def _policy_point(config, training_data, test_data, progress) -> tuple[dict, dict]:
    from diet_sparse.evaluation.dialogue import evaluate_policy
    from diet_sparse.training import train_policy  # TensorFlow: now it is needed

    domain, stories = training_data
    started = time.perf_counter()
    # the network's F1 against its weights: TED alone, without rules and memorized stories
    config = dataclasses.replace(config, **TED_ALONE)
    policy = train_policy(domain, stories, config, progress=progress)
    seconds = time.perf_counter() - started
    summary = evaluate_policy(policy, test_data)["summary"]
    metrics = {name: summary[name] for name in POLICY.metrics}
    return metrics, trainable_weights(policy), seconds


NLU = SweepKind(
    "nlu",
    ("intent_weighted_f1", "entity_micro_f1"),
    {"intent_weighted_f1": "sweep_intent.png", "entity_micro_f1": "sweep_entity.png"},
    _nlu_point,
)
POLICY = SweepKind(
    "policy",
    ("action_weighted_f1", "action_accuracy", "conversation_accuracy"),
    {
        "action_weighted_f1": "sweep_action_f1.png",
        "conversation_accuracy": "sweep_conversations.png",
    },
    _policy_point,
)
COLUMNS = NLU.columns  # the NLU sweep's, as before
PLOTS = NLU.plots
CSV_NAME = "sweep.csv"
SETTINGS_NAME = "sweep_settings.json"

PointCallback = Callable[[dict[str, Any], int, int], None]


def sweep(
    config=None,
    train: str | Path | Sequence[str | Path] = (),
    test: str | Path | Sequence[str | Path] = (),
    densities: Sequence[float] = DEFAULT_DENSITIES,
    sizes: Sequence[int] = DEFAULT_SIZES,
    repeats: int = DEFAULT_REPEATS,
    out: str | Path = DEFAULT_OUT,
    epochs: int | None = None,
    subsample: float | int | None = None,
    dataset_name: str | None = None,
    progress: bool = False,
    on_point: PointCallback | None = None,
) -> list[dict[str, Any]]:
    """Train and evaluate one model per (density, transformer size, seed); write CSV and plots.

    Each point takes the base config with ``connection_density`` = the density,
    ``transformer_size`` = the size, ``random_seed`` = the config's seed + r for r in
    ``range(repeats)``, and ``number_of_attention_heads`` = the largest number not above the
    config's that divides the size (4 heads stay 4 down to size 4; size 2 gets 2 heads).
    ``dense_dimension`` and every other key keep the config's value, so only the encoder grows.
    Trainable weights are counted as the connected (unmasked) weights of the randomly connected
    layers, as in Rasa's figures; ``total_trainable_weights`` counts every trainable weight,
    again without the disconnected ones.

    Points already in ``out/sweep.csv`` are skipped. ``out/sweep_settings.json`` records the
    base config, data and subsample; resuming with different ones is refused, since their rows
    would not be comparable. Every argument, every point's config, ``out`` and the training and
    test data are checked before the first point trains.

    Args:
        config: base config: a `DIETConfig`, a dict of config values, a YAML path or None.
        train: training data files or directories.
        test: test data files or directories.
        densities: connection densities, each in [0, 1].
        sizes: transformer sizes (``transformer_size``), each >= 1.
        repeats: seeds per point; the plots draw their mean with a min-max band.
        out: directory for ``sweep.csv``, ``sweep_settings.json`` and the two plots.
        epochs: overrides the config's ``epochs``.
        subsample: train on a stratified subsample of the training data: a fraction in (0, 1]
            or a number of examples (>= 1). Every intent keeps at least one example; the same
            examples are chosen on every run (seeded by the config's ``random_seed``).
        dataset_name: name in the plot titles; default: the name of the training data's folder.
        progress: show each model's training progress bar.
        on_point: called with ``(row, n, total)`` after the n-th of the ``total`` points this
            call trains is written; `format_point` makes the line ``diet-sparse sweep`` prints.

    Returns:
        Every row of ``sweep.csv`` (earlier runs included), as dicts of numbers.

    Raises:
        ConfigError: an argument or a point's config is not allowed.
        TrainingDataError: the training or test data cannot be read.
        OutputDirectoryError: ``out`` is a file, or holds a sweep made with other settings.
        OutputPermissionError: ``out`` cannot be written.

    Example:
        >>> rows = sweep("configs/default.yml", train=["train.yml"], test=["test.yml"],
        ...              densities=[1.0, 0.2], sizes=[16, 64], epochs=20, out="sweep",
        ...              on_point=lambda row, n, total: print(format_point(row, n, total))
        ...              )  # doctest: +SKIP
        >>> print(format_smallest(rows))  # doctest: +SKIP
    """
    from diet_sparse.evaluation.nlu import load_test_data

    if subsample is not None:
        check_argument("subsample", subsample)
    train_paths, test_paths = _paths(train, "train"), _paths(test, "test")

    def read_data(base: dict[str, Any]):
        training_data = load_training_data(train_paths)
        if subsample is not None:
            before = len(training_data.examples)
            training_data = stratified_subsample(training_data, subsample, base["random_seed"])
            logger.info(
                "Training on a stratified subsample: %d of %d examples",
                len(training_data.examples),
                before,
            )
        return training_data, load_test_data(test_paths)

    return _sweep(
        NLU,
        config,
        DIETConfig,
        read_data,
        {
            "train": [str(Path(p).resolve()) for p in train_paths],
            "test": [str(Path(p).resolve()) for p in test_paths],
            "subsample": subsample,
        },
        densities,
        sizes,
        repeats,
        out,
        epochs,
        dataset_name or _dataset_name(train_paths),
        progress,
        on_point,
    )


def sweep_core(
    config=None,
    domain: str | Path | Sequence[str | Path] = (),
    train: str | Path | Sequence[str | Path] = (),
    test: str | Path | Sequence[str | Path] = (),
    densities: Sequence[float] = DEFAULT_DENSITIES,
    sizes: Sequence[int] = DEFAULT_POLICY_SIZES,
    repeats: int = DEFAULT_REPEATS,
    out: str | Path = DEFAULT_OUT,
    epochs: int | None = None,
    dataset_name: str | None = None,
    progress: bool = False,
    on_point: PointCallback | None = None,
) -> list[dict[str, Any]]:
    """`sweep` for the TED dialogue policy: one policy per (density, transformer size, seed),
    trained on the ``train`` stories and scored on the ``test`` stories (action-level weighted
    F1 and accuracy, conversation accuracy, as ``diet-sparse test core``); ``sweep.csv``,
    ``sweep_action_f1.png`` and ``sweep_conversations.png`` in ``out``, resumable.

    Args:
        config: base `TEDConfig`: an object, a dict of config values, a YAML path or None.
        domain: the ``domain.yml`` files / folders.
        train: training stories (files / folders); test: test stories.
        densities, sizes, repeats, out, epochs, dataset_name, progress, on_point: as `sweep`.

    Example:
        >>> rows = sweep_core(None, "domain.yml", "train_stories.yml", "test_stories.yml",
        ...                   sizes=[8, 16, 32], repeats=3, out="sweep_ted")  # doctest: +SKIP
    """
    from diet_sparse.rasa.domain import load_domain
    from diet_sparse.rasa.stories import load_stories, validate_stories

    domain_paths = _paths(domain, "domain")
    train_paths, test_paths = _paths(train, "train"), _paths(test, "test")

    def read_data(base: dict[str, Any]):
        loaded_domain = load_domain(domain_paths, data=train_paths)  # with its responses
        stories, test_stories = load_stories(train_paths), load_stories(test_paths)
        validate_stories(stories, loaded_domain)
        validate_stories(test_stories, loaded_domain)
        return (loaded_domain, stories), test_stories

    return _sweep(
        POLICY,
        config,
        TEDConfig,
        read_data,
        {
            "domain": [str(Path(p).resolve()) for p in domain_paths],
            "train": [str(Path(p).resolve()) for p in train_paths],
            "test": [str(Path(p).resolve()) for p in test_paths],
        },
        densities,
        sizes,
        repeats,
        out,
        epochs,
        dataset_name or _dataset_name(train_paths),
        progress,
        on_point,
    )


def _sweep(
    kind: SweepKind,
    config,
    config_kind: type,
    read_data: Callable[[dict[str, Any]], tuple[Any, Any]],
    data_settings: dict[str, Any],
    densities: Sequence[float],
    sizes: Sequence[int],
    repeats: int,
    out: str | Path,
    epochs: int | None,
    title: str,
    progress: bool,
    on_point: PointCallback | None,
) -> list[dict[str, Any]]:
    """The sweep of either kind: every argument, point config, ``out`` and the data are checked
    before the first point trains; rows are appended as points finish."""
    from diet_sparse.config import as_config

    densities, sizes = list(densities), list(sizes)
    for name, values in (("densities", densities), ("sizes", sizes)):
        for value in values:
            check_argument(name, value)
    densities = [float(density) for density in densities]
    check_argument("repeats", repeats)
    if epochs is not None:
        check_argument("epochs", epochs)
    base = as_config(config, kind=config_kind).to_dict()
    if epochs is not None:
        base["epochs"] = epochs
    out = check_output_directory(out)
    csv_path = out / CSV_NAME
    rows = read_rows(csv_path, kind)
    done = {(row["density"], row["size"], row["seed"]) for row in rows}
    points = [
        (density, size, base["random_seed"] + r)
        for density in densities
        for size in sizes
        for r in range(repeats)
    ]
    todo = [point for point in points if point not in done]
    configs = {  # every point's config is validated before the first one trains
        point: as_config(
            dict(
                base,
                connection_density=point[0],
                transformer_size=point[1],
                number_of_attention_heads=attention_heads(
                    point[1], base["number_of_attention_heads"]
                ),
                random_seed=point[2],
            ),
            kind=config_kind,
        )
        for point in todo
    }
    if len(todo) < len(points):
        logger.info("%d of %d points already in %s", len(points) - len(todo), len(points), csv_path)
    if todo:  # read before anything is written, so a bad path leaves no trace
        training_data, test_data = read_data(base)
    out.mkdir(parents=True, exist_ok=True)
    point_keys = ("connection_density", "transformer_size", "number_of_attention_heads")
    settings = {"config": _without(base, *point_keys, "random_seed"), **data_settings}
    _check_settings(out / SETTINGS_NAME, settings, resuming=bool(rows))

    for n, (density, size, seed) in enumerate(todo, start=1):
        metrics, counts, seconds = kind.run_point(
            configs[density, size, seed], training_data, test_data, progress
        )
        row = {
            "density": density,
            "size": size,
            "seed": seed,
            "randomly_connected_weights": counts["randomly_connected"],
            "total_trainable_weights": counts["total"],
            **metrics,
            "train_seconds": round(seconds, 2),
        }
        _append_row(csv_path, row, kind)
        rows.append(row)
        if on_point is not None:
            on_point(row, n, len(todo))
        plot_rows(rows, out, title, kind)
    if not todo:
        plot_rows(rows, out, title, kind)
    return rows


SHORT_NAMES = {
    "intent_weighted_f1": "intent F1",
    "entity_micro_f1": "entity F1",
    "action_weighted_f1": "action F1",
    "action_accuracy": "action accuracy",
    "conversation_accuracy": "conversations",
}


def format_point(row: dict[str, Any], n: int, total: int, kind: SweepKind = NLU) -> str:
    """The line of one finished point: ``[n/total] density, size, seed: weights, F1, time``.

    Example:
        >>> format_point({"density": 0.2, "size": 8, "seed": 42, "randomly_connected_weights":
        ...     1234, "intent_weighted_f1": 0.9, "entity_micro_f1": 0.8, "train_seconds": 3.2},
        ...     1, 4)
        '[1/4] density 0.2, size 8, seed 42: 1,234 connected weights, intent F1 0.900, entity F1 0.800, 3.2 s'
    """  # noqa: E501
    metrics = ", ".join(f"{SHORT_NAMES[name]} {row[name]:.3f}" for name in kind.metrics)
    return (
        f"[{n}/{total}] density {row['density']:g}, size {row['size']}, seed {row['seed']}: "
        f"{row['randomly_connected_weights']:,} connected weights, {metrics}, "
        f"{row['train_seconds']:.1f} s"
    )


def format_smallest(rows: Sequence[dict[str, Any]], kind: SweepKind = NLU) -> str:
    """Per metric and density, the fewest connected weights within 1 F1 point of the best dense
    model (`smallest_within_best_dense`), as ``diet-sparse sweep`` prints it after a sweep.
    """
    lines = []
    for metric in kind.plots:
        lines.append(
            f"{metric}: fewest connected weights within 1 F1 point of the best dense model"
        )
        for density, found in smallest_within_best_dense(rows, metric).items():
            shown = "never" if found is None else f"{found[1]:,} weights (size {found[0]})"
            lines.append(f"  density {density:g}: {shown}")
    return "\n".join(lines)


def smallest_within_best_dense(
    rows: Sequence[dict[str, Any]], metric: str, tolerance: float = 0.01
) -> dict[float, tuple[int, int] | None]:
    """Per density, the (size, connected weights) of the smallest point whose mean ``metric``
    over seeds is within ``tolerance`` of the best density-1.0 point; None if none is.

    Example:
        >>> rows = [
        ...     {"density": 1.0, "size": 8, "randomly_connected_weights": 900, "f1": 0.90},
        ...     {"density": 0.2, "size": 8, "randomly_connected_weights": 200, "f1": 0.85},
        ...     {"density": 0.2, "size": 16, "randomly_connected_weights": 500, "f1": 0.895},
        ... ]
        >>> smallest_within_best_dense(rows, "f1")
        {1.0: (8, 900), 0.2: (16, 500)}
    """
    means: dict[tuple[float, int], list[float]] = defaultdict(list)
    weights: dict[tuple[float, int], int] = {}
    for row in rows:
        if not math.isnan(float(row[metric])):
            key = (float(row["density"]), int(row["size"]))
            means[key].append(float(row[metric]))
            weights[key] = int(row["randomly_connected_weights"])
    scores = {key: float(np.mean(values)) for key, values in means.items()}
    dense = [score for (density, _), score in scores.items() if density == 1.0]
    if not dense:
        return {}
    target = max(dense) - tolerance
    found: dict[float, tuple[int, int] | None] = {}
    for density in sorted({density for density, _ in scores}, reverse=True):
        close = [(weights[key], key[1]) for key, score in scores.items()
                 if key[0] == density and score >= target]  # fmt: skip
        found[density] = (min(close)[1], min(close)[0]) if close else None
    return found


def trainable_weights(nlu) -> dict[str, int]:
    """``{"randomly_connected", "randomly_connected_if_dense", "total"}`` of a trained model:
    the counts `train` records in the model's metadata.
    """
    counts = nlu.metadata.get("trainable_weights")
    if counts is None:
        raise ValueError(
            "the model's metadata has no 'trainable_weights': it was not made by "
            "diet_sparse.train, which records them"
        )
    return counts


def attention_heads(size: int, most: int) -> int:
    """The largest number of attention heads, at most ``most``, that divides ``size``.

    Example:
        >>> attention_heads(64, 4), attention_heads(6, 4), attention_heads(2, 4)
        (4, 3, 2)
    """
    return max(h for h in range(1, min(size, most) + 1) if size % h == 0)


def stratified_subsample(data: TrainingData, size: float | int, seed: int) -> TrainingData:
    """The same share of every intent's examples, chosen at random with ``seed``.

    Args:
        data: training data to sample from; synonyms, regexes and lookups are kept whole.
        size: a fraction in (0, 1], or a number of examples >= 1 (more than there are keeps
            everything).
        seed: seeds the choice, so the same call returns the same examples.

    Returns:
        A `TrainingData` whose examples keep their original order. Every intent keeps at least
        one example, so the subsample can be a little larger than asked.

    Example:
        >>> half = stratified_subsample(data, 0.5, seed=42)  # doctest: +SKIP
    """
    check_argument("subsample", size)
    n = len(data.examples)
    if isinstance(size, float) and size <= 1.0:
        fraction = size
    else:
        fraction = min(1.0, int(size) / n) if n else 1.0
    by_intent: dict[str | None, list[int]] = defaultdict(list)
    for i, example in enumerate(data.examples):
        by_intent[example.intent].append(i)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for intent in sorted(by_intent, key=lambda name: name or ""):
        indices = by_intent[intent]
        keep = max(1, round(fraction * len(indices)))
        chosen += [indices[j] for j in rng.permutation(len(indices))[:keep]]
    examples: list[Example] = [data.examples[i] for i in sorted(chosen)]
    return TrainingData(examples, data.synonyms, data.regexes, data.lookups)


def read_rows(path: str | Path, kind: SweepKind = NLU) -> list[dict[str, Any]]:
    """The rows of a ``sweep.csv`` as dicts of numbers; no file means no rows."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        if tuple(reader.fieldnames or ()) != kind.columns:
            raise OutputDirectoryError(
                f"{path} has columns {reader.fieldnames}, expected {list(kind.columns)}; "
                "move it away or choose another output directory"
            )
        return [
            {
                name: int(value) if name in ("size", "seed") or name.endswith("weights") else
                float(value)
                for name, value in row.items()
            }
            for row in reader
        ]  # fmt: skip


def plot_rows(
    rows: Sequence[dict[str, Any]], out: str | Path, dataset_name: str, kind: SweepKind = NLU
) -> list[Path]:
    """Draw the kind's plots (``sweep_intent.png`` and ``sweep_entity.png`` for NLU) in
    ``out`` from sweep rows."""
    from diet_sparse.evaluation.plots import METRIC_LABELS, plot_sweep

    return [
        plot_sweep(rows, metric, Path(out) / name, f"{dataset_name}: {METRIC_LABELS[metric]}")
        for metric, name in kind.plots.items()
    ]


def _append_row(path: Path, row: dict[str, Any], kind: SweepKind = NLU) -> None:
    """Add ``row`` to the sweep's CSV, rewriting it atomically: a full disk or an interrupted
    write leaves the rows before it whole, which a resumed sweep reads."""
    written = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = io.StringIO()
    writer = csv.DictWriter(lines, fieldnames=kind.columns)
    if not written:
        writer.writeheader()
    writer.writerow(row)
    with atomic_file(path) as temporary:
        temporary.write_text(written + lines.getvalue(), encoding="utf-8", newline="")


def _check_settings(path: Path, settings: dict[str, Any], resuming: bool) -> None:
    """Record the sweep's settings, or, ``resuming`` a sweep with rows, refuse other settings."""
    settings = json.loads(json.dumps(settings))  # the form they take when read back
    if resuming and path.exists():
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if recorded != settings:
            changed = sorted(
                key
                for key in set(recorded) | set(settings)
                if recorded.get(key) != settings.get(key)
            )
            config_keys = sorted(
                key
                for key in set(recorded.get("config", {})) | set(settings["config"])
                if recorded.get("config", {}).get(key) != settings["config"].get(key)
            )
            detail = f" (config keys: {', '.join(config_keys)})" if config_keys else ""
            raise OutputDirectoryError(
                f"{path.parent} holds a sweep made with other settings: {', '.join(changed)} "
                f"differ{detail}; choose another output directory to start a new sweep"
            )
    else:
        write_json(path, settings)


def _without(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in keys}


def _paths(paths: str | Path | Sequence[str | Path], name: str) -> list[str | Path]:
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise TrainingDataError(f"no {name} data given")
    return paths


def _dataset_name(paths: Sequence[str | Path]) -> str:
    """The folder of the first training data path: ``datasets/sara/train.yml`` -> ``sara``."""
    path = Path(paths[0]).resolve()
    return path.parent.name if path.is_file() else path.name
