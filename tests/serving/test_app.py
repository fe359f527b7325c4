"""The HTTP server: the real `diet-sparse serve` in a subprocess, talked to over localhost HTTP.

Two servers run for the whole module: an open one (batching window 2 ms) and one with
``--auth-token`` that parses every request on its own (window 0), so both request paths are
exercised under concurrency. The shutdown tests stop servers of their own, so the tests can run
in any order.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from comparing import assert_same_parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diet_sparse import __version__
from diet_sparse.serving.app import MicroBatcher, create_app

SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]
TOKEN = "test-token-3f9a"
START_TIMEOUT = 120  # seconds; loading TensorFlow on a busy two-core machine is slow
TEXTS = [
    "hello there",
    "book a flight from Berlin to Lisbon tomorrow",
    "what's the weather like in NYC",
    "play some jazz by Miles Davis",
    "book a table for two at an italian place",
    "turn on the lights in the kitchen",
    "wake me up at 7am",
    "no",
    "yes please",
    "bye",
    "",
    "fly from Paris to Rome on friday",
]
# the command-line options of the two kinds of server
OPEN_OPTIONS = ("--workers", "2")
SECURED_OPTIONS = ("--auth-token", TOKEN, "--batch-window-ms", "0", "--max-text-length", "50")


# --- running servers ----------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    log: Path
    url: str = ""

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def launch(model_dir: Path | None, log: Path, *options: str, cwd: Path | None = None) -> Server:
    """Start ``diet-sparse serve`` on a free port (``--port 0``) in ``cwd`` (default: the log's
    folder, where a bot's tracker.db goes); `wait_ready` finds which. Without ``model_dir``, no
    ``--model`` (a project folder's newest model)."""
    model = ["--model", str(model_dir)] if model_dir is not None else []
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [*COMMAND, "serve", *model, "--port", "0", *options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=cwd or log.parent,
        )
    return Server(process, log)


def wait_ready(server: Server) -> Server:
    """Wait for the start-up line naming the address, then for ``GET /health`` to answer 200."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited during start-up:\n{server.log_text()}")
        found = re.search(r"listening on (http://\S+)", server.log_text())
        if found:
            server.url = found.group(1)
            try:
                if httpx.get(f"{server.url}/health", params={"token": TOKEN}).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"server not ready after {START_TIMEOUT} s:\n{server.log_text()}")


def stop(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise


@pytest.fixture(scope="module")
def servers(trained_model_dir, tmp_path_factory, request):
    logs = tmp_path_factory.mktemp("server_logs")
    launched = {
        "open": launch(trained_model_dir, logs / "open.log", *OPEN_OPTIONS),
        "secured": launch(trained_model_dir, logs / "secured.log", *SECURED_OPTIONS),
    }
    try:
        request.getfixturevalue("nlu")  # load the in-process model while the servers start
        yield {name: wait_ready(server) for name, server in launched.items()}
    finally:
        for server in launched.values():
            stop(server)


@pytest.fixture(scope="module")
def server(servers) -> Server:
    return servers["open"]


@pytest.fixture(scope="module")
def secured(servers) -> Server:
    return servers["secured"]


@pytest.fixture
def start_own_server(trained_model_dir, tmp_path):
    """Start servers for one test alone (tests that stop them); those still running stop after."""
    started: list[Server] = []

    def start(*options: str) -> Server:
        log = tmp_path / f"server{len(started)}.log"
        started.append(launch(trained_model_dir, log, *options))
        return wait_ready(started[-1])

    yield start
    for server in started:
        stop(server)


def post_parse(server: Server, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{server.url}/model/parse", content=content, timeout=30, **kwargs)


def assert_error(response: httpx.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    if error is not None:
        assert body["error"] == error, body
    return body


# --- the protocol -------------------------------------------------------------------------------


def test_parse_answers_rasa_request_like_python_parse(server, nlu):
    rasa_request = {"token": None, "text": "hello there", "message_id": "sender-42"}
    response = post_parse(server, rasa_request, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result.pop("message_id") == "sender-42"
    assert_same_parse(result, nlu.parse("hello there"))

    without_id = post_parse(server, {"text": "book a flight from Berlin to Lisbon tomorrow"})
    assert "message_id" not in without_id.json()
    assert_same_parse(without_id.json(), nlu.parse("book a flight from Berlin to Lisbon tomorrow"))


def test_empty_text_is_a_valid_request(server, nlu):
    response = post_parse(server, {"text": "", "message_id": None})
    assert response.status_code == 200, response.text
    assert_same_parse(response.json(), nlu.parse(""))


def test_messages_naming_their_intent_are_answered_as_rasas_regex_message_handler(nlu):
    from fastapi.testclient import TestClient

    with TestClient(create_app(nlu)) as client:  # no domain: any intent, as Rasa's NLU-only
        answer = client.post("/model/parse", json={"text": '/dance{"city": "Rome"}'}).json()
    assert answer == {
        "text": '/dance{"city": "Rome"}',
        "intent": {"name": "dance", "confidence": 1.0},
        "intent_ranking": [{"name": "dance", "confidence": 1.0}],
        "entities": [{"entity": "city", "value": "Rome", "start": 6, "end": 22,
                      "extractor": "RegexMessageHandler"}],
    }  # fmt: skip
    domain = SimpleNamespace(intents=["greet"], entities=["city"])
    policy = SimpleNamespace(domain=domain, action_names=["action_listen"])
    with TestClient(create_app(nlu, policy=policy)) as client:  # the policy's domain counts
        greet, dance = (
            client.post("/model/parse", json={"text": text}).json() for text in ("/greet", "/dance")
        )
    assert greet["intent"] == {"name": "greet", "confidence": 1.0}
    assert_same_parse(dance, nlu.parse("/dance", domain=domain))  # the model's parse
    assert dance["intent"]["name"] != "dance"


def test_health_status_and_version(server, trained_model_dir, nlu):
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert httpx.get(f"{server.url}/version").json() == {"version": __version__}
    status = httpx.get(f"{server.url}/status").json()
    assert Path(status["model_directory"]) == trained_model_dir.resolve()
    assert status["diet_sparse_version"] == __version__
    assert status["intents"] == nlu.intents
    assert "city" in status["entity_types"] and "B-city" not in status["entity_types"]
    assert status["roles"] == ["departure", "destination"]
    assert status["connection_density"] == nlu.config.connection_density
    assert status["trained_at"] == nlu.metadata["trained_at"]


def test_openapi_schema_and_docs_are_served(server):
    schema = httpx.get(f"{server.url}/openapi.json").json()
    body = schema["paths"]["/model/parse"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["text"]
    assert {"/health", "/status", "/version"} <= set(schema["paths"])
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_start_up_says_where_it_listens_and_who_may_connect(server, secured):
    assert "only accepting connections from this machine" in server.log_text()
    assert "Requests must carry the token" in secured.log_text()
    assert "Traceback" not in server.log_text()


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b'{"text": "unfinished', 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b"\xff\xfe not utf-8 {", 400, "invalid_json"),
        (b"[" * 50_000, 400, "invalid_json"),  # nesting too deep for the JSON decoder
        (b'["hello"]', 400, "invalid_request"),
        (b'{"message_id": "1"}', 400, "invalid_request"),
        (b'{"text": null}', 400, "invalid_request"),
        (b'{"text": 42}', 400, "invalid_request"),
        (b'{"text": ["hi"]}', 400, "invalid_request"),
        (b'{"text": "hi", "message_id": 7}', 400, "invalid_request"),
        (b'{"text": "hi", "token": {"a": 1}}', 400, "invalid_request"),
        (b'{"text": "\\ud800"}', 400, "invalid_request"),  # a lone surrogate is no text
        (json.dumps({"text": "a" * 70_000}).encode(), 413, "payload_too_large"),
        (json.dumps({"text": "a " * 1001}).encode(), 413, "text_too_long"),
    ],
    ids=lambda value: None if isinstance(value, bytes) else str(value),
)
def test_bad_requests_get_a_json_error(server, body, status, error):
    assert_error(post_parse(server, body), status, error)


def test_limits_are_named_and_inclusive(server):
    detail = assert_error(post_parse(server, {"text": "a" * 2001}), 413)["detail"]
    assert "2000" in detail
    assert post_parse(server, {"text": "a" * 2000}).status_code == 200


def test_body_limit_counts_bytes_sent_without_content_length(server):
    def chunks():
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    response = httpx.post(f"{server.url}/model/parse", content=chunks())  # chunked encoding
    assert_error(response, 413, "payload_too_large")


def test_unknown_paths_and_methods_get_a_json_error(server):
    assert_error(httpx.get(f"{server.url}/nowhere"), 404, "not_found")
    assert_error(httpx.get(f"{server.url}/model/parse"), 405, "method_not_allowed")
    assert_error(httpx.delete(f"{server.url}/health"), 405, "method_not_allowed")


# --- concurrency --------------------------------------------------------------------------------


# "open": batched, in two worker processes; "secured": one process, one thread per request
@pytest.mark.parametrize("name", ["open", "secured"])
def test_concurrent_requests_each_get_their_own_parse(servers, name, nlu):
    server = servers[name]
    expected = {text: nlu.parse(text) for text in TEXTS}
    answers, failures = [], []

    def client(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as session:
            for i in range(50):
                text = TEXTS[(offset + i) % len(TEXTS)]
                body = {"text": text, "message_id": f"{offset}-{i}", "token": TOKEN}
                response = session.post("/model/parse", json=body)
                if response.status_code != 200:
                    failures.append(response.text)
                    return
                answers.append((text, f"{offset}-{i}", response.json()))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:3]
    assert len(answers) == 8 * 50
    for text, message_id, answer in answers:
        assert answer.pop("message_id") == message_id
        assert_same_parse(answer, expected[text], tolerance=1e-4)


# --- fuzzing ------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def strategy_from_schema(schema: dict) -> st.SearchStrategy:
    """Values of an OpenAPI (JSON schema) object of strings and nulls, with optional keys."""
    if "anyOf" in schema:
        return st.one_of([strategy_from_schema(option) for option in schema["anyOf"]])
    if schema.get("type") == "null":
        return st.none()
    if schema.get("type") == "string":
        return st.text(max_size=300)
    if schema.get("type") == "object":
        properties = {key: strategy_from_schema(s) for key, s in schema["properties"].items()}
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {key: s for key, s in properties.items() if key in required},
            optional={key: s for key, s in properties.items() if key not in required},
        )
    return JSON_VALUES


def request_bodies(schema: dict) -> st.SearchStrategy[bytes]:
    """Bodies that follow the schema, break it in one field, or are any JSON or any bytes."""
    valid = strategy_from_schema(schema)
    broken = st.tuples(valid, st.sampled_from(list(schema["properties"])), JSON_VALUES).map(
        lambda drawn: {**drawn[0], drawn[1]: drawn[2]}
    )
    as_json = st.one_of(valid, broken, JSON_VALUES).map(lambda value: json.dumps(value).encode())
    return st.one_of(as_json, st.binary(max_size=300))


@pytest.fixture(scope="module")
def parse_body_schema(server) -> dict:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    body = schema["paths"]["/model/parse"]["post"]["requestBody"]
    return body["content"]["application/json"]["schema"]


def test_fuzzed_parse_requests_never_get_a_server_error(server, parse_body_schema):
    session = httpx.Client(base_url=server.url, timeout=10)  # a hang fails the test

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=request_bodies(parse_body_schema))
    def check(body: bytes) -> None:
        response = session.post("/model/parse", content=body)
        assert response.status_code in (200, 400, 413), (body, response.text)
        if response.status_code != 200:
            assert set(response.json()) == {"error", "detail"}

    with session:
        check()
        assert session.get("/health").status_code == 200


def test_fuzzed_paths_methods_and_tokens_never_get_a_server_error(secured):
    session = httpx.Client(base_url=secured.url, timeout=10)
    paths = st.sampled_from(["/model/parse", "/health", "/status", "/version", "/openapi.json"])
    paths = paths | st.text(alphabet="abcdefghijklmnopqrstuvwxyz/._-%", max_size=30).map(
        lambda path: "/" + path
    )

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        path=paths,
        token=st.none() | st.just(TOKEN) | st.text(max_size=20),
        body=st.none() | JSON_VALUES.map(json.dumps),
    )
    def check(method: str, path: str, token: str | None, body: str | None) -> None:
        params = {} if token is None else {"token": token}
        response = session.request(method, path, params=params, content=body)
        assert response.status_code < 500, (method, path, response.text)
        if token != TOKEN:
            assert response.status_code == 401

    with session:
        check()
        assert session.get("/health", params={"token": TOKEN}).status_code == 200


# --- tokens -------------------------------------------------------------------------------------


def test_token_server_refuses_requests_without_the_token(secured):
    for path in ("/health", "/status", "/version", "/openapi.json"):
        assert_error(httpx.get(f"{secured.url}{path}"), 401, "unauthorized")
    assert_error(post_parse(secured, {"text": "hello"}), 401, "unauthorized")
    assert_error(post_parse(secured, {"text": "hello", "token": None}), 401)
    assert_error(post_parse(secured, {"text": "hello", "token": "wrong"}), 401)
    assert_error(post_parse(secured, b'{"text": "broken'), 401)  # no hint about the body
    wrong_bearer = {"Authorization": "Bearer wrong"}
    assert_error(httpx.get(f"{secured.url}/health", headers=wrong_bearer), 401)


def test_token_is_accepted_in_body_query_or_bearer_header(secured):
    rasa_request = {"token": TOKEN, "text": "hello there", "message_id": "m1"}
    assert post_parse(secured, rasa_request).json()["message_id"] == "m1"
    assert post_parse(secured, {"text": "hi"}, params={"token": TOKEN}).status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert post_parse(secured, {"text": "hi"}, headers=bearer).status_code == 200
    assert httpx.get(f"{secured.url}/status", headers=bearer).status_code == 200
    assert httpx.get(f"{secured.url}/status", params={"token": TOKEN}).status_code == 200


def test_limits_apply_once_the_token_is_given(secured):
    response = post_parse(secured, {"text": "x" * 51, "token": TOKEN})
    assert "50" in assert_error(response, 413, "text_too_long")["detail"]
    assert_error(post_parse(secured, {"text": 1, "token": TOKEN}), 400, "invalid_request")


# --- in-process: failures inside the model, and the batching itself ---------------------------


class FailingNLU:
    """Just enough of `NLU` for `create_app`; parsing "boom" raises as a model bug would."""

    intents = ["greet"]
    tag_vocabularies: dict = {}
    config = SimpleNamespace(connection_density=0.2)
    metadata = {"trained_at": None}

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def parse_batch(self, texts: list[str]) -> list[dict]:
        self.calls.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("the model broke")
        intent = {"name": "greet", "confidence": 1.0}
        return [
            {"text": t, "intent": intent, "intent_ranking": [intent], "entities": []} for t in texts
        ]


async def post_in_process(app, requests: list[tuple[str, str, dict | None]]) -> list:
    """Send ``(method, path, json)`` requests to ``app`` in this process, lifespan included."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(m, path, json=body) for m, path, body in requests]


@pytest.mark.parametrize("window", [2.0, 0.0])
def test_unexpected_parse_error_is_500_and_the_server_keeps_serving(window):
    app = create_app(FailingNLU(), batch_window_ms=window)
    failed, health, parsed = asyncio.run(
        post_in_process(
            app,
            [
                ("POST", "/model/parse", {"text": "boom"}),
                ("GET", "/health", None),
                ("POST", "/model/parse", {"text": "hi"}),
            ],
        )
    )
    assert "the model broke" in assert_error(failed, 500, "internal_error")["detail"]
    assert health.status_code == 200
    assert parsed.json()["text"] == "hi"


def test_requests_arriving_together_are_parsed_as_one_batch():
    fake = FailingNLU()

    async def arrive_together(texts: list[str]) -> list:
        batcher = MicroBatcher(fake.parse_batch, window_ms=50, max_batch_size=3)
        batcher.start()
        try:
            return await asyncio.gather(*map(batcher.parse, texts), return_exceptions=True)
        finally:
            await batcher.stop()

    results = asyncio.run(arrive_together(["a", "b", "c", "d"]))
    assert [r["text"] for r in results] == ["a", "b", "c", "d"]
    assert fake.calls == [["a", "b", "c"], ["d"]]  # max_batch_size caps a batch

    fake.calls.clear()
    results = asyncio.run(arrive_together(["x", "boom", "y"]))
    assert isinstance(results[1], RuntimeError)  # only the failing text fails
    assert [results[0]["text"], results[2]["text"]] == ["x", "y"]
    assert fake.calls[0] == ["x", "boom", "y"]


# --- shutdown (each test stops a server of its own) ---------------------------------------------


def child_processes(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the parent's pid
            children.append(int(stat.parent.name))
    return children


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads child processes from /proc")
def test_sigterm_stops_every_worker_process(start_own_server):
    server = start_own_server(*OPEN_OPTIONS)
    workers = child_processes(server.process.pid)
    assert len(workers) >= 2  # the two workers (and multiprocessing's helper)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10  # multiprocessing's helper process ends on its own
    while [pid for pid in workers if Path(f"/proc/{pid}").exists()] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert "Server stopped." in server.log_text()
    assert "Traceback" not in server.log_text()


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(start_own_server):
    secured = start_own_server(*SECURED_OPTIONS)
    host, port = re.match(r"http://([^:/]+):(\d+)", secured.url).groups()
    body = json.dumps({"text": "hello there", "token": TOKEN}).encode()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        head = f"POST /model/parse HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
        connection.sendall(head.encode() + body[:10])  # the request is now in flight
        time.sleep(0.3)
        secured.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        connection.sendall(body[10:])
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["text"] == "hello there"
    assert secured.process.wait(timeout=20) == 0
    assert "Server stopped." in secured.log_text()
    assert "Traceback" not in secured.log_text()
