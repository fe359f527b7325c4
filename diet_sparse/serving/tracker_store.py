"""Conversations kept in a SQL database, as Rasa's SQLTrackerStore keeps them: one row per
tracker event (Rasa's ``events`` table and columns), so that a restarted server goes on with
every conversation and several servers behind a load balancer share them.

A SQLite file is the default (``sqlite:///tracker.db``); any SQLAlchemy database URL works, and
PostgreSQL (``postgresql://user:password@host/db``, with the ``postgres`` extra) is the one
tested with several servers. One message is handled while its sender is locked, as Rasa's
lock store locks a conversation (`TrackerStore.conversation`): its events are read in one short
transaction, the bot's turn runs with no transaction open (a custom action may take seconds),
and the new events are written in another. Two servers answering the same sender one after the
other, or at once, keep one consistent conversation; other senders never wait for it; a server
killed mid-message loses that message only. Errors are `TrackerStoreError`, one line without the
URL's password. With an event broker (`event_broker.EventBroker`), the events of each turn are
published once they are saved, as Rasa's tracker stores stream them.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from diet_sparse.errors import EventBrokerError, TrackerStoreError
from diet_sparse.rasa.endpoints import SQLTrackerStore
from diet_sparse.rasa.events import MAX_SENDER_ID_LENGTH, Event, event_from_json

if TYPE_CHECKING:
    from diet_sparse.serving.event_broker import EventBroker

logger = logging.getLogger(__name__)

DEFAULT_FILE = "tracker.db"
SQLITE_BUSY_SECONDS = 30  # how long a SQLite writer waits for another one

_metadata = sa.MetaData()
EVENTS = sa.Table(
    "events",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(MAX_SENDER_ID_LENGTH), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


@dataclass
class Conversation:
    """One sender's events while the sender is locked: ``events`` as stored, and the new ones
    to add (`add`); `TrackerStore.conversation` writes them when the block ends."""

    sender_id: str
    events: list[Event]
    added: list[Event] = field(default_factory=list)
    replace: bool = False

    def add(self, events: Sequence[Event]) -> None:
        self.added += events


class TrackerStore:
    """The events of every conversation, in the database at ``url``: `events` events inside,
    one row of Rasa's tracker JSON per event in the database.

    Raises:
        TrackerStoreError: the URL is not a database URL, its driver is not installed, or the
            database cannot be reached or its ``events`` table made.

    Example:
        >>> from diet_sparse.rasa.events import ActionExecuted
        >>> store = TrackerStore("sqlite://")  # in memory
        >>> with store.conversation("ann") as conversation:
        ...     conversation.add([ActionExecuted("action_listen")])
        >>> [event.name for event in store.events("ann")]
        ['action_listen']
    """

    def __init__(self, url: str, event_broker: EventBroker | None = None) -> None:
        self.event_broker = event_broker  # each turn's events published once saved
        parsed, self.engine = open_database(url, "tracker store", "tracker.db", TrackerStoreError)
        self.url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        self._senders = _SenderLocks()  # this process's turns, one sender at a time
        self._lock_folder: Path | None = None  # SQLite file: other processes' turns, by flock
        self._connection_lock: threading.Lock | None = None  # in-memory SQLite's one connection
        if self.dialect == "sqlite":
            if is_in_memory(parsed):
                self._connection_lock = threading.Lock()
            else:
                self._lock_folder = Path(f"{parsed.database}.locks")
        self._writer = self.engine.execution_options(sqlite_write=True)
        create_tables(_metadata, self.engine, f"tracker store {self.url}", TrackerStoreError)

    def events(self, sender_id: str) -> list[Event]:
        """The stored events of ``sender_id``'s conversation, oldest first ([] if none)."""
        try:
            with self._database(), self.engine.connect() as connection:
                return _read(connection, sender_id)
        except SQLAlchemyError as error:
            raise TrackerStoreError(
                f"tracker store {self.url}: {database_error_reason(error)}"
            ) from None

    @contextmanager
    def conversation(self, sender_id: str, replace: bool = False) -> Iterator[Conversation]:
        """``sender_id``'s conversation, locked against other turns for the sender (in this
        process and in other servers) for the block, with no database transaction open in it;
        the events added in it are written when it ends without an error (with ``replace``,
        they replace the stored ones)."""
        with self._senders.held(sender_id), self._sender_lock(sender_id) as connection:
            try:
                if connection is None:
                    events = self.events(sender_id)
                else:  # PostgreSQL: the lock's connection, its transaction ended
                    events = _read(connection, sender_id)
                    connection.commit()
            except SQLAlchemyError as error:
                raise TrackerStoreError(
                    f"tracker store {self.url}: {database_error_reason(error)}"
                ) from None
            conversation = Conversation(sender_id, events, replace=replace)
            yield conversation
            if conversation.replace or conversation.added:
                stored = self._write(conversation, connection)
                # Rasa streams the events past the stored ones (TrackerEventDiffEngine); here
                # once they are saved, in the sender's order (it is still locked), with no
                # transaction open
                if self.event_broker is not None:
                    self._publish(sender_id, stored[len(events) if replace else 0 :])

    def _publish(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """The saved events published; a broker that fails loses them, logged, and the turn
        stands (it is saved, and its answer given)."""
        if not events:
            return
        try:
            self.event_broker.publish(sender_id, events)
        except EventBrokerError as error:
            logger.error("%d events of %r not published: %s", len(events), sender_id, error)

    def _write(
        self, conversation: Conversation, connection: sa.Connection | None
    ) -> list[dict[str, Any]]:
        """The conversation's added events written in one transaction, on ``connection`` if
        given (it has none open), else on one of the pool's; returns them as stored (tracker
        JSON)."""
        sender_id = conversation.sender_id
        stored = [_stored_json(event) for event in conversation.added]
        try:
            with ExitStack() as stack:
                if connection is None:
                    stack.enter_context(self._database())
                    connection = stack.enter_context(self._writer.connect())
                stack.enter_context(connection.begin())
                if conversation.replace:
                    connection.execute(EVENTS.delete().where(EVENTS.c.sender_id == sender_id))
                if stored:
                    rows = [_row(sender_id, event) for event in stored]
                    connection.execute(EVENTS.insert(), rows)
        except SQLAlchemyError as error:
            raise TrackerStoreError(
                f"tracker store {self.url}: {database_error_reason(error)}"
            ) from None
        return stored

    def _database(self) -> AbstractContextManager[Any]:
        """What each use of the database needs around it: the lock of an in-memory SQLite's one
        connection, shared by every thread; nothing for others."""
        return self._connection_lock or nullcontext()

    @contextmanager
    def _sender_lock(self, sender_id: str) -> Iterator[sa.Connection | None]:
        """The sender locked against other processes: on PostgreSQL a session advisory lock,
        whose connection is yielded with no transaction open (the turn reads and writes on it:
        one connection per turn); a file lock beside a SQLite file (None yielded)."""
        if self.dialect == "postgresql":
            key = {"key": _lock_key(sender_id)}
            try:
                with self.engine.connect() as connection:
                    connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), key)
                    connection.commit()  # a session lock: it outlives the transaction
                    try:
                        yield connection
                    finally:
                        try:
                            connection.rollback()
                            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)
                            connection.commit()
                        except SQLAlchemyError:
                            connection.invalidate()  # closed: PostgreSQL releases the lock
                            raise
            except SQLAlchemyError as error:
                raise TrackerStoreError(
                    f"tracker store {self.url}: {database_error_reason(error)}"
                ) from None
        elif self._lock_folder is not None:
            with _file_lock(self._lock_folder, sender_id):
                yield None
        else:
            yield None

    def senders(self) -> list[str]:
        """Every sender with a stored conversation, sorted."""
        with self._database(), self.engine.connect() as connection:
            query = sa.select(EVENTS.c.sender_id).distinct().order_by(EVENTS.c.sender_id)
            return [row[0] for row in connection.execute(query)]

    def close(self) -> None:
        self.engine.dispose()
        if self.event_broker is not None:
            self.event_broker.close()


def database_url(store: SQLTrackerStore) -> str:
    """The database URL of an endpoints.yml's SQL ``tracker_store`` or ``event_broker``
    (`rasa.endpoints.read_endpoints` reads them). As Rasa's ``SQLTrackerStore.get_db_url``: a
    ``url`` with a scheme is the whole database URL, and one may hold the port (``host:5433``).

    Example:
        >>> database_url(SQLTrackerStore("postgresql", host="db.local", db="rasa", username="bot"))
        'postgresql://bot@db.local/rasa'
        >>> database_url(SQLTrackerStore("postgresql", host="db.local:5433", db="rasa"))
        'postgresql://db.local:5433/rasa'
    """
    host, port = store.host, store.port
    if host and "://" in host:
        return host
    if host:
        parsed = urlsplit(f"scheme://{host}")
        host, port = parsed.hostname or host, parsed.port or port
    url = sa.URL.create(
        store.dialect,
        username=store.username,
        password=store.password,
        host=host,
        port=port,
        database=store.db,
    )
    return url.render_as_string(hide_password=False)


def _read(connection: sa.Connection, sender_id: str) -> list[Event]:
    query = sa.select(EVENTS.c.data).where(EVENTS.c.sender_id == sender_id).order_by(EVENTS.c.id)
    return [event_from_json(json.loads(row[0])) for row in connection.execute(query)]


def _stored_json(typed: Event) -> dict[str, Any]:
    """An event's tracker JSON as it is stored: with its timestamp, now if it has none."""
    event = typed.as_json()
    event["timestamp"] = event.get("timestamp") or time.time()
    return event


def _row(sender_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The row of an event's tracker JSON: Rasa's columns, and the JSON as ``data``."""
    intent = (event.get("parse_data") or {}).get("intent") or {}
    return {
        "sender_id": sender_id,
        "type_name": event["event"],
        "timestamp": event["timestamp"],
        "intent_name": intent.get("name") if event["event"] == "user" else None,
        "action_name": event.get("name") if event["event"] == "action" else None,
        "data": json.dumps(event, ensure_ascii=False),
    }


def _lock_key(sender_id: str) -> int:
    """A signed 64-bit number for the sender, the same in every server process."""
    digest = hashlib.sha1(sender_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _SenderLocks:
    """One lock per sender for this process's threads, kept while a turn holds or awaits it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def held(self, sender_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(sender_id, (threading.Lock(), 0))
            self._locks[sender_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[sender_id]
                if users == 1:
                    del self._locks[sender_id]
                else:
                    self._locks[sender_id] = (lock, users - 1)


@contextmanager
def _file_lock(folder: Path, sender_id: str) -> Iterator[None]:
    """The sender locked against other processes on this machine: an exclusive flock on a
    small file named by a hash of the sender, in ``folder`` beside the SQLite database (the
    kernel releases it if the process dies). The file is removed while still locked, so the
    folder holds only the files of turns in progress, not one per sender ever seen; a turn
    that waited on a file removed meanwhile finds it is no longer the one at its path and
    locks the new one."""
    folder.mkdir(exist_ok=True)
    path = folder / hashlib.sha1(sender_id.encode("utf-8")).hexdigest()
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if _same_file(descriptor, path):
                break
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # removed by the turn before: lock the file now at the path
    try:
        yield
    finally:
        try:
            path.unlink(missing_ok=True)  # while locked: the next turn makes a new one
        finally:
            os.close(descriptor)  # and the lock with it


def _same_file(descriptor: int, path: Path) -> bool:
    """Whether the open ``descriptor`` is the file at ``path`` now."""
    try:
        at_path = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def open_database(
    url: str, what: str, example: str, error: type[Exception]
) -> tuple[sa.URL, sa.Engine]:
    """The parsed ``url`` and an engine for the database of ``what`` (``"tracker store"``,
    ``"event broker"``): SQLite with a busy timeout, in WAL mode for a file and on one shared
    connection in memory (`configure_sqlite`); other databases with pre-ping.

    Raises:
        ``error``: ``url`` is not a database URL (``example`` names a SQLite file for the
            message), or its database driver is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise error(
            f"{what} {url!r} is not a database URL; expected e.g. sqlite:///{example} or "
            "postgresql://user:password@host/database"
        ) from None
    dialect = parsed.get_backend_name()
    try:
        if dialect == "sqlite":
            in_memory = is_in_memory(parsed)  # one connection, for every thread
            engine = sa.create_engine(
                parsed,
                connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
                poolclass=sa.pool.StaticPool if in_memory else None,
            )
            configure_sqlite(engine, wal=not in_memory)  # servers sharing the file
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exception:
        extra = " (pip install 'diet-sparse[postgres]')" if dialect == "postgresql" else ""
        raise error(
            f"{what} {parsed.render_as_string(hide_password=True)}: its database driver is not "
            f"installed{extra}: {exception}"
        ) from None
    return parsed, engine


def is_in_memory(parsed: sa.URL) -> bool:
    """Whether a SQLite URL names an in-memory database."""
    return parsed.database in (None, "", ":memory:")


def create_tables(
    metadata: sa.MetaData, engine: sa.Engine, described: str, error: type[Exception]
) -> None:
    """Make ``metadata``'s tables where missing; ``error`` names ``described`` (e.g.
    ``"tracker store sqlite:///t.db"``) when the database cannot be reached."""
    for attempt in range(2):  # two servers starting at once may both try to create them
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except SQLAlchemyError as exception:
            if attempt:
                raise error(
                    f"cannot open the {described}: {database_error_reason(exception)}"
                ) from None


def configure_sqlite(engine: sa.Engine, wal: bool) -> None:
    """SQLite connections in WAL mode (readers do not wait for the writer, nor it for them),
    whose write transactions take the write lock when they begin (BEGIN IMMEDIATE, waiting up
    to `SQLITE_BUSY_SECONDS` for another writer) and read ones do not (SQLAlchemy's recipe:
    Python's sqlite3 module would otherwise begin transactions itself, lazily)."""

    @sa.event.listens_for(engine, "connect")
    def no_implicit_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get("sqlite_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def database_error_reason(error: SQLAlchemyError) -> str:
    """The database's own message, first line, without SQLAlchemy's background link."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return text[0] if text else type(error).__name__
