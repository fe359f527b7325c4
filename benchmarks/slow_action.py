"""Other senders' latency while one sender's custom action takes 10 s (issue 26), on SQLite and
on PostgreSQL: a server (`diet-sparse serve`, a tiny model trained here on data/) whose action
server's action sleeps, one sender triggering it, and other senders talking meanwhile; beside
the same traffic with an action that answers at once (the baseline).

    python benchmarks/slow_action.py                  # both stores, a 10 s action, 8 senders
    python benchmarks/slow_action.py --stores sqlite --action-seconds 5

Prints a table and writes benchmarks/results/slow_action.json (or --out). PostgreSQL is started
in a temporary folder, as the tests start it; it is left out where it is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from common import (
    RESULTS,
    ROOT,
    machine,
    percentile,
    print_table,
    reference_seconds,
    throwaway_postgres,
    write_json,
)

CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 3
    transformer_size: 16
    number_of_transformer_layers: 1
    number_of_attention_heads: 2
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: TEDPolicy
    epochs: 3
    transformer_size: 16
"""
# the data/ story "play music": this message's turn runs the custom action action_play_music
SLOW_MESSAGE = '/play_music{"genre": "jazz"}'
COMMAND = [sys.executable, "-m", "diet_sparse.cli"]
START_SECONDS = 180  # loading TensorFlow on a busy two-core machine is slow


class ActionServer:
    """An action server on localhost whose every action sleeps ``delay`` seconds."""

    def __init__(self) -> None:
        self.delay, self.calls = 0.0, 0
        self.called = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):
                handler.rfile.read(int(handler.headers["Content-Length"]))
                self.calls += 1
                self.called.set()
                time.sleep(self.delay)
                body = json.dumps({"events": [], "responses": []}).encode()
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def train(folder: Path) -> Path:
    """A tiny NLU model and policy, trained on data/ in the project ``folder``."""
    (folder / "data").mkdir(parents=True)
    for name in ("nlu.yml", "stories.yml", "rules.yml", "extras.yml"):
        shutil.copy(ROOT / "data" / name, folder / "data" / name)
    shutil.copy(ROOT / "data" / "domain.yml", folder / "domain.yml")
    (folder / "config.yml").write_text(CONFIG, encoding="utf-8")
    subprocess.run([*COMMAND, "train", "--project", str(folder), "--quiet"], check=True)
    return next((folder / "models").iterdir())


@contextmanager
def server(model: Path, store: str, endpoints: Path, log: Path):
    """`diet-sparse serve` of ``model`` on a free port, its conversations in ``store``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--model", str(model), "--port", "0", "--tracker-store", store,
             "--endpoints", str(endpoints)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the server exited:\n{log.read_text()}")
            found = re.search(r"listening on (http://\S+)", log.read_text())
            if found:
                try:
                    if httpx.get(f"{found.group(1)}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"the server did not start in {START_SECONDS} s")
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def traffic(url: str, actions: ActionServer, delay: float, seconds: float, senders: int,
            name: str) -> dict:  # fmt: skip
    """One sender's message runs the action (taking ``delay`` s) while ``senders`` others each
    send messages and parse texts for ``seconds`` (the same in the baseline, so that their
    conversations grow as long): their latencies, in ms."""
    actions.delay, actions.calls = delay, 0
    actions.called.clear()
    latencies: list[float] = []
    failures = 0
    slow: dict[str, float] = {}

    def trigger() -> None:
        start = time.perf_counter()
        message = {"sender": f"{name}-slow", "message": SLOW_MESSAGE}
        httpx.post(f"{url}/webhooks/rest/webhook", json=message, timeout=120)
        slow["seconds"] = time.perf_counter() - start

    def talk(number: int, until: float) -> None:
        nonlocal failures
        with httpx.Client(base_url=url, timeout=120) as client:
            i = 0
            while time.monotonic() < until and i < 10_000:
                text = "/greet" if i % 2 == 0 else "/goodbye"
                start = time.perf_counter()
                if i % 3 == 2:
                    response = client.post("/model/parse", json={"text": "hello there"})
                else:
                    message = {"sender": f"{name}-{number}", "message": text}
                    response = client.post("/webhooks/rest/webhook", json=message)
                latencies.append((time.perf_counter() - start) * 1000)
                failures += response.status_code != 200
                i += 1

    triggering = threading.Thread(target=trigger)
    triggering.start()
    actions.called.wait(timeout=60)
    until = time.monotonic() + seconds
    talking = [threading.Thread(target=talk, args=(n, until)) for n in range(senders)]
    for thread in talking:
        thread.start()
    for thread in [triggering, *talking]:
        thread.join()
    return {
        "requests": len(latencies),
        "failures": failures,
        "median_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99),
        "action_runs": actions.calls,
        "slow_sender_seconds": slow.get("seconds"),
    }


def table_rows(store: str, result: dict) -> list[tuple[str, object]]:
    base, slow = result["baseline"], result["slow_action"]
    shown = {key: f"{base[key]:.1f} / {slow[key]:.1f}" for key in ("median_ms", "p99_ms")}
    runs = f"{slow['slow_sender_seconds']:.1f} (action runs: {slow['action_runs']})"
    return [
        (f"{store}: requests (baseline / slow)", f"{base['requests']} / {slow['requests']}"),
        (f"{store}: failures", base["failures"] + slow["failures"]),
        (f"{store}: median ms (baseline / slow)", shown["median_ms"]),
        (f"{store}: p99 ms (baseline / slow)", shown["p99_ms"]),
        (
            f"{store}: ratio median / p99",
            f"{result['median_ratio']:.2f} / {result['p99_ratio']:.2f}",
        ),
        (f"{store}: slow sender answered in s", runs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--action-seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=8, help="other senders, one thread each")
    parser.add_argument("--out", type=Path, default=RESULTS / "slow_action.json")
    args = parser.parse_args()

    results: dict = {"machine": machine(), "reference_seconds_start": reference_seconds()}
    results["settings"] = {"action_seconds": args.action_seconds, "senders": args.senders}
    actions = ActionServer()
    with (
        tempfile.TemporaryDirectory(prefix="slow-action-") as folder,
        throwaway_postgres("slow-action-pg-") as pg_url,
    ):
        folder = Path(folder)
        model = train(folder / "project")
        endpoints = folder / "endpoints.yml"
        endpoints.write_text(f"action_endpoint:\n  url: {actions.url}\n")
        urls = {"sqlite": f"sqlite:///{folder / 'tracker.db'}", "postgresql": pg_url}
        for store in args.stores:
            if urls[store] is None:
                print(f"{store}: not installed, left out")
                continue
            with server(model, urls[store], endpoints, folder / f"{store}.log") as url:
                seconds, senders = args.action_seconds, args.senders
                traffic(url, actions, 0.0, 2.0, senders, f"{store}-warmup")
                baseline = traffic(url, actions, 0.0, seconds - 1, senders, f"{store}-baseline")
                slow = traffic(url, actions, seconds, seconds - 1, senders, f"{store}-slow")
            results[store] = {
                "baseline": baseline,
                "slow_action": slow,
                "median_ratio": slow["median_ms"] / baseline["median_ms"],
                "p99_ratio": slow["p99_ms"] / baseline["p99_ms"],
            }
            print_table(table_rows(store, results[store]))
    results["reference_seconds_end"] = reference_seconds()
    start, end = results["reference_seconds_start"], results["reference_seconds_end"]
    print_table([("reference workload s (start / end)", f"{start:.3f} / {end:.3f}")])
    print(f"wrote {write_json(args.out, results)}")


if __name__ == "__main__":
    main()
