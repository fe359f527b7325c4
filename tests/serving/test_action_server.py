"""Custom actions on a Rasa action server (issue 13): a tiny action server on localhost speaks
Rasa SDK's webhook protocol to the bot, its events join the conversation and its responses are
said; a server that is down or answers nonsense loses the action, and the bot goes on."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from action_servers import LocalActionServer

from diet_sparse.dialogue.bot import Bot
from diet_sparse.errors import EndpointsError
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import events_as_json
from diet_sparse.serving.action_server import (
    MAX_ANSWER_BYTES,
    ActionServer,
    ActionServerError,
    domain_as_rasa_json,
)
from diet_sparse.serving.conversations import respond
from diet_sparse.serving.tracker_store import TrackerStore
from diet_sparse.shell import format_reply

ROOT = Path(__file__).parents[2]
DOMAIN = load_domain(ROOT / "data" / "domain.yml")
BOOKED = {
    "events": [
        {"event": "slot", "name": "flight_booked", "value": True},
        {"event": "slot", "name": "destination", "value": "Rome"},
    ],
    "responses": [{"text": "Booking it now."}, {"response": "utter_flight_booked"}],
}


@pytest.fixture
def action_server(request):
    servers = []

    def start(answer=BOOKED, status=200):
        servers.append(LocalActionServer(lambda request: (status, answer)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


class ScriptedPolicy:
    """Predicts ``script``'s actions in turn (a policy is anything with ``predict(events)``)."""

    domain = DOMAIN

    def __init__(self, *script):
        self.script = list(script)

    def predict(self, events):
        action = self.script.pop(0) if self.script else "action_listen"
        return {"scores": [{"action": action, "score": 1.0}], "policy": "script", "confidence": 1.0}


class FixedNLU:
    def parse(self, text):
        return {"text": text, "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}


def test_a_custom_action_runs_on_the_action_server_and_its_events_count(action_server):
    server = action_server()
    policy = ScriptedPolicy("action_book_flight", "utter_flight_booked")
    bot = Bot(FixedNLU(), policy, actions=ActionServer(server.url), sender_id="ann")
    results = bot.respond("yes please")

    (sent,) = server.requests  # Rasa's request: the action, the sender, tracker and domain
    assert sent["next_action"] == "action_book_flight" and sent["sender_id"] == "ann"
    assert sent["tracker"]["latest_message"]["intent"]["name"] == "affirm"
    assert [e["event"] for e in sent["tracker"]["events"]] == ["action", "user", "action"]
    assert sent["domain"]["slots"]["flight_booked"]["type"] == "bool"
    assert "action_book_flight" in sent["domain"]["actions"]

    # a named response, filled in from the slots before the action's events, as Rasa 3.6's
    # RemoteAction does: its messages come first
    said = "Done: you are booked on a flight to None."
    assert results[0]["kind"] == "custom"
    assert results[0]["messages"] == ["Booking it now.", said]
    assert [e["event"] for e in events_as_json(bot.events)[-7:-3]] == ["bot", "bot", "slot", "slot"]
    assert bot.slots["flight_booked"] is True and bot.slots["destination"] == "Rome"
    booked = "Done: you are booked on a flight to Rome."
    assert results[1]["text"] == booked  # the next response sees the action's slots
    assert format_reply(results).splitlines() == ["Booking it now.", said, booked]


def test_the_rest_channel_says_each_message_of_a_custom_action(action_server, tmp_path):
    server = action_server()
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    try:
        answer = respond(
            store, "bob", "yes", FixedNLU(), ScriptedPolicy("action_book_flight"),
            actions=ActionServer(server.url),
        )  # fmt: skip
        texts = [message["text"] for message in answer]
        assert texts == ["Booking it now.", "Done: you are booked on a flight to None."]
        stored = events_as_json(store.events("bob"))
        slots = [(e["name"], e["value"]) for e in stored if e["event"] == "slot"]
        assert ("flight_booked", True) in slots and ("destination", "Rome") in slots
        assert sum(e["event"] == "bot" for e in stored) == 2
    finally:
        store.close()


@pytest.mark.parametrize(
    "answer, status, expected",
    [
        ({"action_name": "action_book_flight", "error": "no seats"}, 400, "HTTP 400: no seats"),
        (b"<html>oops</html>", 500, "HTTP 500"),
        (b"not json", 200, "the answer is not JSON"),
        ({"events": [{"event": "teleport"}]}, 200, "unknown event type 'teleport'"),
        ({"events": {}, "responses": []}, 200, "'events' and 'responses' must be lists"),
        (  # said and stored whole, before issue 26
            {"events": [], "responses": [{"text": "x" * MAX_ANSWER_BYTES}]},
            200,
            f"its answer is over {MAX_ANSWER_BYTES} bytes",
        ),
    ],
)
def test_an_action_that_fails_loses_its_events_and_the_bot_goes_on(
    action_server, caplog, answer, status, expected
):
    server = action_server(answer, status)
    actions = ActionServer(server.url)
    with pytest.raises(ActionServerError, match=expected):
        actions.call("action_book_flight", "ann", [], DOMAIN)
    bot = Bot(FixedNLU(), ScriptedPolicy("action_book_flight"), actions=actions)
    with caplog.at_level(logging.WARNING, logger="diet_sparse.serving.action_server"):
        results = bot.respond("yes")
    assert expected in caplog.text and "action_book_flight" in caplog.text
    assert [r["action"] for r in results] == ["action_book_flight", "action_listen"]
    assert results[0]["messages"] == [] and bot.slots["flight_booked"] is None


def test_an_action_server_that_is_down_is_named(action_server):
    server = action_server()
    server.close()
    with pytest.raises(ActionServerError, match=f"at {server.url}: cannot reach it"):
        ActionServer(server.url, timeout=2).call("action_book_flight", "ann", [], DOMAIN)


class TricklingActionServer:
    """An action server on localhost that sends its answer (no Content-Length: the body ends
    when the connection closes) in ``chunks``, ``pause`` seconds apart."""

    def __init__(self, chunks: list[bytes], pause: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        time.sleep(pause)
                except OSError:  # the bot hung up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_action_timeout_is_a_deadline_for_the_whole_answer(caplog):
    """A server sending a byte every 0.3 s kept the bot waiting as long as it liked: the
    timeout bounded each read, not the call (issue 26)."""
    answer = json.dumps({"events": [], "responses": [{"text": "Booked."}]}).encode()
    server = TricklingActionServer([answer[i : i + 1] for i in range(len(answer))], pause=0.3)
    try:
        actions = ActionServer(server.url, timeout=1.5)
        start = time.monotonic()
        with pytest.raises(ActionServerError, match="no complete answer within 1.5 s"):
            actions.call("action_book_flight", "ann", [], DOMAIN)
        assert time.monotonic() - start < 3
        bot = Bot(FixedNLU(), ScriptedPolicy("action_book_flight"), actions=actions)
        with caplog.at_level(logging.WARNING, logger="diet_sparse.serving.action_server"):
            results = bot.respond("yes")
        assert f"'action_book_flight' at {server.url}: no complete answer" in caplog.text
        assert [r["action"] for r in results] == ["action_book_flight", "action_listen"]
    finally:
        server.close()


def test_an_oversized_answer_without_a_length_is_cut_off():
    server = TricklingActionServer([b"[" + b"0," * 1000] * (MAX_ANSWER_BYTES // 1000), pause=0)
    try:
        with pytest.raises(ActionServerError, match=f"over {MAX_ANSWER_BYTES} bytes"):
            ActionServer(server.url, timeout=30).call("action_book_flight", "ann", [], DOMAIN)
    finally:
        server.close()


def test_without_an_action_server_custom_actions_are_not_run():
    results = Bot(FixedNLU(), ScriptedPolicy("action_book_flight")).respond("yes")
    assert results[0]["kind"] == "custom" and "messages" not in results[0]
    assert format_reply(results) == "[action_book_flight: a custom action, not run]"


def test_the_domain_is_sent_as_rasa_writes_it():
    domain = domain_as_rasa_json(DOMAIN)
    assert json.loads(json.dumps(domain)) == domain
    assert domain["responses"]["utter_flight_booked"] == [
        {"text": "Done: you are booked on a flight to {destination}."}
    ]
    assert set(domain["forms"]) == set(DOMAIN.forms)
    for slot in domain["slots"].values():
        assert "__other__" not in slot.get("values", [])


def test_endpoints_yml_names_the_action_server(tmp_path, monkeypatch):
    from diet_sparse.rasa.endpoints import read_endpoints

    path = tmp_path / "endpoints.yml"
    monkeypatch.setenv("ACTIONS_HOST", "actions.local")
    path.write_text("action_endpoint:\n  url: http://${ACTIONS_HOST}:5055/webhook\n")
    assert read_endpoints(path).action_endpoint == "http://actions.local:5055/webhook"
    path.write_text("tracker_store:\n  type: SQL\n")
    assert read_endpoints(path).action_endpoint is None
    path.write_text("models:\n  url: x\naction_endpoint:\n  token: x\n")
    with pytest.raises(EndpointsError, match=r"endpoints.yml, line 3: action_endpoint needs a url"):
        read_endpoints(path)
    path.write_text("action_endpoint: [\n")
    with pytest.raises(EndpointsError, match="line 2: invalid YAML"):
        read_endpoints(path)
