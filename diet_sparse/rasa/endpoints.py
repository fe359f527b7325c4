"""What a Rasa project's ``endpoints.yml`` and ``credentials.yml`` ask for: where the bot keeps its
conversations and runs its custom actions, and the channels users reach it through. Each file is
read here, once; the serving modules take the values read.

``endpoints.yml``: its ``tracker_store`` (``type: SQL`` only, with Rasa's keys), its
``event_broker`` (``type: SQL``, Rasa's keys; Rasa's other brokers are named in a note and not
used), its ``action_endpoint``'s ``url``; ``${VAR}`` in a value is read from the environment, as
Rasa does. A ``lock_store`` is not needed (the tracker store locks each conversation): a note
says so.

diet-sparse offers one of Rasa's channels, the REST channel (``POST /webhooks/rest/webhook``),
which Rasa's file lists as ``rest:``. Any other channel the file names (``socketio``,
``facebook``, ``slack``, a custom channel's class path, ...) is not offered; ``serve`` says so
once, naming them, and goes on with the REST channel.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "credentials.yml"
    >>> _ = path.write_text("rest:\\nsocketio:\\n  user_message_evt: user_uttered\\n")
    >>> channels = read_credentials(path)
    >>> channels.rest, channels.unsupported
    (True, ('socketio',))
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from diet_sparse.errors import EndpointsError

REST_CHANNEL = "rest"  # the name of Rasa's REST channel in credentials.yml
REST_WEBHOOK = "/webhooks/rest/webhook"
# endpoints.yml's keys
TRACKER_STORE, ACTION_ENDPOINT = "tracker_store", "action_endpoint"
EVENT_BROKER, LOCK_STORE = "event_broker", "lock_store"
# endpoints.yml's keys diet-sparse does not use, and what it does instead (said in one line each)
UNUSED_ENDPOINTS = {
    "nlg": "responses come from the domain (no external response generator)",
    "models": "serve loads the model given on the command line or the project's newest",
}
# Rasa 3.6's other event brokers (rasa/core/brokers/broker.py: pika when no type is given)
OTHER_EVENT_BROKERS = ("pika", "kafka", "file")
MAX_PORT = 65535  # a TCP port; a database's is 1 or more


@dataclass(frozen=True)
class SQLTrackerStore:
    """An endpoints.yml's ``tracker_store`` of ``type: SQL``, with Rasa's keys: ``dialect``,
    ``url`` (the host), ``port``, ``db``, ``username``, ``password``."""

    dialect: str = "sqlite"
    host: str | None = None
    port: int | None = None
    db: str = "rasa.db"
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class SQLEventBroker(SQLTrackerStore):
    """An endpoints.yml's ``event_broker`` of ``type: SQL``: the tracker store's keys, and
    Rasa's default database ``events.db`` (rasa/core/brokers/sql.py)."""

    db: str = "events.db"


@dataclass(frozen=True)
class Endpoints:
    """What an endpoints.yml names: its SQL tracker store, its SQL event broker and its action
    server's URL (each None where the file has none), and ``notes``: one line each on what it
    asks for that diet-sparse does not do or need (a lock store, another broker)."""

    tracker_store: SQLTrackerStore | None = None
    action_endpoint: str | None = None
    event_broker: SQLEventBroker | None = None
    notes: tuple[str, ...] = ()


def read_endpoints(path: str | Path, tracker_store: bool = True) -> Endpoints:
    """The tracker store, event broker and action endpoint of a Rasa ``endpoints.yml`` (an
    empty file names none; other keys, such as ``models``, are not read), with a note on its
    ``lock_store`` and on an event broker other than SQL.

    Args:
        path: the endpoints.yml file.
        tracker_store: False: its ``tracker_store`` is not read (there is another one, or
            none is needed), so one diet-sparse cannot use is no error.

    Raises:
        EndpointsError: the file cannot be read or is not YAML; its tracker_store is not SQL or
            has a port that is not a number (or its SQL event_broker's port); its
            action_endpoint has no url. One line, naming the file, the line and the key.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "endpoints.yml"
        >>> _ = path.write_text("action_endpoint:\\n  url: http://localhost:5055/webhook\\n")
        >>> read_endpoints(path).action_endpoint
        'http://localhost:5055/webhook'
    """
    values, lines = _read_yaml(path, "keys such as tracker_store: and action_endpoint:")
    if values is None:
        return Endpoints()

    def where(*keys: str) -> str:
        line = lines.get(keys) or lines.get(keys[:1])
        return f"{path}, line {line}" if line else str(path)

    notes = []
    if values.get(LOCK_STORE):
        notes.append(
            f"{where(LOCK_STORE)}: lock_store is not needed and not used: the tracker store locks "
            "each conversation while its message is answered (in every server sharing it)"
        )
    for key, instead in UNUSED_ENDPOINTS.items():
        if values.get(key):
            notes.append(f"{where(key)}: {key} is not supported and not used: {instead}")
    broker = values.get(EVENT_BROKER)
    event_broker = None
    if broker and _is_sql(broker):
        event_broker = _sql_database(SQLEventBroker, EVENT_BROKER, broker, where)
    elif broker:
        kind = broker.get("type") if isinstance(broker, dict) else broker
        notes.append(
            f"{where(EVENT_BROKER, 'type')}: event_broker type {kind or 'pika'!r} is not "
            f"supported (Rasa's {', '.join(OTHER_EVENT_BROKERS)} and custom brokers are not): "
            "events are not published; diet-sparse publishes to a SQL database (type: SQL)"
        )
    store = values.get(TRACKER_STORE) if tracker_store else None
    if store and not _is_sql(store):
        kind = store.get("type") if isinstance(store, dict) else store
        raise EndpointsError(
            f"{where(TRACKER_STORE, 'type')}: tracker_store type {kind!r} is not supported; "
            "diet-sparse keeps conversations in a SQL database (type: SQL), or pass "
            "--tracker-store URL"
        )
    return Endpoints(
        tracker_store=_sql_database(SQLTrackerStore, TRACKER_STORE, store, where)
        if store
        else None,
        action_endpoint=_action_endpoint(values.get(ACTION_ENDPOINT), where),
        event_broker=event_broker,
        notes=tuple(notes),
    )


def _is_sql(section: Any) -> bool:
    return isinstance(section, dict) and str(section.get("type", "")).lower() == "sql"


def _sql_database(kind: type, key: str, section: dict[str, Any], where) -> Any:
    """A ``type: SQL`` section's database (`SQLTrackerStore` or `SQLEventBroker`, whose
    defaults fill what it leaves out)."""
    value = {
        name: os.path.expandvars(str(item)) for name, item in section.items() if item is not None
    }
    port = value.get("port") or None
    # ASCII digits only: str.isdigit() takes "²", which int() refuses
    if port is not None and not (re.fullmatch(r"[0-9]+", port) and 1 <= int(port) <= MAX_PORT):
        raise EndpointsError(
            f"{where(key, 'port')}: {key} port must be a number from 1 to {MAX_PORT}, got {port!r}"
        )
    given = {"dialect": value.get("dialect"), "db": value.get("db")}
    return kind(
        **{name: item for name, item in given.items() if item is not None},
        host=value.get("url"),
        port=int(port) if port is not None else None,
        username=value.get("username"),
        password=value.get("password"),
    )


def _action_endpoint(endpoint: Any, where) -> str | None:
    if endpoint is None:
        return None
    url = endpoint.get("url") if isinstance(endpoint, dict) else None
    if not isinstance(url, str) or not url.strip():
        raise EndpointsError(
            f"{where(ACTION_ENDPOINT, 'url')}: action_endpoint needs a url, such as "
            "url: http://localhost:5055/webhook"
        )
    return os.path.expandvars(url.strip())


@dataclass(frozen=True)
class Channels:
    """The channels a credentials.yml lists: whether the REST channel is among them, and the
    others, which diet-sparse does not offer."""

    rest: bool
    unsupported: tuple[str, ...]

    def warning(self, path: str | Path) -> str | None:
        """One line on what ``serve`` does differently from what the file asks; None when it
        asks only for the REST channel."""
        parts = []
        if self.unsupported:
            parts.append(
                f"channels not offered by diet-sparse, ignored: {', '.join(self.unsupported)}"
            )
        if not self.rest:
            parts.append(f"no '{REST_CHANNEL}' channel listed")
        if not parts:
            return None
        offered = f"diet-sparse offers Rasa's REST channel, POST {REST_WEBHOOK}"
        return f"{path}: {'; '.join(parts)} ({offered})"


def read_credentials(path: str | Path) -> Channels:
    """The channels of a Rasa ``credentials.yml`` (a mapping of channel name to its settings;
    an empty file lists none).

    Raises:
        EndpointsError: the file cannot be read, is not YAML, or is not such a mapping.
    """
    values, _ = _read_yaml(path, "a mapping of channel names to their settings (such as 'rest:')")
    if values is None:
        return Channels(rest=False, unsupported=())
    names = [str(name) for name in values]
    return Channels(
        rest=REST_CHANNEL in names,
        unsupported=tuple(name for name in names if name != REST_CHANNEL),
    )


def _not_utf8(path: str | Path, data: bytes, error: UnicodeDecodeError) -> str:
    """One line naming the line (and the key on it, if any) of ``data``'s first byte that is
    not UTF-8."""
    before = data[: error.start]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    line_end = data.find(b"\n", error.start)
    written = data[line_start : None if line_end < 0 else line_end].decode("utf-8", "replace")
    key = re.match(r"\s*-?\s*([^\s:#][^:#]*?)\s*:(\s|$)", written)
    in_key = f", key '{key.group(1)}'" if key else ""
    return (
        f"{path}, line {line}{in_key}: not UTF-8 text (byte 0x{data[error.start]:02x}, column "
        f"{error.start - line_start + 1}); save the file as UTF-8"
    )


def _read_yaml(path: str | Path, expected: str) -> tuple[dict | None, dict[tuple[str, ...], int]]:
    """A YAML file's mapping (None for an empty file), and the line of each key of it and of
    the mappings in it: ``{("tracker_store",): 4, ("tracker_store", "type"): 5, ...}``."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise EndpointsError(f"{path}: cannot read it: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EndpointsError(_not_utf8(path, data, error)) from None
    try:
        values = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise EndpointsError(f"{path}{line}: invalid YAML: {problem}") from None
    if values is None:
        return None, {}
    if not isinstance(values, dict):
        raise EndpointsError(f"{path}: expected {expected}, got {type(values).__name__}")
    lines: dict[tuple[str, ...], int] = {}
    for key, value in node.value:
        lines[(str(key.value),)] = key.start_mark.line + 1
        if isinstance(value, yaml.MappingNode):
            for inner, _ in value.value:
                lines[(str(key.value), str(inner.value))] = inner.start_mark.line + 1
    return values, lines
