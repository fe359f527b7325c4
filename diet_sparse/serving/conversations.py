"""Conversations with the bot, kept in a tracker store: what the server's REST channel and
tracker endpoints do, without the HTTP. A message is answered while its sender is locked
(`tracker_store.TrackerStore.conversation`, as Rasa's lock store locks it): the stored events
read, the bot's turn (`bot.Bot`) run with no database transaction open, the new events written
back; other senders go on meanwhile."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from diet_sparse.dialogue.bot import Bot, slot_values
from diet_sparse.dialogue.responses import collected_messages
from diet_sparse.rasa.endpoints import REST_CHANNEL
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    UserUttered,
    applied_events,
    events_as_json,
    events_from_json,
)
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
        new = [
            dataclasses.replace(event, input_channel=REST_CHANNEL)
            if isinstance(event, UserUttered)
            else event
            for event in bot.events[before:]
        ]
        if not conversation.events:  # a new conversation: its opening action_listen too
            new = [*bot.events[:before], *new]
        conversation.add(new)
    return [
        sent
        for result in results
        for message in result["bot_messages"]
        for sent in collected_messages(message, sender_id)
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
