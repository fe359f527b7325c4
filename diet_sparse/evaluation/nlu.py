"""Evaluation: how well a model's parse results match annotated test data.

Intents are scored with scikit-learn's classification report. Entities are scored on exact
spans: a predicted entity counts only if its start, end and type all equal a gold entity's, so
a partly overlapping span is both a false positive and a false negative. Roles and groups are
scored the same way, on (start, end, role) and (start, end, group).

`evaluate` parses test data with a model and returns the reports and errors; `test` (behind
``diet-sparse test``) loads a model directory, evaluates it and writes, in its ``out`` directory:

    intent_report.json          per intent precision, recall, F1, support; accuracy, macro and
                                weighted averages (scikit-learn's classification report)
    intent_errors.json          misclassified messages: text, gold intent, predicted intent and
                                confidence, most confident errors first
    entity_report.json          per entity type precision, recall, F1, support on exact spans;
                                micro, macro and weighted averages
    role_report.json            the same for entity roles, only when the test data or the
    group_report.json           predictions have roles (groups); separate files, so that a role
                                can never collide with an entity type of the same name
    entity_errors.json          messages whose predicted entities (span, type, role, group) differ
                                from the gold ones, both listed
    fallback_report.json        for several fallback_threshold / ambiguity_threshold values, how
                                many messages would fall back to nlu_fallback and the intent
                                accuracy of the rest: to choose thresholds
    intent_confusion_matrix.png gold against predicted intents
    intent_histogram.png        confidence of correct and of wrong intent predictions

`cross_validate` (``diet-sparse test --cross-validation``) trains one model per stratified fold,
writes the mean and standard deviation of each metric to ``cross_validation.json`` and the
same reports as `test` for the pooled test-fold predictions (each message is tested once).

Reports of an earlier run in the same ``out`` that this run does not write (a role report when
the new test data has no roles) are removed, so the directory never mixes two runs. Nothing
here prints: progress goes to the ``diet_sparse.evaluation.nlu`` logger, and `format_summary` /
`format_cross_validation` make the tables that ``diet-sparse test`` prints.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diet_sparse.evaluation.options import DEFAULT_FOLDS, DEFAULT_OUT, check_folds
from diet_sparse.persistence import check_output_directory, write_json
from diet_sparse.rasa.nlu_data import (
    Example,
    TrainingData,
    TrainingDataError,
    TrainingDataWarning,
    load_training_data,
)

logger = logging.getLogger(__name__)

TestDataLike = TrainingData | Sequence[Example] | str | Path | Sequence[str | Path]

REPORT_NAMES = (
    "intent_report",
    "intent_errors",
    "entity_report",
    "role_report",
    "group_report",
    "entity_errors",
    "fallback_report",
)
# thresholds `fallback_report` tries: confidence thresholds alone, then with ambiguity ones
FALLBACK_THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
AMBIGUITY_THRESHOLDS = (0.05, 0.1, 0.2)
PLOT_FILES = ("intent_confusion_matrix.png", "intent_histogram.png")
CROSS_VALIDATION_FILE = "cross_validation.json"
# every file a run may write in ``out``: those this run does not write are an earlier run's
REPORT_FILES = (*(f"{name}.json" for name in REPORT_NAMES), *PLOT_FILES, CROSS_VALIDATION_FILE)


def intent_report(examples: Sequence[Example], results: Sequence[dict]) -> dict[str, Any]:
    """Per-intent precision, recall, F1 and support, plus accuracy and macro/weighted averages.

    Example:
        >>> from diet_sparse.rasa.nlu_data import Example
        >>> report = intent_report(
        ...     [Example("hi", "greet"), Example("bye", "goodbye")],
        ...     [{"intent": {"name": "greet"}}, {"intent": {"name": "greet"}}],
        ... )
        >>> report["accuracy"]
        0.5
    """
    from sklearn.metrics import classification_report  # imported on use: importing it is slow

    gold = [example.intent or "" for example in examples]
    predicted = [result["intent"]["name"] or "" for result in results]
    return classification_report(gold, predicted, output_dict=True, zero_division=0)


def entity_spans(
    examples: Sequence[Example], results: Sequence[dict], attribute: str = "entity"
) -> tuple[set[tuple], set[tuple]]:
    """Gold and predicted ``(message index, start, end, label)`` of an entity attribute.

    ``attribute`` is ``"entity"`` for the type, or ``"role"`` / ``"group"``.
    """
    gold = {
        (i, a.start, a.end, getattr(a, attribute))
        for i, example in enumerate(examples)
        for a in example.entities
        if getattr(a, attribute)
    }
    predicted = {
        (i, e["start"], e["end"], e[attribute])
        for i, result in enumerate(results)
        for e in result["entities"]
        if e.get(attribute)
    }
    return gold, predicted


def _scores(true_positives: int, n_predicted: int, n_gold: int) -> dict[str, float]:
    precision = true_positives / n_predicted if n_predicted else 0.0
    recall = true_positives / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1-score": f1}


def entity_report(
    examples: Sequence[Example], results: Sequence[dict], attribute: str = "entity"
) -> dict[str, Any]:
    """Exact-span precision, recall, F1 and support per label, with micro, macro and weighted
    averages, in the layout of scikit-learn's classification report.
    """
    gold, predicted = entity_spans(examples, results, attribute)
    correct = gold & predicted
    gold_counts = Counter(span[3] for span in gold)
    predicted_counts = Counter(span[3] for span in predicted)
    correct_counts = Counter(span[3] for span in correct)
    labels = sorted(set(gold_counts) | set(predicted_counts))
    report: dict[str, Any] = {
        label: dict(
            _scores(correct_counts[label], predicted_counts[label], gold_counts[label]),
            support=gold_counts[label],
        )
        for label in labels
    }
    support = len(gold)
    report["micro avg"] = dict(_scores(len(correct), len(predicted), support), support=support)
    for average in ("macro avg", "weighted avg"):
        weights = {
            label: (1.0 / len(labels) if average == "macro avg" else
                    (gold_counts[label] / support if support else 0.0))
            for label in labels
        }  # fmt: skip
        report[average] = {
            metric: sum(weights[label] * report[label][metric] for label in labels)
            for metric in ("precision", "recall", "f1-score")
        }
        report[average]["support"] = support
    return report


# --- Errors --------------------------------------------------------------------------------------


def intent_errors(examples: Sequence[Example], results: Sequence[dict]) -> list[dict[str, Any]]:
    """Misclassified messages, most confident first.

    Each error is ``{"text", "intent": gold, "intent_prediction": {"name", "confidence"}}``.

    Example:
        >>> intent_errors(
        ...     [Example("hi", "greet"), Example("bye", "goodbye")],
        ...     [{"intent": {"name": "greet", "confidence": 0.9}},
        ...      {"intent": {"name": "greet", "confidence": 0.6}}],
        ... )
        [{'text': 'bye', 'intent': 'goodbye', 'intent_prediction': {'name': 'greet', 'confidence': 0.6}}]
    """  # noqa: E501
    errors = [
        _intent_prediction(example, result)
        for example, result in zip(examples, results)
        if (example.intent or "") != (result["intent"]["name"] or "")
    ]
    return sorted(errors, key=lambda error: -error["intent_prediction"]["confidence"])


def _intent_prediction(example: Example, result: dict) -> dict[str, Any]:
    return {
        "text": example.text,
        "intent": example.intent,
        "intent_prediction": {
            "name": result["intent"]["name"],
            "confidence": float(result["intent"].get("confidence", 0.0)),
        },
    }


def entity_errors(examples: Sequence[Example], results: Sequence[dict]) -> list[dict[str, Any]]:
    """Messages whose predicted entities differ from the gold ones, in the order of the data.

    Entities are compared on start, end, type, role and group (not on the value, which synonyms
    may change). Each error is ``{"text", "entities": gold, "predicted_entities": predicted}``;
    gold entities are written ``{"start", "end", "value", "entity"}`` plus ``"role"`` and
    ``"group"`` when annotated, predicted ones as in the parse result.
    """
    errors = []
    for example, result in zip(examples, results):
        gold = [_gold_entity(annotation) for annotation in example.entities]
        predicted = result.get("entities", [])
        if Counter(map(_entity_key, gold)) != Counter(map(_entity_key, predicted)):
            errors.append({"text": example.text, "entities": gold, "predicted_entities": predicted})
    return errors


def _gold_entity(annotation) -> dict[str, Any]:
    entity = {
        "start": annotation.start,
        "end": annotation.end,
        "value": annotation.value,
        "entity": annotation.entity,
    }
    for attribute in ("role", "group"):
        if getattr(annotation, attribute):
            entity[attribute] = getattr(annotation, attribute)
    return entity


def _entity_key(entity: dict[str, Any]) -> tuple:
    return tuple(entity.get(key) for key in ("start", "end", "entity", "role", "group"))


# --- Evaluation ----------------------------------------------------------------------------------


def evaluate_results(examples: Sequence[Example], results: Sequence[dict]) -> dict[str, Any]:
    """Reports and errors of parse results against the annotated examples they were parsed from.

    Args:
        examples: annotated test messages.
        results: the parse result of each message (`NLU.parse_batch`), in the same order.

    Returns:
        A dict with ``intent_report``, ``intent_errors``, ``entity_report``, ``entity_errors``,
        ``role_report`` / ``group_report`` (only when gold or predicted entities have roles /
        groups), ``intent_predictions`` (every message in the layout of an intent error, for
        the plots) and ``summary`` (the headline numbers of `summary_metrics`).

    Example:
        >>> evaluation = evaluate_results(
        ...     [Example("hi", "greet"), Example("bye", "goodbye")],
        ...     [{"intent": {"name": "greet", "confidence": 0.9}, "entities": []},
        ...      {"intent": {"name": "greet", "confidence": 0.6}, "entities": []}],
        ... )
        >>> evaluation["summary"]["intent_accuracy"], len(evaluation["intent_errors"])
        (0.5, 1)
    """
    if len(examples) != len(results):
        raise ValueError(
            f"need one parse result per example, got {len(examples)} examples and "
            f"{len(results)} results"
        )
    if not examples:
        raise TrainingDataError("nothing to evaluate: the test data holds no examples")
    evaluation: dict[str, Any] = {
        "intent_report": intent_report(examples, results),
        "intent_errors": intent_errors(examples, results),
        "entity_report": entity_report(examples, results),
        "entity_errors": entity_errors(examples, results),
    }
    for attribute in ("role", "group"):
        gold, predicted = entity_spans(examples, results, attribute)
        if gold or predicted:
            evaluation[f"{attribute}_report"] = entity_report(examples, results, attribute)
    evaluation["intent_predictions"] = [
        _intent_prediction(example, result) for example, result in zip(examples, results)
    ]
    evaluation["fallback_report"] = fallback_report(examples, results)
    evaluation["summary"] = summary_metrics(evaluation)
    return evaluation


def fallback_report(examples: Sequence[Example], results: Sequence[dict]) -> list[dict[str, Any]]:
    """How many messages would fall back to ``nlu_fallback``, and how accurate the intents of
    the others are, for each threshold in `FALLBACK_THRESHOLDS` and each pair of those with
    `AMBIGUITY_THRESHOLDS`. Read from each result's intent ranking (a fallback the model
    already applied is looked through), so one parse serves every threshold.

    Example:
        >>> rows = fallback_report(
        ...     [Example("hi", "greet"), Example("bye", "goodbye")],
        ...     [{"intent_ranking": [{"name": "greet", "confidence": 0.9}]},
        ...      {"intent_ranking": [{"name": "greet", "confidence": 0.4},
        ...                          {"name": "goodbye", "confidence": 0.35}]}],
        ... )
        >>> rows[0]["fallback_threshold"], rows[0]["fallen_back"], rows[1]["fallen_back"]
        (0.3, 0, 1)
        >>> rows[1]["accuracy_of_the_rest"]
        1.0
    """
    from diet_sparse.nlu.parser import FALLBACK_INTENT, fallback_confidence

    ranked = []
    for result in results:
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != FALLBACK_INTENT]
        ranked.append(
            ([r["confidence"] for r in ranking[:2]], ranking[0]["name"] if ranking else None)
        )
    settings = [(threshold, None) for threshold in FALLBACK_THRESHOLDS] + [
        (threshold, ambiguity)
        for threshold in FALLBACK_THRESHOLDS
        for ambiguity in AMBIGUITY_THRESHOLDS
    ]
    rows = []
    for threshold, ambiguity in settings:
        kept = [
            example.intent == predicted
            for example, (top, predicted) in zip(examples, ranked)
            if fallback_confidence(top, threshold, ambiguity) is None
        ]
        rows.append(
            {
                "fallback_threshold": threshold,
                "ambiguity_threshold": ambiguity,
                "fallen_back": len(examples) - len(kept),
                "fallen_back_share": 1 - len(kept) / len(examples),
                "accuracy_of_the_rest": sum(kept) / len(kept) if kept else None,
            }
        )
    return rows


def format_fallback_report(rows: Sequence[dict[str, Any]]) -> str:
    """`fallback_report`'s rows as a text table."""
    lines = [f"{'fallback':>9}{'ambiguity':>10}{'fall back':>11}{'accuracy of the rest':>22}"]
    for row in rows:
        rest = row["accuracy_of_the_rest"]
        lines.append(
            f"{row['fallback_threshold']:>9.2f}{row['ambiguity_threshold'] or '-':>10}"
            f"{row['fallen_back_share']:>10.1%}{'-' if rest is None else f'{rest:.3f}':>22}"
        )
    return "\n".join(lines)


def evaluate(nlu, data: TestDataLike) -> dict[str, Any]:
    """Parse annotated test data with a model and score the results; writes nothing.

    Args:
        nlu: a trained `NLU` (from `diet_sparse.train` or `diet_sparse.load`).
        data: a `TrainingData`, a list of `Example`, or YAML files / directories of them.

    Returns:
        The reports and errors of `evaluate_results`.

    Example:
        >>> evaluation = evaluate(load("models/default"), "data/")  # doctest: +SKIP
        >>> evaluation["intent_report"]["weighted avg"]["f1-score"]  # doctest: +SKIP
        0.97
    """
    examples = _examples(data)
    results = nlu.parse_batch([example.text for example in examples])
    return evaluate_results(examples, results)


def summary_metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of an evaluation, flat: ``intent_accuracy``, ``intent_macro_f1``,
    ``intent_weighted_f1``, and ``{entity,role,group}_{micro,macro,weighted}_f1`` for the
    attributes that occur (entity metrics only when there are gold or predicted entities).
    """
    intents = evaluation["intent_report"]
    metrics = {
        "intent_accuracy": float(intents["accuracy"]),
        "intent_macro_f1": float(intents["macro avg"]["f1-score"]),
        "intent_weighted_f1": float(intents["weighted avg"]["f1-score"]),
    }
    for attribute in ("entity", "role", "group"):
        report = evaluation.get(f"{attribute}_report")
        if report is None or not set(report) - {"micro avg", "macro avg", "weighted avg"}:
            continue  # no labels: nothing was annotated or predicted
        for average in ("micro", "macro", "weighted"):
            metrics[f"{attribute}_{average}_f1"] = float(report[f"{average} avg"]["f1-score"])
    return metrics


def write_results(evaluation: dict[str, Any], out: str | Path) -> list[Path]:
    """Write the reports, errors and plots of an evaluation to the directory ``out``.

    Reports of an earlier run there that this evaluation does not have (see `REPORT_FILES`),
    ``cross_validation.json`` included, are removed.

    Returns:
        The paths written (see the module docstring for what each file holds).
    """
    from diet_sparse.evaluation.plots import plot_confidence_histogram, plot_confusion_matrix

    out = check_output_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_json(out / f"{name}.json", evaluation[name])
        for name in REPORT_NAMES
        if name in evaluation
    ]
    predictions = evaluation["intent_predictions"]
    gold = [p["intent"] or "" for p in predictions]
    predicted = [p["intent_prediction"]["name"] or "" for p in predictions]
    accuracy = evaluation["intent_report"]["accuracy"]
    confusion_file, histogram_file = PLOT_FILES
    written.append(
        plot_confusion_matrix(
            gold,
            predicted,
            out / confusion_file,
            title=f"Intent confusion matrix, accuracy {accuracy:.3f}",
        )
    )
    confidences = [p["intent_prediction"]["confidence"] for p in predictions]
    correct = [c for c, g, p in zip(confidences, gold, predicted) if g == p]
    wrong = [c for c, g, p in zip(confidences, gold, predicted) if g != p]
    written.append(plot_confidence_histogram(correct, wrong, out / histogram_file))
    _remove_earlier_reports(out, written)
    return written


def format_summary(evaluation: dict[str, Any]) -> str:
    """A short text table of an evaluation's headline numbers and error counts."""
    metrics = evaluation["summary"]
    n = len(evaluation["intent_predictions"])
    lines = [f"{'':8}{'accuracy':>10}{'micro F1':>10}{'macro F1':>10}{'weighted F1':>13}  errors"]
    lines.append(
        f"{'intent':8}{metrics['intent_accuracy']:>10.3f}{'-':>10}"
        f"{metrics['intent_macro_f1']:>10.3f}{metrics['intent_weighted_f1']:>13.3f}"
        f"  {len(evaluation['intent_errors'])} of {n} messages"
    )
    for attribute in ("entity", "role", "group"):
        if f"{attribute}_micro_f1" not in metrics:
            continue
        errors = (
            f"  {len(evaluation['entity_errors'])} of {n} messages" if attribute == "entity" else ""
        )
        lines.append(
            f"{attribute:8}{'-':>10}{metrics[f'{attribute}_micro_f1']:>10.3f}"
            f"{metrics[f'{attribute}_macro_f1']:>10.3f}"
            f"{metrics[f'{attribute}_weighted_f1']:>13.3f}{errors}"
        )
    worst = sorted(  # lowest F1 first; among equals, the intents with most messages
        (values["f1-score"], -values["support"], label)
        for label, values in evaluation["intent_report"].items()
        if isinstance(values, dict) and label not in ("macro avg", "weighted avg")
    )[:5]
    if worst and worst[0][0] < 1.0:
        lines.append(
            "lowest intent F1: "
            + ", ".join(f"{label or '(none)'} {f1:.2f}" for f1, _, label in worst if f1 < 1.0)
        )
    return "\n".join(lines)


def test(
    model_dir: str | Path, data_paths: TestDataLike, out: str | Path = DEFAULT_OUT
) -> dict[str, Any]:
    """Evaluate a saved model on annotated test data and write reports and plots; prints nothing.

    ``out`` is checked first and the test data read before the model is loaded, so a mistake in
    either fails at once. `format_summary` makes the table that ``diet-sparse test`` prints.

    Args:
        model_dir: a model directory written by ``diet-sparse train``.
        data_paths: test data: YAML files / directories, a `TrainingData` or a list of `Example`.
        out: directory for the reports and plots listed in the module docstring.

    Returns:
        The evaluation of `evaluate_results`.

    Example:
        >>> evaluation = test("models/default", ["data/"], out="results")  # doctest: +SKIP
        >>> print(format_summary(evaluation))  # doctest: +SKIP
    """
    from diet_sparse.persistence import load

    check_output_directory(out)
    examples = _examples(data_paths)
    evaluation = evaluate(load(model_dir), examples)
    write_results(evaluation, out)
    return evaluation


test.__test__ = False  # not a pytest test, whatever imports it


# --- Cross-validation ----------------------------------------------------------------------------


def cross_validate(
    data_paths: TestDataLike,
    config=None,
    folds: int = DEFAULT_FOLDS,
    out: str | Path = DEFAULT_OUT,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and test ``folds`` models on stratified folds of one dataset; report mean and std.

    Folds are stratified by intent (scikit-learn's ``StratifiedKFold``, shuffled with the
    config's ``random_seed``). Intents with fewer examples than ``folds`` cannot be in every
    test fold: their examples go to the training data of every fold and are never tested, with a
    warning. Standard deviations are those of the population of folds (``numpy.std``).

    ``folds``, the config, ``out`` and the data are all checked before the first fold trains.
    Each fold's start is logged (INFO, logger ``diet_sparse.evaluation.nlu``); nothing is printed.

    Args:
        data_paths: YAML files / directories, a `TrainingData` or a list of `Example`.
        config: a `DIETConfig`, a dict of config values, a YAML config path, or None (defaults).
        folds: number of folds, at least 2.
        out: directory for ``cross_validation.json`` and the reports and plots of the pooled
            test-fold predictions (the files of `test`).
        progress: show each fold's training progress bar.

    Returns:
        What ``cross_validation.json`` holds: ``folds``, ``tested_examples``,
        ``train_only_intents`` and ``metrics``, each ``{"mean", "std", "per_fold"}``.

    Raises:
        ConfigError: ``folds`` is not an integer >= 2, or the config is invalid.
        TrainingDataError: the data cannot be read, or has too few examples for ``folds``.
        OutputDirectoryError, OutputPermissionError: ``out`` cannot be a directory or written.

    Example:
        >>> summary = cross_validate("data/", "configs/tiny.yml", 3, "cv")  # doctest: +SKIP
        >>> print(format_cross_validation(summary))  # doctest: +SKIP
    """
    from sklearn.model_selection import StratifiedKFold

    from diet_sparse.config import as_config

    check_folds(folds)
    config = as_config(config)  # validated before anything expensive
    out = check_output_directory(out)
    data = _training_data(data_paths)
    examples = data.examples
    intents = [example.intent or "" for example in examples]
    counts = Counter(intents)
    rare = sorted(intent for intent, count in counts.items() if count < folds)
    if rare:
        warnings.warn(
            f"{len(rare)} intent(s) have fewer than {folds} examples and are used for training "
            f"only, never tested: {', '.join(rare)}",
            TrainingDataWarning,
            stacklevel=2,
        )
    tested = [i for i, intent in enumerate(intents) if counts[intent] >= folds]
    train_only = [i for i, intent in enumerate(intents) if counts[intent] < folds]
    if len(tested) < folds:
        raise TrainingDataError(
            f"cannot make {folds} folds: only {len(tested)} examples belong to intents with at "
            f"least {folds} examples; use fewer folds or more data"
        )

    from diet_sparse.training import train  # TensorFlow: only once the input is known good

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.random_seed)
    per_fold: list[dict[str, float]] = []
    pooled: dict[int, dict] = {}
    tested_labels = [intents[i] for i in tested]
    for fold, (train_at, test_at) in enumerate(splitter.split(tested, tested_labels), start=1):
        train_examples = [examples[tested[j]] for j in train_at] + [examples[i] for i in train_only]
        test_examples = [examples[tested[j]] for j in test_at]
        logger.info(
            "Fold %d/%d: training on %d examples, testing on %d",
            fold,
            folds,
            len(train_examples),
            len(test_examples),
        )
        fold_data = TrainingData(train_examples, data.synonyms, data.regexes, data.lookups)
        nlu = train(fold_data, config, progress=progress)
        results = nlu.parse_batch([example.text for example in test_examples])
        per_fold.append(evaluate_results(test_examples, results)["summary"])
        pooled.update({tested[j]: result for j, result in zip(test_at, results)})

    names = [name for name in per_fold[0] if all(name in metrics for metrics in per_fold)]
    summary = {
        "folds": folds,
        "tested_examples": len(tested),
        "train_only_intents": rare,
        "metrics": {
            name: {
                "mean": float(np.mean([m[name] for m in per_fold])),
                "std": float(np.std([m[name] for m in per_fold])),
                "per_fold": [m[name] for m in per_fold],
            }
            for name in names
        },
    }
    order = sorted(pooled)
    write_results(evaluate_results([examples[i] for i in order], [pooled[i] for i in order]), out)
    write_json(out / CROSS_VALIDATION_FILE, summary)  # after write_results, which removes it
    return summary


def format_cross_validation(summary: dict[str, Any]) -> str:
    """The table of a `cross_validate` summary: mean and standard deviation of each metric.

    Example:
        >>> print(format_cross_validation({"folds": 2, "tested_examples": 10, "metrics": {
        ...     "intent_accuracy": {"mean": 0.9, "std": 0.05}}}))
        Cross-validation, 2 folds, 10 messages tested:
        metric                    mean     std
        intent_accuracy          0.900   0.050
    """
    lines = [
        f"Cross-validation, {summary['folds']} folds, {summary['tested_examples']} messages "
        "tested:",
        f"{'metric':22}{'mean':>8}{'std':>8}",
    ]
    for name, values in summary["metrics"].items():
        lines.append(f"{name:22}{values['mean']:>8.3f}{values['std']:>8.3f}")
    return "\n".join(lines)


# --- Helpers -------------------------------------------------------------------------------------


def _remove_earlier_reports(out: Path, written: Sequence[Path]) -> None:
    """Remove the report files in ``out`` that this run did not write: an earlier run's."""
    for name in REPORT_FILES:
        path = out / name
        if path not in written and path.is_file():
            path.unlink()


def load_test_data(paths: str | Path | Sequence[str | Path]) -> TrainingData:
    """`load_training_data` without the warnings that concern only training (an intent with
    a single example is fine in a test set); warnings about the annotations themselves stay.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"intent .* has only \d+ example", category=TrainingDataWarning
        )
        return load_training_data(paths)


def _training_data(data: TestDataLike, testing: bool = False) -> TrainingData:
    """A `TrainingData` from itself, a list of `Example`, or YAML files / directories."""
    if isinstance(data, TrainingData):
        return data
    if isinstance(data, Sequence) and not isinstance(data, str) and data:
        if all(isinstance(item, Example) for item in data):
            return TrainingData(examples=list(data))
    return load_test_data(data) if testing else load_training_data(data)


def _examples(data: TestDataLike) -> list[Example]:
    return list(_training_data(data, testing=True).examples)
