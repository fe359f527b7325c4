"""The one event model (issue 25): Rasa's tracker JSON read into typed events and written back
unchanged, the one rule for which events still count, and the bot and the policy agreeing on
it."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest

from diet_sparse.dialogue.bot import Bot
from diet_sparse.dialogue.policy import Policy
from diet_sparse.errors import TrackerError
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    Entity,
    OtherEvent,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    applied_events,
    event_from_json,
    events_as_json,
    events_from_json,
    events_from_tracker_json,
    slot_values,
)

ROOT = Path(__file__).parents[2]
DOMAIN = load_domain(ROOT / "data" / "domain.yml")
T = 1700000000.5

# Each Rasa 3.6 event type as Rasa's `as_dict` writes it, and the type it is read as.
RASA_EVENTS = {
    "user": (
        {
            "event": "user",
            "timestamp": T,
            "metadata": {"model_id": "abc"},
            "text": "to Rome",
            "parse_data": {
                "intent": {"name": "book_flight", "confidence": 0.9},
                "entities": [{"entity": "city", "value": "Rome", "role": "destination"}],
                "text": "to Rome",
                "message_id": "m1",
                "metadata": {},
                "intent_ranking": [{"name": "book_flight", "confidence": 0.9}],
            },
            "input_channel": "rest",
            "message_id": "m1",
        },
        UserUttered,
    ),
    "user without text": (
        {
            "event": "user",
            "timestamp": T,
            "text": None,
            "parse_data": {"intent": {}, "entities": []},
            "metadata": {},
        },
        UserUttered,
    ),
    "bot": (
        {
            "event": "bot",
            "timestamp": T,
            "metadata": {"utter_action": "utter_greet"},
            "text": "Hello!",
            "data": {"elements": None, "buttons": None, "image": None, "custom": None},
        },
        BotUttered,
    ),
    "slot": ({"event": "slot", "timestamp": T, "name": "city", "value": "Rome"}, SlotSet),
    "slot unset": ({"event": "slot", "name": "city", "value": None}, SlotSet),
    "action": (
        {
            "event": "action",
            "timestamp": T,
            "metadata": {},
            "name": "utter_greet",
            "policy": "TEDPolicy",
            "confidence": 0.97,
            "action_text": None,
            "hide_rule_turn": False,
        },
        ActionExecuted,
    ),
    "end-to-end action": ({"event": "action", "name": None, "action_text": "Hi!"}, ActionExecuted),
    "active_loop": ({"event": "active_loop", "timestamp": T, "name": "pizza_form"}, ActiveLoop),
    "active_loop ends": ({"event": "active_loop", "name": None}, ActiveLoop),
    "form (Rasa 2)": ({"event": "form", "name": "pizza_form"}, ActiveLoop),
    "action_execution_rejected": (
        {
            "event": "action_execution_rejected",
            "timestamp": T,
            "name": "pizza_form",
            "policy": None,
            "confidence": None,
        },
        ActionExecutionRejected,
    ),
    "restart": ({"event": "restart", "timestamp": T, "metadata": {}}, Restarted),
    "session_started": ({"event": "session_started", "timestamp": T}, SessionStarted),
    "undo": ({"event": "undo", "timestamp": T}, ActionReverted),
    "rewind": ({"event": "rewind", "timestamp": T}, UserUtteranceReverted),
    "reset_slots": ({"event": "reset_slots", "timestamp": T}, AllSlotsReset),
    "followup": ({"event": "followup", "timestamp": T, "name": "utter_greet"}, OtherEvent),
    "pause": ({"event": "pause", "timestamp": T}, OtherEvent),
    "resume": ({"event": "resume", "timestamp": T}, OtherEvent),
    "reminder": (
        {
            "event": "reminder",
            "timestamp": T,
            "intent": "remind",
            "entities": [{"entity": "x", "value": 1}],
            "date_time": "2026-12-06T10:00:00",
            "name": "r1",
            "kill_on_user_msg": True,
        },
        OtherEvent,
    ),
    "cancel_reminder": (
        {
            "event": "cancel_reminder",
            "timestamp": T,
            "name": "r1",
            "intent": None,
            "entities": None,
        },
        OtherEvent,
    ),
    "agent": ({"event": "agent", "timestamp": T, "text": "hi", "data": None}, OtherEvent),
    "loop_interrupted": ({"event": "loop_interrupted", "is_interrupted": True}, OtherEvent),
    "form_validation": ({"event": "form_validation", "validate": False}, OtherEvent),
    "entities": (
        {"event": "entities", "entities": [{"entity": "city", "value": "Oslo"}]},
        OtherEvent,
    ),
    "user_featurization": (
        {"event": "user_featurization", "use_text_for_featurization": False},
        OtherEvent,
    ),
    "export": ({"event": "export", "path": "stories.yml"}, OtherEvent),
}


@pytest.mark.parametrize("data, kind", RASA_EVENTS.values(), ids=RASA_EVENTS)
def test_each_rasa_event_reads_into_its_type_and_writes_back_unchanged(data, kind):
    sent = copy.deepcopy(data)
    event = event_from_json(data)
    assert type(event) is kind and event.event_type == data["event"]
    assert event.as_json() == sent
    assert data == sent  # reading does not change what it read
    assert event_from_json(event.as_json()) == event


def test_a_tracker_reads_and_writes_back_in_order():
    tracker = [data for data, _ in RASA_EVENTS.values()]
    events = events_from_json({"sender_id": "ann", "events": tracker})
    assert [e.event_type for e in events] == [e["event"] for e in tracker]
    assert events_as_json(events) == tracker


def test_the_typed_fields_are_rasa_s():
    user = event_from_json(RASA_EVENTS["user"][0])
    assert user == UserUttered("book_flight", (Entity("city", "Rome", "destination"),), "to Rome")
    assert (user.input_channel, user.message_id, user.timestamp) == ("rest", "m1", T)
    retrieval = {"event": "user", "parse_data": {"intent": {"name": "faq/ask_price"}}}
    read = event_from_json(retrieval)
    assert read.intent == "faq" and read.full_intent == "faq/ask_price"
    # Rasa 3 writes the base intent as the name and the whole one beside it
    rasa_3 = {"name": "faq", "full_retrieval_intent_name": "faq/ask_price"}
    read = event_from_json({"event": "user", "parse_data": {"intent": rasa_3}})
    assert read.intent == "faq" and read.full_intent == "faq/ask_price"
    action = event_from_json(RASA_EVENTS["action"][0])
    assert (action.name, action.policy, action.confidence) == ("utter_greet", "TEDPolicy", 0.97)
    assert event_from_json(RASA_EVENTS["end-to-end action"][0]) == ActionExecuted(None, "Hi!")
    assert event_from_json(RASA_EVENTS["form (Rasa 2)"][0]) == ActiveLoop("pizza_form")


def test_events_made_here_write_rasa_json():
    assert ActionExecuted("action_listen").as_json() == {"event": "action", "name": "action_listen"}
    assert ActionExecuted("utter_greet", policy="RulePolicy", confidence=1.0).as_json() == {
        "event": "action",
        "name": "utter_greet",
        "policy": "RulePolicy",
        "confidence": 1.0,
    }
    assert SlotSet("city", None).as_json() == {"event": "slot", "name": "city", "value": None}
    assert ActiveLoop(None).as_json() == {"event": "active_loop", "name": None}
    assert UserUttered("greet", (Entity("city", "Rome", group="1"),)).as_json() == {
        "event": "user",
        "parse_data": {
            "intent": {"name": "greet"},
            "entities": [{"entity": "city", "value": "Rome", "group": "1"}],
        },
    }
    assert Restarted(timestamp=T).as_json() == {"event": "restart", "timestamp": T}
    # Rasa's reader needs a parse_data in every user event, even one without intent or entities
    assert UserUttered(None, text="hi").as_json() == {
        "event": "user",
        "text": "hi",
        "parse_data": {"intent": {}, "entities": [], "text": "hi"},
    }


def test_malformed_events_name_their_index_and_field():
    with pytest.raises(TrackerError, match=r"^tracker event 1: a slot event needs a 'name'"):
        events_from_json([{"event": "action", "name": "a"}, {"event": "slot", "value": 1}])
    with pytest.raises(TrackerError, match=r"tracker event 0: unknown event type 'slto' \(did"):
        events_from_json([{"event": "slto"}])
    with pytest.raises(TrackerError, match="a tracker must have an 'events' list"):
        events_from_json({"sender_id": "ann"})


# --- which events count ----------------------------------------------------------------------

LISTEN = ActionExecuted("action_listen")


def user(text):
    return [LISTEN, UserUttered("inform", text=text)]


SAID = [*user("to Rome"), SlotSet("city", "Rome"), ActionExecuted("utter_ask_date")]


@pytest.mark.parametrize("reset", [Restarted(), SessionStarted()], ids=["restart", "session"])
def test_restart_and_session_started_drop_what_came_before(reset):
    assert applied_events([*SAID, reset, LISTEN]) == [LISTEN]
    assert slot_values([*SAID, reset], {"city": None}) == {"city": None}


def test_undo_drops_back_to_and_including_the_last_action():
    acted = [*SAID, SlotSet("date", "today"), ActionExecuted("action_check"), SlotSet("x", 1)]
    assert applied_events([*acted, ActionReverted()]) == [*SAID, SlotSet("date", "today")]
    assert applied_events([*SAID, ActionReverted()]) == SAID[:-1]
    assert applied_events([ActionReverted()]) == []


def test_rewind_drops_the_last_user_turn_and_the_action_before_it():
    again = [*SAID, *user("to Oslo"), SlotSet("city", "Oslo"), BotUttered("Sorry?")]
    assert applied_events([*again, UserUtteranceReverted()]) == SAID
    assert slot_values([*again, UserUtteranceReverted()], {"city": None}) == {"city": "Rome"}


def test_reset_slots_puts_every_slot_back_to_its_initial_value():
    initial = {"city": None, "mood": "calm"}
    events = [*SAID, SlotSet("mood", "glad"), AllSlotsReset()]
    assert applied_events(events, initial)[-2:] == [SlotSet("city", None), SlotSet("mood", "calm")]
    assert slot_values(events, initial) == initial
    assert slot_values([*events, SlotSet("city", "Oslo")], initial) == {**initial, "city": "Oslo"}


def test_the_policy_s_reading_of_a_tracker_applies_the_same_rule():
    tracker = [
        *events_as_json(SAID),
        {"event": "bot", "text": "When?"},
        {"event": "undo"},
        {"event": "slot", "name": "city", "value": "Oslo"},
        {"event": "reset_slots"},
    ]
    typed = events_from_json(tracker)
    applied = applied_events(typed, {"city": None})
    assert events_from_tracker_json(tracker, {"city": None}) == [
        e for e in applied if isinstance(e, UserUttered | ActionExecuted | SlotSet | ActiveLoop)
    ]
    assert applied[-1] == SlotSet("city", None)


# --- the bot and the policy agree ------------------------------------------------------------


class FixedNLU:
    def parse(self, text):
        entities = [{"entity": "city", "value": text, "role": "destination"}]
        return {"text": text, "intent": {"name": "book_flight", "confidence": 1.0},
                "entities": entities}  # fmt: skip


class RecordingPolicy:
    domain = DOMAIN

    def __init__(self):
        self.seen = []

    def predict(self, events):
        self.seen.append(list(events))
        return {"scores": [{"action": "action_listen", "score": 1.0}], "policy": "stub",
                "confidence": 1.0}  # fmt: skip


def policy_states(events):
    """The states as the real `Policy.states` reads ``events`` (it needs only the domain, not a
    trained network)."""
    untrained = SimpleNamespace(domain=DOMAIN)
    untrained.applied = lambda events: Policy.applied(untrained, events)
    return Policy.states(untrained, events)


def policy_state(events):
    return policy_states(events)[-1]


def featurized_slots(slots):
    return {n: v for n, v in slots.items() if v is not None and DOMAIN.slots[n].feature_size}


def test_the_bot_and_the_policy_agree_on_the_events_that_count():
    stored = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "Rome", "parse_data": FixedNLU().parse("Rome")},
        {"event": "slot", "name": "destination", "value": "Rome"},
        {"event": "action", "name": "action_book_flight"},
        {"event": "slot", "name": "destination", "value": "Paris"},
        {"event": "undo"},  # takes back action_book_flight and Paris
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "Oslo", "parse_data": FixedNLU().parse("Oslo")},
        {"event": "slot", "name": "destination", "value": "Oslo"},
        {"event": "rewind"},  # takes back the message Oslo and its listen
    ]
    policy = RecordingPolicy()
    bot = Bot(FixedNLU(), policy, events=events_from_json(stored))
    assert bot.slots["destination"] == "Rome"
    state = policy_state(bot.events)
    assert dict(state.slots) == featurized_slots(bot.slots) == {"destination": "Rome"}
    assert (state.intent, state.prev_action) == ("book_flight", "action_listen")  # the Rome turn

    bot.respond("Lisbon")
    state = policy_state(policy.seen[0])  # what the policy was asked to predict from
    assert (state.intent, state.prev_action) == ("book_flight", "action_listen")
    assert dict(state.slots) == featurized_slots(bot.slots) == {"destination": "Lisbon"}
    # and the tracker JSON it is written as reads back to the same states
    tracker = events_as_json(bot.events)
    assert policy_states(tracker) == policy_states(bot.events)
