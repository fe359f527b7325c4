"""Forms and slot mappings in a live conversation (diet_sparse/dialogue/forms.py, via Bot)."""

import json
import textwrap

import pytest

from diet_sparse.dialogue.bot import Bot, applied_events
from diet_sparse.dialogue.forms import active_form, run_form, slots_from_message
from diet_sparse.persistence import _domain_from_json, _domain_to_json
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import ActionExecuted, UserUttered, events_as_json

DOMAIN = """
intents: [order, inform, chitchat, affirm, weather]
entities: [pizza, size, city]
slots:
  pizza:
    type: text
    mappings:
    - type: from_entity
      entity: pizza
      conditions: [{active_loop: pizza_form}]
  size:
    type: text
    mappings:
    - type: from_entity
      entity: size
      conditions: [{active_loop: pizza_form}]
    - type: from_text
      intent: inform
      conditions: [{active_loop: pizza_form, requested_slot: size}]
  agreed:
    type: bool
    mappings: [{type: from_intent, intent: affirm, value: true}]
  destination:
    type: text
    mappings: [{type: from_entity, entity: city, intent: [order]}]
  location:
    type: text
    mappings: [{type: from_entity, entity: city, not_intent: chitchat}]
forms:
  pizza_form:
    required_slots: [pizza, size]
responses:
  utter_ask_pizza: [{text: Which pizza?}]
  utter_ask_size: [{text: What size?}]
  utter_chitchat: [{text: I am fine.}]
  utter_done: [{text: "A {size} {pizza}."}]
"""


def parsed(text, intent, *entities):
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [{"entity": kind, "value": value} for kind, value in entities],
    }


MESSAGES = {
    "a pizza": parsed("a pizza", "order"),
    "margherita": parsed("margherita", "inform", ("pizza", "margherita")),
    "how are you": parsed("how are you", "chitchat"),
    "large please": parsed("large please", "inform"),
}


class StubNLU:
    def parse(self, text):
        return MESSAGES[text]


class ScriptedPolicy:
    """Predicts ``actions`` in turn and records what it was asked to leave out."""

    def __init__(self, *actions):
        self.actions = list(actions)
        self.calls = []

    def predict(self, events, excluded=()):
        self.calls.append(tuple(excluded))
        action = self.actions.pop(0)
        assert action not in excluded
        return {"scores": [{"action": action, "score": 0.8}], "policy": "stub", "confidence": 0.8}


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    path = tmp_path_factory.mktemp("forms") / "domain.yml"
    path.write_text(textwrap.dedent(DOMAIN), encoding="utf-8")
    return load_domain(path)


def actions_of(results):
    return [(r["action"], r["kind"], r["text"]) for r in results]


def test_a_form_asks_for_its_slots_takes_the_answers_and_survives_an_interruption(domain):
    policy = ScriptedPolicy(
        "pizza_form", "utter_chitchat", "pizza_form", "utter_done", "action_listen"
    )
    bot = Bot(StubNLU(), policy, domain=domain)

    # the policy starts the form; it asks for the first slot and the bot listens
    assert actions_of(bot.respond("a pizza")) == [
        ("pizza_form", "form", "Which pizza?"),
        ("action_listen", "listen", None),
    ]
    assert active_form(applied_events(bot.events)) == ("pizza_form", "pizza")

    # the answer fills the slot through the form's mapping; the active form runs again by
    # itself (the policy is not asked) and asks for the next slot
    assert actions_of(bot.respond("margherita")) == [
        ("pizza_form", "form", "What size?"),
        ("action_listen", "listen", None),
    ]
    assert len(policy.calls) == 1
    assert bot.slots["pizza"] == "margherita"
    tracker = events_as_json(bot.events)
    form_runs = [e for e in tracker if e["event"] == "action" and e["name"] == "pizza_form"]
    assert [e["policy"] for e in form_runs] == ["stub", "RulePolicy"]

    # an answer that fills nothing rejects the form: the policy chooses without it, then the
    # form comes back and asks again
    assert actions_of(bot.respond("how are you")) == [
        ("utter_chitchat", "response", "I am fine."),
        ("pizza_form", "form", "What size?"),
        ("action_listen", "listen", None),
    ]
    assert policy.calls[1:] == [("pizza_form",), ()]
    rejected = {"event": "action_execution_rejected", "name": "pizza_form"}
    rejected |= {"policy": "RulePolicy", "confidence": 1.0}  # as Rasa's, the form's prediction
    rejected["metadata"] = {"scores": [{"action": "pizza_form", "score": 1.0}],
                            "rule": "the active form runs again when the user speaks"}  # fmt: skip
    assert rejected in events_as_json(bot.events)

    # from_text fills the requested slot; with every slot set the form ends and the policy
    # goes on, the response filled from the form's slots
    assert actions_of(bot.respond("large please")) == [
        ("pizza_form", "form", None),
        ("utter_done", "response", "A large please margherita."),
        ("action_listen", "listen", None),
    ]
    assert active_form(applied_events(bot.events)) == (None, None)


def test_form_mappings_apply_only_while_their_form_is_active(domain):
    margherita = MESSAGES["margherita"]
    assert slots_from_message(domain, "margherita", margherita) == []
    assert slots_from_message(domain, "margherita", margherita, "pizza_form", "pizza") == [
        ("pizza", "margherita")
    ]
    # from_text needs its requested slot and its intent
    large = MESSAGES["large please"]
    assert slots_from_message(domain, "large", large, "pizza_form", "pizza") == []
    assert slots_from_message(domain, "large", large, "pizza_form", "size") == [("size", "large")]
    chat = parsed("large", "chitchat")
    assert slots_from_message(domain, "large", chat, "pizza_form", "size") == []


def test_from_intent_and_the_intent_conditions_of_entity_mappings(domain):
    assert slots_from_message(domain, "yes", parsed("yes", "affirm")) == [("agreed", True)]
    rome = ("city", "Rome")
    assert slots_from_message(domain, "Rome", parsed("Rome", "order", rome)) == [
        ("destination", "Rome"),
        ("location", "Rome"),
    ]
    assert slots_from_message(domain, "Rome", parsed("Rome", "weather", rome)) == [
        ("location", "Rome")
    ]
    assert slots_from_message(domain, "Rome", parsed("Rome", "chitchat", rome)) == []


def test_the_first_mapping_with_a_value_fills_a_slot(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(
        textwrap.dedent(
            """
            intents: [inform]
            entities: [city]
            slots:
              place:
                type: text
                mappings: [{type: from_entity, entity: city}, {type: from_text}]
              places:
                type: list
                mappings: [{type: from_entity, entity: city}, {type: from_intent, value: x}]
            """
        ),
        encoding="utf-8",
    )
    domain = load_domain(path)
    rome = parsed("to Rome", "inform", ("city", "Rome"), ("city", "Oslo"))
    # Rasa's ActionExtractSlots stops at the first mapping that gives a value
    assert slots_from_message(domain, "to Rome", rome) == [
        ("place", "Oslo"),
        ("places", ["Rome", "Oslo"]),
    ]
    nothing = parsed("somewhere", "inform")
    assert slots_from_message(domain, "somewhere", nothing) == [
        ("place", "somewhere"),
        ("places", ["x"]),
    ]


def test_store_entities_as_slots_false_turns_off_entity_mappings_only(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(
        textwrap.dedent(
            """
            config: {store_entities_as_slots: false}
            intents: [affirm, inform]
            entities: [city]
            slots:
              city: {type: text, mappings: [{type: from_entity, entity: city}]}
              agreed: {type: bool, mappings: [{type: from_intent, intent: affirm, value: true}]}
              note: {type: text, mappings: [{type: from_text, intent: inform}]}
            """
        ),
        encoding="utf-8",
    )
    domain = load_domain(path)
    assert slots_from_message(domain, "Rome", parsed("Rome", "inform", ("city", "Rome"))) == [
        ("note", "Rome")
    ]
    assert slots_from_message(domain, "yes", parsed("yes", "affirm")) == [("agreed", True)]


def test_an_entity_that_maps_two_required_slots_fills_only_the_requested_one(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(
        textwrap.dedent(
            """
            intents: [inform]
            entities: [city]
            slots:
              origin: {type: text, mappings: [{type: from_entity, entity: city}]}
              target: {type: text, mappings: [{type: from_entity, entity: city}]}
            forms:
              trip_form: {required_slots: [origin, target]}
            """
        ),
        encoding="utf-8",
    )
    domain = load_domain(path)
    message = parsed("Rome", "inform", ("city", "Rome"))
    assert slots_from_message(domain, "Rome", message, "trip_form", "target") == [
        ("target", "Rome")
    ]
    assert slots_from_message(domain, "Rome", message) == [("origin", "Rome"), ("target", "Rome")]


TRIGGER_DOMAIN = """
intents: [order, inform, chitchat]
entities: [pizza, size]
slots:
  pizza:
    type: text
    mappings: [{type: from_entity, entity: pizza, conditions: [{active_loop: pizza_form}]}]
  size:
    type: text
    mappings:
    - type: from_entity
      entity: size
      conditions: [{active_loop: pizza_form, requested_slot: size}]
  channel:
    type: text
    mappings: [{type: from_trigger_intent, intent: order, value: web}]
  note:
    type: text
    mappings:
    - type: from_trigger_intent
      intent: order
      value: other
      conditions: [{active_loop: other_form}]
  topic:
    type: text
    mappings: [{type: from_text}]
  chat:
    type: text
    mappings: [{type: from_text, intent: chitchat}]
forms:
  pizza_form: {required_slots: [pizza, size], ignored_intents: [chitchat]}
  other_form: {required_slots: [size], ignored_intents: inform}
responses:
  utter_ask_pizza: [{text: Which pizza?}]
  utter_ask_size: [{text: What size?}]
"""


@pytest.fixture
def trigger_domain(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(textwrap.dedent(TRIGGER_DOMAIN), encoding="utf-8")
    return load_domain(path)


def test_from_trigger_intent_fills_while_a_form_it_names_is_active(trigger_domain):
    # Rasa's extract_slot_value_from_predefined_mapping: the mapping's value, when a loop is
    # active and (if the mapping has conditions) one of them names it; its intent must suit
    order = parsed("a pizza", "order")
    filled = lambda message, loop=None: dict(  # noqa: E731
        slots_from_message(trigger_domain, message["text"], message, loop)
    )
    assert "channel" not in filled(order)
    assert (filled(order, "pizza_form")["channel"], "note" in filled(order, "pizza_form")) == (
        "web",
        False,
    )
    assert (filled(order, "other_form")["channel"], filled(order, "other_form")["note"]) == (
        "web",
        "other",
    )
    assert "channel" not in filled(parsed("a pizza", "inform"), "pizza_form")


def test_a_form_fills_slots_from_the_message_that_started_it(trigger_domain):
    # FormAction._activate_loop runs action_extract_slots on a copy of the conversation with
    # the form active: its conditioned mappings (without a requested slot) and the trigger
    # intent's mapping fill from the first message
    message = parsed("a margherita, large", "order", ("pizza", "margherita"), ("size", "large"))
    bot = Bot(StubNLU(), ScriptedPolicy("pizza_form"), domain=trigger_domain)
    MESSAGES["a margherita, large"] = message
    try:
        bot.respond("a margherita, large")
    finally:
        del MESSAGES["a margherita, large"]
    events = events_as_json(bot.events)
    start = next(i for i, e in enumerate(events) if e["event"] == "user")
    shown = [(e["event"], e.get("name"), e.get("value")) for e in events[start + 1 :]]
    assert shown == [
        ("slot", "topic", "a margherita, large"),  # action_extract_slots, no form active yet
        ("action", "pizza_form", None),
        ("active_loop", "pizza_form", None),
        ("slot", "pizza", "margherita"),
        ("slot", "channel", "web"),
        ("slot", "topic", "a margherita, large"),
        ("slot", "requested_slot", "size"),
        ("bot", None, None),
        ("action", "action_listen", None),
    ]


def test_a_form_s_ignored_intents_fill_no_slot_while_it_is_active(trigger_domain):
    # SlotMapping.intent_is_desired: the active form's ignored_intents join each mapping's
    # not_intent, unless the mapping names the intent or its conditions name only other loops
    chat = parsed("nice weather", "chitchat")
    assert slots_from_message(trigger_domain, "nice weather", chat) == [
        ("topic", "nice weather"),
        ("chat", "nice weather"),
    ]
    assert slots_from_message(trigger_domain, "nice weather", chat, "pizza_form", "pizza") == [
        ("chat", "nice weather")  # its mapping names chitchat
    ]
    inform = parsed("large", "inform")
    assert slots_from_message(trigger_domain, "large", inform, "other_form", "size") == []
    assert slots_from_message(trigger_domain, "large", inform, "pizza_form", "size") == [
        ("topic", "large")
    ]
    assert trigger_domain.form_ignored_intents == {
        "pizza_form": ("chitchat",),
        "other_form": ("inform",),  # one name, as Rasa's to_list reads it
    }
    # saved with a dialogue policy and read back
    assert _domain_from_json(json.loads(json.dumps(_domain_to_json(trigger_domain)))) == (
        trigger_domain
    )


def test_run_form_asks_with_the_first_action_of_rasas_search_path(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(
        textwrap.dedent(
            """
            slots:
              pizza: {type: text, mappings: [{type: custom}]}
            forms:
              pizza_form: {required_slots: [pizza]}
            actions: [action_ask_pizza]
            responses:
              utter_ask_pizza: [{text: Which pizza?}]
              utter_ask_pizza_form_pizza: [{text: Which pizza for the form?}]
            """
        ),
        encoding="utf-8",
    )
    domain = load_domain(path)
    events = [ActionExecuted("action_listen"), UserUttered(None, text="a pizza")]
    ran = []

    def run(action, conversation):
        ran.append((action, events_as_json(conversation[len(events) :])))
        return []

    # Rasa's _name_of_utterance: action_ask_<form>_<slot>, utter_ask_<form>_<slot>,
    # action_ask_<slot>, utter_ask_<slot>: the form's own response comes before action_ask_pizza
    step = run_form("pizza_form", domain, events, actions=("action_ask_pizza",), run=run)
    assert step.ask == "utter_ask_pizza_form_pizza" and not step.rejected
    assert events_as_json(step.events) == [
        {"event": "active_loop", "name": "pizza_form"},
        {"event": "slot", "name": "requested_slot", "value": "pizza"},
    ]
    # the question runs on Rasa's temporary tracker: the form's requested slot (none yet) and
    # action, then its events so far (without the requested_slot it is about to set)
    assert ran == [
        (
            "utter_ask_pizza_form_pizza",
            [
                {"event": "slot", "name": "requested_slot", "value": None},
                {"event": "action", "name": "pizza_form"},
                {"event": "active_loop", "name": "pizza_form"},
            ],
        )
    ]
