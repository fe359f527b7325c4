"""Why the bot answered: a stored conversation told turn by turn, for the chat page's inspector
and for anyone who asks the server (GET /conversations/{id}/turns). Each turn is the user's
message with its parse (intent ranking, entities), each bot action with the policy that chose it
and its best scores (kept in the action event's ``metadata`` by `bot.decision_metadata`), what
the actions said, and the slots and active form after it.

Everything here is read from the conversation's events; nothing else is kept. A correction made
in the page (`conversations.correct`) takes turns back with Rasa's ``rewind`` events, as
``rasa interactive`` does, and says the message again with its metadata naming the turn it
replaces (`REPLACES`): the turns it took back are left out here, while a message the fallback
took back is shown, marked ``reverted``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from diet_sparse.dialogue.bot import CORRECTED, slot_values
from diet_sparse.dialogue.responses import collected_messages, outgoing_message
from diet_sparse.rasa.domain import Domain
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    UserUtteranceReverted,
    UserUttered,
    applied_events,
)

# The metadata key of a message said again by a correction: the number of the turn it replaces
# (that turn and the later ones are left out of `conversation_turns`).
REPLACES = "replaces_turn"


@dataclass
class Turn:
    """A turn of the conversation as stored: the index of its first event (its user message,
    except for turn 0) and of the event after its last."""

    start: int
    end: int
    user: UserUttered | None = None
    reverted: bool = False
    actions: list[int] = field(default_factory=list)  # indices of its action events


def stored_turns(events: Sequence[Event]) -> list[Turn]:
    """The conversation's turns (turn 0: the events before the first message), leaving out
    those a correction took back."""
    turns = [Turn(0, 0)]
    for index, event in enumerate(events):
        if isinstance(event, UserUttered):
            replaced = (event.metadata or {}).get(REPLACES)
            if isinstance(replaced, int) and 0 < replaced < len(turns):
                # the turn before keeps its end: the events taken back are no turn's (what they
                # said is not shown as said by that turn's last action)
                del turns[replaced:]
            else:
                turns[-1].end = index  # a turn ends where the next one starts
            turns.append(Turn(index, index, user=event))
        elif isinstance(event, UserUtteranceReverted) and turns[-1].user is not None:
            turns[-1].reverted = True
        elif isinstance(event, ActionExecuted | ActionExecutionRejected):
            turns[-1].actions.append(index)
    turns[-1].end = len(events)
    return turns


def conversation_turns(sender_id: str, events: Sequence[Event], domain: Domain) -> dict[str, Any]:
    """The conversation as the inspector shows it: ``{"sender_id", "slots", "active_loop",
    "turns": [...]}``, each turn ``{"turn", "user", "validation_messages", "actions", "slots",
    "changed_slots", "active_loop", "events"}`` (docs/serving.md, "The chat page" has the whole
    format)."""
    records = []
    slots_before = dict(domain.initial_slot_values)
    for number, turn in enumerate(stored_turns(events)):
        slots = slot_values(events[: turn.end], domain)
        records.append(
            {
                "turn": number,
                "user": _user(turn) if turn.user is not None else None,
                "validation_messages": _validation_messages(events, turn, sender_id),
                "actions": _actions(events, turn, sender_id),
                "slots": slots,
                "changed_slots": [name for name in slots if slots[name] != slots_before.get(name)],
                "active_loop": _active_loop(events[: turn.end], domain),
                "events": [event.as_json() for event in events[turn.start : turn.end]],
            }
        )
        slots_before = slots
    return {
        "sender_id": sender_id,
        "slots": slot_values(events, domain),
        "active_loop": _active_loop(events, domain),
        "turns": records,
    }


def _user(turn: Turn) -> dict[str, Any]:
    user = turn.user
    parse = user.parse_data or {}
    intent = parse.get("intent") or ({"name": user.intent} if user.intent else {})
    return {
        "text": user.text,
        "intent": intent,
        "intent_ranking": parse.get("intent_ranking") or ([intent] if intent else []),
        "entities": parse.get("entities") or [],
        "corrected": bool((user.metadata or {}).get(CORRECTED)),
        "reverted": turn.reverted,
    }


def _validation_messages(events: Sequence[Event], turn: Turn, sender_id: str) -> list[dict]:
    """What was said after the user's message and before the turn's first action: the domain's
    ``action_validate_slot_mappings``, which Rasa runs on every message and logs no action
    event for, sends its messages then (as the REST channel sends them)."""
    if turn.user is None:
        return []
    first = turn.actions[0] if turn.actions else turn.end
    return _sent(events[turn.start + 1 : first], sender_id)


def _sent(events: Sequence[Event], sender_id: str) -> list[dict]:
    """The messages of the ``bot`` events among ``events``, as Rasa's REST channel sends them."""
    return [
        message
        for event in events
        if isinstance(event, BotUttered)
        for message in collected_messages(outgoing_message(event), sender_id)
    ]


def _actions(events: Sequence[Event], turn: Turn, sender_id: str) -> list[dict[str, Any]]:
    """Each action of the turn, with why it ran and what it said (the ``bot`` events after it,
    as Rasa's REST channel sends them)."""
    records = []
    for position, index in enumerate(turn.actions):
        action = events[index]
        metadata = action.metadata or {}
        following = turn.actions[position + 1] if position + 1 < len(turn.actions) else turn.end
        records.append(
            {
                "action": action.name,
                "policy": action.policy,
                "confidence": action.confidence,
                "rule": metadata.get("rule"),
                "scores": metadata.get("scores") or [],
                "messages": _sent(events[index + 1 : following], sender_id),
                "rejected": isinstance(action, ActionExecutionRejected),
                "corrected": bool(metadata.get(CORRECTED)),
            }
        )
    return records


def _active_loop(events: Sequence[Event], domain: Domain) -> str | None:
    loop = None
    for event in applied_events(events, domain.initial_slot_values):
        if isinstance(event, ActiveLoop):
            loop = event.name
    return loop
