"""How much weight the wide path's scores should get beside the network's: one model per seed
and training-set size, scored with every weight (the weight changes prediction only).

    python benchmarks/wide_weight.py --dataset snips --examples-per-intent 10
    python benchmarks/wide_weight.py --dataset sara --epochs 30

For each seed it trains diet-sparse once (with the wide path) and reports the intent accuracy of
the network alone (weight 0), of the network plus the wide path at each weight (``--weights``),
and of the wide path alone, and the entity F1 (which the weight does not change), beside the
TF-IDF + logistic-regression baseline on the same split and the "USE + TF-IDF LR" peer (when
its package is installed). Writes benchmarks/results/wide_weight_<dataset>_<size>.json (or
``--out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

import numpy as np
from accuracy import (
    ROOT,
    baseline_scores,
    build_config,
    data_paths,
    examples_per_intent,
    git_commit,
    load_data,
    now,
    output_path,
    parse_scores,
    peer_scores,
    positive_int,
    size_label,
    use_encoder,
)
from common import RESULTS, cap_per_intent, machine, mean_and_std, reference_seconds, write_json

from diet_sparse.config import as_config
from diet_sparse.evaluation.nlu import intent_report
from diet_sparse.network.wide_path import wide_scores

WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
ALONE = "wide_path_alone"


def with_wide_path_weight(nlu, weight: float):
    """The trained ``nlu`` predicting with another ``wide_path_weight`` (0: the network alone);
    the weight changes prediction only, so nothing is retrained."""
    config = dataclasses.replace(nlu.config, wide_path_weight=weight)
    network = dataclasses.replace(nlu.network, config=config)
    return dataclasses.replace(nlu, config=config, network=network)


def main(argv: list[str] | None = None) -> None:
    command = ["python", *sys.argv] if argv is None else ["python", __file__, *argv]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset")
    parser.add_argument("--train", nargs="+")
    parser.add_argument("--test")
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--epochs", type=positive_int)
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--examples-per-intent", type=examples_per_intent, default=None)
    parser.add_argument("--weights", nargs="+", type=float, default=list(WEIGHTS))
    parser.add_argument("--tag")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    config = build_config(args)
    if not config.use_wide_path:
        raise SystemExit("wide_weight.py: the config has use_wide_path: false")
    name, train_paths, test_path = data_paths(args)
    size = size_label(args.examples_per_intent)
    args.out = args.out or RESULTS / f"wide_weight_{name}_{size}.json"
    path = output_path(args, name)
    train_data, test_data = load_data(train_paths, test_path)
    from diet_sparse.training import train

    texts = [example.text for example in test_data.examples]
    encode = use_encoder()
    record = {
        "benchmark": "wide_weight",
        "command": shlex.join(command),
        "commit": git_commit(),
        "started": now(),
        "complete": False,
        "machine": machine(),
        "reference_seconds": {"start": reference_seconds(), "end": None},
        "dataset": name,
        "examples_per_intent": size,
        "config": config.to_dict(),
        "weights": args.weights,
        "runs": [],
        "summary": {},
    }
    for i in range(args.seeds):
        seed = config.random_seed + i
        subsample = cap_per_intent(train_data, args.examples_per_intent, seed)
        nlu = train(subsample, as_config({**config.to_dict(), "random_seed": seed}), progress=False)
        run = {"seed": seed}
        for weight in args.weights:
            results = with_wide_path_weight(nlu, weight).parse_batch(texts)
            run[f"weight_{weight:g}"] = intent_report(test_data.examples, results)["accuracy"]
        # entities do not depend on the weight: the last weight's parses give them
        run["entity_f1"] = parse_scores(test_data.examples, results)["entity_micro_f1"]
        featurized = nlu.featurizer.transform(texts)
        scores = wide_scores(
            nlu.network.weights, featurized.features, featurized.offsets, featurized.dense
        )
        predicted = np.array(nlu.intents)[scores.argmax(axis=1)]
        gold = np.array([example.intent for example in test_data.examples])
        run[ALONE] = float(np.mean(predicted == gold))
        run["baseline"] = baseline_scores(subsample.examples, test_data.examples, seed)[
            "intent_accuracy"
        ]
        if encode is not None:
            run["use_tfidf_lr"] = peer_scores(subsample.examples, test_data.examples, seed, encode)[
                "intent_accuracy"
            ]
        record["runs"].append(run)
        record["summary"] = {
            key: mean_and_std([r[key] for r in record["runs"]]) for key in run if key != "seed"
        }
        write_json(path, record)
        print(" ".join(f"{k} {v:.4f}" if k != "seed" else f"seed {v}" for k, v in run.items()))
    record["reference_seconds"]["end"] = reference_seconds()
    record["finished"] = now()
    record["complete"] = True
    write_json(path, record)
    for key, figure in record["summary"].items():
        print(f"{key:<18} {figure['mean']:.3f} ± {figure['std'] or 0:.3f}")
    print("written", path)


if __name__ == "__main__":
    main()
