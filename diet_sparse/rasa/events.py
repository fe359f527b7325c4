"""A conversation's events: one typed model, read from and written to Rasa 3's tracker JSON.

Inside diet-sparse a conversation (a story's steps, a live tracker) is a list of these events;
Rasa's JSON (``{"event": "user", "text": ..., "parse_data": ...}``) is read with
`events_from_json` and written with `events_as_json` only at the edges: HTTP bodies, the SQL
tracker store's rows, the action server's request and answer.

The events a policy sees are `UserUttered`, `ActionExecuted`, `SlotSet` and `ActiveLoop`
(Rasa 2's ``form`` too). `BotUttered`, `ActionExecutionRejected` and the events that take
things back (`Restarted`, `SessionStarted`, `ActionReverted` (``undo``),
`UserUtteranceReverted` (``rewind``), `AllSlotsReset`) have their own types; Rasa's other
events (``followup``, ``pause``, ``reminder``, ...) are kept as `OtherEvent` with their fields.
Every event keeps its ``timestamp``, ``metadata`` and any field this model does not name
(``extra``), so a tracker read and written back is the same JSON. `applied_events` is the one
rule for which events still count.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from diet_sparse.errors import TrackerError
from diet_sparse.rasa.domain import RETRIEVAL_SEPARATOR
from diet_sparse.rasa.yaml_reading import did_you_mean


class Entity(NamedTuple):
    """An entity of a user turn: its type and value, and its role and group if it has them."""

    type: str
    value: Any = ""
    role: str | None = None
    group: str | None = None


def _optional() -> Any:
    """A keyword-only field, None by default, that is not part of an event's identity (two
    events are equal when a policy sees them the same) nor of its repr."""
    return field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class _Event:
    """What every event has besides its own fields: when it happened, Rasa's ``metadata``, and
    the JSON fields this model does not name (kept so that writing it back loses nothing; a
    field that was ``null`` is kept here too)."""

    timestamp: float | None = _optional()
    metadata: dict | None = _optional()
    extra: Mapping[str, Any] | None = _optional()

    type_name: ClassVar[str] = ""
    # (JSON key, attribute) of the event's own fields, in Rasa's order; written when not None
    _fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    _always: ClassVar[tuple[str, ...]] = ()  # JSON keys written even when None

    @property
    def event_type(self) -> str:
        """Rasa's name of the event's type (its JSON ``event``)."""
        return self.type_name

    def as_json(self) -> dict[str, Any]:
        """The event as Rasa's tracker JSON (``{"event": ..., ...}``).

        Example:
            >>> SlotSet("city", "Rome", timestamp=1.5).as_json()
            {'event': 'slot', 'name': 'city', 'value': 'Rome', 'timestamp': 1.5}
        """
        data: dict[str, Any] = {"event": self.event_type}
        for key, attribute in self._fields:
            value = self._json_value(attribute)
            if value is not None or key in self._always:
                data[key] = value
        for key in ("timestamp", "metadata"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        for key, value in (self.extra or {}).items():
            data.setdefault(key, value)
        return data

    def _json_value(self, attribute: str) -> Any:
        return getattr(self, attribute)


@dataclass(frozen=True)
class UserUttered(_Event):
    """A user turn: its intent (a retrieval intent's base: ``faq`` for ``faq/ask_price``), its
    entities and its text. From a tracker it also keeps Rasa's ``parse_data`` (the NLU's whole
    parse result), ``input_channel`` and ``message_id``."""

    intent: str | None
    entities: tuple[Entity, ...] = ()
    text: str | None = None
    # "file:line" of a story's step, for error messages; not part of the event's identity.
    source: str | None = field(default=None, compare=False, repr=False)
    parse_data: dict | None = _optional()
    input_channel: str | None = _optional()
    message_id: str | None = _optional()

    type_name: ClassVar[str] = "user"
    _fields: ClassVar = (
        ("text", "text"),
        ("parse_data", "parse_data"),
        ("input_channel", "input_channel"),
        ("message_id", "message_id"),
    )

    def _json_value(self, attribute: str) -> Any:
        if attribute == "parse_data" and self.parse_data is None:
            # Rasa always writes a parse_data (its reader fails on a user event without one)
            entities = [
                {
                    "entity": e.type,
                    "value": e.value,
                    **{k: v for k, v in (("role", e.role), ("group", e.group)) if v is not None},
                }
                for e in self.entities
            ]
            intent = {} if self.intent is None else {"name": self.intent}
            made = {"intent": intent, "entities": entities}
            return made if self.text is None else {**made, "text": self.text}
        return getattr(self, attribute)

    @property
    def full_intent(self) -> str | None:
        """The intent as the NLU named it (``faq/ask_price``; else `intent`). Rasa 3's trackers
        hold the base in ``intent.name`` and the whole in ``intent.full_retrieval_intent_name``."""
        intent = (self.parse_data or {}).get("intent") or {}
        for key in ("full_retrieval_intent_name", "name"):
            if isinstance(intent.get(key), str):
                return intent[key]
        return self.intent


@dataclass(frozen=True)
class ActionExecuted(_Event):
    """A bot action, by its name; a ``bot:`` step of an end-to-end story is an action named
    by its text instead (``name`` is ``None``), as Rasa's ``action_text``. From a live
    conversation it also keeps the ``policy`` that predicted it and its ``confidence``."""

    name: str | None
    text: str | None = None
    source: str | None = field(default=None, compare=False, repr=False)
    policy: str | None = _optional()
    confidence: float | None = _optional()

    type_name: ClassVar[str] = "action"
    _fields: ClassVar = (
        ("name", "name"),
        ("policy", "policy"),
        ("confidence", "confidence"),
        ("action_text", "text"),
    )


@dataclass(frozen=True)
class SlotSet(_Event):
    """A slot was set to ``value`` (``None``: unset)."""

    name: str
    value: Any = None
    source: str | None = field(default=None, compare=False, repr=False)

    type_name: ClassVar[str] = "slot"
    _fields: ClassVar = (("name", "name"), ("value", "value"))
    _always: ClassVar = ("value",)


@dataclass(frozen=True)
class ActiveLoop(_Event):
    """A form (loop) became active, or, with ``name`` ``None``, the active one ended.
    ``legacy``: read from Rasa 2's ``form`` event (and written back as one)."""

    name: str | None
    source: str | None = field(default=None, compare=False, repr=False)
    legacy: bool = field(default=False, compare=False, repr=False, kw_only=True)

    type_name: ClassVar[str] = "active_loop"
    _fields: ClassVar = (("name", "name"),)
    _always: ClassVar = ("name",)

    @property
    def event_type(self) -> str:
        return "form" if self.legacy else self.type_name


@dataclass(frozen=True)
class BotUttered(_Event):
    """A message the bot said: its ``text`` and Rasa's ``data`` (buttons, images, ...)."""

    text: str | None = None
    data: dict | None = _optional()

    type_name: ClassVar[str] = "bot"
    _fields: ClassVar = (("text", "text"), ("data", "data"))
    _always: ClassVar = ("text",)  # Rasa writes "text": null for an image or payload alone


@dataclass(frozen=True)
class ActionExecutionRejected(_Event):
    """An action (a form the user's answer filled nothing of) refused to run."""

    name: str
    policy: str | None = _optional()
    confidence: float | None = _optional()

    type_name: ClassVar[str] = "action_execution_rejected"
    _fields: ClassVar = (("name", "name"), ("policy", "policy"), ("confidence", "confidence"))


@dataclass(frozen=True)
class Restarted(_Event):
    """The conversation starts over: the events before it no longer count."""

    type_name: ClassVar[str] = "restart"


@dataclass(frozen=True)
class SessionStarted(_Event):
    """A new session: the events before it no longer count."""

    type_name: ClassVar[str] = "session_started"


@dataclass(frozen=True)
class ActionReverted(_Event):
    """Rasa's ``undo``: takes back the last action and what followed it."""

    type_name: ClassVar[str] = "undo"


@dataclass(frozen=True)
class UserUtteranceReverted(_Event):
    """Rasa's ``rewind``: takes back the last user turn, what followed it, and the action
    (``action_listen``) before it."""

    type_name: ClassVar[str] = "rewind"


@dataclass(frozen=True)
class AllSlotsReset(_Event):
    """Rasa's ``reset_slots``: every slot back to its initial value."""

    type_name: ClassVar[str] = "reset_slots"


@dataclass(frozen=True)
class OtherEvent(_Event):
    """One of Rasa's events that change nothing here (``followup``, ``pause``, ``resume``,
    ``reminder``, ``cancel_reminder``, ``agent``, ``loop_interrupted``, ``form_validation``,
    ``entities``, ``user_featurization``, ``export``): its type; its fields are in ``extra``."""

    kind: str

    @property
    def event_type(self) -> str:
        return self.kind


Event = (
    UserUttered
    | ActionExecuted
    | SlotSet
    | ActiveLoop
    | BotUttered
    | ActionExecutionRejected
    | Restarted
    | SessionStarted
    | ActionReverted
    | UserUtteranceReverted
    | AllSlotsReset
    | OtherEvent
)
# The events a dialogue policy sees; the others change nothing in its states.
POLICY_EVENTS = (UserUttered, ActionExecuted, SlotSet, ActiveLoop)

OTHER_EVENT_TYPES = (
    "followup",
    "pause",
    "resume",
    "reminder",
    "cancel_reminder",
    "agent",
    "loop_interrupted",
    "form_validation",
    "entities",
    "user_featurization",
    "export",
)
_WITHOUT_FIELDS = {
    cls.type_name: cls
    for cls in (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, AllSlotsReset)
}
EVENT_TYPES = (
    "user",
    "action",
    "slot",
    "active_loop",
    "form",
    *_WITHOUT_FIELDS,
    "bot",
    "action_execution_rejected",
    *OTHER_EVENT_TYPES,
)


# A conversation's id, as Rasa's SQL tracker store keeps it (a varchar(255) column): every store
# and endpoint takes the same ones.
MAX_SENDER_ID_LENGTH = 255


def check_sender_id(sender_id: Any) -> str:
    """``sender_id`` if it can name a conversation: a non-empty string of at most
    `MAX_SENDER_ID_LENGTH` characters, without NUL (which PostgreSQL cannot store).

    Raises:
        TrackerError: It cannot; the message says what a sender id must be and what it got.

    Example:
        >>> check_sender_id("ann")
        'ann'
    """
    rule = f"a sender id must be a non-empty string of at most {MAX_SENDER_ID_LENGTH} characters"
    if not isinstance(sender_id, str):
        raise TrackerError(f"{rule}, got {type(sender_id).__name__}")
    if not sender_id:
        raise TrackerError(f"{rule}, got an empty string")
    if len(sender_id) > MAX_SENDER_ID_LENGTH:
        raise TrackerError(f"{rule}, got {len(sender_id)} characters")
    if "\0" in sender_id:
        raise TrackerError(f"{rule} without NUL characters")
    return sender_id


# --- Reading and writing Rasa's JSON --------------------------------------------------------------

# The typed fields of each event in Rasa's JSON: key -> what its value must be (None is allowed
# for every one of them: Rasa writes null for a field it does not have). The names of slot and
# active_loop events are checked where they are read.
_FIELD_TYPES: dict[str, dict[str, str]] = {
    "user": {"text": "string", "input_channel": "string", "message_id": "string"},
    "action": {
        "name": "string",
        "policy": "string",
        "confidence": "number",
        "action_text": "string",
    },
    "bot": {"text": "string", "data": "object"},
    "action_execution_rejected": {"name": "string", "policy": "string", "confidence": "number"},
}
_PARSE_DATA_TYPES = {
    "text": "string",
    "intent": "object",
    "entities": "array",
    "intent_ranking": "array",
}
_INTENT_TYPES = {"name": "string", "confidence": "number", "full_retrieval_intent_name": "string"}
_ENTITY_TYPES = {
    "entity": "string",
    "role": "string",
    "group": "string",
    "start": "number",
    "end": "number",
    "confidence_entity": "number",
    "extractor": "string",
}
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "object": dict,
    "array": list,
}


def _json_type(value: Any) -> str:
    """The JSON type of a decoded value, for error messages."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _check_types(data: Mapping[str, Any], types: Mapping[str, str], where: str, path: str) -> None:
    """Each of ``data``'s keys named in ``types`` null or of its JSON type (a boolean is no
    number)."""
    for key, expected in types.items():
        value = data.get(key)
        wrong = not isinstance(value, _JSON_TYPES[expected]) or (
            expected == "number" and isinstance(value, bool)
        )
        if value is not None and wrong:
            article = "an" if expected[0] in "ao" else "a"
            raise TrackerError(
                f"{where}: '{path}{key}' must be {article} {expected} or null, "
                f"got {_json_type(value)}"
            )


def _check_finite(data: Any, where: str) -> None:
    """Every number in ``data``, however deep, finite: JSON has no NaN or Infinity (Python's
    reader takes them, and 1e400 as Infinity; no JSON writer could give them back)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise TrackerError(
                f"{where}: '{path}' is {value}; numbers must be finite (no NaN, Infinity, or "
                "numbers too large for a double)"
            )
        if isinstance(value, Mapping):
            stack += [(f"{path}.{key}" if path else str(key), v) for key, v in value.items()]
        elif isinstance(value, list | tuple):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(value)]


def _check_event(data: Mapping[str, Any], where: str) -> None:
    """The fields of one event of Rasa's JSON that this model reads, of Rasa's types; every
    number in it finite.

    Raises:
        TrackerError: naming ``where`` (the event's index) and the field.
    """
    _check_finite(data, where)
    timestamp = data.get("timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
    ):
        raise TrackerError(
            f"{where}: 'timestamp' must be a number (seconds since 1970) or absent, "
            f"got {_json_type(timestamp)}"
        )
    _check_types(data, {"metadata": "object"}, where, "")
    _check_types(data, _FIELD_TYPES.get(data["event"], {}), where, "")
    parse_data = data.get("parse_data")
    if data["event"] != "user" or not isinstance(parse_data, Mapping):
        return
    _check_types(parse_data, _PARSE_DATA_TYPES, where, "parse_data.")
    if isinstance(parse_data.get("intent"), Mapping):
        _check_types(parse_data["intent"], _INTENT_TYPES, where, "parse_data.intent.")
    for i, ranked in enumerate(parse_data.get("intent_ranking") or []):
        path = f"parse_data.intent_ranking[{i}]"
        if not isinstance(ranked, Mapping):
            raise TrackerError(f"{where}: '{path}' must be an object, got {_json_type(ranked)}")
        _check_types(ranked, _INTENT_TYPES, where, f"{path}.")
    for i, entity in enumerate(parse_data.get("entities") or []):
        if isinstance(entity, Mapping):
            _check_types(entity, _ENTITY_TYPES, where, f"parse_data.entities[{i}].")


def event_from_json(data: Any, index: int | None = None) -> Event:
    """One event of a Rasa tracker's JSON (parsed) as an `Event`.

    Args:
        data: The event: a mapping with an ``event`` type.
        index: Its index in the tracker's events, for error messages.

    Raises:
        TrackerError: The event is malformed; the message names its index and what is wrong.

    Example:
        >>> event_from_json({"event": "slot", "name": "city", "value": "Rome"})
        SlotSet(name='city', value='Rome')
    """
    where = "tracker event" if index is None else f"tracker event {index}"
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise TrackerError(
            f"{where}: expected a mapping with an 'event' type such as 'user' or 'action', "
            f"got {data!r}"
        )
    kind = data["event"]
    _check_event(data, where)
    common = {"timestamp": data.get("timestamp"), "metadata": data.get("metadata")}
    event: Event
    if kind == "user":
        event = user_uttered(
            data.get("text"),
            data.get("parse_data"),
            where,
            input_channel=data.get("input_channel"),
            message_id=data.get("message_id"),
            **common,
        )
    elif kind == "action":
        name, text = data.get("name"), data.get("action_text")
        if not isinstance(name, str) and not isinstance(text, str):
            raise TrackerError(f"{where}: an action event needs a 'name' string, got {data!r}")
        event = ActionExecuted(
            name if isinstance(name, str) else None,
            text if isinstance(text, str) and not isinstance(name, str) else None,
            policy=data.get("policy"),
            confidence=data.get("confidence"),
            **common,
        )
    elif kind == "slot":
        if not isinstance(data.get("name"), str):
            raise TrackerError(f"{where}: a slot event needs a 'name' string, got {data!r}")
        event = SlotSet(data["name"], data.get("value"), **common)
    elif kind in ("active_loop", "form"):
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise TrackerError(
                f"{where}: an active_loop event's 'name' is a form name or null, got {name!r}"
            )
        event = ActiveLoop(name, legacy=kind == "form", **common)
    elif kind == "bot":
        event = BotUttered(data.get("text"), data=data.get("data"), **common)
    elif kind == "action_execution_rejected":
        if not isinstance(data.get("name"), str):
            raise TrackerError(
                f"{where}: an action_execution_rejected event needs a 'name' string, got {data!r}"
            )
        keys = ("name", "policy", "confidence")
        event = ActionExecutionRejected(**{key: data.get(key) for key in keys}, **common)
    elif kind in _WITHOUT_FIELDS:
        event = _WITHOUT_FIELDS[kind](**common)
    elif kind in OTHER_EVENT_TYPES:
        event = OtherEvent(kind, **common)
    else:
        raise TrackerError(
            f"{where}: unknown event type {kind!r}{did_you_mean(kind, EVENT_TYPES)}; expected "
            f"one of: {', '.join(EVENT_TYPES)}"
        )
    # what the typed fields do not write back (other fields, nulls) is kept as it came
    written = event.as_json()
    extra = {key: value for key, value in data.items() if key not in written}
    return dataclasses.replace(event, extra=extra) if extra else event


def events_from_json(events: Sequence[Any] | Mapping[str, Any]) -> list[Event]:
    """`event_from_json` of each of a tracker's events (the ``events`` list, or the whole
    tracker: a mapping with ``events``), all of them, in order.

    Raises:
        TrackerError: The tracker has no ``events`` list, or an event is malformed.
    """
    if isinstance(events, Mapping):
        if not isinstance(events.get("events"), list):
            raise TrackerError("a tracker must have an 'events' list")
        events = events["events"]
    return [event_from_json(event, index) for index, event in enumerate(events)]


def events_as_json(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Rasa's tracker JSON of each event (`Event.as_json`)."""
    return [event.as_json() for event in events]


def user_uttered(
    text: str | None, parse_data: Mapping[str, Any] | None, where: str = "user message", **kwargs
) -> UserUttered:
    """A user turn from its text and the NLU's parse result (Rasa's ``parse_data``); keyword
    arguments go to `UserUttered` (``input_channel``, ``timestamp``, ...).

    Raises:
        TrackerError: ``parse_data`` is not a parse result; the message starts with ``where``.

    Example:
        >>> user_uttered("hi", {"intent": {"name": "faq/greet"}, "entities": []}).intent
        'faq'
    """
    parse = parse_data or {}
    if not isinstance(parse, Mapping):
        raise TrackerError(f"{where}: 'parse_data' must be a mapping, got {parse_data!r}")
    intent = parse.get("intent") or {}
    if not isinstance(intent, Mapping) or not isinstance(intent.get("name"), str | None):
        raise TrackerError(
            f"{where}: 'parse_data.intent' must be a mapping with a 'name', got {intent!r}"
        )
    entities = []
    for entity in parse.get("entities") or []:
        if not isinstance(entity, Mapping) or not isinstance(entity.get("entity"), str):
            raise TrackerError(
                f"{where}: an entity of 'parse_data.entities' must be a mapping with an 'entity' "
                f"name, got {entity!r}"
            )
        entities.append(
            Entity(entity["entity"], entity.get("value"), entity.get("role"), entity.get("group"))
        )
    name = intent.get("name")
    if name is not None and RETRIEVAL_SEPARATOR in name:  # faq/ask_price: the policy sees faq
        name = name.split(RETRIEVAL_SEPARATOR, 1)[0]
    text = text if isinstance(text, str) else None
    return UserUttered(name, tuple(entities), text, parse_data=parse_data, **kwargs)


# --- Which events count --------------------------------------------------------------------------


def applied_events(
    events: Iterable[Event], initial_slots: Mapping[str, Any] | None = None
) -> list[Event]:
    """The events that still count, as Rasa's ``applied_events``: `Restarted` and
    `SessionStarted` drop the events before them, `ActionReverted` (``undo``) drops the
    events back to and including the last action, `UserUtteranceReverted` (``rewind``) those
    back to and including the last user turn and the action before it (``action_listen``);
    `AllSlotsReset` becomes a `SlotSet` to its initial value (``initial_slots``; unset where it
    names none) for every slot set so far. Rasa's undoing of a form's happy-path turns is not
    done.

    Example:
        >>> applied_events([ActionExecuted("action_listen"), UserUttered("greet"),
        ...                 SlotSet("mood", "glad"), UserUtteranceReverted()])
        []
        >>> applied_events([SlotSet("mood", "glad"), AllSlotsReset()], {"mood": "calm"})
        [SlotSet(name='mood', value='glad'), SlotSet(name='mood', value='calm')]
    """
    applied: list[Event] = []
    for event in events:
        if isinstance(event, Restarted | SessionStarted):
            applied = []
        elif isinstance(event, ActionReverted):
            _drop_back_to(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            _drop_back_to(UserUttered, applied)
            _drop_back_to(ActionExecuted, applied)
        elif isinstance(event, AllSlotsReset):
            initial = initial_slots or {}
            set_slots = dict.fromkeys(e.name for e in applied if isinstance(e, SlotSet))
            applied += [SlotSet(name, initial.get(name)) for name in set_slots]
        else:
            applied.append(event)
    return applied


def slot_values(events: Iterable[Event], initial_slots: Mapping[str, Any]) -> dict[str, Any]:
    """Every slot's value after ``events``: ``initial_slots``, then the `SlotSet` events that
    still count (`applied_events`)."""
    values = dict(initial_slots)
    for event in applied_events(events, initial_slots):
        if isinstance(event, SlotSet):
            values[event.name] = event.value
    return values


def _drop_back_to(event_type: type, events: list[Event]) -> None:
    """Drop events from the end up to and including the last one of ``event_type`` (all of
    them if there is none, as Rasa's ``_undo_till_previous``)."""
    while events:
        if isinstance(events.pop(), event_type):
            break


def events_from_tracker_json(
    events: Sequence[Any] | Mapping[str, Any], initial_slots: Mapping[str, Any] | None = None
) -> list[Event]:
    """The events of a Rasa tracker's JSON as a policy reads them: `events_from_json`, then
    `applied_events`, keeping the events a policy sees (`POLICY_EVENTS`: ``user``, ``action``,
    ``slot``, ``active_loop`` and Rasa 2's ``form``).

    Args:
        events: The tracker's ``events`` list, or the whole tracker (a mapping with ``events``).
        initial_slots: The domain's slots' initial values (`Domain.initial_slot_values`).

    Raises:
        TrackerError: An event is malformed; the message names its index and what is wrong.

    Example:
        >>> events_from_tracker_json([
        ...     {"event": "action", "name": "action_listen"},
        ...     {"event": "user", "text": "to Rome", "parse_data": {
        ...         "intent": {"name": "book", "confidence": 0.9},
        ...         "entities": [{"entity": "city", "value": "Rome", "start": 3, "end": 7}]}},
        ...     {"event": "bot", "text": "When?"},
        ...     {"event": "slot", "name": "city", "value": "Rome"},
        ... ])[1:]
        [UserUttered(intent='book', entities=(Entity(type='city', value='Rome', role=None, \
group=None),), text='to Rome'), SlotSet(name='city', value='Rome')]
    """
    applied = applied_events(events_from_json(events), initial_slots)
    return [event for event in applied if isinstance(event, POLICY_EVENTS)]
