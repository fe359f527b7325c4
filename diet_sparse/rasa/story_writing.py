"""Writing a conversation (a list of `events`) as Rasa 3 YAML: the test story Rasa's ``GET
/conversations/{id}/story`` returns (`test_story_yaml`), and the training data ``rasa
interactive`` saves (`training_data_yaml`: ``nlu:`` examples and ``stories:``), with the small
YAML writers the evaluation's failed stories share (`yaml_step`, `entity_yaml`).

What Rasa 3.6 does, and where this differs (checked against ``YAMLStoryWriter``,
``TrainingDataWriter.generate_message``, ``RasaYAMLWriter`` and ``rasa/core/training/
interactive.py``):

- Test story: every event of the conversation, as Rasa's ``tracker.as_story()`` takes them
  (taken-back turns too), one story; implicit ``action_listen``, ``action_session_start`` and
  ``action_unlikely_intent`` left out; each user turn ``intent:`` (a retrieval intent's full
  name) and ``user: |-`` with its entities marked in the text; each slot event its own
  ``slot_was_set`` step, as Rasa writes them all. A text that itself holds Rasa's markup
  (``[x](y)``) is marked as it is; Rasa's ``format_message`` first removes that markup, then
  marks the entities at the original text's offsets.
- Training stories: the conversation split at restarts (Rasa's
  ``_split_conversation_at_restarts``) and, here also, at session starts; of each part the
  events that still count (`applied_events`: a taken-back turn is left out, where Rasa's export
  writes every event); parts without a user turn left out. A user turn is ``intent:`` (the
  retrieval intent's base: Rasa writes the full name, then warns that stories should not hold
  one) with ``entities:``, with their ``role`` and ``group`` (which Rasa's writer drops).
- NLU examples: the user messages as Rasa's ``_collect_messages`` and ``_filter_messages`` take
  them: every user message of the conversation, the last one dropped at each rewind
  (``UserUtteranceReverted``), messages starting with ``/`` left out, entities of pretrained
  extractors (Duckling, spaCy) left out, duplicates once; grouped by intent in the order they
  come. Here also left out: messages without an intent or with ``nlu_fallback`` (not something
  to learn). A retrieval intent's example is written under its full name (``faq/ask_price``;
  Rasa writes the base, which trains no response selector).
- Entity markup as Rasa's ``generate_message``: ``[Berlin](city)``, or JSON
  ``[NYC]{"entity": "city", "value": "New York"}`` where a value differs from the text or a
  role or group is set, ``[x][{...}, {...}]`` for entities on one span. An entity overlapping
  an earlier one is not marked (Rasa raises), nor one whose value is not a string or number
  (its value left out).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from diet_sparse.rasa.domain import ACTION_LISTEN, RETRIEVAL_SEPARATOR, Domain
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActiveLoop,
    Entity,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
    applied_events,
)

# Rasa's LATEST_TRAINING_DATA_FORMAT_VERSION, the ``version`` of every file written here.
TRAINING_DATA_FORMAT_VERSION = "3.1"
# Actions Rasa's story writer leaves out (StoryWriter._filter_event): implicit in the format.
_IMPLICIT_ACTIONS = (ACTION_LISTEN, "action_session_start", "action_unlikely_intent")
_ENTITY_KEYS = ("entity", "value", "role", "group")  # Rasa's keys of an `Entity`'s fields
_RULE_SNIPPET_ACTION = "..."  # Rasa's RULE_SNIPPET_ACTION_NAME, never written
# A user message starting with this gives its intent directly (``/greet``): not an NLU example.
INTENT_MESSAGE_PREFIX = "/"
# Rasa's PRETRAINED_EXTRACTORS: their entities are not training data.
PRETRAINED_EXTRACTORS = ("DucklingEntityExtractor", "SpacyEntityExtractor")
NLU_FALLBACK_INTENT = "nlu_fallback"
# Characters Rasa's NLU writer escapes (rasa/shared/nlu/training_data/util.py ESCAPE_DCT): an
# intent with an example holding one is written as ``- text: |`` items instead of a block.
_ESCAPE_CHARACTERS = frozenset("\b\f\n\r\t")


@dataclass(frozen=True)
class NLUExample:
    """A user message as an NLU training example: its intent (a retrieval intent's full name),
    plain text, and the entities to mark in it (Rasa's entity dicts: ``entity``, ``start``,
    ``end``, ``value``, ``role``, ``group``)."""

    intent: str
    text: str
    entities: tuple[Mapping[str, Any], ...] = ()

    @property
    def marked_text(self) -> str:
        """The text with its entities marked (`mark_entities`), as the example is written."""
        return mark_entities(self.text, self.entities)


# --- Small writers --------------------------------------------------------------------------------


def yaml_step(mapping: Mapping[str, Any], prefix: str = "- ") -> str:
    """A mapping as block YAML after a list marker ``prefix``, continuation lines indented.

    Example:
        >>> print(yaml_step({"slot_was_set": [{"city": "Rome"}]}))
        - slot_was_set:
          - city: Rome
    """
    text = yaml.safe_dump(
        dict(mapping),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=math.inf,
    ).rstrip("\n")
    indent = " " * len(prefix)
    return prefix + text.replace("\n", "\n" + indent)


def entity_yaml(entity: Entity) -> Any:
    """An entity of a story's ``entities:`` step: ``{type: value}`` with ``role`` and ``group``
    when set, or the bare type if it has no value; the forms `load_stories` reads.

    Example:
        >>> entity_yaml(Entity("city", "Berlin", role="from"))
        {'city': 'Berlin', 'role': 'from'}
        >>> entity_yaml(Entity("city"))
        'city'
    """
    if entity.value == "" and entity.role is None and entity.group is None:
        return entity.type
    written = {entity.type: entity.value}
    for key in ("role", "group"):
        if getattr(entity, key) is not None:
            written[key] = getattr(entity, key)
    return written


def mark_entities(text: str, entities: Iterable[Mapping[str, Any]]) -> str:
    """A message's text with its entities marked in Rasa's markup, as Rasa's
    ``TrainingDataWriter.generate_message`` writes them: ``[span](type)``, JSON attributes
    where the value differs from the span or a role or group is set, one ``[span][{...},
    {...}]`` for entities sharing a span. Entities without ``start`` and ``end``, overlapping
    an earlier one, or of an empty span or one holding ``]`` (which markup cannot hold) are not
    marked; a text starting with ``/`` is left as it is, as in Rasa.

    Example:
        >>> mark_entities("fly to Rome", [{"entity": "city", "start": 7, "end": 11,
        ...                               "value": "Rome", "role": "to"}])
        'fly to [Rome]{"entity": "city", "role": "to"}'
        >>> mark_entities("in NYC", [{"entity": "city", "start": 3, "end": 6, "value": "NYC"}])
        'in [NYC](city)'
    """
    if text.startswith(INTENT_MESSAGE_PREFIX):
        return text
    spans: dict[int, list[Mapping[str, Any]]] = {}
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if not (_is_index(start) and _is_index(end) and 0 <= start < end <= len(text)):
            continue
        if "]" in text[start:end] or not isinstance(entity.get("entity"), str):
            continue
        spans.setdefault(start, []).append(entity)
    marked, position = [], 0
    for start in sorted(spans):
        end = spans[start][0]["end"]
        if start < position:
            continue  # overlaps the span before: Rasa's markup cannot say it
        on_span = [entity for entity in spans[start] if entity["end"] == end]
        span = text[start:end]
        if len(on_span) == 1:
            attributes = _entity_attributes(span, on_span[0], short_allowed=True)
        else:
            listed = ", ".join(_entity_attributes(span, e, short_allowed=False) for e in on_span)
            attributes = f"[{listed}]"
        marked += [text[position:start], f"[{span}]{attributes}"]
        position = end
    marked.append(text[position:])
    return "".join(marked)


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entity_attributes(span: str, entity: Mapping[str, Any], short_allowed: bool) -> str:
    """``(type)`` or the JSON attributes of one entity (Rasa's ``generate_entity_attributes``:
    type, role, group, value, the value only where it is not the span's text)."""
    value = entity.get("value")
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == span:
        value = None  # the span's text (Rasa leaves a value equal to the span out too)
    attributes = {
        "entity": entity["entity"],
        "role": entity.get("role"),
        "group": entity.get("group"),
        "value": value,
    }
    attributes = {key: item for key, item in attributes.items() if item is not None}
    if short_allowed and list(attributes) == ["entity"]:
        return f"({entity['entity']})"
    return json.dumps(attributes)


def _literal_lines(key: str, text: str, indent: str, chomp: str = "-") -> list[str]:
    """``key: |-`` and the text's lines under it (a literal block, as Rasa's writer writes a
    user's text), or ``key: "..."`` (JSON's escapes) for a text a literal block cannot hold
    exactly: characters YAML does not print, a line break other than ``\\n``, a final line
    break. A text starting with a space or a line break gets an indentation indicator."""
    if not _fits_literal_block(text) or (chomp == "-" and text.endswith("\n")):
        return [f"{indent}{key}: {json.dumps(text)}"]
    indicator = "2" if text[:1] in (" ", "\n") else ""
    lines = [f"{indent}{key}: |{indicator}{chomp}"]
    lines += [f"{indent}  {line}" if line else "" for line in text.split("\n")]
    return lines


def _fits_literal_block(text: str) -> bool:
    """Whether every character of ``text`` is one YAML prints as itself in a literal block."""
    for character in text:
        code = ord(character)
        printable = (
            character in "\t\n"
            or 0x20 <= code <= 0x7E
            or (0xA0 <= code <= 0xD7FF and character not in "\u2028\u2029")
            or (0xE000 <= code <= 0xFFFD and character != "\ufeff")
            or code >= 0x10000
        )
        if not printable:
            return False
    return True


# --- Test stories ---------------------------------------------------------------------------------


def test_story_yaml(events: Iterable[Event], name: str) -> str:
    """A conversation as the test story Rasa 3.6's ``GET /conversations/{id}/story`` returns
    (``YAMLStoryWriter().dumps(tracker.as_story().story_steps, is_test_story=True)``): one
    story of every event given (Rasa does not leave out taken-back turns here), each user turn
    ``intent:`` and its ``user:`` text with the entities marked.

    Args:
        events: The conversation's events (e.g. a tracker's), in order.
        name: The story's name (Rasa uses the sender id).

    Example:
        >>> from diet_sparse.rasa.events import user_uttered
        >>> turn = user_uttered("to Rome", {"intent": {"name": "book"},
        ...     "entities": [{"entity": "city", "start": 3, "end": 7, "value": "Rome"}]})
        >>> print(test_story_yaml([ActionExecuted("action_listen"), turn,
        ...     SlotSet("city", "Rome"), ActionExecuted("utter_ok")], "ann"), end="")
        version: "3.1"
        stories:
        - story: ann
          steps:
          - intent: book
            user: |-
              to [Rome](city)
          - slot_was_set:
            - city: Rome
          - action: utter_ok
    """
    steps = []
    for event in events:
        if isinstance(event, UserUttered):
            steps.append(_test_user_step(event))
        else:
            steps += _other_step(event)
    return _stories_file([(name, steps)])


# `pytest` would collect the function above as a test from a test module importing it.
test_story_yaml.__test__ = False  # type: ignore[attr-defined]


def _test_user_step(event: UserUttered) -> str:
    """A user turn of a test story: ``intent:`` (the full retrieval intent) and ``user:``."""
    lines = []
    intent = _full_intent(event)
    if intent:
        lines.append(yaml_step({"intent": intent}))
    if event.text:  # Rasa writes no user: for an empty text
        user = _literal_lines("user", mark_entities(event.text, _entities_of(event)), "")
        if lines:
            lines += [f"  {line}" if line else "" for line in user]
        else:
            lines += [f"- {user[0]}", *(f"  {line}" if line else "" for line in user[1:])]
    return "\n".join(lines)


def _entities_of(event: UserUttered) -> list[Mapping[str, Any]]:
    """A user turn's entities as Rasa's entity dicts: its parse data's, with their offsets,
    where they are the turn's entities; else (a turn changed without its parse data) the
    turn's own, without offsets."""
    parsed = (event.parse_data or {}).get("entities")
    if isinstance(parsed, list):
        found = [entity for entity in parsed if isinstance(entity, Mapping)]
        labels = [tuple(entity.get(key) for key in _ENTITY_KEYS) for entity in found]
        if labels == [tuple(entity) for entity in event.entities]:
            return found
    return [dict(zip(_ENTITY_KEYS, entity, strict=True)) for entity in event.entities]


def _full_intent(event: UserUttered) -> str | None:
    """A user turn's intent with its retrieval intent's sub-intent (``faq/ask_price``) where
    its parse data names one of the turn's intent."""
    full = event.full_intent
    if full and full.split(RETRIEVAL_SEPARATOR)[0] == event.intent:
        return full
    return event.intent


def _other_step(event: Event) -> list[str]:
    """The step of an action, slot or active loop event (none for the others)."""
    if isinstance(event, ActionExecuted):
        if event.name in _IMPLICIT_ACTIONS or event.name == _RULE_SNIPPET_ACTION:
            return []
        if event.name is not None:
            return [yaml_step({"action": event.name})]
        return [yaml_step({"bot": event.text})] if event.text else []
    if isinstance(event, SlotSet):
        return [yaml_step({"slot_was_set": [{event.name: event.value}]})]
    if isinstance(event, ActiveLoop):
        return [yaml_step({"active_loop": event.name})]
    return []


def _stories_file(stories: Sequence[tuple[str, list[str]]]) -> str:
    """The ``version`` and ``stories:`` of a YAML file: each story's name and its steps."""
    return "".join([_version_line(), *_stories_section(stories)])


def _version_line() -> str:
    return f'version: "{TRAINING_DATA_FORMAT_VERSION}"\n'


def _stories_section(stories: Sequence[tuple[str, list[str]]]) -> list[str]:
    lines = ["stories:"]
    for name, steps in stories:
        lines.append(yaml_step({"story": name}))
        if not steps:
            lines.append("  steps: []")
            continue
        lines.append("  steps:")
        lines += [f"  {line}" if line else "" for step in steps for line in step.split("\n")]
    return ["\n".join(lines) + "\n"]


# --- Training data --------------------------------------------------------------------------------


def training_conversations(
    events: Iterable[Event], domain: Domain | None = None
) -> list[list[Event]]:
    """The parts of a conversation that become training stories: split at each restart and
    session start (the splitting event left out), the events of each part that still count
    (`applied_events`, with the domain's initial slot values for a slot reset), and only the
    parts with a user turn.

    Example:
        >>> [len(part) for part in training_conversations([
        ...     UserUttered("greet"), ActionExecuted("utter_hi"), Restarted(),
        ...     ActionExecuted("action_listen"), Restarted(), UserUttered("bye")])]
        [2, 1]
    """
    initial = domain.initial_slot_values if domain is not None else None
    parts: list[list[Event]] = [[]]
    for event in events:
        if isinstance(event, Restarted | SessionStarted):
            parts.append([])
        else:
            parts[-1].append(event)
    applied = [applied_events(part, initial) for part in parts]
    return [part for part in applied if any(isinstance(e, UserUttered) for e in part)]


def story_names(name: str, count: int) -> list[str]:
    """The names of a conversation's ``count`` stories: ``name``, or ``"<name>, story <i>"``
    for several, as Rasa names the stories of several sessions."""
    return [name] if count == 1 else [f"{name}, story {i}" for i in range(1, count + 1)]


def story_yaml(events: Iterable[Event], domain: Domain | None, name: str) -> str:
    """The conversation as Rasa 3 YAML training stories (not end to end), as ``rasa
    interactive`` exports them (``tracker.export_stories(YAMLStoryWriter(), e2e=False)``) from
    `training_conversations`: ``- intent:`` with ``entities:``, ``- action:``,
    ``slot_was_set`` and ``active_loop`` steps. Empty (only ``version``) without a user turn.

    Example:
        >>> print(story_yaml([ActionExecuted("action_listen"),
        ...                   UserUttered("book", (Entity("city", "Rome", role="to"),)),
        ...                   ActionExecuted("utter_ok")], None, "ann"), end="")
        version: "3.1"
        stories:
        - story: ann
          steps:
          - intent: book
            entities:
            - city: Rome
              role: to
          - action: utter_ok
    """
    return "".join([_version_line(), *_training_stories(events, domain, name)])


def _training_stories(events: Iterable[Event], domain: Domain | None, name: str) -> list[str]:
    conversations = training_conversations(events, domain)
    if not conversations:
        return []
    names = story_names(name, len(conversations))
    stories = [
        (story_name, [step for event in part for step in _training_step(event)])
        for story_name, part in zip(names, conversations, strict=True)
    ]
    return _stories_section(stories)


def _training_step(event: Event) -> list[str]:
    """The step of an event in a training story; a user turn without an intent has none (Rasa
    writes an empty step, which it then drops)."""
    if not isinstance(event, UserUttered):
        return _other_step(event)
    if event.intent is None:
        return []
    step: dict[str, Any] = {"intent": event.intent.split(RETRIEVAL_SEPARATOR)[0]}
    if event.entities:
        step["entities"] = [entity_yaml(entity) for entity in event.entities]
    return [yaml_step(step)]


def nlu_examples(events: Iterable[Event]) -> list[NLUExample]:
    """The user messages of a conversation that are NLU training examples, as ``rasa
    interactive`` collects them (``_collect_messages``, ``_filter_messages``): the last one
    taken back at each rewind, those starting with ``/`` left out, the entities of pretrained
    extractors left out; here also those without an intent or with ``nlu_fallback``; each
    (intent, marked text) once, stripped of white space at its ends.

    Example:
        >>> [(e.intent, e.text) for e in nlu_examples([
        ...     UserUttered("greet", text="hi"), UserUttered("greet", text="/greet"),
        ...     UserUttered("bye", text="bye"), UserUtteranceReverted()])]
        [('greet', 'hi')]
    """
    messages: list[NLUExample] = []
    for event in events:
        if isinstance(event, UserUttered):
            messages.append(_nlu_example(event))
        elif isinstance(event, UserUtteranceReverted) and messages:
            messages.pop()  # Rasa: the user corrected the NLU, the wrong example goes
    kept: dict[tuple[str, str], NLUExample] = {}
    for message in messages:
        if not message.text or message.text.startswith(INTENT_MESSAGE_PREFIX):
            continue
        if not message.intent or message.intent == NLU_FALLBACK_INTENT:
            continue
        kept.setdefault((message.intent, message.marked_text), message)
    return list(kept.values())


def _nlu_example(event: UserUttered) -> NLUExample:
    """A user turn as an example (intent "" when it has none); the text stripped of white space
    at its ends (Rasa strips spaces and line breaks; the readers strip all white space), the
    entity offsets moved to match."""
    text = event.text or ""
    stripped = text.lstrip()
    shift = len(text) - len(stripped)
    stripped = stripped.rstrip()
    entities = []
    for entity in _entities_of(event):
        if entity.get("extractor") in PRETRAINED_EXTRACTORS:
            continue
        start, end = entity.get("start"), entity.get("end")
        if _is_index(start) and _is_index(end):
            entity = {**entity, "start": start - shift, "end": end - shift}
        entities.append(entity)
    return NLUExample(_full_intent(event) or "", stripped, tuple(entities))


def nlu_yaml(events: Iterable[Event]) -> str:
    """The conversation's `nlu_examples` as a Rasa 3 YAML NLU file, grouped by intent in the
    order they first come, as Rasa's ``RasaYAMLWriter`` writes them: an ``examples: |`` block
    of ``- `` lines, or, for an intent with an example holding a tab or line break, ``- text:
    |`` items. Only ``version`` when there are none.

    Example:
        >>> print(nlu_yaml([UserUttered("greet", text="hi"), UserUttered("bye", text="bye"),
        ...                 UserUttered("greet", text="hello")]), end="")
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
            - hello
        - intent: bye
          examples: |
            - bye
    """
    return "".join([_version_line(), *_nlu_section(events)])


def _nlu_section(events: Iterable[Event]) -> list[str]:
    by_intent: dict[str, list[str]] = {}
    for example in nlu_examples(events):
        by_intent.setdefault(example.intent, []).append(example.marked_text)
    if not by_intent:
        return []
    lines = ["nlu:"]
    for intent, texts in by_intent.items():
        lines.append(yaml_step({"intent": intent}))
        as_items = any(
            _ESCAPE_CHARACTERS.intersection(text) or not _fits_literal_block(text) for text in texts
        )
        if not as_items:
            lines.append("  examples: |")
            lines += [f"    - {text}" for text in texts]
            continue
        lines.append("  examples:")
        for text in texts:
            first, *rest = _literal_lines("text", text, "", chomp="")
            lines += [f"  - {first}", *(f"    {line}" if line else "" for line in rest)]
    return ["\n".join(lines) + "\n"]


def training_data_yaml(events: Iterable[Event], domain: Domain | None, name: str) -> str:
    """A conversation as one Rasa 3 YAML training data file: ``version``, ``nlu:`` (`nlu_yaml`)
    and ``stories:`` (`story_yaml`, the stories named after ``name``); a part without content
    is left out.

    Example:
        >>> print(training_data_yaml([ActionExecuted("action_listen"),
        ...     UserUttered("greet", text="hi"), ActionExecuted("utter_hi")], None, "ann"),
        ...     end="")
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
        stories:
        - story: ann
          steps:
          - intent: greet
          - action: utter_hi
    """
    events = list(events)
    return "".join(
        [_version_line(), *_nlu_section(events), *_training_stories(events, domain, name)]
    )
