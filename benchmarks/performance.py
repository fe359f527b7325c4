"""Speed, memory and size of diet-sparse on SNIPS (and ATIS): the figures of
docs/performance.md.

    python benchmarks/performance.py                 # everything (about 25 minutes, 2 cores)
    python benchmarks/performance.py --only train latency size

Sections: train (throughput and memory on SNIPS and ATIS), latency (one message), cold_start,
batch (parse_batch throughput), size (model directory at density 0.2 and 1.0), scaling (epoch
time vs data size, latency vs message length), server (requests per second under load).
Prints a table per section and writes benchmarks/results/performance.json (sections merged
into what is there; --out FILE writes another).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import (
    RESULTS,
    ROOT,
    dataset,
    directory_size,
    latency_ms,
    machine,
    percentile,
    print_table,
    reference_seconds,
)

from diet_sparse.evaluation.sweep import stratified_subsample
from diet_sparse.rasa.nlu_data import load_training_data

SECTIONS = ("train", "latency", "cold_start", "batch", "size", "scaling", "server")


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class MemorySampler:
    """Samples this process's resident memory every 0.2 s while it runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), rss_mb()))
            time.sleep(0.2)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float, end: float) -> float:
        inside = [mb for t, mb in self.samples if start <= t <= end]
        return max(inside) if inside else 0.0


def train_throughput(name: str, epochs: int, config: dict) -> dict:
    """Examples per second per epoch after the first, and resident memory per epoch."""
    from diet_sparse.training import train

    data = load_training_data(dataset(name, "train"))
    with MemorySampler() as memory:
        started = time.perf_counter()
        nlu = train(data, dict(config, epochs=epochs), progress=False)
        ended = time.perf_counter()
    history = nlu.metadata["history"]
    # Epoch windows, counted back from the end of training.
    boundaries = [ended]
    for epoch in reversed(history):
        boundaries.insert(0, boundaries[0] - epoch["seconds"])
    per_epoch_mb = [
        round(memory.peak_between(boundaries[i], boundaries[i + 1]), 1) for i in range(len(history))
    ]
    later = history[1:] or history
    n = len(data.examples)
    return {
        "dataset": name,
        "examples": n,
        "epochs": epochs,
        "first_epoch_seconds": history[0]["seconds"],
        "later_epoch_seconds": statistics.mean(e["seconds"] for e in later),
        "examples_per_second": n / statistics.mean(e["seconds"] for e in later),
        "total_seconds": ended - started,
        "peak_rss_mb": round(max(mb for _, mb in memory.samples), 1),
        "rss_mb_per_epoch": per_epoch_mb,
    }


def trained_model(directory: Path, config: dict, epochs: int = 2) -> Path:
    """A SNIPS model for the prediction benchmarks (their speed does not depend on epochs)."""
    from diet_sparse.training import train

    if not (directory / "metadata.json").exists():
        train(
            load_training_data(dataset("snips", "train")),
            dict(config, epochs=epochs),
            out=directory,
            progress=False,
        )
    return directory


def test_texts() -> list[str]:
    return [example.text for example in load_training_data(dataset("snips", "test")).examples]


def section_latency(model_dir: Path) -> dict:
    from diet_sparse import load

    nlu = load(model_dir)
    texts = test_texts()
    results = latency_ms(nlu.parse, texts, warmup=50)
    return {"messages": len(texts), **results}


def section_cold_start(model_dir: Path) -> dict:
    code = (
        "import time; t0 = time.perf_counter(); from diet_sparse import load; "
        f"nlu = load({str(model_dir)!r}); t1 = time.perf_counter(); nlu.parse('play some jazz'); "
        "t2 = time.perf_counter(); import sys; "
        "print(t1 - t0, t2 - t1, 'tensorflow' in sys.modules)"
    )
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        total = time.perf_counter() - started
        load_s, first_parse_s, imported_tf = out.stdout.split()
        runs.append((total, float(load_s), float(first_parse_s), imported_tf == "True"))
    best = min(runs)
    tf_started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True)
    return {
        "process_total_seconds": best[0],
        "import_and_load_seconds": best[1],
        "first_parse_seconds": best[2],
        "imports_tensorflow": best[3],
        "tensorflow_import_alone_seconds": time.perf_counter() - tf_started,
    }


def section_batch(model_dir: Path) -> dict:
    from diet_sparse import load

    nlu = load(model_dir)
    texts = test_texts()
    nlu.parse_batch(texts[:100])
    best = min(_timed(lambda: nlu.parse_batch(texts)) for _ in range(3))
    return {"messages": len(texts), "seconds": best, "messages_per_second": len(texts) / best}


def in_fresh_process(function, *args):
    """``function(*args)`` in a new Python process: prediction is timed as a serving process
    runs it, without the TensorFlow that this process imported to train (its idle thread pools
    slow ONNX Runtime and numpy down by a third)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def section_size(scratch: Path, config: dict) -> dict:
    sizes = {}
    for density in (0.2, 1.0):
        directory = trained_model(
            scratch / f"size_{density}", dict(config, connection_density=density), epochs=1
        )
        sizes[f"density_{density}_bytes"] = directory_size(directory)
        sizes[f"density_{density}_files"] = {
            p.name: p.stat().st_size for p in sorted(directory.iterdir())
        }
    sizes["ratio_0.2_to_1.0"] = sizes["density_0.2_bytes"] / sizes["density_1.0_bytes"]
    return sizes


def section_scaling(model_dir: Path, config: dict) -> dict:
    from diet_sparse.training import train

    data = load_training_data(dataset("snips", "train"))
    epoch_seconds = {}
    for n in (1000, 4000, len(data.examples)):
        sample = stratified_subsample(data, n, seed=0)
        nlu = train(sample, dict(config, epochs=2, batch_size=[64, 64]), progress=False)
        epoch_seconds[n] = nlu.metadata["history"][1]["seconds"]
    latency = in_fresh_process(latency_by_length, model_dir)
    return {"epoch_seconds_by_examples": epoch_seconds, "parse_median_ms_by_tokens": latency}


def latency_by_length(model_dir: Path) -> dict[int, float]:
    from diet_sparse import load

    nlu = load(model_dir)
    words = " ".join(test_texts()).split()
    latency = {}
    for n_tokens in (5, 20, 80):
        # 200 messages of n_tokens consecutive test words, wrapping around the word list
        texts = [
            " ".join(words[(i + j) % len(words)] for j in range(n_tokens))
            for i in range(0, 200 * n_tokens, n_tokens)
        ]
        latency[n_tokens] = latency_ms(nlu.parse, texts)["median_ms"]
    return latency


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (a server's worker processes)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    tree, grown = {pid}, True
    while grown:
        children = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= children
        grown = bool(children)
    return sum(rss_mb(p) for p in tree if Path(f"/proc/{p}").exists())


def section_server(
    model_dir: Path, clients: int = 8, requests_per_client: int = 400, processes: int | None = None
) -> dict:
    import http.client
    import socket

    processes = processes or os.cpu_count() or 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "diet-sparse"),
        "serve",
        "--model",
        str(model_dir),
        "--port",
        str(port),
        "--workers",
        str(processes),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        texts = test_texts()
        latencies: list[float] = []
        errors = []

        def client(offset: int, count: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for i in range(count):
                body = json.dumps({"text": texts[(offset * 97 + i) % len(texts)]})
                started = time.perf_counter()
                connection.request(
                    "POST", "/model/parse", body, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status != 200:
                    errors.append(response.status)

        def load(count: int) -> float:
            """Seconds for ``clients`` concurrent clients to send ``count`` requests each."""
            threads = [threading.Thread(target=client, args=(i, count)) for i in range(clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            return time.perf_counter() - started

        # /health answers once one worker process is up; the others may still be loading
        time.sleep(5)
        load(20)
        latencies.clear()
        errors.clear()
        seconds = load(requests_per_client)
        server_rss = tree_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "server_processes": processes,
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "requests_per_second": len(latencies) / seconds,
        "median_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99),
        "server_rss_mb": round(server_rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--train-epochs", type=int, default=4)
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "performance.json",
        help="JSON to write; the sections of a run of some of them are merged into it",
    )
    args = parser.parse_args()

    from diet_sparse.config import as_config

    config = as_config(args.config).to_dict()
    path = args.out
    results = json.loads(path.read_text()) if path.exists() else {}
    results["machine"] = machine()
    reference_at_start = reference_seconds()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        model_dir = scratch / "snips"
        if set(args.only) & {"latency", "cold_start", "batch", "scaling", "server"}:
            trained_model(model_dir, config)
        for section in args.only:
            print(f"\n== {section}", flush=True)
            if section == "train":
                found = {
                    name: train_throughput(name, args.train_epochs, config)
                    for name in ("snips", "atis")
                }
                # memory per epoch at the largest batch size throughout: flat, not growing
                largest = dict(config, batch_size=[max(config["batch_size"])] * 2)
                found["snips_largest_batch_throughout"] = train_throughput(
                    "snips", args.train_epochs, largest
                )
            elif section == "size":
                found = section_size(scratch, config)
            elif section == "scaling":
                found = section_scaling(model_dir, config)
            elif section in ("latency", "batch", "server"):
                found = in_fresh_process(globals()[f"section_{section}"], model_dir)
            else:
                found = globals()[f"section_{section}"](model_dir)
            results[section] = found
            print_table(list(_flatten(found)))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2) + "\n")
    results["reference_seconds"] = {"start": reference_at_start, "end": reference_seconds()}
    path.write_text(json.dumps(results, indent=2) + "\n")
    print("\nreference workload (s, start / end):", results["reference_seconds"])
    print("written", path)


def _flatten(values: dict, prefix: str = ""):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
