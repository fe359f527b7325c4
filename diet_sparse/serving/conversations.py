"""Conversations with the bot, kept in a tracker store: what the server's REST channel and
tracker endpoints do, without the HTTP. A message is answered while its sender is locked
(`tracker_store.TrackerStore.conversation`, as Rasa's lock store locks it): the stored events
read, the bot's turn (`bot.Bot`) run with no database transaction open, the new events written
back; other senders go on meanwhile."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from diet_sparse.dialogue.bot import CORRECTED, Bot, slot_values
from diet_sparse.dialogue.responses import collected_messages
from diet_sparse.errors import CorrectionError
from diet_sparse.rasa.domain import ACTION_LISTEN
from diet_sparse.rasa.endpoints import REST_CHANNEL
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    UserUtteranceReverted,
    UserUttered,
    applied_events,
    events_as_json,
    events_from_json,
)
from diet_sparse.rasa.yaml_reading import did_you_mean
from diet_sparse.serving.inspector import REPLACES, stored_turns
from diet_sparse.serving.tracker_store import TrackerStore


def respond(
    store: TrackerStore, sender_id: str, text: str, nlu: Any, policy: Any, actions: Any = None
) -> list[dict[str, Any]]:
    """``sender_id``'s message ``text`` answered in its stored conversation, as Rasa's REST
    channel answers: ``{"recipient_id", "text", "buttons", "image", "attachment", "custom"}``
    for each message the bot says (`responses.collected_messages`; custom actions
    run on the action server ``actions``, if given, see `bot.Bot`; without one they say
    nothing). The message and the bot's events are stored.

    Raises:
        TrackerStoreError: the store cannot be read or written (nothing is stored then).
        DialogueError: the NLU's intent or an action is not in the policy's domain.
    """
    with store.conversation(sender_id) as conversation:
        bot = Bot(nlu, policy, events=conversation.events, actions=actions, sender_id=sender_id)
        before = len(bot.events)
        results = bot.respond(text)
        new = _from_rest_channel(bot.events[before:])
        if not conversation.events:  # a new conversation: its opening action_listen too
            new = [*bot.events[:before], *new]
        conversation.add(new)
    return [
        sent
        for result in results
        for message in result["bot_messages"]
        for sent in collected_messages(message, sender_id)
    ]


def _from_rest_channel(events: Sequence[Event]) -> list[Event]:
    """``events`` with each user message marked as said on Rasa's REST channel."""
    return [
        dataclasses.replace(event, input_channel=REST_CHANNEL)
        if isinstance(event, UserUttered) and event.input_channel is None
        else event
        for event in events
    ]


def replace_events(
    store: TrackerStore, sender_id: str, events: Sequence[dict[str, Any]], policy: Any
) -> list[Event]:
    """Replace ``sender_id``'s stored events with ``events``, Rasa tracker JSON (Rasa's PUT
    /conversations/{id}/tracker/events), once the policy has read them; returns them, read.

    Raises:
        TrackerError: an event cannot be read.
        DialogueError: an event names what the policy's domain lacks.
    """
    events = events_from_json(list(events))
    policy.states(events)  # raises before anything is written
    with store.conversation(sender_id, replace=True) as conversation:
        conversation.add(events)
    return events


def tracker_json(sender_id: str, events: Sequence[Event], domain: Any) -> dict[str, Any]:
    """A conversation as Rasa's tracker JSON (GET /conversations/{id}/tracker): the sender,
    slots, latest message and action, active loop and all events."""
    latest_message: dict[str, Any] = {}
    latest_action: str | None = None
    active_loop: dict[str, Any] = {}
    for event in applied_events(events, domain.initial_slot_values):
        if isinstance(event, UserUttered):
            parse_data = event.as_json().get("parse_data") or {}
            latest_message = {"text": event.text, **parse_data}
        elif isinstance(event, ActionExecuted):
            latest_action = event.name
        elif isinstance(event, ActiveLoop):
            active_loop = {"name": event.name} if event.name else {}
    return {
        "sender_id": sender_id,
        "slots": slot_values(events, domain),
        "latest_message": latest_message,
        "latest_event_time": max((e.timestamp or 0 for e in events), default=None),
        "followup_action": None,
        "paused": False,
        "events": events_as_json(events),
        "latest_input_channel": REST_CHANNEL if latest_message else None,
        "active_loop": active_loop,
        "latest_action": {"action_name": latest_action} if latest_action else {},
        "latest_action_name": latest_action,
    }


# --- corrections (the chat page's interactive learning) ------------------------------------------


def correct(
    store: TrackerStore,
    sender_id: str,
    correction: dict[str, Any],
    nlu: Any,
    policy: Any,
    actions: Any = None,
) -> list[dict[str, Any]]:
    """Correct a turn of ``sender_id``'s stored conversation, as ``rasa interactive`` corrects
    the latest one, and let the bot go on from there; returns what it says then (as `respond`).

    ``correction`` is ``{"turn": k, "intent": name, "entities": [...]}`` (the message of turn
    ``k`` meant ``intent``; ``entities``, if given, replace its entities: each ``{"start", "end",
    "entity"}`` with ``role`` and ``group`` if any, its value the text between, synonyms
    applied) or ``{"turn": k, "action_index": j, "action": name}`` (the ``j``-th action of turn
    ``k`` should have been ``action``). The turns from ``k`` on are taken back with Rasa's
    ``rewind`` events (nothing stored is deleted), the message is said again (corrected, or as
    it was followed by the actions before the ``j``-th), and the bot goes on: the corrected
    action runs, then those the policy predicts, until it listens.

    Raises:
        CorrectionError: the correction names a turn, action, intent or entity that the
            conversation or the domain lacks (nothing is stored then).
        TrackerStoreError: the store cannot be read or written.
    """
    domain = policy.domain
    if ("intent" in correction) == ("action" in correction):
        raise CorrectionError(
            "a correction names either 'intent' (with 'entities' if they change) or 'action' "
            "(with 'action_index'), with the 'turn'"
        )
    with store.conversation(sender_id) as conversation:
        events = list(conversation.events)
        turns = stored_turns(events)
        number = _turn_number(correction, len(turns))
        turn = turns[number]
        taken_back = [UserUtteranceReverted() for later in turns[number:] if not later.reverted]
        history = [*events, *taken_back]
        applied = applied_events(history, domain.initial_slot_values)
        listening = applied and isinstance(applied[-1], ActionExecuted)
        if not (listening and applied[-1].name == ACTION_LISTEN):
            history.append(ActionExecuted(ACTION_LISTEN))  # the user speaks after a listen
        bot = Bot(nlu, policy, events=history, actions=actions, sender_id=sender_id)
        said = turn.user
        metadata = {**(said.metadata or {}), REPLACES: number}
        if "action" in correction:
            index = _action_index(correction, turn)
            action = _action(correction, domain)
            again = dataclasses.replace(said, metadata=metadata, timestamp=None)
            before = events[turn.start + 1 : turn.actions[index]]
            bot.events += [again, *(dataclasses.replace(e, timestamp=None) for e in before)]
            results = bot.run(action)
        else:
            parse = _corrected_parse(correction, said, domain, getattr(nlu, "synonyms", {}))
            results = bot.respond(said.text or "", parse, {**metadata, CORRECTED: True})
        conversation.add(_from_rest_channel(bot.events[len(events) :]))
    return [
        sent
        for result in results
        for message in result["bot_messages"]
        for sent in collected_messages(message, sender_id)
    ]


def _turn_number(correction: dict[str, Any], turns: int) -> int:
    number = correction.get("turn")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < turns:
        raise CorrectionError(
            f"'turn' must be the number of a turn with a message, 1 to {turns - 1}, got {number!r}"
        )
    return number


def _action_index(correction: dict[str, Any], turn: Any) -> int:
    index = correction.get("action_index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(turn.actions):
        raise CorrectionError(
            f"'action_index' must be the index of one of the turn's {len(turn.actions)} actions "
            f"(0 to {len(turn.actions) - 1}), got {index!r}"
        )
    return index


def _action(correction: dict[str, Any], domain: Any) -> str:
    action = correction.get("action")
    if action not in domain.action_names:
        hint = did_you_mean(str(action), domain.action_names)
        raise CorrectionError(f"'action' {action!r} is not an action of the domain{hint}")
    return action


def _corrected_parse(
    correction: dict[str, Any], said: UserUttered, domain: Any, synonyms: dict[str, str]
) -> dict[str, Any]:
    """The parse of the message ``said`` as corrected: the intent, sure (confidence 1, as
    ``rasa interactive`` corrects it), and the entities given, or those it had."""
    intent = correction.get("intent")
    if intent not in domain.intents:
        hint = did_you_mean(str(intent), domain.intents)
        raise CorrectionError(f"'intent' {intent!r} is not an intent of the domain{hint}")
    text = said.text or ""
    parse = dict(said.parse_data or {})
    if "entities" in correction:
        parse["entities"] = _corrected_entities(correction["entities"], text, domain, synonyms)
    corrected = {"name": intent, "confidence": 1.0}
    return {**parse, "text": text, "intent": corrected, "intent_ranking": [corrected]}


def _corrected_entities(
    entities: Any, text: str, domain: Any, synonyms: dict[str, str]
) -> list[dict[str, Any]]:
    if not isinstance(entities, list):
        raise CorrectionError(f"'entities' must be a list, got {type(entities).__name__}")
    corrected = []
    for number, entity in enumerate(entities):
        where = f"'entities' item {number}"
        if not isinstance(entity, dict):
            raise CorrectionError(f"{where} must be an object with start, end and entity")
        start, end, name = entity.get("start"), entity.get("end"), entity.get("entity")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or not (
            0 <= start < end <= len(text)
        ):
            raise CorrectionError(
                f"{where}: 'start' and 'end' must be character offsets in the message "
                f"(0 <= start < end <= {len(text)}), got {start!r} and {end!r}"
            )
        if name not in domain.entities:
            hint = did_you_mean(str(name), domain.entities)
            raise CorrectionError(f"{where}: entity {name!r} is not in the domain{hint}")
        value = text[start:end]
        found = {"entity": name, "start": start, "end": end, "value": value}
        found["value"] = synonyms.get(value.lower(), value)
        for key in ("role", "group"):
            if entity.get(key) not in (None, ""):
                if not isinstance(entity[key], str):
                    raise CorrectionError(f"{where}: '{key}' must be a string")
                found[key] = entity[key]
        corrected.append(found)
    return corrected
