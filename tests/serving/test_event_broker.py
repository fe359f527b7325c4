"""Rasa's SQL event broker (serving/event_broker.py): endpoints.yml's event_broker and lock_store
read, and each turn's events published once the tracker store has saved them."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from diet_sparse import cli
from diet_sparse.errors import EndpointsError, EventBrokerError, ServerStartError
from diet_sparse.rasa.endpoints import read_endpoints
from diet_sparse.rasa.events import ActionExecuted, BotUttered, UserUttered, events_as_json
from diet_sparse.serving import app as server
from diet_sparse.serving.event_broker import EventBroker
from diet_sparse.serving.tracker_store import TrackerStore, database_url

ROOT = Path(__file__).parent.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import throwaway_postgres  # noqa: E402  (the benchmarks' PostgreSQL starter)


def turn(text: str, answer: str) -> list:
    return [
        UserUttered("greet", text=text),
        ActionExecuted("utter_greet"),
        BotUttered(text=answer),
        ActionExecuted("action_listen"),
    ]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "endpoints.yml"
    path.write_text(text, encoding="utf-8")
    return path


# --- endpoints.yml ------------------------------------------------------------------------------


def test_endpoints_yml_names_a_sql_event_broker_with_rasa_s_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("BROKER_PASSWORD", "s3cret")
    path = write(
        tmp_path,
        "event_broker:\n  type: SQL\n  dialect: postgresql\n  url: db.local\n  port: 5433\n"
        "  db: analytics\n  username: bot\n  password: ${BROKER_PASSWORD}\n",
    )
    broker = read_endpoints(path).event_broker
    assert database_url(broker) == "postgresql://bot:s3cret@db.local:5433/analytics"
    # Rasa's defaults: SQLite, events.db (rasa/core/brokers/sql.py)
    broker = read_endpoints(write(tmp_path, "event_broker:\n  type: sql\n")).event_broker
    assert database_url(broker) == "sqlite:///events.db"
    # a url with a scheme is the whole database URL, as Rasa's get_db_url reads it
    text = "event_broker:\n  type: SQL\n  url: postgresql://a@h:6000/x\n"
    assert database_url(read_endpoints(write(tmp_path, text)).event_broker) == (
        "postgresql://a@h:6000/x"
    )
    with pytest.raises(EndpointsError, match="line 3: event_broker port must be a number"):
        read_endpoints(write(tmp_path, "event_broker:\n  type: SQL\n  port: five\n"))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("event_broker:\n  type: pika\n  url: localhost\n", "pika"),
        ("event_broker:\n  url: localhost\n  username: guest\n", "pika"),  # Rasa's default
        ("event_broker:\n  type: kafka\n  url: localhost:9092\n", "kafka"),
        ("event_broker:\n  type: file\n  path: events.log\n", "file"),
    ],
)
def test_another_event_broker_is_one_note_and_not_used(tmp_path, text, kind):
    endpoints = read_endpoints(write(tmp_path, text))
    assert endpoints.event_broker is None
    (note,) = endpoints.notes
    assert "line 1" in note or "line 2" in note
    assert f"event_broker type '{kind}' is not supported" in note and "\n" not in note


def test_a_lock_store_is_one_note_saying_it_is_not_needed(tmp_path):
    path = write(tmp_path, "lock_store:\n  type: redis\n  url: localhost\n")
    (note,) = read_endpoints(path).notes
    assert note.startswith(f"{path}, line 1: lock_store is not needed")
    assert read_endpoints(write(tmp_path, "action_endpoint:\n  url: http://a/b\n")).notes == ()


@pytest.mark.parametrize("key", ["nlg", "models"])
def test_an_endpoint_diet_sparse_does_not_use_is_one_note(tmp_path, key):
    path = write(tmp_path, f"action_endpoint:\n  url: http://a/b\n{key}:\n  url: http://c/d\n")
    (note,) = read_endpoints(path).notes
    assert note.startswith(f"{path}, line 3: {key} is not supported") and "\n" not in note


def test_serve_passes_the_event_broker_and_says_what_is_not_used(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(server, "serve", lambda model, **options: calls.append(options))
    path = write(
        tmp_path,
        f"event_broker:\n  type: SQL\n  db: {tmp_path / 'events.db'}\nlock_store:\n  type: redis\n",
    )
    assert cli.main(["serve", "--model", "m", "--policy", "p", "--endpoints", str(path)]) == 0
    assert calls[0]["event_broker"] == f"sqlite:///{tmp_path / 'events.db'}"
    assert "lock_store is not needed" in capsys.readouterr().err
    path.write_text("event_broker:\n  type: kafka\n")
    assert cli.main(["serve", "--model", "m", "--policy", "p", "--endpoints", str(path)]) == 0
    assert calls[1]["event_broker"] is None
    assert "event_broker type 'kafka' is not supported" in capsys.readouterr().err


# --- publishing ----------------------------------------------------------------------------------


def rasa_broker_rows(database: Path) -> list[tuple]:
    """The broker's table as Rasa's SQLEventBroker has it: id, sender_id, data."""
    with sqlite3.connect(database) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(events)")]
        assert columns == ["id", "sender_id", "data"]
        return connection.execute("SELECT id, sender_id, data FROM events ORDER BY id").fetchall()


def test_each_turn_s_events_are_published_as_saved(tmp_path):
    broker = EventBroker(f"sqlite:///{tmp_path / 'events.db'}")
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}", event_broker=broker)
    with store.conversation("ann") as conversation:
        conversation.add([ActionExecuted("action_listen"), *turn("hi", "Hey!")])
    with store.conversation("bob") as conversation:
        conversation.add(turn("hello", "Hey!"))
    with store.conversation("ann") as conversation:
        conversation.add(turn("hi again", "Hey again!"))
    stored = events_as_json(store.events("ann"))
    # Rasa's body: the event's tracker JSON (as stored, timestamp too) with its sender_id
    assert broker.published("ann") == [{"sender_id": "ann", **event} for event in stored]
    assert [e["sender_id"] for e in broker.published()] == ["ann"] * 5 + ["bob"] * 4 + ["ann"] * 4
    rows = rasa_broker_rows(tmp_path / "events.db")
    assert len(rows) == 13 and rows[0][1] == "ann" and '"event": "action"' in rows[0][2]


def test_a_replaced_conversation_publishes_the_events_past_the_stored_ones(tmp_path):
    broker = EventBroker("sqlite://")
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}", event_broker=broker)
    with store.conversation("ann") as conversation:
        conversation.add(turn("hi", "Hey!"))
    with store.conversation("ann", replace=True) as conversation:
        conversation.add([*turn("hi", "Hey!"), *turn("bye", "Bye!")])
    # as Rasa's TrackerEventDiffEngine: the new tracker's events past the old one's length
    texts = [event.get("text") for event in broker.published("ann") if event["event"] == "user"]
    assert texts == ["hi", "bye"]


def test_a_failed_turn_publishes_nothing(tmp_path):
    broker = EventBroker("sqlite://")
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}", event_broker=broker)
    with pytest.raises(RuntimeError), store.conversation("ann") as conversation:
        conversation.add(turn("hi", "Hey!"))
        raise RuntimeError("the policy failed")
    assert store.events("ann") == [] and broker.published() == []


class Witness(EventBroker):
    """A broker that records, as it publishes, what another connection reads of the store."""

    def __init__(self, url: str, store_url: str) -> None:
        super().__init__(url)
        self.reader = TrackerStore(store_url)
        self.seen: list[int] = []

    def publish(self, sender_id, events):
        self.seen.append(len(self.reader.events(sender_id)))
        super().publish(sender_id, events)


def test_events_are_published_after_the_turn_is_saved(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    broker = Witness("sqlite://", url)
    store = TrackerStore(url, event_broker=broker)
    for text in ("hi", "hi again"):
        with store.conversation("ann") as conversation:
            conversation.add(turn(text, "Hey!"))
    assert broker.seen == [4, 8]  # committed, readable elsewhere, before each publish


def test_a_broken_broker_loses_the_events_with_an_error_logged_and_the_turn_stands(
    tmp_path, caplog
):
    broker = EventBroker(f"sqlite:///{tmp_path / 'events.db'}")
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}", event_broker=broker)
    with sqlite3.connect(tmp_path / "events.db") as connection:
        connection.execute("DROP TABLE events")
    with caplog.at_level(logging.ERROR), store.conversation("ann") as conversation:
        conversation.add(turn("hi", "Hey!"))
    assert len(store.events("ann")) == 4
    assert "4 events of 'ann' not published: event broker sqlite:///" in caplog.text
    with pytest.raises(EventBrokerError, match="no such table: events"):
        broker.publish("ann", [{"event": "action", "name": "action_listen"}])


def test_the_broker_needs_a_database_of_its_own(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    with pytest.raises(ServerStartError, match="the tracker store's database"):
        server._open_store(url, f"sqlite:///{tmp_path / '.' / 'tracker.db'}")
    with pytest.raises(ServerStartError, match="not a database URL"):
        server._open_store(url, "events.db")
    store = server._open_store(url, f"sqlite:///{tmp_path / 'events.db'}")
    assert isinstance(store.event_broker, EventBroker)
    store.close()


@pytest.fixture(scope="module")
def postgres():
    with throwaway_postgres() as url:
        if url is None:
            pytest.skip(
                "PostgreSQL is not installed (.ci/run installs it: apt-get install postgresql)"
            )
        yield url


def test_publishing_to_postgres(postgres):
    engine = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE broker"))
    engine.dispose()
    broker_url = postgres.rsplit("/", 1)[0] + "/broker"
    store = server._open_store(postgres, broker_url)
    for sender in ("ann", "bob", "ann"):
        with store.conversation(sender) as conversation:
            conversation.add(turn(f"hi from {sender}", "Hey!"))
    stored = events_as_json(store.events("ann"))
    assert store.event_broker.published("ann") == [{"sender_id": "ann", **e} for e in stored]
    columns = sa.inspect(store.event_broker.engine).get_columns("events")
    assert [column["name"] for column in columns] == ["id", "sender_id", "data"]
    store.close()
