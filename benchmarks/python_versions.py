"""The same training on several Pythons (each with the stack it installs), side by side: test
accuracy and training throughput, the Pythons interleaved seed by seed.

    .venv-3.11/bin/python benchmarks/python_versions.py --epochs 10 --seeds 3 \
        --python 3.11=.venv-3.11/bin/python --python 3.13=.venv-3.13/bin/python

Every run is a fresh process of that Python training diet-sparse (``--config``, with
``--epochs`` and the seed) on the dataset's training set and scoring it on its test set, as
`accuracy.py` does; for each seed the Pythons run one after another, so a drift of the
machine's speed touches them alike. Per Python: mean and sample standard deviation over the
seeds of intent accuracy, entity F1 (exact spans) and training throughput (training examples x
epochs per second, over the whole run and over the epochs after the first), and the throughput
of each Python against the first, paired by seed. The reference workload's time at the start and
the end says how fast the shared machine was.

Writes benchmarks/results/python_versions_<dataset>.json (or ``--out``) after every run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from accuracy import (
    DIET_METRICS,
    ROOT,
    data_paths,
    load_data,
    now,
    positive_int,
    run_header,
)
from common import RESULTS, mean_and_std, reference_seconds, write_json

from diet_sparse.config import as_config

THROUGHPUT = ("train_examples_per_second", "train_examples_per_second_after_first_epoch")


def child(args: argparse.Namespace) -> dict:
    """One run in this Python: the scores of `accuracy.diet_scores` and the versions used."""
    from accuracy import diet_scores

    import diet_sparse.training  # noqa: F401  TensorFlow loads here, not in the training time

    _, train_paths, test_path = data_paths(args)
    train_data, test_data = load_data(train_paths, test_path)
    config = as_config({**json.loads(args.config_json), "random_seed": args.seed})
    scores = diet_scores(train_data, test_data, config)
    import numpy as np
    import tensorflow as tf

    keras = tf.keras.layers.Layer.__module__.split(".")[0]
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": f"{keras} {sys.modules[keras].__version__}",
        "numpy": np.__version__,
        "diet": scores,
    }


def shown(figure: dict) -> str:
    return f"{figure['mean']:.4f} ± {figure['std'] or 0:.4f}"


def summarise(runs: list[dict], labels: list[str]) -> dict:
    first = {run["seed"]: run for run in runs if run["python_label"] == labels[0]}
    summary = {}
    for label in labels:
        group = [run for run in runs if run["python_label"] == label]
        if not group:
            continue
        paired = [run for run in group if run["seed"] in first]
        summary[label] = {
            "versions": {k: group[0][k] for k in ("python", "tensorflow", "keras", "numpy")},
            "seeds": [run["seed"] for run in group],
            "diet": {
                m: mean_and_std([run["diet"][m] for run in group])
                for m in (*DIET_METRICS, "train_seconds", *THROUGHPUT)
            },
            f"throughput_over_{labels[0]}": {
                m: mean_and_std([run["diet"][m] / first[run["seed"]]["diet"][m] for run in paired])
                for m in THROUGHPUT
            },
        }
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="snips, atis or sara (default snips)")
    parser.add_argument("--train", nargs="+", help="training data files")
    parser.add_argument("--test", help="test data")
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--epochs", type=positive_int)
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument(
        "--python",
        action="append",
        required=True,
        metavar="LABEL=COMMAND",
        help="a Python to run, e.g. 3.13=.venv-3.13/bin/python (diet-sparse installed); repeat",
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return
    pythons = dict(item.split("=", 1) for item in args.python if "=" in item)
    if len(pythons) != len(args.python):
        parser.error("--python takes LABEL=COMMAND, each label once")

    command = ["python", *sys.argv] if argv is None else ["python", __file__, *argv]
    name, train_paths, test_path = data_paths(args)
    config = as_config(args.config).to_dict()
    if args.epochs is not None:
        config["epochs"] = args.epochs
    seeds = [config["random_seed"] + i for i in range(args.seeds)]
    path = args.out or RESULTS / f"python_versions_{name}.json"
    record = {
        **run_header("python_versions", command, name, train_paths, test_path),
        "pythons": pythons,
        "seeds": seeds,
        "config": config,
        "std": "sample standard deviation over the seeds (n - 1 denominator)",
        "runs": [],
        "summary": {},
    }
    write_json(path, record)
    data_arguments = ["--dataset", name] if not (args.train or args.test) else []
    if args.train:
        data_arguments += ["--train", *args.train]
    if args.test:
        data_arguments += ["--test", args.test]
    for seed in seeds:
        for label, python in pythons.items():
            output = subprocess.run(
                [
                    *shlex.split(python),
                    __file__,
                    "--child",
                    "--python",
                    "unused=",
                    "--seed",
                    str(seed),
                    "--config-json",
                    json.dumps(config),
                    *data_arguments,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            run = {"python_label": label, "seed": seed, **json.loads(output.splitlines()[-1])}
            record["runs"].append(run)
            record["summary"] = summarise(record["runs"], list(pythons))
            write_json(path, record)
            diet = run["diet"]
            print(
                f"seed {seed} Python {run['python']} (TensorFlow {run['tensorflow']}): intent acc "
                f"{diet['intent_accuracy']:.4f}, entity F1 {diet['entity_micro_f1']:.4f}, "
                f"{diet['train_seconds']:.1f} s, {diet['train_examples_per_second']:.0f} ex/s "
                f"({diet['train_examples_per_second_after_first_epoch']:.0f} after epoch 1)",
                flush=True,
            )
    record["reference_seconds"]["end"] = reference_seconds()
    record["finished"] = now()
    record["complete"] = True
    write_json(path, record)
    for label, row in record["summary"].items():
        figures, ratio = row["diet"], row[f"throughput_over_{list(pythons)[0]}"]
        print(
            f"{label}: intent acc {shown(figures['intent_accuracy'])}, entity F1 "
            f"{shown(figures['entity_micro_f1'])}, {figures[THROUGHPUT[0]]['mean']:.0f} ex/s "
            f"({figures[THROUGHPUT[1]]['mean']:.0f} after epoch 1; "
            f"{ratio[THROUGHPUT[0]]['mean']:.2f}x the first Python's)"
        )
    print("written", path)


if __name__ == "__main__":
    main()
