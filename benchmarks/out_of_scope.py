"""Many intents and out-of-scope messages: an 89-intent set assembled from the shared data, whose
test set holds messages of another domain that the assistant should not claim.

    python benchmarks/out_of_scope.py                        # configs/default.yml, 3 seeds
    python benchmarks/out_of_scope.py --set number_of_negative_examples=88 --tag all_negatives
    python benchmarks/out_of_scope.py --set pretrained_encoder=use-m3 --tag use_m3

The set (built in memory from the datasets' folder, never written into the repository):

- in scope: Sara's 67 intents (all of train.yml, with its synonyms, regexes and lookups) and
  ATIS's intents, at most ``--atis-per-intent`` (50) training messages each, drawn with seed 0;
- out of scope: ``--oos-train`` (100) SNIPS training messages, drawn with seed 0, labelled
  ``out_of_scope`` as one more intent (as the 150-intent CLINC benchmark labels its own), and
  every SNIPS test message labelled ``out_of_scope`` in the test set;
- the test set: Sara's and ATIS's test sets and SNIPS's; entities are dropped everywhere (this
  benchmark is about intents).

Every seed trains diet-sparse once and scores, on the same test set, diet-sparse as configured,
its network alone (wide path weight 0) and its wide path alone, the TF-IDF + LR baseline and,
when its package is installed, the USE + TF-IDF LR peer. For each it reports the accuracy over
all test messages (out of scope counted as one intent), the in-scope accuracy, and the
out-of-scope recall and precision, with no fallback and with a fallback at each confidence
threshold of ``THRESHOLDS`` (a message whose top intent's confidence is below the threshold is
answered ``out_of_scope``, as Rasa's FallbackClassifier answers ``nlu_fallback``; its default
threshold is 0.3). Writes benchmarks/results/out_of_scope[_<tag>].json (or ``--out``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from accuracy import (
    ROOT,
    TAG,
    build_config,
    git_commit,
    logistic_regression,
    now,
    output_path,
    positive_int,
    tfidf_features,
    use_encoder,
)
from common import cap_per_intent, dataset, machine, mean_and_std, reference_seconds, write_json
from scipy.special import softmax
from wide_weight import with_wide_path_weight

from diet_sparse.config import as_config
from diet_sparse.evaluation.nlu import load_test_data
from diet_sparse.network.wide_path import wide_scores
from diet_sparse.rasa.nlu_data import Example, TrainingData, load_training_data

OUT_OF_SCOPE = "out_of_scope"
THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)
DATA_SEED = 0  # the assembled set is the same for every run and seed


def _plain(examples: list[Example], intent: str | None = None) -> list[Example]:
    """The examples without entities (and with ``intent`` instead of theirs, if given)."""
    return [Example(e.text, intent or e.intent, [], None, e.source) for e in examples]


def assemble(atis_per_intent: int, oos_train: int) -> tuple[TrainingData, list[Example]]:
    """The training data and the test examples described in the module's docstring."""
    sara = load_training_data([dataset("sara", "train"), dataset("sara", "train_extras")])
    atis = cap_per_intent(load_training_data([dataset("atis", "train")]), atis_per_intent, 0)
    snips = load_training_data([dataset("snips", "train")]).examples
    chosen = np.random.default_rng(DATA_SEED).permutation(len(snips))[:oos_train]
    train = TrainingData(
        _plain(sara.examples)
        + _plain(atis.examples)
        + _plain([snips[i] for i in sorted(chosen)], OUT_OF_SCOPE),
        sara.synonyms,
        sara.regexes,
        sara.lookups,
    )
    test = (
        _plain(load_test_data(dataset("sara", "test")).examples)
        + _plain(load_test_data(dataset("atis", "test")).examples)
        + _plain(load_test_data(dataset("snips", "test")).examples, OUT_OF_SCOPE)
    )
    return train, test


def scores(gold: list[str], predicted: list[str], confidence: np.ndarray) -> dict:
    """Accuracy, in-scope accuracy and out-of-scope recall and precision at each threshold."""
    gold_array, confidence = np.array(gold), np.asarray(confidence)
    out = gold_array == OUT_OF_SCOPE
    figures = {}
    for threshold in THRESHOLDS:
        answered = np.where(confidence < threshold, OUT_OF_SCOPE, np.array(predicted))
        said_out = answered == OUT_OF_SCOPE
        figures[f"threshold_{threshold:g}"] = {
            "accuracy": float(np.mean(answered == gold_array)),
            "in_scope_accuracy": float(np.mean(answered[~out] == gold_array[~out])),
            "out_of_scope_recall": float(np.mean(said_out[out])),
            "out_of_scope_precision": float(np.mean(out[said_out])) if said_out.any() else 0.0,
        }
    return figures


def diet_systems(nlu, texts: list[str], gold: list[str]) -> dict[str, dict]:
    """diet-sparse as trained, its network alone and its wide path alone."""
    systems = {}
    for name, weight in (("diet", nlu.config.wide_path_weight), ("network_alone", 0.0)):
        results = with_wide_path_weight(nlu, weight).parse_batch(texts)
        predicted = [result["intent"]["name"] for result in results]
        confidence = [result["intent"]["confidence"] for result in results]
        systems[name] = scores(gold, predicted, np.array(confidence))
    featurized = nlu.featurizer.transform(texts)
    wide = softmax(
        wide_scores(nlu.network.weights, featurized.features, featurized.offsets, featurized.dense),
        axis=1,
    )
    predicted = list(np.array(nlu.intents)[wide.argmax(axis=1)])
    systems["wide_path_alone"] = scores(gold, predicted, wide.max(axis=1))
    return systems


def regression_system(features, train: list[Example], test: list[Example], seed: int) -> dict:
    """A scikit-learn pipeline of ``features`` and the baseline's regression, scored."""
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(features, logistic_regression(seed))
    pipeline.fit([e.text for e in train], [e.intent for e in train])
    probabilities = pipeline.predict_proba([e.text for e in test])
    predicted = list(pipeline.classes_[probabilities.argmax(axis=1)])
    return scores([e.intent for e in test], predicted, probabilities.max(axis=1))


def main(argv: list[str] | None = None) -> None:
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import FunctionTransformer

    command = ["python", *sys.argv] if argv is None else ["python", __file__, *argv]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--epochs", type=positive_int)
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--atis-per-intent", type=positive_int, default=50)
    parser.add_argument("--oos-train", type=int, default=100)
    parser.add_argument("--tag")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.tag is not None and not TAG.fullmatch(args.tag):
        parser.error(f"--tag may hold only letters, digits, '.', '_' and '-', got {args.tag!r}")
    if args.oos_train < 0:
        parser.error(f"--oos-train must be 0 or more, got {args.oos_train}")
    config = build_config(args)
    args.out = args.out or ROOT / "benchmarks" / "results" / (
        "out_of_scope" + (f"_{args.tag}" if args.tag else "") + ".json"
    )
    path = output_path(args, "out_of_scope")
    train_data, test = assemble(args.atis_per_intent, args.oos_train)
    texts, gold = [e.text for e in test], [e.intent for e in test]
    encode = use_encoder()
    from diet_sparse.training import train

    record = {
        "benchmark": "out_of_scope",
        "command": " ".join(command),
        "commit": git_commit(),
        "started": now(),
        "complete": False,
        "machine": machine(),
        "reference_seconds": {"start": reference_seconds(), "end": None},
        "train_examples": len(train_data.examples),
        "intents": len(train_data.intents),
        "test_examples": len(test),
        "test_out_of_scope": gold.count(OUT_OF_SCOPE),
        "config": config.to_dict(),
        "thresholds": list(THRESHOLDS),
        "runs": [],
        "summary": {},
    }
    print(
        f"{len(train_data.examples)} training examples of {len(train_data.intents)} intents; "
        f"{len(test)} test messages, {gold.count(OUT_OF_SCOPE)} out of scope",
        flush=True,
    )
    for i in range(args.seeds):
        seed = config.random_seed + i
        nlu = train(
            train_data, as_config({**config.to_dict(), "random_seed": seed}), progress=False
        )
        run = {"seed": seed, **diet_systems(nlu, texts, gold)}
        run["baseline"] = regression_system(
            FeatureUnion(tfidf_features()), train_data.examples, test, seed
        )
        if encode is not None:
            peer = FeatureUnion([*tfidf_features(), ("sentence", FunctionTransformer(encode))])
            run["use_tfidf_lr"] = regression_system(peer, train_data.examples, test, seed)
        record["runs"].append(run)
        record["summary"] = summarise(record["runs"])
        write_json(path, record)
        print(f"seed {seed}: " + ", ".join(
            f"{system} {figures['threshold_0']['accuracy']:.3f}"
            for system, figures in run.items() if system != "seed"
        ), flush=True)  # fmt: skip
    record["reference_seconds"]["end"] = reference_seconds()
    record["finished"] = now()
    record["complete"] = True
    write_json(path, record)
    print(format_table(record["summary"]))
    print("written", path)


def summarise(runs: list[dict]) -> dict:
    """Mean and sample standard deviation of every figure over the seeds."""
    return {
        system: {
            threshold: {
                metric: mean_and_std([run[system][threshold][metric] for run in runs])
                for metric in figures
            }
            for threshold, figures in runs[0][system].items()
        }
        for system in runs[0]
        if system != "seed"
    }


def format_table(summary: dict) -> str:
    """One row per system and threshold: the means over the seeds."""
    lines = [
        f"{'system':<18}{'threshold':>10}{'accuracy':>10}{'in scope':>10}"
        f"{'oos recall':>12}{'oos prec':>10}"
    ]
    for system, by_threshold in summary.items():
        for threshold, figures in by_threshold.items():
            lines.append(
                f"{system:<18}{threshold.removeprefix('threshold_'):>10}"
                + "".join(
                    f"{figures[metric]['mean']:>{width}.3f}"
                    for metric, width in (
                        ("accuracy", 10),
                        ("in_scope_accuracy", 10),
                        ("out_of_scope_recall", 12),
                        ("out_of_scope_precision", 10),
                    )
                )
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
