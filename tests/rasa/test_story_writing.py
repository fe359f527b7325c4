"""Writing a conversation as Rasa 3 YAML (diet_sparse/rasa/story_writing.py): the test story of
Rasa's ``GET /conversations/{id}/story`` and the training data of ``rasa interactive``, read back
with the package's own readers."""

import dataclasses
import warnings
from pathlib import Path

import pytest
import yaml

from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    Entity,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    user_uttered,
)
from diet_sparse.rasa.nlu_data import load_training_data, parse_markup
from diet_sparse.rasa.stories import load_stories
from diet_sparse.rasa.story_writing import (
    mark_entities,
    nlu_examples,
    nlu_yaml,
    story_yaml,
    test_story_yaml,
    training_conversations,
    training_data_yaml,
)

LISTEN = ActionExecuted("action_listen")


def user(text, intent, *entities, full=None, extractor=None):
    """A user turn as the bot records it: its parse data with entity offsets found in the text.
    Each entity is (span, type, value, role, group); value None: the span."""
    parsed = []
    for span, entity_type, value, role, group in entities:
        start = text.index(span)
        entity = {"entity": entity_type, "start": start, "end": start + len(span)}
        entity["value"] = span if value is None else value
        entity.update({k: v for k, v in (("role", role), ("group", group)) if v is not None})
        if extractor:
            entity["extractor"] = extractor
        parsed.append(entity)
    intent_data = {"name": intent, "confidence": 0.9}
    if full:
        intent_data["full_retrieval_intent_name"] = full
    return user_uttered(text, {"text": text, "intent": intent_data, "entities": parsed})


# A conversation of Rasa 3.6's kinds of turns: roles and groups, a synonym, a form, a message
# taken back (fallback's rewind) and answered again with "/intent", a retrieval intent, a restart.
CONVERSATION = [
    ActionExecuted("action_session_start"),
    SessionStarted(),
    LISTEN,
    user("hi there", "greet"),
    ActionExecuted("utter_greet"),
    BotUttered("hey"),
    LISTEN,
    user(
        "fly from Berlin to Rome",
        "book",
        ("Berlin", "city", None, "from", None),
        ("Rome", "city", None, "to", "1"),
    ),
    SlotSet("city", "Rome"),
    ActionExecuted("book_form"),
    ActiveLoop("book_form"),
    SlotSet("requested_slot", "date"),
    LISTEN,
    user("NYC please", "inform", ("NYC", "city", "New York", None, None)),
    UserUtteranceReverted(),
    LISTEN,
    user_uttered(  # as the bot reads "/intent{...}": entities without offsets
        '/inform{"city": "Paris"}',
        {"intent": {"name": "inform"}, "entities": [{"entity": "city", "value": "Paris"}]},
    ),
    ActionExecuted("book_form"),
    SlotSet("date", "x"),
    ActiveLoop(None),
    SlotSet("requested_slot", None),
    ActionExecuted("utter_done"),
    LISTEN,
    user("what's the price?", "faq", full="faq/price"),
    ActionExecuted("utter_faq"),
    ActionExecuted("action_restart"),
    Restarted(),
    LISTEN,
    user("bye", "goodbye"),
    ActionExecuted("utter_bye"),
    LISTEN,
]

# What Rasa 3.6.21 wrote for CONVERSATION with YAMLStoryWriter().dumps(tracker.as_story()
# .story_steps, is_test_story=True), its GET /conversations/ann/story.
RASA_TEST_STORY = """\
version: "3.1"
stories:
- story: ann
  steps:
  - intent: greet
    user: |-
      hi there
  - action: utter_greet
  - intent: book
    user: |-
      fly from [Berlin]{"entity": "city", "role": "from"} to [Rome]{"entity": "city", "role": "to", "group": "1"}
  - slot_was_set:
    - city: Rome
  - action: book_form
  - active_loop: book_form
  - slot_was_set:
    - requested_slot: date
  - intent: inform
    user: |-
      [NYC]{"entity": "city", "value": "New York"} please
  - intent: inform
    user: |-
      /inform{"city": "Paris"}
  - action: book_form
  - slot_was_set:
    - date: x
  - active_loop: null
  - slot_was_set:
    - requested_slot: null
  - action: utter_done
  - intent: faq/price
    user: |-
      what's the price?
  - action: utter_faq
  - action: action_restart
  - intent: goodbye
    user: |-
      bye
  - action: utter_bye
"""  # noqa: E501

DOMAIN = """\
version: "3.1"
intents: [greet, book, inform, faq, goodbye]
entities:
  - city:
      roles: [from, to]
      groups: ["1"]
slots:
  city: {type: text, mappings: [{type: from_entity, entity: city}]}
  date: {type: text, mappings: [{type: custom}]}
forms:
  book_form: {required_slots: [date]}
responses:
  utter_greet: [{text: hi}]
  utter_done: [{text: done}]
  utter_faq/price: [{text: cheap}]
  utter_bye: [{text: bye}]
"""


@pytest.fixture
def domain(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_text(DOMAIN)
    return load_domain(path)


def read_back(tmp_path: Path, text: str):
    path = tmp_path / "data.yml"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_stories(path), load_training_data(path)


def steps_of(story):
    """A read story's events without the implicit action_listen, as comparable tuples."""
    found = []
    for event in story.events:
        if isinstance(event, ActionExecuted):
            if event.name != "action_listen":
                found.append(("action", event.name))
        elif isinstance(event, SlotSet):
            found.append(("slot", event.name, event.value))
        elif isinstance(event, ActiveLoop):
            found.append(("active_loop", event.name))
        else:
            found.append(("intent", event.intent, event.entities))
    return found


def test_the_test_story_is_rasas():
    assert test_story_yaml(CONVERSATION, "ann") == RASA_TEST_STORY


def test_a_test_story_text_keeps_what_a_literal_block_cannot_hold():
    texts = ["  leading space", "two\nlines", "tab\there", "bell\x07", "line\u2028break", "x\n"]
    events = [user(text, "greet") for text in texts]
    written = yaml.safe_load(test_story_yaml(events, "yes"))
    assert written["stories"][0]["story"] == "yes"
    assert [step["user"] for step in written["stories"][0]["steps"]] == texts


def test_a_test_story_without_steps_is_rasas():
    assert test_story_yaml([LISTEN], "ann").endswith("- story: ann\n  steps: []\n")


def test_training_stories_read_back_as_the_conversation(tmp_path, domain):
    stories, nlu = read_back(tmp_path, training_data_yaml(CONVERSATION, domain, "ann"))
    assert [story.name for story in stories] == ["ann, story 1", "ann, story 2"]
    berlin, rome = Entity("city", "Berlin", "from"), Entity("city", "Rome", "to", "1")
    assert steps_of(stories[0]) == [
        ("intent", "greet", ()),
        ("action", "utter_greet"),
        ("intent", "book", (berlin, rome)),
        ("slot", "city", "Rome"),
        ("action", "book_form"),
        ("active_loop", "book_form"),
        ("slot", "requested_slot", "date"),
        # the rewound "NYC please" is gone; "/inform{...}" keeps its entity
        ("intent", "inform", (Entity("city", "Paris"),)),
        ("action", "book_form"),
        ("slot", "date", "x"),
        ("active_loop", None),
        ("slot", "requested_slot", None),
        ("action", "utter_done"),
        ("intent", "faq", ()),  # a story holds the retrieval intent itself
        ("action", "utter_faq"),
        ("action", "action_restart"),
    ]
    assert steps_of(stories[1]) == [("intent", "goodbye", ()), ("action", "utter_bye")]
    examples = [(e.intent, e.text, e.entities) for e in nlu.examples]
    assert [example[:2] for example in examples] == [
        ("greet", "hi there"),
        ("book", "fly from Berlin to Rome"),
        ("faq/price", "what's the price?"),
        ("goodbye", "bye"),
    ]
    assert [(a.value, a.entity, a.role, a.group) for a in examples[1][2]] == [
        ("Berlin", "city", "from", None),
        ("Rome", "city", "to", "1"),
    ]


def test_nlu_leaves_out_intent_messages_taken_back_ones_and_fallbacks():
    events = [
        user("hello", "greet"),
        user("/greet", "greet"),
        user("wrong one", "bye"),
        UserUtteranceReverted(),
        user("asdf", "nlu_fallback"),
        user("hello", "greet"),  # once only
        user("  see you \n", "bye"),
    ]
    assert [(e.intent, e.text) for e in nlu_examples(events)] == [
        ("greet", "hello"),
        ("bye", "see you"),
    ]


def test_nlu_marks_synonyms_roles_and_groups_as_rasa(tmp_path):
    events = [
        user("to NYC", "book", ("NYC", "city", "New York", None, None)),
        user("from Rome", "book", ("Rome", "city", None, "from", None)),
        user("3 tickets", "book", ("3", "count", 3, None, None)),
        user("Rome and Oslo", "book", ("Oslo", "city", None, "to", "2")),
        user("at 5", "book", ("5", "time", "2024-01-01T05:00", None, None),
             extractor="DucklingEntityExtractor"),
    ]  # fmt: skip
    assert [example.marked_text for example in nlu_examples(events)] == [
        'to [NYC]{"entity": "city", "value": "New York"}',
        'from [Rome]{"entity": "city", "role": "from"}',
        '[3]{"entity": "count", "value": 3} tickets',
        'Rome and [Oslo]{"entity": "city", "role": "to", "group": "2"}',
        "at 5",  # a pretrained extractor's entity is not training data
    ]
    _, nlu = read_back(tmp_path, nlu_yaml(events) + "stories: []\n")
    assert nlu.synonyms == {"nyc": "New York"}
    assert [(a.entity, a.value) for a in nlu.examples[2].entities] == [("count", "3")]


def test_entities_on_one_span_and_overlapping_ones():
    entities = [
        {"entity": "a", "start": 0, "end": 4, "value": "same"},
        {"entity": "b", "start": 0, "end": 4, "value": "same", "role": "r"},
        {"entity": "c", "start": 2, "end": 6, "value": "me s"},  # overlaps: not marked
        {"entity": "d", "value": "no offsets"},
    ]
    marked = mark_entities("same start", entities)
    assert marked == '[same][{"entity": "a"}, {"entity": "b", "role": "r"}] start'
    plain, found = parse_markup(marked)
    assert plain == "same start"
    assert [(e.entity, e.role, e.start, e.end) for e in found] == [
        ("a", None, 0, 4),
        ("b", "r", 0, 4),
    ]


def test_an_intent_with_a_multiline_example_is_written_as_items(tmp_path):
    events = [user("one\ntwo", "greet"), user("tab\there", "greet"), user("hi", "bye")]
    text = nlu_yaml(events)
    assert "- intent: greet\n  examples:\n  - text: |\n      one\n      two\n" in text
    _, nlu = read_back(tmp_path, text + "stories: []\n")
    assert [(e.intent, e.text) for e in nlu.examples] == [
        ("greet", "one\ntwo"),
        ("greet", "tab\there"),
        ("bye", "hi"),
    ]


def test_stories_split_at_restarts_and_session_starts_and_skip_empty_parts():
    events = [
        LISTEN,
        user("hi", "greet"),
        ActionExecuted("utter_greet"),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("city", "Rome"),  # carried over
        LISTEN,
        Restarted(),
        LISTEN,
        user("bye", "goodbye"),
        Restarted(),
    ]
    parts = training_conversations(events)
    assert [[type(e).__name__ for e in part] for part in parts] == [
        ["ActionExecuted", "UserUttered", "ActionExecuted", "ActionExecuted"],
        ["ActionExecuted", "UserUttered"],
    ]
    assert "- story: ann, story 2\n" in story_yaml(events, None, "ann")
    assert "- story: ann, story 3" not in story_yaml(events, None, "ann")


def test_undo_and_slot_reset_apply_as_in_rasa(domain):
    events = [
        LISTEN,
        user("hi", "greet"),
        ActionExecuted("utter_bye"),
        ActionReverted(),  # the wrong action is taken back
        ActionExecuted("utter_greet"),
        SlotSet("city", "Rome"),
        AllSlotsReset(),
    ]
    written = yaml.safe_load(story_yaml(events, domain, "ann"))["stories"][0]["steps"]
    assert written == [
        {"intent": "greet"},
        {"action": "utter_greet"},
        {"slot_was_set": [{"city": "Rome"}]},
        {"slot_was_set": [{"city": None}]},
    ]


def test_a_conversation_without_user_turns_has_no_stories():
    assert story_yaml([LISTEN, ActionExecuted("utter_greet")], None, "ann") == 'version: "3.1"\n'
    assert training_data_yaml([LISTEN], None, "ann") == 'version: "3.1"\n'


def test_a_turn_changed_without_its_parse_data_is_written_as_changed():
    turn = user("to Rome", "faq", ("Rome", "city", None, None, None), full="faq/price")
    changed = dataclasses.replace(turn, intent="book", entities=(Entity("city", "Paris"),))
    assert [(e.intent, e.marked_text) for e in nlu_examples([turn, changed])] == [
        ("faq/price", "to [Rome](city)"),
        ("book", "to Rome"),  # the parse data's offsets are not the new entity's
    ]
    steps = yaml.safe_load(test_story_yaml([changed], "ann"))["stories"][0]["steps"]
    assert steps == [{"intent": "book", "user": "to Rome"}]
