"""Tests for the stories reader: steps, or, checkpoints, rules, validation, tracker JSON, data."""

import doctest
import textwrap
import warnings
from pathlib import Path

import pytest

import diet_sparse.rasa.stories
from diet_sparse.errors import TrackerError
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.nlu_data import TrainingDataError, TrainingDataWarning
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    Entity,
    SlotSet,
    UserUttered,
    check_no_end_to_end_steps,
    events_from_tracker_json,
    load_stories,
    validate_stories,
    with_entity_slots,
)

PROJECT = Path(__file__).parents[1] / "fixtures" / "dialogue"
SHARED_DATASETS = Path(__file__).parents[3] / "shared" / "datasets"
LISTEN = ActionExecuted("action_listen")


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return path


def stories_of(tmp_path: Path, content: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDataWarning)
        return load_stories(write(tmp_path, "stories.yml", content))


def shared_dataset(*parts: str) -> Path:
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared datasets are not checked out here)")
    return path


def actions(story) -> list[str]:
    return [e.name for e in story.events if isinstance(e, ActionExecuted)]


def test_docstring_examples_run():
    result = doctest.testmod(diet_sparse.rasa.stories, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --- steps ---------------------------------------------------------------------------------------


def test_every_kind_of_step_becomes_its_event_with_implicit_action_listens(tmp_path):
    path = write(
        tmp_path,
        "stories.yml",
        """
        version: "3.1"
        stories:
        - story: all steps
          metadata: {author: me}
          steps:
          - intent: book
            entities:
            - city: Rome
              role: to
            - {entity: city, value: Oslo, role: from, group: trip}
            - date
          - action: booking_form
          - active_loop: booking_form
          - slot_was_set:
            - destination: Rome
            - confirmed
          - user: 'fly to [Bonn]{"entity": "city", "role": "to"}'
            intent: inform
          - bot: Bonn it is.
          - metadata: {note: ignored}
          - active_loop: null
          - user: thanks
        """,
    )
    [story] = load_stories(path)
    assert story.name == "all steps"
    assert story.source == f"{path}:3"
    assert story.metadata == {"author": "me"}
    assert not story.is_rule
    assert story.events == (
        LISTEN,
        UserUttered(
            "book",
            (
                Entity("city", "Rome", role="to"),
                Entity("city", "Oslo", role="from", group="trip"),
                Entity("date", ""),
            ),
        ),
        ActionExecuted("booking_form"),
        ActiveLoop("booking_form"),
        SlotSet("destination", "Rome"),
        SlotSet("confirmed", True),
        LISTEN,
        UserUttered("inform", (Entity("city", "Bonn", role="to"),), text="fly to Bonn"),
        ActionExecuted(None, text="Bonn it is."),
        ActiveLoop(None),
        LISTEN,
        UserUttered(None, text="thanks"),
        LISTEN,
    )
    assert [e.source for e in story.events[:3]] == [None, f"{path}:6", f"{path}:12"]


def test_entities_written_in_the_text_win_over_an_entities_list(tmp_path):
    [story] = stories_of(
        tmp_path,
        """
        stories:
        - story: e2e
          steps:
          - intent: inform
            user: '[Rome](city)'
            entities:
            - city: Paris
          - action: utter_ok
          - intent: inform
            user: somewhere
            entities:
            - city: Paris
          - action: utter_ok
        """,
    )
    assert story.events[1].entities == (Entity("city", "Rome"),)
    assert story.events[4].entities == (Entity("city", "Paris"),)


def test_a_listen_is_not_doubled_and_a_story_may_start_with_an_action(tmp_path):
    [story] = stories_of(
        tmp_path,
        """
        stories:
        - story: starts with the bot
          steps:
          - action: utter_hello
          - action: action_listen
          - intent: greet
          - action: utter_greet
          - action: action_listen
        """,
    )
    assert actions(story) == ["utter_hello", "action_listen", "utter_greet", "action_listen"]


def test_a_leading_slash_and_a_retrieval_intent_warn_and_are_reduced(tmp_path):
    path = write(
        tmp_path,
        "stories.yml",
        """
        stories:
        - story: intents
          steps:
          - intent: /greet
          - action: utter_greet
          - intent: faq/ask_price
          - action: utter_faq
        """,
    )
    with pytest.warns(TrainingDataWarning) as record:
        [story] = load_stories(path)
    messages = [str(w.message) for w in record]
    assert any(f"{path}:4: story 'intents': intent '/greet' starts with '/'" in m for m in messages)
    assert any(f"{path}:6: story 'intents': 'faq/ask_price' is a retrieval" in m for m in messages)
    assert [e.intent for e in story.events if isinstance(e, UserUttered)] == ["greet", "faq"]


# --- or ------------------------------------------------------------------------------------------


def test_or_steps_expand_into_one_story_per_alternative(tmp_path):
    stories = stories_of(
        tmp_path,
        """
        stories:
        - story: choices
          steps:
          - or:
            - intent: affirm
            - intent: inform
              entities:
              - answer: yes
          - action: utter_ok
          - or:
            - slot_was_set:
              - paid: true
            - slot_was_set:
              - paid: false
          - action: utter_bye
        """,
    )
    assert [s.name for s in stories] == ["choices"] * 4
    firsts = [(s.events[1].intent, s.events[1].entities, s.events[3].value) for s in stories]
    assert firsts == [
        ("affirm", (), True),
        ("affirm", (), False),
        ("inform", (Entity("answer", "yes"),), True),
        ("inform", (Entity("answer", "yes"),), False),
    ]
    assert all(
        actions(s) == ["action_listen", "utter_ok", "utter_bye", "action_listen"] for s in stories
    )


# --- checkpoints ---------------------------------------------------------------------------------


def test_a_story_ending_in_a_checkpoint_goes_on_with_every_story_starting_there(tmp_path):
    stories = stories_of(
        tmp_path,
        """
        stories:
        - story: start
          steps:
          - intent: greet
          - action: utter_greet
          - checkpoint: greeted
        - story: then book
          steps:
          - checkpoint: greeted
          - intent: book
          - action: utter_book
        - story: then leave
          steps:
          - checkpoint: greeted
          - intent: bye
          - action: utter_bye
        """,
    )
    assert [s.name for s in stories] == ["start > then book", "start > then leave"]
    assert actions(stories[0]) == [
        "action_listen",
        "utter_greet",
        "action_listen",
        "utter_book",
        "action_listen",
    ]
    assert stories[0].source.endswith("stories.yml:2")


def test_a_chain_of_two_checkpoints_and_slot_conditions(tmp_path):
    stories = stories_of(
        tmp_path,
        """
        stories:
        - story: a
          steps:
          - intent: greet
          - action: action_check
          - or:
            - slot_was_set:
              - member: true
            - slot_was_set:
              - member: false
          - checkpoint: first
        - story: b
          steps:
          - checkpoint: first
          - action: utter_welcome
          - checkpoint: second
        - story: c members
          steps:
          - checkpoint: second
            slot_was_set:
            - member: true
          - action: utter_discount
        - story: c others
          steps:
          - checkpoint: second
            slot_was_set:
            - member: false
          - action: utter_signup
        """,
    )
    assert [s.name for s in stories] == ["a > b > c members", "a > b > c others"]
    assert actions(stories[0])[-2:] == ["utter_discount", "action_listen"]
    assert SlotSet("member", True) in stories[0].events
    assert actions(stories[1])[-2:] == ["utter_signup", "action_listen"]
    assert SlotSet("member", False) in stories[1].events


CHECKPOINT_ERRORS = {
    "ends but none starts": (
        """
        stories:
        - story: a
          steps:
          - intent: greet
          - checkpoint: nowhere
        """,
        "{path}:5: story 'a': checkpoint 'nowhere' ends it, but no story starts with it",
    ),
    "starts but none ends": (
        """
        stories:
        - story: a
          steps:
          - checkpoint: from_nowhere
          - intent: greet
        """,
        "{path}:4: story 'a': checkpoint 'from_nowhere' starts it, but no story ends in it",
    ),
    "in the middle": (
        """
        stories:
        - story: a
          steps:
          - intent: greet
          - checkpoint: middle
          - action: utter_greet
        """,
        "{path}:5: story 'a': checkpoint 'middle' is in the middle of the story",
    ),
    "in a circle": (
        """
        stories:
        - story: start
          steps:
          - intent: greet
          - checkpoint: loop
        - story: round
          steps:
          - checkpoint: loop
          - action: utter_again
          - checkpoint: loop
        """,
        "{path}:8: checkpoint 'loop' leads in a circle (start > round > round)",
    ),
}


@pytest.mark.parametrize("content, expected", CHECKPOINT_ERRORS.values(), ids=CHECKPOINT_ERRORS)
def test_checkpoint_errors_name_file_line_story_and_checkpoint(tmp_path, content, expected):
    path = write(tmp_path, "stories.yml", content)
    with pytest.raises(TrainingDataError) as error:
        load_stories(path)
    assert expected.format(path=path) in str(error.value)


# --- rules ---------------------------------------------------------------------------------------


def test_rules_keep_their_condition_and_flags():
    stories = load_stories(PROJECT / "data" / "rules.yml")
    greet, chitchat = stories
    assert greet.is_rule and greet.conversation_start and greet.wait_for_user_input
    assert greet.condition == ()
    assert actions(greet) == ["action_listen", "utter_greet", "action_listen"]
    assert chitchat.is_rule and not chitchat.conversation_start
    assert not chitchat.wait_for_user_input  # so it does not end by listening
    assert chitchat.condition == (ActiveLoop("booking_form"),)
    assert actions(chitchat) == ["action_listen", "utter_chitchat", "booking_form"]


def test_a_project_folder_gives_rules_and_stories_in_file_order():
    stories = load_stories(PROJECT)  # domain.yml has no stories: it adds nothing
    assert [(s.name, s.is_rule) for s in stories] == [
        ("greet at the start", True),
        ("chitchat while the form runs", True),
        ("book with the form", False),
        ("chitchat in the form", False),
    ]


# --- reading errors ------------------------------------------------------------------------------

ERROR_CASES = {
    "no steps": ("stories:\n- story: a\n", ["{path}:2: story 'a': has no steps"]),
    "empty steps": ("stories:\n- story: a\n  steps: []\n", ["{path}:2: story 'a': has no steps"]),
    "no name": ("stories:\n- steps: []\n", ["{path}:2: an item of 'stories' needs a 'story' key"]),
    "unknown story key": (
        "stories:\n- story: a\n  condition: []\n  steps:\n  - action: x\n",
        ["{path}:3: story 'a': unknown key 'condition'", "allowed keys: story, steps, metadata"],
    ),
    "unknown step key": (
        "stories:\n- story: a\n  steps:\n  - acton: utter_hi\n",
        ["{path}:4: story 'a': unknown step key 'acton' (did you mean 'action'?)"],
    ),
    "step with two kinds": (
        "stories:\n- story: a\n  steps:\n  - action: utter_hi\n    bot: Hi\n",
        ["{path}:5: story 'a': a action step cannot have the key 'bot'"],
    ),
    "text step": (
        "rules:\n- rule: r\n  steps:\n  - ...\n",
        ["{path}:4: rule 'r': step '...' is not a mapping", "rule snippets are not supported"],
    ),
    "empty action": (
        "stories:\n- story: a\n  steps:\n  - action:\n",
        ["{path}:4: story 'a': 'action' must be a non-empty string, got nothing"],
    ),
    "entity with two types": (
        "stories:\n- story: a\n  steps:\n  - intent: i\n    entities:\n    - {a: 1, b: 2}\n",
        ["{path}:6: story 'a': an entity is one 'type: value' pair"],
    ),
    "slot_was_set not a list": (
        "stories:\n- story: a\n  steps:\n  - slot_was_set: {s: 1}\n",
        ["{path}:4: story 'a': 'slot_was_set' must be a list"],
    ),
    "or with an action": (
        "stories:\n- story: a\n  steps:\n  - or:\n    - intent: a\n    - action: b\n",
        ["{path}:6: story 'a': an 'or' alternative is an intent step", "got a action step"],
    ),
    "condition with an intent": (
        "rules:\n- rule: r\n  condition:\n  - intent: greet\n  steps:\n  - action: x\n",
        ["{path}:4: rule 'r': a condition is a 'slot_was_set' or 'active_loop' step"],
    ),
    "flag not a bool": (
        "rules:\n- rule: r\n  conversation_start: yes\n  steps:\n  - action: x\n",
        ["{path}:3: rule 'r': 'conversation_start' must be true or false, got the value 'yes'"],
    ),
    "markup error in user text": (
        "stories:\n- story: a\n  steps:\n  - user: to [Rome]{bad}\n",
        ["{path}:4: story 'a': invalid entity markup in example 'to [Rome]{{bad}}': invalid JSON"],
    ),
    "stories not a list": ("stories:\n  story: a\n", ["{path}:2: 'stories' must be a list"]),
    "unknown top-level key": (
        "storys:\n- story: a\n",
        ["unknown top-level key 'storys' in {path} (line 1) (did you mean 'stories'?)"],
    ),
    "no stories or rules": ("nlu: []\n", ["no 'stories' or 'rules' key in {path}"]),
    "empty file": ("\n", ["{path} is empty"]),
}


@pytest.mark.parametrize("content, expected", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_unusable_stories_raise_one_line_errors_naming_file_line_story_and_step(
    tmp_path, content, expected
):
    path = write(tmp_path, "stories.yml", content)
    with pytest.raises(TrainingDataError) as error:
        load_stories(path)
    message = str(error.value)
    assert "\n" not in message
    for fragment in expected:
        assert fragment.format(path=path) in message


def test_files_mixing_keys_and_folders_are_read_and_other_files_skipped(tmp_path):
    write(tmp_path, "b/stories.yaml", "stories:\n- story: b\n  steps:\n  - action: x\n")
    write(
        tmp_path,
        "a/mixed.yml",
        """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
        responses:
          utter_hi: [{text: Hi}]
        rules:
        - rule: a
          steps:
          - action: y
        """,
    )
    write(tmp_path, "domain.yml", "intents: [greet]\n")
    write(tmp_path, "notes.md", "stories: not yaml")
    assert [s.name for s in load_stories(tmp_path)] == ["a", "b"]


# --- validation against a domain -----------------------------------------------------------------

DOMAIN = """
intents: [greet, book]
entities:
- city:
    roles: [to]
slots:
  paid: {type: bool}
  price: {type: float, max_value: 100}
  size: {type: categorical, values: [small, large]}
  destination:
    type: text
    mappings: [{type: from_entity, entity: city, role: to}]
responses:
  utter_greet: [{text: Hi}]
forms:
  pay_form: {required_slots: [paid]}
"""

VALIDATION_ERRORS = {
    "unknown intent": ("- intent: gret", "step 'intent: gret': intent 'gret' is not in the domain"),
    "unknown entity": (
        "- intent: book\n    entities: [{town: Rome}]",
        "step 'intent: book': entity 'town' is not in the domain",
    ),
    "unknown role": (
        "- intent: book\n    entities: [{city: Rome, role: from}]",
        "entity 'city' has no role 'from' in the domain",
    ),
    "unknown action": (
        "- action: utter_gret",
        "step 'action: utter_gret': action 'utter_gret' is not in the domain (did you mean "
        "'utter_greet'?)",
    ),
    "unknown slot": ("- slot_was_set: [{pain: true}]", "slot 'pain' is not in the domain"),
    "unknown form": ("- active_loop: pay_forms", "active loop 'pay_forms' is not a form"),
    "bool slot set to maybe": (
        "- slot_was_set: [{paid: maybe}]",
        "step 'slot_was_set: paid': slot 'paid' is bool: expected true/false, yes/no or 1/0, got "
        "'maybe'",
    ),
    "float slot set to text": (
        "- slot_was_set: [{price: high}]",
        "slot 'price' is float: expected a number, got 'high'",
    ),
}


@pytest.mark.parametrize("step, expected", VALIDATION_ERRORS.values(), ids=VALIDATION_ERRORS)
def test_validation_errors_name_file_line_story_step_and_what_the_domain_lacks(
    tmp_path, step, expected
):
    domain = load_domain(write(tmp_path, "domain.yml", DOMAIN))
    path = write(tmp_path, "stories.yml", f"stories:\n- story: s\n  steps:\n  {step}\n")
    with pytest.raises(TrainingDataError) as error:
        validate_stories(load_stories(path), domain)
    message = str(error.value)
    assert message.startswith(f"{path}:4: story 's': ")
    assert expected in message


def test_a_rule_condition_is_validated_too(tmp_path):
    domain = load_domain(write(tmp_path, "domain.yml", DOMAIN))
    path = write(
        tmp_path,
        "rules.yml",
        "rules:\n- rule: r\n  condition:\n  - active_loop: nope\n  steps:\n  - action: x\n",
    )
    with pytest.raises(
        TrainingDataError, match=f"{path}:4: rule 'r': condition 'active_loop: nope'"
    ):
        validate_stories(load_stories(path), domain)


def test_defaults_are_declared_and_doubtful_slot_values_only_warn(tmp_path):
    domain = load_domain(write(tmp_path, "domain.yml", DOMAIN))
    path = write(
        tmp_path,
        "stories.yml",
        """
        stories:
        - story: s
          steps:
          - intent: restart
          - action: action_restart
          - active_loop: action_two_stage_fallback
          - slot_was_set:
            - size: medium
            - price: 150
            - size: LARGE
            - requested_slot: paid
        """,
    )
    with pytest.warns(TrainingDataWarning) as record:
        validate_stories(load_stories(path), domain)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith(f"{path}:8: story 's': step 'slot_was_set: size': 'medium'")
    assert "featurized as '__other__'" in messages[0]
    assert messages[1].startswith(f"{path}:9: story 's': step 'slot_was_set: price': 150 is")


def test_stories_taking_different_actions_after_the_same_history_warn_naming_both(tmp_path):
    domain = load_domain(write(tmp_path, "domain.yml", DOMAIN + "actions: [action_a, action_b]\n"))
    path = write(
        tmp_path,
        "stories.yml",
        """
        stories:
        - story: first
          steps:
          - intent: greet
          - action: utter_greet
          - intent: book
          - action: action_a
        - story: same as first
          steps:
          - intent: greet
          - action: utter_greet
          - intent: book
          - action: action_a
        - story: second
          steps:
          - intent: greet
          - action: utter_greet
          - intent: book
          - action: action_b
        - story: told apart by an entity
          steps:
          - intent: greet
          - action: utter_greet
          - intent: book
            entities: [{city: Rome, role: to}]
          - action: action_b
        - story: starts with another action
          steps:
          - action: action_b
        """,
    )
    with pytest.warns(TrainingDataWarning) as record:
        validate_stories(load_stories(path), domain)
    [warning] = [str(w.message) for w in record]
    assert f"stories 'first' ({path}:2) and 'second' ({path}:14)" in warning
    assert "after 'book': 'action_a' and 'action_b'" in warning


def test_slots_filled_from_entities_are_added_after_the_user_turn(tmp_path):
    domain = load_domain(write(tmp_path, "domain.yml", DOMAIN))
    turn = UserUttered("book", (Entity("city", "Rome", role="to"), Entity("city", "Oslo")))
    events = with_entity_slots([LISTEN, turn, ActionExecuted("utter_greet")], domain)
    assert events == (LISTEN, turn, SlotSet("destination", "Rome"), ActionExecuted("utter_greet"))


def test_the_fixture_project_validates_without_warnings():
    domain = load_domain([PROJECT / "domain.yml", PROJECT / "data"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDataWarning)
        validate_stories(load_stories(PROJECT / "data"), domain)


# --- tracker JSON --------------------------------------------------------------------------------


def test_tracker_events_are_read_as_rasa_applies_them():
    events = events_from_tracker_json(
        {
            "sender_id": "u1",
            "events": [
                {"event": "action", "name": "action_session_start"},
                {"event": "session_started"},
                {"event": "action", "name": "action_listen"},
                {
                    "event": "user",
                    "text": "to Rome",
                    "parse_data": {
                        "intent": {"name": "book", "confidence": 0.9},
                        "entities": [{"entity": "city", "value": "Rome", "role": "to"}],
                    },
                },
                {"event": "slot", "name": "destination", "value": "Rome"},
                {"event": "bot", "text": "When?"},
                {"event": "action", "name": "utter_ask_date", "policy": "TEDPolicy"},
                {"event": "action", "name": "pay_form"},
                {"event": "active_loop", "name": "pay_form"},
                {"event": "action_execution_rejected", "name": "pay_form"},
                {"event": "active_loop", "name": None},
                {"event": "action", "name": None, "action_text": "Done."},
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": "hm", "parse_data": {"intent": {}, "entities": []}},
            ],
        }
    )
    assert events == [
        LISTEN,
        UserUttered("book", (Entity("city", "Rome", role="to"),), "to Rome"),
        SlotSet("destination", "Rome"),
        ActionExecuted("utter_ask_date"),
        ActionExecuted("pay_form"),
        ActiveLoop("pay_form"),
        ActiveLoop(None),
        ActionExecuted(None, text="Done."),
        LISTEN,
        UserUttered(None, (), "hm"),
    ]


def test_restart_undo_rewind_and_reset_slots():
    def user(intent):
        return {"event": "user", "parse_data": {"intent": {"name": intent}}}

    listen = {"event": "action", "name": "action_listen"}
    events = events_from_tracker_json(
        [
            listen,
            user("old"),
            {"event": "restart"},
            listen,
            user("greet"),
            {"event": "slot", "name": "a", "value": 1},
            {"event": "action", "name": "utter_wrong"},
            {"event": "undo"},
            {"event": "action", "name": "utter_greet"},
            listen,
            user("typo"),
            {"event": "rewind"},
            listen,
            user("bye"),
            {"event": "reset_slots"},
        ],
        initial_slots={"a": 0},
    )
    assert events == [
        LISTEN,
        UserUttered("greet"),
        SlotSet("a", 1),
        ActionExecuted("utter_greet"),
        LISTEN,
        UserUttered("bye"),
        SlotSet("a", 0),  # back to its initial value, as Rasa's AllSlotsReset
    ]


TRACKER_ERRORS = {
    "not a mapping": (["action_listen"], "tracker event 0: expected a mapping with an 'event'"),
    "unknown type": (
        [{"event": "actoin", "name": "x"}],
        "tracker event 0: unknown event type 'actoin' (did you mean 'action'?)",
    ),
    "action without a name": ([{"event": "action"}], "tracker event 0: an action event needs"),
    "slot without a name": (
        [{"event": "action", "name": "a"}, {"event": "slot", "value": 1}],
        "tracker event 1: a slot event needs a 'name' string",
    ),
    "loop name of the wrong type": (
        [{"event": "active_loop", "name": 3}],
        "tracker event 0: an active_loop event's 'name' is a form name or null, got 3",
    ),
    "parse_data not a mapping": (
        [{"event": "user", "parse_data": "greet"}],
        "tracker event 0: 'parse_data' must be a mapping",
    ),
    "entity without a type": (
        [{"event": "user", "parse_data": {"entities": [{"value": "Rome"}]}}],
        "tracker event 0: an entity of 'parse_data.entities' must be a mapping with an 'entity'",
    ),
    "tracker without events": ({"sender_id": "u1"}, "a tracker must have an 'events' list"),
}


@pytest.mark.parametrize("events, expected", TRACKER_ERRORS.values(), ids=TRACKER_ERRORS)
def test_malformed_tracker_events_raise_one_line_errors_naming_the_event(events, expected):
    with pytest.raises(TrackerError) as error:
        events_from_tracker_json(events)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


# --- the shared datasets -------------------------------------------------------------------------


def count_actions(stories) -> int:
    """Bot actions as written: every action but the implicit action_listen."""
    return sum(
        isinstance(e, ActionExecuted) and e.name != "action_listen"
        for s in stories
        for e in s.events
    )


@pytest.mark.parametrize("split, stories, actions", [("train", 148, 2163), ("test", 32, 636)])
def test_ted_workshop_stories_load_and_validate_without_warnings(split, stories, actions):
    domain = load_domain(shared_dataset("ted_workshop", "domain.yml"))
    path = shared_dataset("ted_workshop", f"{split}_stories.yml")
    assert "action: action_listen" not in path.read_text(encoding="utf-8")  # all listens implicit
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDataWarning)
        read = load_stories(path)
        validate_stories(read, domain)
    assert len(read) == stories
    assert count_actions(read) == actions
    assert not any(s.is_rule for s in read)


def test_sara_domain_stories_rules_and_tests_load_and_validate():
    domain = load_domain(
        [shared_dataset("sara_core", "domain.yml"), shared_dataset("sara_core", "responses.yml")]
    )
    counts = {}
    with pytest.warns(TrainingDataWarning) as record:
        for name in ("stories", "rules", "test_conversations"):
            read = load_stories(shared_dataset("sara_core", f"{name}.yml"))
            validate_stories(read, domain)
            counts[name] = (len(read), count_actions(read))
    # 276 stories, 71 of them with an `or` step; 53 rules (one `or`); 25 test conversations.
    assert counts == {"stories": (409, 3613), "rules": (55, 144), "test_conversations": (25, 132)}
    # The only warning: install_type set to a value it does not declare (see sara_core's README).
    [warning] = [str(w.message) for w in record]
    assert "stories.yml:30: story 'Story from Conversation ID d3e170ca" in warning
    assert "'local machine' is not one of the values of categorical slot 'install_type'" in warning


@pytest.mark.parametrize(
    ("step", "said"),
    [
        ("- user: hello there", "step 'user: hello there' is an end-to-end step"),
        ("- bot: Hi!", "step 'bot: Hi!' is an end-to-end step"),
    ],
)
def test_end_to_end_steps_are_refused_for_training_naming_file_and_line(tmp_path, step, said):
    path = write(
        tmp_path,
        "stories.yml",
        f"""
        stories:
        - story: e2e
          steps:
          - intent: greet
          - action: utter_greet
          {step}
        """,
    )
    stories = load_stories(path)
    with pytest.raises(TrainingDataError) as caught:
        check_no_end_to_end_steps(stories)
    assert str(caught.value).startswith(f"{path}:6: story 'e2e': {said}")
    # a test story's user text with its intent is no end-to-end step
    check_no_end_to_end_steps(
        load_stories(
            write(
                tmp_path,
                "test_stories.yml",
                """
                stories:
                - story: t
                  steps:
                  - user: hello there
                    intent: greet
                  - action: utter_greet
                """,
            )
        )
    )
