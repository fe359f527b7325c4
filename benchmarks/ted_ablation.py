"""TED config variants side by side: each variant trained for each seed, one after another, on
the workshop stories and Sara's held-out split, with the paired difference to the first variant.

    python benchmarks/ted_ablation.py --variant default \
        --variant constrained constrain_similarities=true --variant scaled scale_loss=true

Variants start from Rasa's settings of benchmarks/ted.py (max_history 5, 100 epochs, density
0.2) and the TED config's defaults. Prints a table and writes benchmarks/results/
ted_ablation.json (or --out).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import RESULTS, machine, mean_and_std, reference_seconds, write_json
from ted import SPLITS, run_seed

from diet_sparse.config import ConfigError, TEDConfig, as_config
from diet_sparse.dialogue.rules import TED_ALONE

METRICS = ("action_accuracy", "action_weighted_f1", "conversation_accuracy", "train_seconds")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        required=True,
        metavar="NAME [KEY=VALUE",
        help="a variant's name and its TED config overrides (YAML values); repeat per variant",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "ted_ablation.json")
    args = parser.parse_args(argv)
    names = [variant[0] for variant in args.variant]
    if len(set(names)) != len(names):
        parser.error(f"--variant names must differ, got {names}")
    return args


def variant_values(args: argparse.Namespace) -> dict[str, dict]:
    """Each variant's config values, checked before anything trains."""
    variants = {}
    for name, *items in args.variant:
        values = {"epochs": args.epochs, "max_history": 5, "connection_density": 0.2, **TED_ALONE}
        for item in items:
            key, equals, value = item.partition("=")
            if not equals or not key:
                raise SystemExit(f"ted_ablation.py: --variant {name}: expected KEY=VALUE: {item}")
            values[key] = yaml.safe_load(value)
        try:
            as_config(values, kind=TEDConfig)
        except ConfigError as error:
            raise SystemExit(f"ted_ablation.py: --variant {name}: {error}") from None
        variants[name] = values
    return variants


def summarise(runs: list[dict], names: list[str]) -> dict:
    """Per dataset and variant: mean ± std, and the paired difference to the first variant."""
    summary: dict = {}
    for dataset in dict.fromkeys(run["dataset"] for run in runs):
        first = {r["seed"]: r for r in runs if r["dataset"] == dataset and r["variant"] == names[0]}
        for name in names:
            group = [r for r in runs if r["dataset"] == dataset and r["variant"] == name]
            if group:
                summary.setdefault(dataset, {})[name] = {
                    "seeds": [r["seed"] for r in group],
                    **{m: mean_and_std([r[m] for r in group]) for m in METRICS},
                    f"minus_{names[0]}": {
                        m: mean_and_std([r[m] - first[r["seed"]][m] for r in group])
                        for m in METRICS
                    },
                }
    return summary


def print_summary(summary: dict, names: list[str]) -> None:
    for dataset, variants in summary.items():
        print(f"\n{dataset}: mean ± std over seeds (paired difference to {names[0]})")
        print(f"{'variant':<24} {'accuracy':>22} {'weighted F1':>22} {'conversations':>22}")
        for name, figures in variants.items():
            cells = []
            for metric in METRICS[:3]:
                value, diff = figures[metric], figures[f"minus_{names[0]}"][metric]
                cells.append(f"{value['mean']:.3f}±{value['std'] or 0:.3f} ({diff['mean']:+.3f})")
            print(f"{name:<24} " + " ".join(f"{cell:>22}" for cell in cells))


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    variants = variant_values(args)
    names = list(variants)
    results = {
        "benchmark": "ted_ablation",
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "reference_seconds": {"start": reference_seconds(), "end": None},
        "variants": variants,
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        for dataset in args.datasets:
            for seed in range(42, 42 + args.seeds):
                for name, values in variants.items():
                    run = run_seed(dataset, seed, values, Path(scratch) / name)
                    run.pop("model_dir")
                    results["runs"].append({"dataset": dataset, "variant": name, **run})
                    print(
                        f"{dataset} seed {seed} {name}: accuracy {run['action_accuracy']:.3f}, "
                        f"F1 {run['action_weighted_f1']:.3f}, conversations "
                        f"{run['conversation_accuracy']:.3f}, {run['train_seconds']:.1f} s",
                        flush=True,
                    )
                results["summary"] = summarise(results["runs"], names)
                write_json(args.out, results)  # what is done survives an interruption
    results["reference_seconds"]["end"] = reference_seconds()
    write_json(args.out, results)
    print_summary(results["summary"], names)


if __name__ == "__main__":
    main()
