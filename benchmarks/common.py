"""Shared helpers of the benchmark scripts: dataset paths, timing, size, subsamples, summary
statistics and result files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from diet_sparse.rasa.nlu_data import TrainingData

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


def write_json(path: Path, value: object) -> Path:
    """Write ``value`` as JSON to ``path`` atomically: a reader (or a run interrupted while
    writing) finds the previous file or the complete new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: same disk
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_results(name: str, results: dict) -> Path:
    return write_json(RESULTS / f"{name}.json", results)


def cap_per_intent(data: TrainingData, limit: int | None, seed: int) -> TrainingData:
    """At most ``limit`` examples of every intent, chosen at random with ``seed``.

    Intents with ``limit`` examples or fewer keep them all; ``limit`` None keeps everything.
    Synonyms, regexes and lookups are kept whole, and the examples keep their original order.
    With one seed the choices are nested: the examples kept at ``limit=5`` are among those kept
    at ``limit=10``, so a learning curve adds data rather than swapping it.

    Example:
        >>> five = cap_per_intent(data, 5, seed=42)  # doctest: +SKIP
    """
    if limit is None:
        return data
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1 or None, got {limit!r}")
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(data.examples):
        by_intent[example.intent or ""].append(i)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for intent in sorted(by_intent):
        indices = by_intent[intent]
        # a full permutation whatever the limit: the same seed draws the same order, hence nesting
        chosen += [indices[j] for j in rng.permutation(len(indices))[:limit]]
    examples = [data.examples[i] for i in sorted(chosen)]
    return TrainingData(examples, data.synonyms, data.regexes, data.lookups)


def mean_and_std(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (denominator n - 1) of ``values``; the standard
    deviation is None for a single value, where it is not defined.

    Example:
        >>> mean_and_std([1.0, 2.0, 3.0])
        {'mean': 2.0, 'std': 1.0}
    """
    if not values:
        raise ValueError("mean_and_std needs at least one value")
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std}


def print_table(rows: list[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown}")


def reference_seconds(repeats: int = 5) -> float:
    """Median time of a fixed workload (a 256x256 float32 matrix product, 200 times, on one
    thread): recorded at a benchmark's start and end, it tells how fast the shared machine
    was, so runs made at different times can be compared as ratios."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((256, 256), dtype=np.float32)
    times = []
    with threadpool_limits(1):
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(200):
                a @ a
            times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def throwaway_postgres(prefix: str = "diet-sparse-pg-") -> Iterator[str | None]:
    """A PostgreSQL server of its own in a temporary folder, on a free port of 127.0.0.1, as
    the postgres user when run as root (which PostgreSQL refuses): its URL, or None where
    PostgreSQL is not installed. The tests' PostgreSQL fixture uses it too."""
    found = shutil.which("pg_ctl")
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    bin_dir = Path(found).parent if found else (versions[-1].parent if versions else None)
    if bin_dir is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"

    def run(*command: object) -> None:
        subprocess.run([*as_user, *map(str, command)], check=True, capture_output=True, timeout=120)

    run(bin_dir / "initdb", "-D", data, "--auth=trust", "-U", "postgres")
    run(bin_dir / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-o",
        f"-p {port} -k {folder} -h 127.0.0.1", "start")  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)
