"""Fixtures of the chat page's browser tests: a small Rasa project (tests/fixtures/projects/
chat_page) trained once, real ``diet-sparse serve`` processes on 127.0.0.1 serving it (open,
with a token, with ``--interactive``), and headless Chromium driven by Selenium.

The browser is Debian's ``chromium`` with its ``chromium-driver``, both named by path, so
Selenium Manager never looks for (or downloads) a browser or a driver; the tests are skipped,
saying why, where they are missing (.ci/run installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parent.parent.parent
FIXTURE_PROJECT = ROOT / "tests" / "fixtures" / "projects" / "chat_page"
CHROMIUM = Path(os.environ.get("DIET_SPARSE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("DIET_SPARSE_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]
TOKEN = "page-token-7c1e"  # the secured server's
START_TIMEOUT = 120  # seconds; a busy two-core machine is slow to start a server
# what a server leaves in its project folder, not copied into another's
SERVER_FILES = shutil.ignore_patterns("tracker.db*", "serve-*.log")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root in CI's container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


# --- the trained project ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chat_project(tmp_path_factory) -> Path:
    """A copy of the chat_page project with a model trained in its models/ folder."""
    from diet_sparse.project import train_project

    folder = tmp_path_factory.mktemp("chat_page") / "bot"
    shutil.copytree(FIXTURE_PROJECT, folder)
    train_project(folder, progress=False)
    return folder


# --- servers ------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running ``diet-sparse serve``; ``url`` ends with "/" (the page's address)."""

    process: subprocess.Popen
    log: Path
    folder: Path
    token: str | None = None  # its --auth-token
    url: str = ""

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_server(folder: Path, *options: str) -> Server:
    """``diet-sparse serve`` in the project ``folder`` (its newest model) on a free port, once
    ``GET /health`` answers."""
    log = folder / f"serve-{len(list(folder.glob('serve-*.log')))}.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--host", "127.0.0.1", "--port", "0", *options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=folder,
        )
    token = options[options.index("--auth-token") + 1] if "--auth-token" in options else None
    server = Server(process, log, folder, token)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited during start-up:\n{server.log_text()}")
        found = re.search(r"listening on (http://\S+)", server.log_text())
        if found:
            server.url = found.group(1).rstrip("/") + "/"
            try:
                if httpx.get(f"{server.url}health", params={"token": token}).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"server not ready after {START_TIMEOUT} s:\n{server.log_text()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def open_server(chat_project):
    """The bot without a token."""
    server = start_server(chat_project)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def secured_server(chat_project, tmp_path_factory):
    """The bot with ``--auth-token`` (its own folder: its own conversations)."""
    folder = tmp_path_factory.mktemp("secured") / "bot"
    shutil.copytree(chat_project, folder, ignore=SERVER_FILES)
    server = start_server(folder, "--auth-token", TOKEN)
    yield server
    stop_server(server)


@pytest.fixture
def interactive_server(chat_project, tmp_path):
    """The bot with ``--interactive`` in a copy of the project folder of its own test, so
    what it saves to data/interactive/ is this test's."""
    folder = tmp_path / "bot"
    shutil.copytree(chat_project, folder, ignore=SERVER_FILES)
    server = start_server(folder, "--interactive")
    yield server
    stop_server(server)


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def driver(downloads, tmp_path_factory):
    """Headless Chromium driven through Debian's chromedriver, with a profile of its own."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(
            f"no {' and no '.join(missing)}: the browser tests need Debian's chromium and "
            "chromium-driver (apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    from selenium.webdriver.chrome.service import Service

    # Selenium Manager is skipped when the driver's path is given; these say the same to it
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    yield browser
    browser.quit()


@pytest.fixture
def screenshot(driver, request, tmp_path):
    """Saves a PNG of the page when the test ends (passed or failed) into ``tmp_path`` and, if
    set, ``$DIET_SPARSE_SCREENSHOTS``; ``screenshot(name)`` saves one more during the test."""

    def save(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        driver.save_screenshot(str(path))
        folder = os.environ.get("DIET_SPARSE_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(folder) / path.name)
        return path

    yield save
    save(request.node.name)
