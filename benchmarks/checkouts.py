"""Prediction speed of this checkout against another (a before/after comparison), interleaved.

    git worktree add /tmp/before <commit>          # the code to compare against
    python benchmarks/checkouts.py --before /tmp/before --rounds 3

Each round times, for the other checkout and then this one, in fresh processes that import
diet_sparse from that checkout (PYTHONPATH): one-message `parse` latency (median and p99 over
the SNIPS test messages), `parse_batch` of all of them, and the server under load
(performance.py's server section: 2 workers, 8 concurrent clients). Both parse the same model,
trained with this checkout (SNIPS, 2 epochs; prediction speed does not depend on how long a
model trained) unless ``--model`` names one, so the model's format must be readable by both.
The reference workload is timed at the start and the end. Prints each round and the ratios
(this / before) per round, and writes benchmarks/results/checkouts.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest.mock import patch

from common import RESULTS, ROOT, dataset, machine, print_table, reference_seconds, write_json
from performance import section_server, trained_model

from diet_sparse.config import as_config

BENCHMARKS = Path(__file__).resolve().parent

# Run in a fresh process, with this checkout's benchmarks/ on the path: which diet_sparse it
# imports, parse latency (performance.py's) and parse_batch speed (median of 5 runs).
TIMING = """
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[2])
import diet_sparse
from diet_sparse import load
from common import latency_ms
from performance import test_texts
nlu = load(sys.argv[1])
texts = test_texts()
latency = latency_ms(nlu.parse, texts, warmup=50)
nlu.parse_batch(texts[:100])
batches = []
for _ in range(5):
    started = time.perf_counter()
    nlu.parse_batch(texts)
    batches.append(len(texts) / (time.perf_counter() - started))
print(json.dumps({
    "imported_from": diet_sparse.__file__,
    "parse_median_ms": latency["median_ms"],
    "parse_p99_ms": latency["p99_ms"],
    "parse_batch_messages_per_second": statistics.median(batches),
}))
"""


def time_checkout(checkout: Path, model: Path, server: bool) -> dict:
    """The figures of one checkout, each from processes that import its diet_sparse."""
    with patch.dict(os.environ, {"PYTHONPATH": str(checkout)}):  # the servers inherit it
        done = subprocess.run(
            [sys.executable, "-c", TIMING, str(model), str(BENCHMARKS)],
            cwd=checkout,  # `python -c` puts the working folder first on its path
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        expected = (checkout / "diet_sparse" / "__init__.py").resolve()
        if Path(found["imported_from"]).resolve() != expected:
            raise SystemExit(f"{checkout}: the timing process imported {found['imported_from']}")
        if server:
            figures = section_server(model)
            found.update({f"server_{key}": value for key, value in figures.items()})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", type=Path, help="a model directory both can load")
    parser.add_argument("--no-server", action="store_true", help="leave the server out")
    parser.add_argument("--out", type=Path, default=RESULTS / "checkouts.json")
    args = parser.parse_args()
    if not (args.before / "diet_sparse" / "__init__.py").is_file():
        raise SystemExit(f"--before {args.before}: not a diet-sparse checkout (no diet_sparse/)")
    dataset("snips", "test")  # the test messages are there, before anything trains
    started_reference = reference_seconds()
    commits = {
        name: subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        for name, path in (("before", args.before), ("this", ROOT))
    }
    rounds = []
    with tempfile.TemporaryDirectory() as scratch:
        config = as_config(str(ROOT / "configs" / "default.yml")).to_dict()
        model = args.model or trained_model(Path(scratch) / "snips", config)
        for round_ in range(args.rounds):
            figures = {}
            for name, checkout in (("before", args.before), ("this", ROOT)):
                figures[name] = time_checkout(checkout, model, not args.no_server)
                print(f"round {round_ + 1} {name}: {_summary(figures[name])}", flush=True)
            rounds.append(figures)
    keys = [k for k, v in rounds[0]["this"].items() if isinstance(v, float)]
    ratios = {key: [r["this"][key] / r["before"][key] for r in rounds] for key in keys}
    results = {
        "benchmark": "checkouts",
        "command": " ".join(["python", "benchmarks/checkouts.py", *sys.argv[1:]]),
        "machine": machine(),
        "commits": commits,
        "reference_seconds": {"start": started_reference, "end": reference_seconds()},
        "rounds": rounds,
        "ratio_this_to_before": ratios,
    }
    print_table(
        [
            (
                key,
                f"before {statistics.median(r['before'][key] for r in rounds):.3f}, this "
                f"{statistics.median(r['this'][key] for r in rounds):.3f}, ratio per round "
                + " ".join(f"{x:.2f}" for x in ratios[key]),
            )
            for key in keys
        ]
    )
    print("reference workload (s, start / end):", results["reference_seconds"])
    print("written", write_json(args.out, results))


def _summary(figures: dict) -> str:
    return ", ".join(
        f"{key} {value:.3f}" for key, value in figures.items() if isinstance(value, float)
    )


if __name__ == "__main__":
    main()
