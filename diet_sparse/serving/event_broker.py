"""Rasa's SQL event broker: each event of a conversation, once the tracker store has saved it,
published as a row of an ``events`` table (Rasa's columns ``id``, ``sender_id``, ``data``: the
event's tracker JSON with its ``sender_id``), so that what reads Rasa's broker table (analytics,
a data warehouse's loader) reads diet-sparse's.

endpoints.yml's ``event_broker: {type: SQL, dialect, url, port, db, username, password}``
(`rasa.endpoints.read_endpoints`) names the database: SQLite (Rasa's default, ``events.db``) or
PostgreSQL. Rasa's SQLEventBroker (rasa/core/brokers/sql.py) writes one transaction per event;
here a turn's events are written in one short transaction, after the turn is saved and with no
other transaction open (see `tracker_store.TrackerStore.conversation`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from diet_sparse.errors import EventBrokerError
from diet_sparse.serving.tracker_store import (
    create_tables,
    database_error_reason,
    is_in_memory,
    open_database,
)

_metadata = sa.MetaData()
# Rasa's SQLEventBroker.SQLBrokerEvent
BROKER_EVENTS = sa.Table(
    "events",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("data", sa.Text),
)


class EventBroker:
    """Rasa's SQL event broker on the database at ``url`` (a SQLAlchemy URL; `tracker_store.
    database_url` makes one from endpoints.yml's keys).

    Raises:
        EventBrokerError: the URL is not a database URL, its driver is not installed, or the
            database cannot be reached or its ``events`` table made.

    Example:
        >>> broker = EventBroker("sqlite://")  # in memory
        >>> broker.publish("ann", [{"event": "action", "name": "action_listen"}])
        >>> broker.published()
        [{'sender_id': 'ann', 'event': 'action', 'name': 'action_listen'}]
    """

    def __init__(self, url: str) -> None:
        parsed, self.engine = open_database(url, "event broker", "events.db", EventBrokerError)
        self.url = parsed.render_as_string(hide_password=True)
        in_memory = parsed.get_backend_name() == "sqlite" and is_in_memory(parsed)
        # in-memory SQLite's one connection
        self._connection_lock = threading.Lock() if in_memory else None
        self._writer = self.engine.execution_options(sqlite_write=True)
        create_tables(_metadata, self.engine, f"event broker {self.url}", EventBrokerError)

    def publish(self, sender_id: str, events: Sequence[dict[str, Any]]) -> None:
        """Publish ``sender_id``'s ``events`` (tracker JSON, as saved), in order, in one
        transaction: each a row whose ``data`` is Rasa's broker body, ``{"sender_id": ...,
        **event}``.

        Raises:
            EventBrokerError: the database cannot be written (nothing is published then).
        """
        rows = [
            {"sender_id": sender_id, "data": json.dumps({"sender_id": sender_id, **event})}
            for event in events
        ]
        if not rows:
            return
        try:
            with self._connection_lock or nullcontext(), self._writer.begin() as connection:
                connection.execute(BROKER_EVENTS.insert(), rows)
        except SQLAlchemyError as error:
            raise EventBrokerError(
                f"event broker {self.url}: {database_error_reason(error)}"
            ) from None

    def published(self, sender_id: str | None = None) -> list[dict[str, Any]]:
        """The published bodies (of ``sender_id`` only, if given), oldest first."""
        query = sa.select(BROKER_EVENTS.c.data).order_by(BROKER_EVENTS.c.id)
        if sender_id is not None:
            query = query.where(BROKER_EVENTS.c.sender_id == sender_id)
        with self._connection_lock or nullcontext(), self.engine.connect() as connection:
            return [json.loads(row[0]) for row in connection.execute(query)]

    def close(self) -> None:
        self.engine.dispose()
