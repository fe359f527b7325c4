"""Forms with a validation action on an action server (issue 27): a tiny action server on
localhost answers ``validate_restaurant_form`` as Rasa SDK's ``FormValidationAction`` would, and
the conversation's events after each turn are those Rasa 3.6 logs (checked against Rasa 3.6.21
with Rasa SDK 3.6.2 running the same validation action)."""

from __future__ import annotations

import logging
import re
import textwrap

import pytest
from action_servers import LocalActionServer

from diet_sparse.dialogue.bot import Bot
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import events_as_json
from diet_sparse.serving.action_server import ActionServer
from diet_sparse.serving.inspector import conversation_turns

DOMAIN = """
intents: [request_table, inform, chitchat, affirm, deny]
entities: [cuisine, number, city]
slots:
  cuisine:
    type: text
    mappings: [{type: from_entity, entity: cuisine}]
  num_people:
    type: float
    mappings:
    - {type: from_entity, entity: number, conditions: [{active_loop: restaurant_form}]}
  outdoor:
    type: bool
    mappings:
    - type: from_intent
      intent: affirm
      value: true
      conditions: [{active_loop: restaurant_form, requested_slot: outdoor}]
  phone:
    type: text
    mappings: [{type: custom}]
forms:
  restaurant_form:
    required_slots: [cuisine, num_people, phone]
actions: [validate_restaurant_form]
responses:
  utter_ask_cuisine: [{text: What cuisine?}]
  utter_ask_num_people: [{text: For how many people?}]
  utter_ask_outdoor: [{text: Do you want to sit outside?}]
  utter_ask_phone: [{text: Your phone number?}]
  utter_wrong_cuisine: [{text: "We do not serve {cuisine}."}]
  utter_chitchat: [{text: I am fine.}]
  utter_submit: [{text: "A table for {num_people}, {cuisine}."}]
"""


def validate_restaurant_form(tracker: dict, domain: dict) -> dict:
    """What Rasa SDK's ``FormValidationAction`` answers for a subclass with ``required_slots``
    (``outdoor`` too for more than 4 people), ``extract_phone`` (the digits of the message that
    answers the phone question), ``validate_cuisine`` (thai or italian, else it says
    ``utter_wrong_cuisine`` and rejects the value) and ``validate_num_people`` (a number)."""
    slots, events = dict(tracker["slots"]), list(tracker["events"])
    domain_slots = domain["forms"]["restaurant_form"]["required_slots"]

    def required_slots() -> list[str]:
        people = slots.get("num_people")
        if people is not None and float(people) > 4:
            return ["cuisine", "num_people", "outdoor", "phone"]
        return domain_slots

    # get_extraction_events: extract_<slot> for each required slot, added to the tracker
    if "phone" in required_slots() and slots.get("requested_slot") == "phone":
        digits = "".join(re.findall(r"\d", tracker["latest_message"].get("text") or ""))
        if digits:
            slots["phone"] = digits
            events.append({"event": "slot", "name": "phone", "value": digits})
    # get_validation_events: the slot events at the end of the tracker are the candidates
    candidates: dict = {}
    for event in reversed(events):
        if event["event"] != "slot":
            break
        candidates.setdefault(event["name"], event["value"])
    candidates = dict(reversed(candidates.items()))
    wanted, validated, responses = required_slots(), {}, []
    for name, value in candidates.items():
        if name not in wanted:
            continue
        if name == "cuisine" and value not in ("thai", "italian"):
            responses.append({"response": "utter_wrong_cuisine", "template": "utter_wrong_cuisine"})
            value = None
        elif name == "num_people":
            value = float(value)
        validated[name] = slots[name] = value
    answer = [{"event": "slot", "name": name, "value": value} for name, value in validated.items()]
    # next_requested_slot: only when required_slots differs from the domain's
    if required_slots() != domain_slots:
        missing = [name for name in required_slots() if slots.get(name) is None]
        answer.append({"event": "slot", "name": "requested_slot", "value": (missing or [None])[0]})
    return {"events": answer, "responses": responses}


def validating_answer(actions: dict):
    """An action server's answer running ``actions`` (name -> function of the tracker and the
    domain, returning the answer, or the HTTP status and the answer)."""

    def answer(request: dict) -> tuple[int, object]:
        answered = actions[request["next_action"]](request["tracker"], request["domain"])
        return answered if isinstance(answered, tuple) else (200, answered)

    return answer


@pytest.fixture
def server():
    servers = []

    def start(actions):
        servers.append(LocalActionServer(validating_answer(actions)))
        return servers[-1]

    yield start
    for started in servers:
        started.close()


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    path = tmp_path_factory.mktemp("form_validation") / "domain.yml"
    path.write_text(textwrap.dedent(DOMAIN), encoding="utf-8")
    return load_domain(path)


MESSAGES = {
    "how are you": ("chitchat", []),
    "call me on 555 1234": ("inform", []),
    "for two": ("inform", [("number", "2")]),
    "I am happy with sushi": ("inform", [("cuisine", "sushi")]),
}


class StubNLU:
    def parse(self, text):
        intent, entities = MESSAGES[text]
        return {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": [{"entity": kind, "value": value} for kind, value in entities],
        }


class ScriptedPolicy:
    """Predicts ``actions`` in turn (the active form is run without asking the policy)."""

    def __init__(self, *actions):
        self.actions = list(actions)

    def predict(self, events, excluded=()):
        action = self.actions.pop(0)
        return {"scores": [{"action": action, "score": 1.0}], "policy": "stub", "confidence": 1.0}


def brief(events) -> list[tuple]:
    """Each event as (type, name or text[, value])."""
    out = []
    for event in events_as_json(events):
        kind = event["event"]
        if kind == "slot":
            out.append((kind, event["name"], event["value"]))
        elif kind in ("bot", "user"):
            out.append((kind, event["text"]))
        else:
            out.append((kind, event["name"]))
    return out


def turn(bot: Bot, text: str) -> list[tuple]:
    start = len(bot.events)
    bot.respond(text)
    return brief(bot.events[start:])


def test_a_validation_action_rejects_extracts_and_adds_slots_as_in_rasa(domain, server):
    actions = server({"validate_restaurant_form": validate_restaurant_form})
    policy = ScriptedPolicy("restaurant_form", "utter_chitchat", "restaurant_form", "utter_submit",
                            "action_listen")  # fmt: skip
    bot = Bot(StubNLU(), policy, domain=domain, actions=ActionServer(actions.url))

    # 1. The form starts (FormAction.activate): action_extract_slots runs again on the message
    # and the required slots now set (cuisine) are validated; the validation's events (its
    # message first, RemoteAction's bot messages) replace the candidates: sushi is rejected.
    # do() skips validating again (activation returned events); request_next_slot asks for
    # the first required slot unset on the temporary tracker.
    assert turn(bot, '/request_table{"cuisine": "sushi"}') == [
        ("user", '/request_table{"cuisine": "sushi"}'),
        ("slot", "cuisine", "sushi"),  # action_extract_slots
        ("action", "restaurant_form"),
        ("active_loop", "restaurant_form"),
        ("bot", "We do not serve sushi."),  # filled from the temporary tracker's candidate
        ("slot", "cuisine", None),
        ("slot", "requested_slot", "cuisine"),
        ("bot", "What cuisine?"),
        ("action", "action_listen"),
    ]
    (first,) = actions.requests
    sent = first["tracker"]["events"]  # _temporary_tracker: the form's requested slot (None:
    # not yet active) and action, then the candidates
    assert sent[-3:] == [
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "action", "name": "restaurant_form"},
        {"event": "slot", "name": "cuisine", "value": "sushi"},
    ]
    assert bot.events[-2].metadata == {
        "utter_action": "utter_ask_cuisine"
    }  # Rasa's ActionBotResponse names the response it said

    # 2. Both slots are candidates; the validation returns a slot event for each it
    # validated (num_people as a number) and, since its required_slots now differ from the
    # domain's, requested_slot: outdoor, a slot the domain's form does not list. The form
    # asks for the slot the validation requested.
    assert turn(bot, '/inform{"cuisine": "thai", "number": "6"}') == [
        ("user", '/inform{"cuisine": "thai", "number": "6"}'),
        ("slot", "cuisine", "thai"),
        ("slot", "num_people", "6"),
        ("action", "restaurant_form"),
        ("slot", "cuisine", "thai"),
        ("slot", "num_people", 6.0),
        ("slot", "requested_slot", "outdoor"),
        ("bot", "Do you want to sit outside?"),
        ("action", "action_listen"),
    ]
    assert actions.requests[-1]["tracker"]["events"][-4:] == [
        {"event": "slot", "name": "requested_slot", "value": "cuisine"},
        {"event": "action", "name": "restaurant_form"},
        {"event": "slot", "name": "cuisine", "value": "thai"},
        {"event": "slot", "name": "num_people", "value": "6"},
    ]

    # 3. Nothing extracted and the validation sets only requested_slot: the form is rejected
    # (FormAction.validate ignores requested_slot events). Back after utter_chitchat (not
    # after action_listen), the validation runs without candidates and the form asks again.
    assert turn(bot, "how are you") == [
        ("user", "how are you"),
        ("action_execution_rejected", "restaurant_form"),
        ("action", "utter_chitchat"),
        ("bot", "I am fine."),
        ("action", "restaurant_form"),
        ("slot", "requested_slot", "outdoor"),
        ("bot", "Do you want to sit outside?"),
        ("action", "action_listen"),
    ]
    assert len(actions.requests) == 4  # rejected run and the run after utter_chitchat

    # 4. The requested slot's from_intent mapping (its conditions name requested_slot outdoor,
    # set by the validation) fills it; the validation asks for phone next.
    assert turn(bot, "/affirm") == [
        ("user", "/affirm"),
        ("slot", "outdoor", True),
        ("action", "restaurant_form"),
        ("slot", "outdoor", True),
        ("slot", "requested_slot", "phone"),
        ("bot", "Your phone number?"),
        ("action", "action_listen"),
    ]

    # 5. No mapping fills phone (custom): extract_phone in the validation does; nothing is
    # missing, so the validation unsets requested_slot, which ends the form (is_done):
    # request_next_slot unsets it again, then the loop ends, and the policy goes on.
    assert turn(bot, "call me on 555 1234") == [
        ("user", "call me on 555 1234"),
        ("action", "restaurant_form"),
        ("slot", "phone", "5551234"),
        ("slot", "requested_slot", None),
        ("slot", "requested_slot", None),
        ("active_loop", None),
        ("action", "utter_submit"),
        ("bot", "A table for 6.0, thai."),
        ("action", "action_listen"),
    ]


def test_a_validation_action_that_fails_loses_the_forms_events(domain, server):
    """The action server down: Rasa logs the form's action without any of its events (so the
    form is not active) and the policies choose again."""
    down = server({})
    down.close()
    bot = Bot(StubNLU(), ScriptedPolicy("restaurant_form", "action_listen"), domain=domain,
              actions=ActionServer(down.url, timeout=2))  # fmt: skip
    assert turn(bot, '/request_table{"cuisine": "thai"}')[2:] == [
        ("action", "restaurant_form"),
        ("action", "action_listen"),
    ]


def test_the_validation_action_can_reject_the_form_itself(domain, server, caplog):
    def reject_chitchat(tracker, domain):
        if tracker["latest_message"]["intent"]["name"] != "chitchat":
            return {"events": [], "responses": []}
        return {"events": [{"event": "action_execution_rejected", "name": "restaurant_form"}],
                "responses": [{"text": "Let us talk about something else."}]}  # fmt: skip

    actions = server({"validate_restaurant_form": reject_chitchat})
    policy = ScriptedPolicy("restaurant_form", "utter_chitchat", "action_listen", "restaurant_form",
                            "action_listen")  # fmt: skip
    bot = Bot(StubNLU(), policy, domain=domain, actions=ActionServer(actions.url))
    assert turn(bot, '/request_table{"cuisine": "thai"}')[2:] == [
        ("action", "restaurant_form"),
        ("active_loop", "restaurant_form"),
        ("slot", "cuisine", "thai"),  # validated by saying nothing of it
        ("slot", "requested_slot", "num_people"),
        ("bot", "For how many people?"),
        ("action", "action_listen"),
    ]
    # Rasa's _log_action_on_tracker: a form rejected by its own events is not logged as run,
    # its events (message first) are; it asks nothing, and the policy chooses
    assert turn(bot, "how are you") == [
        ("user", "how are you"),
        ("bot", "Let us talk about something else."),
        ("action_execution_rejected", "restaurant_form"),
        ("action", "utter_chitchat"),
        ("bot", "I am fine."),
        ("action", "action_listen"),
    ]
    # still rejected at the next message: RulePolicy does not bring the form back, and the
    # requested slot's conditioned mapping fills nothing (ActionExtractSlots); the policy
    # runs the form, which finds nothing and is rejected again
    assert turn(bot, "for two") == [
        ("user", "for two"),
        ("action_execution_rejected", "restaurant_form"),
        ("action", "action_listen"),
    ]
    assert bot.slots["num_people"] is None


def test_an_action_server_rejecting_the_validation_rejects_the_form(domain, server, caplog):
    """An HTTP 400 (Rasa SDK's ActionExecutionRejection) rejects the form, even as it starts."""

    def refuse(tracker, domain):
        return 400, {"action_name": "validate_restaurant_form", "error": "not now"}

    refusing = server({"validate_restaurant_form": refuse})
    bot = Bot(StubNLU(), ScriptedPolicy("restaurant_form", "action_listen"), domain=domain,
              actions=ActionServer(refusing.url))  # fmt: skip
    with caplog.at_level(logging.WARNING):
        events = turn(bot, '/request_table{"cuisine": "thai"}')
    assert events[2:] == [
        ("action_execution_rejected", "restaurant_form"),
        ("action", "action_listen"),
    ]
    assert "HTTP 400: not now; form 'restaurant_form' is rejected" in caplog.text


def validate_slot_mappings(tracker: dict, domain: dict) -> dict:
    """A global validation action (Rasa SDK's ValidationAction): fills ``mood`` from the text
    (an ``extract_mood``), rejects sushi saying so, and asks for a follow-up action, which
    Rasa's action_extract_slots drops (it keeps slot and bot events only)."""
    events: list[dict] = []
    if "happy" in tracker["latest_message"]["text"]:
        events.append({"event": "slot", "name": "mood", "value": "happy"})
    responses = []
    if tracker["slots"]["cuisine"] == "sushi":
        responses.append({"text": "No sushi here."})
        events.append({"event": "slot", "name": "cuisine", "value": None})
    events.append({"event": "followup", "name": "utter_chitchat"})
    return {"events": events, "responses": responses}


def test_the_global_validation_action_runs_after_every_message(tmp_path, server):
    path = tmp_path / "domain.yml"
    text = textwrap.dedent(DOMAIN).replace(
        "slots:\n", "slots:\n  mood: {type: text, mappings: [{type: custom}]}\n"
    )
    path.write_text(
        text.replace(
            "actions: [validate_restaurant_form]", "actions: [action_validate_slot_mappings]"
        ),
        encoding="utf-8",
    )
    domain = load_domain(path)
    actions = server({"action_validate_slot_mappings": validate_slot_mappings})
    bot = Bot(StubNLU(), ScriptedPolicy("action_listen", "action_listen"), domain=domain,
              actions=ActionServer(actions.url))  # fmt: skip

    # ActionExtractSlots._execute_validation_action: the action gets the conversation with the
    # extracted slot events at its end; its messages, then its slot events, then the
    # extracted slots it did not return
    results = bot.respond("I am happy with sushi")
    assert brief(bot.events[1:]) == [
        ("user", "I am happy with sushi"),
        ("bot", "No sushi here."),
        ("slot", "mood", "happy"),
        ("slot", "cuisine", None),
        ("action", "action_listen"),
    ]
    assert actions.requests[0]["tracker"]["events"][-1] == {
        "event": "slot", "name": "cuisine", "value": "sushi"
    }  # fmt: skip
    assert results[0]["action"] == "action_validate_slot_mappings"
    assert results[0]["messages"] == ["No sushi here."]
    # the inspector shows what it said with the message, not with an action (it logs none)
    turn = conversation_turns("ann", bot.events, domain)["turns"][1]
    assert turn["validation_messages"] == [{"recipient_id": "ann", "text": "No sushi here."}]
    assert [action["messages"] for action in turn["actions"]] == [[]]

    # it runs after every message, with nothing extracted too
    bot.respond("how are you")
    assert len(actions.requests) == 2
    assert brief(bot.events[-2:]) == [("user", "how are you"), ("action", "action_listen")]


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "not_in_domain_actions"])
def test_a_custom_mapping_s_action_fills_slots_after_every_message(tmp_path, server, listed):
    # ActionExtractSlots._execute_custom_action: each action named by a custom mapping runs
    # once per message, on the conversation as it came; only its slot events are kept, at
    # the place of the first slot whose mapping names it. Rasa calls it on the action server
    # (a RemoteAction) whether the domain's actions list it or not.
    path = tmp_path / "domain.yml"
    mapping = "mappings: [{type: custom, action: action_read_contact}]"
    text = textwrap.dedent(DOMAIN).replace(
        "slots:\n",
        f"slots:\n  email: {{type: text, {mapping}}}\n  name: {{type: text, {mapping}}}\n",
    )
    if listed:
        text = text.replace("actions: [validate_restaurant_form]", "actions: [action_read_contact]")
    path.write_text(text, encoding="utf-8")
    domain = load_domain(path)

    def read_contact(tracker, domain):
        words = (tracker["latest_message"]["text"] or "").split()
        events = [{"event": "slot", "name": "email", "value": w} for w in words if "@" in w]
        events.append({"event": "slot", "name": "name", "value": words[0]})
        return {"events": events, "responses": [{"text": "Got it."}]}

    actions = server({"action_read_contact": read_contact})
    bot = Bot(StubNLU(), ScriptedPolicy("action_listen", "action_listen"), domain=domain,
              actions=ActionServer(actions.url))  # fmt: skip
    MESSAGES["ann ann@example.com"] = ("inform", [("cuisine", "thai")])
    try:
        bot.respond("ann ann@example.com")
    finally:
        del MESSAGES["ann ann@example.com"]
    assert brief(bot.events[1:]) == [
        ("user", "ann ann@example.com"),
        ("slot", "email", "ann@example.com"),  # the action's events, at email's place
        ("slot", "name", "ann"),
        ("slot", "cuisine", "thai"),
        ("action", "action_listen"),
    ]
    (request,) = actions.requests  # once, for both slots
    assert request["tracker"]["events"][-1]["event"] == "user"
    # without an action server nothing runs, and the other mappings fill their slots
    alone = Bot(StubNLU(), ScriptedPolicy("action_listen"), domain=domain)
    alone.respond("how are you")
    assert brief(alone.events[-2:]) == [("user", "how are you"), ("action", "action_listen")]


def test_a_form_asks_with_a_custom_action_on_its_temporary_tracker(tmp_path, server):
    path = tmp_path / "domain.yml"
    text = textwrap.dedent(DOMAIN).replace("[validate_restaurant_form]", "[action_ask_cuisine]")
    path.write_text(text, encoding="utf-8")

    def ask_cuisine(tracker, domain):
        return {"events": [], "responses": [{"text": "Thai or italian?"}]}

    actions = server({"action_ask_cuisine": ask_cuisine})
    bot = Bot(StubNLU(), ScriptedPolicy("restaurant_form"), domain=load_domain(path),
              actions=ActionServer(actions.url))  # fmt: skip
    results = bot.respond("/request_table")
    assert brief(bot.events[2:]) == [
        ("action", "restaurant_form"),
        ("active_loop", "restaurant_form"),
        ("slot", "requested_slot", "cuisine"),
        ("bot", "Thai or italian?"),
        ("action", "action_listen"),
    ]
    assert results[0]["messages"] == ["Thai or italian?"]
    # request_next_slot runs it on the temporary tracker: the form's requested slot (none) and
    # action, then the form's events so far, without the requested_slot it is setting
    assert actions.requests[0]["tracker"]["events"][-3:] == [
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "action", "name": "restaurant_form"},
        {"event": "active_loop", "name": "restaurant_form"},
    ]
