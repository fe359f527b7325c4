"""A small Rasa project for the tests of `data validate` (`diet_sparse.rasa.validation`), clean
as ``rasa data validate`` of Rasa 3.6 finds it, and the changes that give it a finding."""

from pathlib import Path

CONFIG = """\
recipe: default.v1
assistant_id: test_bot
language: en
pipeline: []
policies: []
"""
DOMAIN = """\
version: "3.1"
intents:
  - greet
  - bye
  - book
entities:
  - city
slots:
  city:
    type: text
    mappings:
      - type: from_entity
        entity: city
        conditions:
          - active_loop: booking_form
forms:
  booking_form:
    required_slots:
      - city
responses:
  utter_greet:
    - text: Hello!
  utter_bye:
    - text: Bye!
  utter_ask_city:
    - text: Where to?
  utter_booked:
    - text: Booked {city}.
actions:
  - action_book
"""
NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi there
  - intent: bye
    examples: |
      - goodbye
      - see you
  - intent: book
    examples: |
      - book a trip to [Rome](city)
      - fly to [Paris](city)
"""
STORIES = """\
version: "3.1"
stories:
  - story: greet and bye
    steps:
      - intent: greet
      - action: utter_greet
      - intent: bye
      - action: utter_bye
  - story: book
    steps:
      - intent: greet
      - action: utter_greet
      - intent: book
      - action: booking_form
      - active_loop: booking_form
      - active_loop: null
      - action: action_book
      - action: utter_booked
"""
RULES = """\
version: "3.1"
rules:
  - rule: ask city
    steps:
      - intent: book
      - action: utter_ask_city
"""
FILES = {
    "config.yml": CONFIG,
    "domain.yml": DOMAIN,
    "data/nlu.yml": NLU,
    "data/stories.yml": STORIES,
    "data/rules.yml": RULES,
}


def write_project(folder: Path, *changes: tuple[str, str, str]) -> Path:
    """The clean project in ``folder``, with each (file, old, new) change made once."""
    for name, text in FILES.items():
        for file, old, new in changes:
            if file == name:
                assert old in text, f"{old!r} is not in {name}"
                text = text.replace(old, new, 1)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


CONFLICT = (
    "data/stories.yml",
    "  - story: book\n",
    "  - story: greet and wave\n    steps:\n      - intent: greet\n      - action: utter_greet\n"
    "      - intent: bye\n      - action: utter_greet\n  - story: book\n",
)

# Two stories that differ only in their first turn, then take different actions after 'book'.
DEEP_CONFLICT = (
    "data/stories.yml",
    "  - story: book\n",
    "  - story: bye first\n    steps:\n      - intent: bye\n      - action: utter_bye\n"
    "      - intent: book\n      - action: utter_greet\n  - story: book\n",
)
