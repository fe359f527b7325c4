"""The TED dialogue policy on the workshop stories and Sara: accuracy over seeds, training time
and memory, prediction latency, cold start and size, beside Rasa 3.6's measured figures.

    python benchmarks/ted.py                          # both datasets, 3 seeds, Rasa's settings
    python benchmarks/ted.py --datasets ted_workshop --seeds 1 --epochs 20

Rasa's settings here are TEDPolicy with max_history 5, 100 epochs, density 0.2. Prints a table
per dataset and writes benchmarks/results/ted.json (or --out).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import (
    DATASETS,
    RESULTS,
    directory_size,
    machine,
    mean_and_std,
    print_table,
    reference_seconds,
    write_json,
)

from diet_sparse.dialogue.rules import TED_ALONE

# train stories, test stories; the domain is <dataset>/domain.yml
SPLITS = {
    "ted_workshop": ("train_stories.yml", "test_stories.yml"),
    "sara_core": ("train_stories.yml", "test_stories.yml"),
}
# Rasa 3.6 measured on this kind of machine (the TED issue): action accuracy, weighted action F1,
# stories entirely right, training seconds, peak memory in GB
RASA = {
    "ted_workshop": {
        "action_accuracy": 0.921,
        "action_weighted_f1": 0.926,
        "correct_conversations": "2/32",
        "train_seconds": 264,
        "peak_gb": 0.95,
    },
    "sara_core": {
        "action_accuracy": 0.899,
        "action_weighted_f1": 0.909,
        "correct_conversations": "26/73",
        "train_seconds": 189,
        "peak_gb": 0.98,
    },
}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """The highest resident memory of this process while the block runs (sampled every 0.1 s)."""

    def __enter__(self) -> PeakMemory:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_seed(dataset: str, seed: int, values: dict, scratch: Path) -> dict:
    from diet_sparse.evaluation.dialogue import evaluate_policy
    from diet_sparse.rasa.stories import load_stories
    from diet_sparse.training import train_policy

    folder = DATASETS / dataset
    train_file, test_file = SPLITS[dataset]
    out = scratch / f"{dataset}_{seed}"
    started = time.perf_counter()
    with PeakMemory() as memory:
        policy = train_policy(
            folder / "domain.yml",
            folder / train_file,
            dict(values, random_seed=seed),
            out=out,
            progress=False,
        )
    seconds = time.perf_counter() - started
    summary = evaluate_policy(policy, load_stories(folder / test_file))["summary"]
    epochs = [epoch["seconds"] for epoch in policy.metadata["history"]]
    return {
        "seed": seed,
        **summary,
        "train_seconds": seconds,
        "first_epoch_seconds": epochs[0],
        "later_epoch_seconds": statistics.mean(epochs[1:]) if len(epochs) > 1 else epochs[0],
        "peak_rss_mb": round(memory.peak, 1),
        "model_bytes": directory_size(out),
        "trainable_weights": policy.metadata["trainable_weights"],
        "training_examples": policy.metadata["training_examples"],
        "model_dir": str(out),
    }


def latency(model_dir: str, dataset: str, max_history: int) -> dict:
    """One prediction at a time over every prefix of the test stories, in a fresh process."""
    code = f"""
import json, statistics, sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
t0 = time.perf_counter()
from diet_sparse import load_policy
from diet_sparse.dialogue.featurization import story_states_and_actions
from diet_sparse.rasa.stories import load_stories
policy = load_policy({model_dir!r})
policy.config.max_history = {max_history}
first = time.perf_counter()
stories = load_stories({str(DATASETS / dataset / SPLITS[dataset][1])!r})
prefixes = []
for story in stories:
    states, _ = story_states_and_actions(story, policy.domain)
    prefixes += [states[: i + 1] for i in range(len(states))]
policy.predict_states([prefixes[0]])
loaded = time.perf_counter() - t0
times = []
for prefix in prefixes * 2:
    started = time.perf_counter()
    policy.predict_states([prefix])
    times.append((time.perf_counter() - started) * 1000)
times = times[len(prefixes):]
print(json.dumps({{"predictions": len(times), "median_ms": statistics.median(times),
                   "p99_ms": sorted(times)[int(0.99 * (len(times) - 1))],
                   "load_and_first_prediction_seconds": loaded,
                   "tensorflow_imported": "tensorflow" in sys.modules}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--max-history", type=int, default=5)
    parser.add_argument("--density", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=RESULTS / "ted.json")
    args = parser.parse_args()
    for dataset in args.datasets:
        for name in ("domain.yml", *SPLITS[dataset]):
            if not (DATASETS / dataset / name).is_file():
                raise SystemExit(f"{DATASETS / dataset / name} not found: set DIET_SPARSE_DATASETS")

    values = {
        "epochs": args.epochs,
        "max_history": args.max_history,
        "connection_density": args.density,
        **TED_ALONE,  # TED against Rasa's TED: no rules, memorized stories or core fallback
    }
    results = {
        "command": " ".join(sys.argv),
        "machine": machine(),
        "reference_seconds": {"start": reference_seconds(), "end": None},
        "config": values,
        "rasa": RASA,
        "datasets": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        for dataset in args.datasets:
            runs = []
            for seed in range(42, 42 + args.seeds):
                runs.append(run_seed(dataset, seed, values, Path(scratch)))
                run = runs[-1]
                print(
                    f"{dataset} seed {seed}: action accuracy {run['action_accuracy']:.3f}, "
                    f"F1 {run['action_weighted_f1']:.3f}, conversations "
                    f"{run['conversation_accuracy']:.3f}, {run['train_seconds']:.1f} s",
                    flush=True,
                )
            speed = latency(runs[0]["model_dir"], dataset, max_history=10)
            summary = {
                name: mean_and_std([run[name] for run in runs])
                for name in (
                    "action_accuracy",
                    "action_weighted_f1",
                    "conversation_accuracy",
                    "train_seconds",
                    "later_epoch_seconds",
                    "peak_rss_mb",
                )
            }
            results["datasets"][dataset] = {"runs": runs, "summary": summary, "latency": speed}
            rows = [(name, f"{v['mean']:.4g} ± {v['std'] or 0:.2g}") for name, v in summary.items()]
            rows += [(f"latency {key}", value) for key, value in speed.items()]
            rows += [("model_bytes", runs[0]["model_bytes"])]
            rows += [(f"rasa {key}", value) for key, value in RASA[dataset].items()]
            print(f"\n== {dataset} ({args.seeds} seeds)")
            print_table(rows)
            write_json(args.out, results)
    results["reference_seconds"]["end"] = reference_seconds()
    write_json(args.out, results)
    print("written", args.out)


if __name__ == "__main__":
    main()
