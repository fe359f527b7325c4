"""Rules and memorized stories before TED (rules.py): which conversations a rule matches, what
memoization remembers, the core fallback, and a trained policy that applies them, saved and
loaded."""

import json

import pytest

from diet_sparse.dialogue.featurization import conversation_states
from diet_sparse.dialogue.rules import DialogueLookup, build_lookup
from diet_sparse.persistence import POLICY_LOOKUP, load_policy
from diet_sparse.rasa.domain import ACTION_LISTEN, load_domain
from diet_sparse.rasa.nlu_data import TrainingDataError
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    Entity,
    SlotSet,
    UserUttered,
    load_stories,
)

DOMAIN = """
intents: [greet, ask_help, inform, goodbye, thank, chitchat]
entities: [city]
slots:
  logged_in:
    type: bool
    mappings: [{type: custom}]
  city:
    type: categorical
    values: [Rome, Oslo, Paris]
    mappings: [{type: from_entity, entity: city}]
  note:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
forms:
  help_form:
    required_slots: [city]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_welcome_back: [{text: "Welcome back!"}]
  utter_help: [{text: "How can I help?"}]
  utter_city: [{text: "{city} it is."}]
  utter_which_city: [{text: "Which city?"}]
  utter_goodbye: [{text: "Bye."}]
  utter_noworries: [{text: "No worries."}]
  utter_chitchat: [{text: "Nice."}]
  utter_default: [{text: "Sorry, I did not get that."}]
"""


def write(tmp_path, text, name="data.yml"):
    path = tmp_path / name
    path.write_text('version: "3.1"\n' + text)
    return path


@pytest.fixture
def domain(tmp_path):
    return load_domain(write(tmp_path, DOMAIN, "domain.yml"))


def lookup_of(tmp_path, domain, text, **options):
    return build_lookup(load_stories(write(tmp_path, text)), domain, **options)


def user(intent, *entities):
    return UserUttered(intent, tuple(Entity("city", value) for value in entities))


def listen():
    return ActionExecuted(ACTION_LISTEN)


def predicted(lookup, domain, events, rejected=False):
    hit = lookup.predict(conversation_states(events, domain), list(events), rejected)
    return None if hit is None else (hit.action, hit.policy)


RULES = """
rules:
- rule: thank
  steps:
  - intent: thank
  - action: utter_noworries
- rule: greet at the start
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
- rule: greet a logged-in user
  condition:
  - slot_was_set: [{logged_in: true}]
  steps:
  - intent: greet
  - action: utter_welcome_back
- rule: city given
  steps:
  - intent: inform
    entities: [city]
  - action: utter_city
- rule: chitchat does not wait
  wait_for_user_input: false
  steps:
  - intent: chitchat
  - action: utter_chitchat
"""


def test_a_rule_matches_the_end_of_any_conversation(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, RULES)
    start = [listen(), user("thank")]
    later = [listen(), user("ask_help"), ActionExecuted("utter_help"), listen(), user("thank")]
    assert predicted(lookup, domain, start) == ("utter_noworries", "RulePolicy")
    assert predicted(lookup, domain, later) == ("utter_noworries", "RulePolicy")
    # after its action the rule listens, but only right after its own steps
    assert predicted(lookup, domain, [*later, ActionExecuted("utter_noworries")]) == (
        ACTION_LISTEN,
        "RulePolicy",
    )
    assert predicted(lookup, domain, [listen(), user("goodbye")]) is None


def test_conversation_start_rules_match_only_at_the_start(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, RULES)
    assert predicted(lookup, domain, [listen(), user("greet")]) == ("utter_greet", "RulePolicy")
    later = [listen(), user("ask_help"), ActionExecuted("utter_help"), listen(), user("greet")]
    assert predicted(lookup, domain, later) is None


def test_a_rule_condition_on_a_slot(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, RULES)
    logged_in = [listen(), user("ask_help"), ActionExecuted("utter_help"),
                 SlotSet("logged_in", True), listen(), user("greet")]  # fmt: skip
    assert predicted(lookup, domain, logged_in) == ("utter_welcome_back", "RulePolicy")
    logged_out = [event for event in logged_in if not isinstance(event, SlotSet)]
    assert predicted(lookup, domain, logged_out) is None
    # a condition that Rasa also reads as a value: false is not true
    logged_in[3] = SlotSet("logged_in", False)
    assert predicted(lookup, domain, logged_in) is None


def test_the_more_specific_rule_wins(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, RULES)
    # at the start, both greeting rules hold; the one with the slot condition holds more
    events = [SlotSet("logged_in", True), listen(), user("greet")]
    assert predicted(lookup, domain, events) == ("utter_welcome_back", "RulePolicy")


def test_listed_entities_must_be_there_and_others_not(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, RULES)
    # as the bot fills the city slot from the entity, and the rule's state holds it too
    rome = [listen(), user("inform", "Rome"), SlotSet("city", "Rome")]
    assert predicted(lookup, domain, rome) == ("utter_city", "RulePolicy")
    assert predicted(lookup, domain, [listen(), user("inform")]) is None


def test_a_rule_that_does_not_wait_for_user_input_leaves_the_next_action_open(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, RULES)
    events = [listen(), user("chitchat")]
    assert predicted(lookup, domain, events) == ("utter_chitchat", "RulePolicy")
    assert predicted(lookup, domain, [*events, ActionExecuted("utter_chitchat")]) is None


def test_a_rule_does_not_predict_its_first_action(tmp_path, domain):
    lookup = lookup_of(
        tmp_path,
        domain,
        """
rules:
- rule: after asking for help, a goodbye ends it
  steps:
  - action: utter_help
  - intent: goodbye
  - action: utter_goodbye
""",
    )
    assert [key.action for key in lookup.rule_keys] == [ACTION_LISTEN, "utter_goodbye",
                                                        ACTION_LISTEN]  # fmt: skip
    events = [listen(), user("ask_help"), ActionExecuted("utter_help"), listen(), user("goodbye")]
    assert predicted(lookup, domain, events) == ("utter_goodbye", "RulePolicy")
    # without utter_help before it, the rule does not apply
    assert predicted(lookup, domain, [listen(), user("goodbye")]) is None


def test_active_loop_conditions_and_slots_that_do_not_influence_the_conversation(tmp_path, domain):
    lookup = lookup_of(
        tmp_path,
        domain,
        """
rules:
- rule: help while no form runs
  condition:
  - active_loop: null
  - slot_was_set: [{note: anything}]
  steps:
  - intent: ask_help
  - action: utter_help
""",
    )
    assert predicted(lookup, domain, [listen(), user("ask_help")]) == ("utter_help", "RulePolicy")
    in_form = [ActiveLoop("help_form"), listen(), user("ask_help")]
    # the active form runs (Rasa's loop happy path); once it rejected, the rule does not apply
    assert predicted(lookup, domain, in_form) == ("help_form", "RulePolicy")
    assert predicted(lookup, domain, in_form, rejected=True) is None


def test_contradicting_rules_are_an_error_naming_both(tmp_path, domain):
    text = """
rules:
- rule: one
  steps:
  - intent: thank
  - action: utter_noworries
- rule: two
  steps:
  - intent: thank
  - action: utter_goodbye
"""
    with pytest.raises(TrainingDataError, match=r"rules 'one' .* and 'two' .*contradict"):
        lookup_of(tmp_path, domain, text)


STORIES = """
stories:
- story: help then bye
  steps:
  - intent: ask_help
  - action: utter_help
  - intent: inform
  - action: utter_which_city
  - intent: goodbye
  - action: utter_goodbye
- story: greet then bye
  steps:
  - intent: greet
  - action: utter_greet
  - intent: inform
  - action: utter_goodbye
"""


def test_memoization_remembers_the_stories_within_max_history(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, STORIES, memoization_max_history=2)
    helped = [listen(), user("ask_help"), ActionExecuted("utter_help"), listen(), user("inform")]
    assert predicted(lookup, domain, helped) == ("utter_which_city", "MemoizationPolicy")
    greeted = [listen(), user("greet"), ActionExecuted("utter_greet"), listen(), user("inform")]
    assert predicted(lookup, domain, greeted) == ("utter_goodbye", "MemoizationPolicy")
    # the newest two states decide: what came before them does not
    longer = [listen(), user("thank"), ActionExecuted("utter_noworries"), *helped]
    assert predicted(lookup, domain, longer) == ("utter_which_city", "MemoizationPolicy")
    assert predicted(lookup, domain, [listen(), user("inform")]) is None
    # with the whole history compared, the longer conversation is not a story's
    whole = lookup_of(tmp_path, domain, STORIES, memoization_max_history=None)
    assert predicted(whole, domain, longer) is None
    assert predicted(whole, domain, helped) == ("utter_which_city", "MemoizationPolicy")


def test_memoization_forgets_states_that_lead_to_different_actions(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, STORIES, memoization_max_history=1)
    # with one state, "inform right after the user spoke" leads to two different actions
    assert predicted(lookup, domain, [listen(), user("inform")]) is None
    assert predicted(lookup, domain, [listen(), user("greet")]) == ("utter_greet",
                                                                   "MemoizationPolicy")  # fmt: skip


def test_rules_go_before_memoization_and_each_can_be_off(tmp_path, domain):
    # the story greets back, the rule says something else: the rule wins, as in Rasa
    text = (
        STORIES
        + """
rules:
- rule: answer a greeting with help
  steps:
  - intent: greet
  - action: utter_help
"""
    )
    events = [listen(), user("greet")]
    assert predicted(lookup_of(tmp_path, domain, text), domain, events) == (
        "utter_help",
        "RulePolicy",
    )
    stories_only = lookup_of(tmp_path, domain, text, rules=False)
    assert stories_only.rule_keys == []
    assert predicted(stories_only, domain, events) == ("utter_greet", "MemoizationPolicy")
    rules_only = lookup_of(tmp_path, domain, text, memoization=False)
    assert rules_only.memory == {}


def test_the_lookup_survives_json(tmp_path, domain):
    lookup = lookup_of(tmp_path, domain, STORIES + RULES)
    again = DialogueLookup.from_json(json.loads(json.dumps(lookup.to_json())), domain)
    assert again.rule_keys == lookup.rule_keys
    assert again.memory == lookup.memory


# --- a trained policy ---------------------------------------------------------------------------

QUICK = {"epochs": 2, "transformer_size": 8, "number_of_attention_heads": 1, "batch_size": 8}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    write(folder, DOMAIN, "domain.yml")
    write(folder, STORIES + RULES, "data.yml")
    return folder


@pytest.fixture(scope="module")
def trained(project):
    from diet_sparse.training import train_policy

    return train_policy(project / "domain.yml", project / "data.yml", QUICK,
                        out=project / "policy", progress=False)  # fmt: skip


def tracker(*intents):
    events = []
    for intent in intents:
        events += [{"event": "action", "name": ACTION_LISTEN},
                   {"event": "user", "parse_data": {"intent": {"name": intent}}}]  # fmt: skip
    return events


def test_a_trained_policy_applies_its_rules_and_stories_before_ted(trained):
    # two epochs teach TED nothing: what it predicts here comes from the lookup
    rule = trained.predict(tracker("thank"))
    assert (rule["scores"][0]["action"], rule["policy"], rule["confidence"]) == (
        "utter_noworries",
        "RulePolicy",
        1.0,
    )
    assert "'thank'" in rule["rule"]
    assert [s["score"] for s in rule["scores"][1:]] == [0.0] * (len(rule["scores"]) - 1)
    story = trained.predict(tracker("ask_help"))
    assert (story["scores"][0]["action"], story["policy"]) == ("utter_help", "MemoizationPolicy")


def test_below_the_core_fallback_threshold_the_fallback_action_is_predicted(trained):
    # a conversation no rule or story knows, and an untrained TED: low confidence everywhere
    events = tracker("goodbye", "goodbye", "goodbye")
    ted = trained.probabilities([trained.states(events)])[0].max()
    assert ted < trained.config.core_fallback_threshold
    result = trained.predict(events)
    assert result["policy"] == "RulePolicy"
    assert result["scores"][0] == {"action": "action_default_fallback", "score": 0.3}
    assert result["confidence"] == 0.3


def test_the_lookup_is_saved_with_the_policy(trained, project):
    loaded = load_policy(project / "policy")
    assert loaded.lookup.rule_keys == trained.lookup.rule_keys
    for events in (tracker("thank"), tracker("ask_help"), tracker("goodbye", "goodbye")):
        assert loaded.predict(events) == trained.predict(events)


def test_a_damaged_or_missing_lookup_is_a_one_line_error(trained, project, tmp_path):
    import shutil

    from diet_sparse.persistence import ModelLoadError

    copy = shutil.copytree(project / "policy", tmp_path / "policy")
    (copy / POLICY_LOOKUP).write_text('{"rules": 3}')
    with pytest.raises(ModelLoadError, match="lookup.json: not a valid lookup"):
        load_policy(copy)
    (copy / POLICY_LOOKUP).unlink()
    with pytest.raises(ModelLoadError, match="missing lookup.json"):
        load_policy(copy)


def test_a_policy_saved_before_rules_existed_loads_as_ted_alone(trained, project, tmp_path):
    import shutil

    copy = shutil.copytree(project / "policy", tmp_path / "policy")
    (copy / POLICY_LOOKUP).unlink()
    config = json.loads((copy / "config.json").read_text())
    for key in ("rules", "memoization", "memoization_max_history", "enable_fallback_prediction",
                "core_fallback_threshold", "core_fallback_action_name"):  # fmt: skip
        del config[key]
    (copy / "config.json").write_text(json.dumps(config))
    old = load_policy(copy)
    assert old.lookup is None
    assert old.predict(tracker("thank"))["policy"] == "TEDPolicy"


def test_an_unknown_core_fallback_action_is_an_error_before_training(project):
    from diet_sparse.training import train_policy

    config = dict(QUICK, core_fallback_action_name="action_my_fallback")
    with pytest.raises(TrainingDataError, match="'action_my_fallback' is not an action"):
        train_policy(project / "domain.yml", project / "data.yml", config, progress=False)


def test_slots_filled_from_a_rule_s_entities_tell_rules_apart(tmp_path, domain):
    text = """
rules:
- rule: Rome
  steps:
  - intent: inform
    entities: [{city: Rome}]
  - action: utter_city
- rule: Oslo
  steps:
  - intent: inform
    entities: [{city: Oslo}]
  - action: utter_which_city
"""
    lookup = lookup_of(tmp_path, domain, text)  # not a contradiction: the city slot differs
    rome = [listen(), user("inform", "Rome"), SlotSet("city", "Rome")]
    oslo = [listen(), user("inform", "Oslo"), SlotSet("city", "Oslo")]
    assert predicted(lookup, domain, rome) == ("utter_city", "RulePolicy")
    assert predicted(lookup, domain, oslo) == ("utter_which_city", "RulePolicy")
