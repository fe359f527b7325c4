"""Rasa's story augmentation for TED (``rasa train --augmentation``, here ``diet-sparse train
core --augmentation N``): action F1 and conversation accuracy of TED alone with and without
glued stories, over seeds, on the workshop stories and Sara's held-out split.

    python benchmarks/augmentation.py                      # both datasets, 3 seeds, 0 and 50
    python benchmarks/augmentation.py --datasets ted_workshop --seeds 1 --epochs 10

TED alone (no rules, memoization or core fallback: what augmentation changes), max_history 5,
density 0.2. Prints a table per dataset (mean ± standard deviation over seeds) and writes
benchmarks/results/augmentation.json (or --out) after every run, so a cut-short run keeps
what it measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import DATASETS, RESULTS, machine, mean_and_std, print_table, write_json
from ted import SPLITS

from diet_sparse.dialogue.rules import TED_ALONE

MEASURES = ("action_accuracy", "action_weighted_f1", "conversation_accuracy", "train_seconds")


def run(dataset: str, seed: int, factor: int, values: dict, scratch: Path) -> dict:
    """Train TED on the dataset's training stories with ``factor`` and score its test
    stories."""
    from diet_sparse.evaluation.dialogue import evaluate_policy
    from diet_sparse.rasa.stories import load_stories
    from diet_sparse.training import train_policy

    folder = DATASETS / dataset
    train_file, test_file = SPLITS[dataset]
    started = time.perf_counter()
    policy = train_policy(
        folder / "domain.yml",
        folder / train_file,
        dict(values, random_seed=seed, augmentation_factor=factor),
        out=scratch / f"{dataset}_{seed}_{factor}",
        progress=False,
    )
    seconds = time.perf_counter() - started
    summary = evaluate_policy(policy, load_stories(folder / test_file))["summary"]
    return {
        "seed": seed,
        "augmentation_factor": factor,
        **summary,
        "train_seconds": seconds,
        "training_examples": policy.metadata["training_examples"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--factors", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "augmentation.json")
    args = parser.parse_args()
    for dataset in args.datasets:
        for name in ("domain.yml", *SPLITS[dataset]):
            if not (DATASETS / dataset / name).is_file():
                raise SystemExit(f"{DATASETS / dataset / name} not found: set DIET_SPARSE_DATASETS")
    values = {"epochs": args.epochs, "max_history": 5, "connection_density": 0.2, **TED_ALONE}
    results = {
        "command": " ".join(sys.argv),
        "machine": machine(),
        "config": values,
        "datasets": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        for dataset in args.datasets:
            results["datasets"][dataset] = {"runs": [], "summary": {}}
            entry = results["datasets"][dataset]
            for seed in range(42, 42 + args.seeds):
                for factor in args.factors:
                    measured = run(dataset, seed, factor, values, Path(scratch))
                    entry["runs"].append(measured)
                    print(
                        f"{dataset} seed {seed} augmentation {factor}: "
                        f"{measured['training_examples']} examples, action F1 "
                        f"{measured['action_weighted_f1']:.3f}, conversations "
                        f"{measured['conversation_accuracy']:.3f}, "
                        f"{measured['train_seconds']:.0f} s",
                        flush=True,
                    )
                    write_json(args.out, results)
            rows = []
            for factor in args.factors:
                runs = [r for r in entry["runs"] if r["augmentation_factor"] == factor]
                summary = {name: mean_and_std([r[name] for r in runs]) for name in MEASURES}
                entry["summary"][str(factor)] = summary
                rows += [
                    (f"augmentation {factor}: {name}", f"{v['mean']:.4g} ± {v['std'] or 0:.2g}")
                    for name, v in summary.items()
                ]
            print(f"\n== {dataset} ({args.seeds} seeds, {args.epochs} epochs)")
            print_table(rows)
            write_json(args.out, results)
    print("written", args.out)


if __name__ == "__main__":
    main()
