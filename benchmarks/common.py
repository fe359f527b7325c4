"""Shared helpers of the benchmark scripts: dataset paths, timing, size, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("DIET_SPARSE_DATASETS", ROOT.parent / "shared" / "datasets"))
RESULTS = ROOT / "benchmarks" / "results"


def dataset(name: str, split: str) -> Path:
    path = DATASETS / name / f"{split}.yml"
    if not path.is_file():
        raise SystemExit(
            f"{path} not found: pass the data path on the command line or set "
            "DIET_SPARSE_DATASETS to the folder holding snips/, atis/, sara/"
        )
    return path


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def latency_ms(function, inputs, warmup: int = 20) -> dict[str, float]:
    """Median and p99 wall time of ``function(x)`` over ``inputs``, in milliseconds."""
    for x in inputs[:warmup]:
        function(x)
    times = []
    for x in inputs:
        start = time.perf_counter()
        function(x)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(times), "p99_ms": percentile(times, 99)}


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def write_results(name: str, results: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def print_table(rows: list[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown}")
