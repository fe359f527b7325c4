"""Conversations with the bot, kept in a tracker store: what the server's REST channel and
tracker endpoints do, without the HTTP. A message is answered inside its conversation's
transaction (`tracker_store.TrackerStore.conversation`): the stored events, the bot's turn
(`bot.Bot`), the new events written back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from diet_sparse.dialogue.bot import Bot, applied_events, slot_values
from diet_sparse.rasa.endpoints import REST_CHANNEL
from diet_sparse.serving.tracker_store import TrackerStore


def respond(
    store: TrackerStore, sender_id: str, text: str, nlu: Any, policy: Any, actions: Any = None
) -> list[dict[str, Any]]:
    """``sender_id``'s message ``text`` answered in its stored conversation, as Rasa's REST
    channel answers: one ``{"recipient_id", "text"}`` per message the bot says (custom actions
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
        new = bot.events[before:]
        for event in new:
            if event["event"] == "user":
                event["input_channel"] = REST_CHANNEL
        if not conversation.events:  # a new conversation: its opening action_listen too
            new = bot.events
        conversation.add(new)
    return [
        {"recipient_id": sender_id, "text": message}
        for result in results
        for message in result.get("messages", [result["text"]])
        if message is not None
    ]


def replace_events(
    store: TrackerStore, sender_id: str, events: Sequence[dict[str, Any]], policy: Any
) -> list[dict[str, Any]]:
    """Replace ``sender_id``'s stored events with ``events`` (Rasa's PUT
    /conversations/{id}/tracker/events), once the policy has read them; returns them.

    Raises:
        DialogueError: an event cannot be read, or names what the policy's domain lacks.
    """
    events = list(events)
    policy.states(events)  # raises before anything is written
    with store.conversation(sender_id, replace=True) as conversation:
        conversation.add(events)
    return events


def tracker_json(sender_id: str, events: Sequence[dict[str, Any]], domain: Any) -> dict[str, Any]:
    """A conversation as Rasa's tracker JSON (GET /conversations/{id}/tracker): the sender,
    slots, latest message and action, active loop and all events."""
    latest_message: dict[str, Any] = {}
    latest_action: str | None = None
    active_loop: dict[str, Any] = {}
    for event in applied_events(events):
        kind = event["event"]
        if kind == "user":
            latest_message = {"text": event.get("text"), **(event.get("parse_data") or {})}
        elif kind == "action":
            latest_action = event.get("name")
        elif kind in ("active_loop", "form"):
            active_loop = {"name": event["name"]} if event.get("name") else {}
    return {
        "sender_id": sender_id,
        "slots": slot_values(events, domain),
        "latest_message": latest_message,
        "latest_event_time": max((e.get("timestamp") or 0 for e in events), default=None),
        "followup_action": None,
        "paused": False,
        "events": list(events),
        "latest_input_channel": REST_CHANNEL if latest_message else None,
        "active_loop": active_loop,
        "latest_action": {"action_name": latest_action} if latest_action else {},
        "latest_action_name": latest_action,
    }
