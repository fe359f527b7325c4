"""Train on a dataset's train split and report test accuracy, time, latency and model size.

    python benchmarks/accuracy.py                       # SNIPS, configs/default.yml
    python benchmarks/accuracy.py --dataset atis --config configs/dense.yml --epochs 20
    python benchmarks/accuracy.py --train path/train.yml --test path/test.yml

Prints a table and writes benchmarks/results/accuracy_<dataset>_<config>.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import ROOT, dataset, directory_size, latency_ms, machine, print_table, write_results

from diet_sparse.config import as_config
from diet_sparse.data import load_training_data
from diet_sparse.evaluation import entity_report, intent_report
from diet_sparse.persistence import load
from diet_sparse.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="snips", help="folder name under the datasets")
    parser.add_argument("--train", help="training data (default: <dataset>/train.yml)")
    parser.add_argument("--test", help="test data (default: <dataset>/test.yml)")
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--epochs", type=int, help="override the config's epochs")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override config values (YAML values)",
    )
    args = parser.parse_args()

    import yaml

    values = as_config(args.config).to_dict()
    if args.epochs:
        values["epochs"] = args.epochs
    for item in args.set:
        key, _, value = item.partition("=")
        values[key] = yaml.safe_load(value)
    config = as_config(values)
    train_data = load_training_data(args.train or dataset(args.dataset, "train"))
    test_data = load_training_data(args.test or dataset(args.dataset, "test"))

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        started = time.perf_counter()
        train(train_data, config, out=model_dir)
        train_seconds = time.perf_counter() - started
        nlu = load(model_dir)
        texts = [example.text for example in test_data.examples]
        results = nlu.parse_batch(texts)
        latency = latency_ms(nlu.parse, texts)
        size = directory_size(model_dir)

    intents = intent_report(test_data.examples, results)
    entities = entity_report(test_data.examples, results)
    summary = {
        "dataset": args.dataset if not args.test else args.test,
        "config": values,
        "train_examples": len(train_data.examples),
        "test_examples": len(texts),
        "intent_accuracy": intents["accuracy"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "entity_micro_f1": entities["micro avg"]["f1-score"],
        "entity_micro_precision": entities["micro avg"]["precision"],
        "entity_micro_recall": entities["micro avg"]["recall"],
        "train_seconds": train_seconds,
        "train_examples_per_second": len(train_data.examples) * config.epochs / train_seconds,
        "parse_median_ms": latency["median_ms"],
        "parse_p99_ms": latency["p99_ms"],
        "model_bytes": size,
        "machine": machine(),
    }
    print_table([(k, v) for k, v in summary.items() if k not in ("config", "machine")])
    name = f"accuracy_{Path(summary['dataset']).stem}_{Path(args.config).stem}"
    print("written", write_results(name, summary))


if __name__ == "__main__":
    main()
