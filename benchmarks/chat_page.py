"""The chat page's speed in a real browser (issue 28): how long the page takes to load and one
turn takes to answer, on a local `diet-sparse serve` with the example model (`make run` trains
it into models/default and models/policy), in headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium, as the browser tests drive them).

    python benchmarks/chat_page.py                       # 20 page loads, 20 turns
    python benchmarks/chat_page.py --loads 50 --model models/default --policy models/policy

Each page load is a fresh navigation in a new conversation (navigation start to the end of the
load event, and to the page being ready: domain and status read); each turn is one message
from the send to the answer on screen, and to the turn shown in the inspector (the page's own
``window.dietSparseTimings``). Prints a table (median, p90, max) and writes
benchmarks/results/chat_page.json (or --out), with a reference workload's time before and after.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import RESULTS, ROOT, machine, percentile, reference_seconds, write_json

CHROMIUM = Path(os.environ.get("DIET_SPARSE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DIET_SPARSE_CHROMEDRIVER", "/usr/bin/chromedriver"))
MESSAGES = ("hello there", "book a flight from Berlin to Lisbon", "what's the weather in NYC")
# the page's timings once it is ready (its load event ended, domain and status read)
LOADED = (
    "const t = window.dietSparseTimings;"
    "return document.body.dataset.ready === 'true' && t.pageLoadMs && t"
)
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000")  # fmt: skip


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--policy", type=Path, default=ROOT / "models" / "policy")
    parser.add_argument("--loads", type=int, default=20, help="page loads (default: 20)")
    parser.add_argument("--turns", type=int, default=20, help="turns timed (default: 20)")
    parser.add_argument("--out", type=Path, default=RESULTS / "chat_page.json")
    args = parser.parse_args(argv)
    for name in ("model", "policy"):
        if not (getattr(args, name) / "metadata.json").is_file():
            parser.error(f"--{name} {getattr(args, name)}: no trained model there (run make run)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            parser.error(f"{path} not found: apt-get install chromium chromium-driver")
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: argparse.Namespace, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "diet_sparse.cli", "serve", "--model", str(args.model),
               "--policy", str(args.policy), "--port", str(port),
               "--tracker-store", f"sqlite:///{folder / 'tracker.db'}"]  # fmt: skip
    log = open(folder / "serve.log", "w")  # noqa: SIM115 (the server writes it while it runs)
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server stopped: {(folder / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    sys.exit("the server did not start within 120 s")


def browser(folder: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={folder / 'chromium'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def wait(driver, script: str, timeout: float = 30) -> object:
    """Poll ``script`` (JavaScript returning a value) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.01)
    raise TimeoutError(f"waited {timeout} s for: {script}")


def measure(driver, url: str, loads: int, turns: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"load": [], "ready": [], "answer": [], "inspector": []}
    driver.get(url)  # the first load warms the browser's cache and the server up
    wait(driver, "return document.body.dataset.ready === 'true'")
    for _ in range(loads):
        driver.execute_script("sessionStorage.clear()")  # a new conversation each time
        driver.get(url)
        timings = wait(driver, LOADED)
        figures["load"].append(timings["pageLoadMs"])
        figures["ready"].append(timings["readyMs"])
    for said in range(turns):
        if said and said % len(MESSAGES) == 0:  # a new conversation, so the turns stay alike
            driver.find_element("css selector", "#new-conversation").click()
        before = driver.execute_script("return window.dietSparseTimings.turns.length")
        field = driver.find_element("css selector", "#message-input")
        field.send_keys(MESSAGES[said % len(MESSAGES)] + "\n")
        turn = wait(driver, f"const t = window.dietSparseTimings.turns;"
                    f"return t.length > {before} && t[t.length - 1]")  # fmt: skip
        figures["answer"].append(turn["answerMs"])
        figures["inspector"].append(turn["inspectorMs"])
    return figures


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(values),
        "p90_ms": percentile(values, 90),
        "max_ms": max(values),
        "n": len(values),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    reference_before = reference_seconds()
    with tempfile.TemporaryDirectory(prefix="chat-page-") as temporary:
        folder = Path(temporary)
        process, url = start_server(args, folder)
        driver = browser(folder)
        try:
            figures = measure(driver, url, args.loads, args.turns)
        finally:
            driver.quit()
            process.terminate()
            process.wait(timeout=30)
    results = {
        "benchmark": "chat_page",
        "command": [sys.executable, *sys.argv],
        "machine": machine(),
        "reference_seconds": {"start": reference_before, "end": reference_seconds()},
        "model": str(args.model),
        "policy": str(args.policy),
        "figures": {name: summary(values) for name, values in figures.items()},
        "runs": figures,
    }
    write_json(args.out, results)
    names = {
        "load": "page load (navigation start to load event end)",
        "ready": "page ready (domain and status read)",
        "answer": "one turn: sent to answer on screen",
        "inspector": "one turn: sent to shown in the inspector",
    }
    print(f"{'measure':<46} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for name, figure in results["figures"].items():
        print(f"{names[name]:<46} {figure['median_ms']:>10.1f} {figure['p90_ms']:>8.1f} "
              f"{figure['max_ms']:>8.1f}")  # fmt: skip
    print(f"reference workload: {reference_before:.3f} s at start, "
          f"{results['reference_seconds']['end']:.3f} s at end; wrote {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
