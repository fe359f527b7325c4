"""The example bot: slots from entities, filled-in responses, the action loop; data/'s dialogues."""

import random
import warnings

import pytest
from conftest import EXAMPLE_DATA

from diet_sparse.dialogue.bot import (
    Bot,
    applied_events,
    choose_variation,
    fill_response,
    shortcut_parse,
    slot_values,
)
from diet_sparse.dialogue.featurization import story_states_and_actions
from diet_sparse.persistence import load_policy
from diet_sparse.rasa.domain import DEFAULT_INTENTS, load_domain
from diet_sparse.rasa.events import (
    ActionReverted,
    AllSlotsReset,
    Restarted,
    UserUtteranceReverted,
    events_as_json,
)
from diet_sparse.rasa.nlu_data import load_training_data
from diet_sparse.rasa.stories import (
    ActionExecuted,
    SlotSet,
    UserUttered,
    events_from_tracker_json,
    load_stories,
    validate_stories,
)

DOMAIN_FILE = EXAMPLE_DATA / "domain.yml"
# Small enough to train in about 10 s on two cores, enough to learn every story of data/.
SMALL_POLICY = {"epochs": 200, "batch_size": [8, 16], "augmentation_factor": 0}


def parsed(text, intent, *entities):
    """A Rasa parse result; entities are ``(type, value)`` or ``(type, value, role, group)``."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [
            {"entity": e[0], "value": e[1], "role": e[2], "group": e[3]}
            if len(e) == 4
            else {"entity": e[0], "value": e[1]}
            for e in entities
        ],
    }


MESSAGES = {
    "hi": parsed("hi", "greet"),
    "from Berlin to Lisbon tomorrow": parsed(
        "from Berlin to Lisbon tomorrow",
        "book_flight",
        ("city", "Berlin", "departure", None),
        ("city", "Lisbon", "destination", None),
        ("date", "tomorrow"),
    ),
    "a flight": parsed("a flight", "book_flight"),
    "to Rome": parsed("to Rome", "book_flight", ("city", "Rome", "destination", None)),
    "yes": parsed("yes", "affirm"),
    "weather in Oslo": parsed("weather in Oslo", "check_weather", ("city", "Oslo")),
    "two tables": parsed(
        "two tables",
        "book_restaurant",
        ("party_size", "two", None, "1"),
        ("party_size", "six", None, "2"),
    ),
    "bye": parsed("bye", "goodbye"),
}


class StubNLU:
    """Parses the texts of ``MESSAGES`` only."""

    def parse(self, text):
        return MESSAGES[text]


class StubPolicy:
    """Predicts ``actions`` in turn, the last one for ever."""

    def __init__(self, domain, *actions):
        self.domain = domain
        self.actions = list(actions)
        self.seen = []

    def predict(self, events):
        self.seen.append(list(events))
        action = self.actions.pop(0) if len(self.actions) > 1 else self.actions[0]
        return {"scores": [{"action": action, "score": 0.5}], "policy": "stub", "confidence": 0.5}


@pytest.fixture(scope="module")
def domain():
    return load_domain(DOMAIN_FILE)


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    from diet_sparse.training import train_policy

    out = tmp_path_factory.mktemp("bot") / "policy"
    train_policy(DOMAIN_FILE, EXAMPLE_DATA, SMALL_POLICY, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def policy(policy_dir):
    return load_policy(policy_dir)


# --- data/ --------------------------------------------------------------------------------------


def test_example_dialogue_data_loads_and_validates_without_warnings(domain):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stories = load_stories(EXAMPLE_DATA)
        validate_stories(stories, load_domain(DOMAIN_FILE))
        nlu_data = load_training_data(EXAMPLE_DATA)  # skips the dialogue files' keys

    assert sum(story.is_rule for story in stories) >= 3
    declared = [intent for intent in domain.intents if intent not in DEFAULT_INTENTS]
    assert sorted(declared) == nlu_data.intents
    for example in nlu_data.examples:
        for entity in example.entities:
            assert entity.entity in domain.entities, example.source
            assert entity.role in (None, *domain.roles.get(entity.entity, ())), example.source
            assert entity.group in (None, *domain.groups.get(entity.entity, ())), example.source
    told = [story for story in stories if not story.is_rule]
    used = {e.intent for s in told for e in s.events if isinstance(e, UserUttered)}
    assert used == set(declared)
    actions = {e.name for s in told for e in s.events if isinstance(e, ActionExecuted)}
    # utter_default is the core fallback's (action_default_fallback says it), not a story's
    assert set(domain.actions) | set(domain.responses) - {"utter_default"} <= actions


def test_the_policy_learns_every_story_of_the_example_data(policy):
    for story in load_stories(EXAMPLE_DATA):
        if story.is_rule:
            continue
        states, actions = story_states_and_actions(story, policy.domain)
        predictions = policy.predict_states([states[: i + 1] for i in range(len(states))])
        assert [p["scores"][0]["action"] for p in predictions] == actions, story.name


# --- slots and responses ------------------------------------------------------------------------


def test_slots_are_filled_from_entities_with_their_roles_and_groups(domain):
    bot = Bot(StubNLU(), StubPolicy(domain, "action_listen"))
    bot.respond("from Berlin to Lisbon tomorrow")
    assert [(e.name, e.value) for e in bot.events if isinstance(e, SlotSet)] == [
        ("destination", "Lisbon"),
        ("departure", "Berlin"),
        ("date", "tomorrow"),
    ]  # a city with a role does not fill 'location', whose mapping has no role
    bot.respond("weather in Oslo")
    assert bot.slots["location"] == "Oslo" and bot.slots["destination"] == "Lisbon"
    bot.respond("two tables")  # grouped party sizes: the slot's mapping asks for no group
    assert bot.slots["party_size"] is None


def test_slot_values_follow_restart_undo_rewind_and_reset_slots_as_rasa(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(
        "intents: [greet]\nslots:\n  city: {type: text, mappings: [{type: from_entity, "
        "entity: city}]}\n  mood: {type: text, initial_value: calm, mappings: [{type: custom}]}\n",
        encoding="utf-8",
    )
    domain = load_domain(path)

    def user(text):
        return [ActionExecuted("action_listen"), UserUttered(None, text=text)]

    said = [*user("to Rome"), SlotSet("city", "Rome"), SlotSet("mood", "glad")]
    assert slot_values(said, domain) == {"city": "Rome", "mood": "glad"}
    assert slot_values([*said, AllSlotsReset()], domain) == {"city": None, "mood": "calm"}
    assert slot_values([*said, AllSlotsReset(), SlotSet("city", "Oslo")], domain) == {
        "city": "Oslo",
        "mood": "calm",
    }
    restarted = [*said, Restarted(), ActionExecuted("action_listen")]
    assert slot_values(restarted, domain) == {"city": None, "mood": "calm"}
    assert applied_events(restarted) == [ActionExecuted("action_listen")]
    # undo takes back the last action and what followed it
    acted = [*said, ActionExecuted("action_ask"), SlotSet("city", "Paris")]
    assert slot_values([*acted, ActionReverted()], domain)["city"] == "Rome"
    assert applied_events([*acted, ActionReverted()]) == said
    # rewind takes back the last user message, what followed and the listen before it
    again = [*said, *user("to Paris"), SlotSet("city", "Paris")]
    assert applied_events([*again, UserUtteranceReverted()]) == said
    assert slot_values([*again, UserUtteranceReverted()], domain)["city"] == "Rome"


def test_responses_are_filled_from_slots_as_rasa_fills_them():
    texts = ["Flying from {departure} to {destination}.", "Flying to {destination}.", "Flying."]
    slots = {"departure": None, "destination": "Rome"}
    # as Rasa 3.6: which slots are set does not matter, an unset slot reads None
    assert choose_variation(texts, slots) == {"text": "Flying from None to Rome."}
    picked = {choose_variation(texts, slots, random.Random(seed))["text"] for seed in range(30)}
    assert picked == {"Flying from None to Rome.", "Flying to Rome.", "Flying."}
    assert choose_variation([], {}) is None
    # a text naming anything that is not a slot is said as written, its slots unfilled too
    assert fill_response("{destination} at {hour}", {"destination": "Rome"}) == (
        "{destination} at {hour}"
    )
    assert fill_response("{{destination}} at {hour}", {"hour": 9}) == "{{destination}} at {hour}"
    assert fill_response("{{to}} here", {"destination": "Rome"}) == "{to} here"
    assert fill_response("{{to}} {destination}", {"destination": "Rome"}) == (
        "{{to}} {destination}"  # as Rasa 3.6.21's interpolate_text, checked
    )
    assert fill_response("Use { and {destination}", {"destination": "Rome"}) == (
        "Use { and {destination}"  # str.format cannot read it (Rasa's action would fail)
    )


# --- the action loop and the events ---------------------------------------------------------------


def test_a_conversation_with_the_trained_policy(policy):
    bot = Bot(StubNLU(), policy)
    assert [(r["action"], r["kind"]) for r in bot.respond("hi")] == [
        ("utter_greet", "response"),
        ("action_listen", "listen"),
    ]
    replies = bot.respond("from Berlin to Lisbon tomorrow")
    assert [r["action"] for r in replies] == ["utter_confirm_flight", "action_listen"]
    assert replies[0]["text"] == "Shall I book a flight from Berlin to Lisbon?"
    assert 0.5 < replies[0]["confidence"] <= 1.0
    replies = bot.respond("yes")
    assert [(r["action"], r["kind"], r["text"]) for r in replies] == [
        ("action_book_flight", "custom", None),  # not run: no text, no slots
        ("utter_flight_booked", "response", "Done: you are booked on a flight to Lisbon."),
        ("action_listen", "listen", None),
    ]
    bot.respond("a flight")
    assert bot.respond("to Rome")[0]["text"] == "Shall I book a flight from Berlin to Rome?"


def test_the_action_loop_stops_at_the_cap_and_listens(domain):
    policy = StubPolicy(domain, "utter_greet")
    bot = Bot(StubNLU(), policy, max_actions=3)
    replies = bot.respond("hi")
    assert [(r["action"], r["confidence"]) for r in replies] == [("utter_greet", 0.5)] * 3 + [
        ("action_listen", None)
    ]
    capped = bot.events[-1].as_json()  # no policy chose it; the reason is kept
    assert capped == {"event": "action", "name": "action_listen", "metadata": {
        "scores": [{"action": "action_listen", "score": 1.0}],
        "rule": "3 actions without action_listen",
    }}  # fmt: skip
    # the next message follows a listen, so the policy sees it as the user's turn
    bot.respond("bye")
    listen, user = policy.seen[3][-2:]  # what the first prediction for "bye" saw
    assert isinstance(listen, ActionExecuted) and listen.name == "action_listen"
    assert isinstance(user, UserUttered) and user.text == "bye"
    with pytest.raises(ValueError, match="max_actions must be an integer >= 1, got 0"):
        Bot(StubNLU(), policy, max_actions=0)


def test_the_core_fallback_says_utter_default_and_takes_the_message_back(domain):
    bot = Bot(StubNLU(), StubPolicy(domain, "action_default_fallback", "action_listen"))
    results = bot.respond("weather in Oslo")
    assert [(r["action"], r["text"]) for r in results] == [
        ("action_default_fallback", domain.responses["utter_default"][0]["text"]),
        ("action_listen", None),
    ]
    assert bot.slots["location"] is None  # the slot the message set is taken back with it
    assert [e.event_type for e in bot.events[-3:]] == ["bot", "rewind", "action"]
    # as the policy reads the tracker: the dialogue as before the message, then listening
    tracker = events_as_json(bot.events)
    assert [getattr(e, "name", None) for e in events_from_tracker_json(tracker)] == [
        "action_listen"
    ]


def test_events_are_rasa_tracker_events(domain):
    bot = Bot(StubNLU(), StubPolicy(domain, "utter_greet", "action_book_flight", "action_listen"))
    bot.respond("from Berlin to Lisbon tomorrow")
    kinds = "action user slot slot slot action bot action action".split()
    tracker = events_as_json(bot.events)
    assert [e["event"] for e in tracker] == kinds
    listen, user, *_, greet, said, custom, last = tracker
    assert listen == {"event": "action", "name": "action_listen"}
    assert user == {
        "event": "user",
        "text": "from Berlin to Lisbon tomorrow",
        "parse_data": MESSAGES["from Berlin to Lisbon tomorrow"],
    }
    assert greet == {"event": "action", "name": "utter_greet", "policy": "stub", "confidence": 0.5,
                     "metadata": {"scores": [{"action": "utter_greet", "score": 0.5}]}}  # fmt: skip
    assert said["event"] == "bot" and said["text"].startswith("Hello!")
    assert said["metadata"] == {"utter_action": "utter_greet"}
    assert custom["name"] == "action_book_flight" and last["name"] == "action_listen"
    read = events_from_tracker_json(tracker)  # as a policy reads them
    assert read[1] == UserUttered("book_flight", read[1].entities, "from Berlin to Lisbon tomorrow")
    assert read[2] == SlotSet("destination", "Lisbon")
    actions = "action_listen utter_greet action_book_flight action_listen".split()
    assert [e.name for e in read if isinstance(e, ActionExecuted)] == actions


# --- the scripted conversation --------------------------------------------------------------------


def test_scripted_conversation_describes_each_turn(trained_model_dir, policy_dir, capsys):
    from diet_sparse.cli import main
    from diet_sparse.shell import scripted_conversation

    messages = ["hello there", "book a flight from Berlin to Lisbon", "bye"]
    text = scripted_conversation(trained_model_dir, policy_dir, messages)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith(">")] == [f"> {m}" for m in messages]
    assert lines[1].startswith("  intent   greet ")
    assert sum(" action_listen" in line for line in lines) == 3  # one per message
    models = ["--nlu", str(trained_model_dir), "--policy", str(policy_dir)]
    says = [argument for message in messages for argument in ("--say", message)]
    assert main(["shell", *models, *says]) == 0
    assert capsys.readouterr().out == text + "\n"  # the shell's scripted conversation


def test_the_scripted_shell_reports_a_missing_model_in_one_line(policy_dir, tmp_path, capsys):
    from diet_sparse.cli import main

    command = ["shell", "--nlu", str(tmp_path / "none"), "--policy", str(policy_dir)]
    assert main([*command, "--say", "hi"]) == 2
    assert capsys.readouterr().err == f"error: model directory {tmp_path / 'none'} does not exist\n"


def test_the_scripted_shell_of_an_nlu_model_prints_each_parse(trained_model_dir, capsys):
    from diet_sparse.cli import main

    assert main(["shell", "--model", str(trained_model_dir), "--say", "hello there"]) == 0
    assert capsys.readouterr().out.startswith("> hello there\nintent: ")


def test_a_retrieval_action_says_the_response_of_the_message_s_retrieval_intent(tmp_path):
    (tmp_path / "domain.yml").write_text(
        'version: "3.1"\nintents: [greet, faq]\nresponses:\n'
        "  utter_faq/ask_price:\n  - text: It is free.\n"
        "  utter_faq/ask_languages:\n  - text: Any language.\n"
    )
    domain = load_domain(tmp_path / "domain.yml")

    class RetrievalNLU:
        def parse(self, text):
            return {"text": text, "intent": {"name": f"faq/{text}", "confidence": 0.9},
                    "entities": []}  # fmt: skip

    policy = StubPolicy(domain, "utter_faq", "action_listen", "utter_faq", "action_listen")
    bot = Bot(RetrievalNLU(), policy)
    assert bot.respond("ask_price")[0]["text"] == "It is free."
    assert bot.respond("ask_languages")[0]["text"] == "Any language."
    # the policy sees the retrieval intent itself, as Rasa's policies do
    tracker = events_as_json(bot.events)
    users = [e for e in events_from_tracker_json(tracker) if isinstance(e, UserUttered)]
    assert [user.intent for user in users] == ["faq", "faq"]


# --- messages that name their intent (Rasa's RegexMessageHandler) --------------------------------


def shortcut_values(text, domain):
    parse = shortcut_parse(text, domain.intents, domain.entities)
    return parse["intent"]["confidence"], [(e["entity"], e["value"]) for e in parse["entities"]]


def test_intent_shortcuts_read_what_rasa_reads_and_leave_out_the_rest(domain, caplog):
    room = '{"room": "kitchen"}'
    # the confidence before the entities; after them it is not read (as Rasa 3.6)
    assert shortcut_values(f"/turn_on_lights@0.5{room}", domain) == (0.5, [("room", "kitchen")])
    assert shortcut_values(f"/turn_on_lights{room}@0.5", domain) == (1.0, [("room", "kitchen")])
    # as Rasa: a confidence that is no number is 0.0, one above 1 is 1.0
    assert shortcut_values("/greet@1.2.3", domain) == (0.0, [])
    assert shortcut_values("/greet@7", domain) == (1.0, [])
    # as Rasa: entities that are not a JSON object, or of types not in the domain, are left out
    assert shortcut_values("/greet{not json}", domain) == (1.0, [])
    assert shortcut_values('/greet{"colour": "red", "city": "Oslo"}', domain) == (
        1.0,
        [("city", "Oslo")],
    )
    # values: strings, numbers, booleans, and lists of them (one entity each); not objects,
    # null, nested lists, or numbers JSON has not (NaN, Infinity, 1e400)
    text = '/book_restaurant{"party_size": [2, 3.5], "cuisine": {"name": "thai"}, "city": null}'
    assert shortcut_values(text, domain) == (1.0, [("party_size", 2), ("party_size", 3.5)])
    assert shortcut_values('/set_alarm{"time": [["7"], true]}', domain) == (1.0, [("time", True)])
    assert shortcut_values('/set_alarm{"time": 1e400}', domain) == (1.0, [])
    assert shortcut_values('/set_alarm{"time": NaN}', domain) == (1.0, [])
    assert "'cuisine' has the value {'name': 'thai'}" in caplog.text


class RecordingNLU:
    """Parses every text as ``greet``, and keeps the texts it was asked."""

    def __init__(self):
        self.texts = []

    def parse(self, text):
        self.texts.append(text)
        return parsed(text, "greet")


def test_an_intent_shortcut_not_in_the_domain_is_parsed_by_the_model_with_a_warning(domain, caplog):
    nlu = RecordingNLU()
    bot = Bot(nlu, StubPolicy(domain, "action_listen"))
    bot.respond("/dance")  # Rasa: "Continuing with given line as user text"
    assert nlu.texts == ["/dance"]
    assert "names intent 'dance', which is not in the domain" in caplog.text
    bot.respond('/greet{"city": {"name": "Oslo"}}')
    assert nlu.texts == ["/dance"]  # a known intent: read without the model
    user = [event for event in bot.events if isinstance(event, UserUttered)][-1]
    assert user.intent == "greet" and user.entities == ()
