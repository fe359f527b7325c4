"""A conversation's turn holds its sender, not the database (issue 26): a custom action that takes
seconds keeps neither other senders nor /model/parse waiting, on SQLite and on PostgreSQL, and a
burst of requests on the default SQLite store is answered in full."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from action_servers import LocalActionServer
from test_conversations import postgres  # noqa: F401 (a fixture)

from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import ActionExecuted, UserUttered
from diet_sparse.serving.app import create_app
from diet_sparse.serving.tracker_store import TrackerStore

ROOT = Path(__file__).parents[2]
DOMAIN = load_domain(ROOT / "data" / "domain.yml")
ACTION_SECONDS = 4.0  # how long the slow custom action takes
USUAL_SECONDS = 1.5  # far above an in-process turn or parse, far below the slow action


class SlowActionServer(LocalActionServer):
    """An action server on localhost whose every action takes ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.started = threading.Event()

        def answer(request: dict) -> tuple[int, dict]:
            self.started.set()
            time.sleep(delay)
            return 200, {"events": [], "responses": [{"text": "Booked."}]}

        super().__init__(answer)


class StubNLU:
    """Just enough of `NLU` for `create_app` and `bot.Bot`: "yes" is affirm, the rest greet."""

    intents = ["greet", "affirm"]
    tag_vocabularies: dict = {}
    config = SimpleNamespace(connection_density=0.2)
    metadata = {"trained_at": None}

    def parse(self, text: str) -> dict:
        intent = {"name": "affirm" if text == "yes" else "greet", "confidence": 1.0}
        return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": []}

    def parse_batch(self, texts: list[str]) -> list[dict]:
        return [self.parse(text) for text in texts]


class RulePolicy:
    """affirm: the custom action action_book_flight; greet: utter_greet; then listen."""

    domain = DOMAIN
    action_names = list(DOMAIN.actions)  # what /status counts

    def predict(self, events):
        last = events[-1]
        action = "action_listen"
        if isinstance(last, UserUttered):
            action = "action_book_flight" if last.intent == "affirm" else "utter_greet"
        return {"scores": [{"action": action, "score": 1.0}], "policy": "rule", "confidence": 1.0}


def store_url(database: str, tmp_path: Path, request) -> str:
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("postgres")  # skips where PostgreSQL is not installed


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_slow_custom_action_holds_up_neither_other_senders_nor_parse(database, tmp_path, request):
    url = store_url(database, tmp_path, request)
    store, action_server = TrackerStore(url), SlowActionServer(ACTION_SECONDS)
    app = create_app(
        StubNLU(), policy=RulePolicy(), tracker_store=store, action_endpoint=action_server.url
    )
    open_transactions: list[int] = []

    async def talk() -> dict[str, tuple[int, float]]:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", timeout=60
            ) as client:

                async def timed(name, method, path, body):
                    start = time.monotonic()
                    response = await client.request(method, path, json=body)
                    return name, (response.status_code, time.monotonic() - start)

                message = {"sender": "slow", "message": "yes"}
                slow = asyncio.create_task(timed("slow", "POST", "/webhooks/rest/webhook", message))
                assert await asyncio.to_thread(action_server.started.wait, 10)
                if database == "postgresql":  # the turn waits for its action outside any
                    with sa.create_engine(url).connect() as connection:  # transaction
                        query = "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in%'"
                        open_transactions.append(connection.execute(sa.text(query)).scalar())
                others = await asyncio.gather(
                    timed(
                        "other",
                        "POST",
                        "/webhooks/rest/webhook",
                        {"sender": "ann", "message": "hi"},
                    ),
                    timed("tracker", "GET", "/conversations/bob/tracker", None),
                    timed("parse", "POST", "/model/parse", {"text": "hi"}),
                )
                return dict([*others, await slow])

    try:
        took = asyncio.run(talk())
    finally:
        action_server.close()
    assert {name: status for name, (status, _) in took.items()} == dict.fromkeys(took, 200)
    assert took["slow"][1] >= ACTION_SECONDS
    for name in ("other", "tracker", "parse"):
        assert took[name][1] < USUAL_SECONDS, (name, took)
    assert open_transactions in ([], [0])
    names = [getattr(event, "name", None) for event in store.events("slow")]
    assert "action_book_flight" in names and store.events("ann")
    store.close()


def test_a_burst_on_the_default_sqlite_store_is_answered_in_full(tmp_path):
    """16 clients at once on two apps sharing one SQLite file (as ``--workers 2`` do): every
    message, tracker read and parse is answered 200, and every message is stored."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    stores = [TrackerStore(url), TrackerStore(url)]
    apps = [create_app(StubNLU(), policy=RulePolicy(), tracker_store=store) for store in stores]
    clients, per_client = 16, 20

    async def burst() -> list[int]:
        async with apps[0].router.lifespan_context(apps[0]):
            async with apps[1].router.lifespan_context(apps[1]):
                transports = [httpx.ASGITransport(app=app) for app in apps]
                http = [
                    httpx.AsyncClient(transport=t, base_url="http://test", timeout=120)
                    for t in transports
                ]

                async def client(number: int) -> list[int]:
                    statuses = []
                    for i in range(per_client):
                        session = http[(number + i) % 2]
                        if i % 4 == 3:
                            response = await session.get(f"/conversations/c{number}/tracker")
                        elif i % 4 == 2:
                            response = await session.post("/model/parse", json={"text": "hi"})
                        else:
                            message = {"sender": f"c{number % 8}", "message": "hi"}
                            response = await session.post("/webhooks/rest/webhook", json=message)
                        statuses.append(response.status_code)
                    return statuses

                try:
                    results = await asyncio.gather(*(client(n) for n in range(clients)))
                finally:
                    for session in http:
                        await session.aclose()
                return [status for statuses in results for status in statuses]

    statuses = asyncio.run(burst())
    assert statuses == [200] * clients * per_client
    messages = clients * per_client // 2
    turns = sum(
        isinstance(event, UserUttered)
        for sender in range(8)
        for event in stores[0].events(f"c{sender}")
    )
    assert turns == messages
    listens = [e for e in stores[0].events("c0") if isinstance(e, ActionExecuted)]
    assert listens[0].name == "action_listen"
    for store in stores:
        store.close()
