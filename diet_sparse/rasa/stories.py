"""Dialogue training data: Rasa 3 YAML stories and rules, and Rasa tracker events, as events.

``load_stories`` reads the ``stories`` and ``rules`` of YAML files (the other keys of a Rasa
project's files, such as ``nlu`` or ``responses``, are skipped) into ``Story`` objects whose
events are small versions of Rasa's tracker events: ``UserUttered``, ``ActionExecuted``,
``SlotSet`` and ``ActiveLoop``. As Rasa's story reader and training data generator do, it expands
``or`` steps into one story per alternative, joins stories at checkpoints, and writes the implicit
``action_listen`` out: before every user turn, and at the end of every story and of every rule
that waits for user input. ``validate_stories`` checks stories against a ``Domain``;
the events themselves, and reading Rasa trackers into them, are in `events`.

Unusable data raises ``TrainingDataError`` naming the file, line, story or rule, and step;
doubtful data warns with ``TrainingDataWarning``, as the NLU reader in ``data.py`` does.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from diet_sparse.errors import StoriesError, TrainingDataWarning
from diet_sparse.rasa.domain import (
    ACTION_LISTEN,
    ENTITY_LABEL_SEPARATOR,
    OTHER_VALUE,
    Domain,
)

# The events live in events.py; they are imported from here too, as before.
from diet_sparse.rasa.events import (  # noqa: F401
    ActionExecuted,
    ActiveLoop,
    Entity,
    Event,
    SlotSet,
    UserUttered,
    events_from_tracker_json,
)
from diet_sparse.rasa.nlu_data import parse_markup
from diet_sparse.rasa.yaml_reading import (
    Item,
    check_top_level_keys,
    compose,
    describe,
    did_you_mean,
    is_null,
    line_of,
    mapping_fields,
    yaml_files,
    yaml_value,
)


@dataclass(frozen=True)
class Story:
    """A story or rule as a policy trains on it: one alternative of its ``or`` steps, joined
    with the stories its checkpoints lead to (then ``name`` joins their names with ``" > "``).

    ``source`` is the ``"file:line"`` where it starts. ``events`` include the implicit
    ``action_listen`` actions. Rules also have a ``condition`` (slot and active loop events that
    must hold before it applies) and the flags ``conversation_start`` (applies only at the start
    of a conversation) and ``wait_for_user_input`` (ends by listening).
    """

    name: str
    source: str
    events: tuple[Event, ...]
    is_rule: bool = False
    condition: tuple[Event, ...] = ()
    conversation_start: bool = False
    wait_for_user_input: bool = True
    metadata: dict | None = None


# --- Reading YAML --------------------------------------------------------------------------------

_PLURALS = {"story": "stories", "rule": "rules"}
_STORY_KEYS = ("story", "steps", "metadata")
_RULE_KEYS = ("rule", "steps", "metadata", "condition", "conversation_start", "wait_for_user_input")
# The kinds of steps, in the order Rasa's reader tries them (the first key present decides), and
# the keys a step of each kind may have.
_STEP_KEYS = {
    "user": ("intent", "user", "entities", "metadata"),
    "or": ("or",),
    "action": ("action", "metadata"),
    "bot": ("bot", "metadata"),
    "checkpoint": ("checkpoint", "slot_was_set"),
    "slot_was_set": ("slot_was_set",),
    "active_loop": ("active_loop",),
    "metadata": ("metadata",),
}
_ALL_STEP_KEYS = tuple(dict.fromkeys(key for keys in _STEP_KEYS.values() for key in keys))


@dataclass(frozen=True)
class _Checkpoint:
    name: str
    slots: dict  # slot -> value the slot must have for a story to go on from here
    source: str


@dataclass(eq=False)
class _Part:
    """A story or rule as written, before its ``or`` steps are expanded and it is joined to
    others at checkpoints."""

    name: str
    is_rule: bool
    source: str
    steps: list[list[tuple[Event, ...]]]  # for each step, its alternatives (several for `or`)
    start_checkpoints: list[_Checkpoint]
    end_checkpoints: list[_Checkpoint]
    condition: tuple[Event, ...] = ()
    conversation_start: bool = False
    wait_for_user_input: bool = True
    metadata: dict | None = None

    def variants(self) -> list[tuple[Event, ...]]:
        """The events of each combination of the alternatives of its ``or`` steps."""
        return [
            tuple(event for step in combination for event in step)
            for combination in itertools.product(*self.steps)
        ]


def load_stories(paths: str | Path | Sequence[str | Path]) -> list[Story]:
    """Read Rasa 3 YAML stories and rules from files and directories into ``Story`` objects.

    A directory stands for all ``*.yml`` and ``*.yaml`` files below it, sorted by path. Each
    file's ``stories`` and ``rules`` are read; its other Rasa keys are skipped. Steps: ``intent``
    (with ``entities``: ``{type: value}`` maps with optional ``role``/``group`` keys,
    ``{entity: type, value: ..., role: ..., group: ...}`` maps, or bare type names, whose value
    is ``""``) and/or ``user`` (the text; entities written in it as ``[span](type)`` markup are
    its entities), ``action``, ``bot``, ``slot_was_set`` (``{slot: value}`` maps, or bare slot
    names, which mean ``True``: set for text and list slots, true for bool slots), ``active_loop``
    (a form or ``null``), ``or`` (alternative intent or ``slot_was_set`` steps: the story is read
    once per alternative), ``checkpoint`` (first or last steps, with optional ``slot_was_set``
    conditions on the slots a story must have to go on from it) and ``metadata`` (ignored).
    Rules may have a ``condition`` (``slot_was_set`` / ``active_loop`` steps),
    ``conversation_start`` and ``wait_for_user_input``.

    A story ending in checkpoint X goes on with every story starting with X (whose conditions
    hold), and stories starting with a checkpoint are only read as such continuations, as Rasa's
    training data generator does. An intent ``/greet`` is read as ``greet``, and a retrieval
    intent ``faq/ask_price`` as ``faq``, with a warning each.

    Args:
        paths: A file, a directory, or a sequence of them.

    Returns:
        The stories and rules, each ``or`` alternative and each checkpoint path on its own, in
        the order they were read.

    Raises:
        TrainingDataError: A path does not exist, no file has ``stories`` or ``rules``, a
            top-level key is unknown, or a story is invalid (no steps, an unknown step key, a
            malformed step, a checkpoint in the middle of a story, a checkpoint that no story
            ends in or none starts from, checkpoints that lead in a circle); the message names
            the file, the line, the story or rule, and what is expected.

    Warns:
        TrainingDataWarning: An intent written with a leading ``/`` or as a retrieval intent.

    Example:
        >>> stories = load_stories(example_stories_file())
        >>> [(story.name, story.is_rule) for story in stories]
        [('greet', False), ('book', False), ('book', False), ('say hello', True)]
        >>> [getattr(event, "name", None) or event.intent for event in stories[2].events]
        ['action_listen', 'inform', 'utter_ask_date', 'action_listen']
        >>> stories[1].events[1].entities
        (Entity(type='city', value='Rome', role=None, group=None),)
    """
    parts: list[_Part] = []
    files = yaml_files(paths, "stories")
    files_with_stories = 0
    for path in files:
        found = _read_file(path)
        if found is not None:
            parts += found
            files_with_stories += 1
    if not files_with_stories:
        where = str(files[0]) if len(files) == 1 else f"any of the {len(files)} files"
        raise StoriesError(
            f"no 'stories' or 'rules' key in {where}; a stories file is a mapping with a "
            "'stories' list of items such as '- story: greet' (or 'rules' of '- rule: ...')"
        )
    return _join_at_checkpoints(parts)


def _read_file(path: Path) -> list[_Part] | None:
    """The stories and rules of one file; ``None`` if it has neither key."""
    root = compose(path)
    if root is None:
        raise StoriesError(f"{path} is empty; a stories file has a 'stories' or 'rules' list")
    fields = mapping_fields(root, path, "the top level of the file")
    check_top_level_keys(root, path)
    if "stories" not in fields and "rules" not in fields:
        return None
    parts = []
    for kind, key in _PLURALS.items():
        node = fields.get(key)
        if node is None or is_null(node):
            continue
        if not isinstance(node, yaml.SequenceNode):
            raise StoriesError(
                f"{path}:{line_of(node)}: '{key}' must be a list of items ('- {kind}: ...'), got "
                f"{describe(node)}"
            )
        parts += [_read_item(item_node, path, kind) for item_node in node.value]
    return parts


def _read_item(node: yaml.Node, path: Path, kind: str) -> _Part:
    """One ``- story:`` or ``- rule:`` item."""
    allowed = _RULE_KEYS if kind == "rule" else _STORY_KEYS
    fields = mapping_fields(node, path, f"a {kind}")
    if kind not in fields:
        raise StoriesError(
            f"{path}:{line_of(node)}: an item of '{_PLURALS[kind]}' needs a '{kind}' key with "
            f"its name (keys found: {', '.join(fields)})"
        )
    name = yaml_value(fields[kind])
    if not isinstance(name, str | int | float) or not str(name).strip():
        raise StoriesError(
            f"{path}:{line_of(node)}: the {kind} name must be a non-empty string, got "
            f"{describe(fields[kind])}"
        )
    item = Item(path, kind, str(name), line_of(node), StoriesError)
    for key, value in fields.items():
        if key not in allowed:
            raise item.error(
                f"unknown key {key!r}{did_you_mean(key, allowed)}; allowed keys: "
                f"{', '.join(allowed)}",
                line_of(value),
            )
    steps = fields.get("steps")
    if (
        steps is None
        or is_null(steps)
        or (isinstance(steps, yaml.SequenceNode) and not steps.value)
    ):
        raise item.error("has no steps; add 'steps:' with a list such as '- intent: greet'")
    if not isinstance(steps, yaml.SequenceNode):
        raise item.error(f"'steps' must be a list of steps, got {describe(steps)}", line_of(steps))

    part = _Part(
        name=str(name),
        is_rule=kind == "rule",
        source=f"{path}:{line_of(node)}",
        steps=[],
        start_checkpoints=[],
        end_checkpoints=[],
    )
    read = [(step, *_read_step(step, item)) for step in steps.value]
    for index, (step_node, step_kind, content) in enumerate(read):
        if step_kind == "checkpoint":
            before = [k for _, k, _ in read[:index]]
            after = [k for _, k, _ in read[index + 1 :]]
            if all(k == "checkpoint" for k in before):
                part.start_checkpoints.append(content)
            elif all(k == "checkpoint" for k in after):
                part.end_checkpoints.append(content)
            else:
                raise item.error(
                    f"checkpoint {content.name!r} is in the middle of the {kind}; checkpoints "
                    f"are the first or the last steps (split the {kind} there)",
                    line_of(step_node),
                )
        elif content:
            part.steps.append(content)
    if not part.steps:
        raise item.error("has only checkpoints; add the steps between them")

    if kind == "rule":
        part.condition = _read_condition(fields.get("condition"), item)
        for flag in ("conversation_start", "wait_for_user_input"):
            if flag in fields:
                value = yaml_value(fields[flag])
                if not isinstance(value, bool):
                    raise item.error(
                        f"'{flag}' must be true or false, got {describe(fields[flag])}",
                        line_of(fields[flag]),
                    )
                setattr(part, flag, value)
    if "metadata" in fields and not is_null(fields["metadata"]):
        part.metadata = yaml_value(fields["metadata"])
        if not isinstance(part.metadata, dict):
            raise item.error(
                f"'metadata' must be a mapping, got {describe(fields['metadata'])}",
                line_of(fields["metadata"]),
            )
    return part


def _read_step(node: yaml.Node, item: Item) -> tuple[str, Any]:
    """A step's kind and what it holds: its alternatives (each a tuple of events) or, for a
    checkpoint, the ``_Checkpoint``."""
    if isinstance(node, yaml.ScalarNode):
        raise item.error(
            f"step {node.value!r} is not a mapping; write steps as '- action: ...' or "
            "'- intent: ...' ('...' rule snippets are not supported)",
            line_of(node),
        )
    fields = mapping_fields(node, item.path, f"a step of {item.kind} {item.name!r}")
    step_kind = _step_kind(fields)
    if step_kind is None:
        key = next(iter(fields), "")
        raise item.error(
            f"unknown step key {key!r}{did_you_mean(key, _ALL_STEP_KEYS)}; a step is one of: "
            "intent (and/or user), or, action, bot, checkpoint, slot_was_set, active_loop",
            line_of(node),
        )
    for key, value in fields.items():
        if key not in _STEP_KEYS[step_kind]:
            raise item.error(
                f"a {step_kind} step cannot have the key {key!r}"
                f"{did_you_mean(key, _STEP_KEYS[step_kind])}; allowed keys: "
                f"{', '.join(_STEP_KEYS[step_kind])}",
                line_of(value),
            )
    source = f"{item.path}:{line_of(node)}"
    if step_kind == "user":
        return step_kind, [(_user_uttered(fields, item, source),)]
    if step_kind == "or":
        return step_kind, _or_alternatives(fields["or"], item)
    if step_kind == "action":
        name = _text(fields["action"], item, "action")
        return step_kind, [(ActionExecuted(name, source=source),)]
    if step_kind == "bot":
        text = _text(fields["bot"], item, "bot")
        return step_kind, [(ActionExecuted(None, text, source=source),)]
    if step_kind == "checkpoint":
        name = _text(fields["checkpoint"], item, "checkpoint")
        conditions = fields.get("slot_was_set")
        slots = (
            {} if conditions is None else {e.name: e.value for e in _slot_events(conditions, item)}
        )
        return step_kind, _Checkpoint(name, slots, source)
    if step_kind == "slot_was_set":
        return step_kind, [tuple(_slot_events(fields["slot_was_set"], item))]
    if step_kind == "active_loop":
        return step_kind, [(_active_loop(fields["active_loop"], item, source),)]
    return step_kind, []  # metadata: nothing happens


def _step_kind(fields: dict[str, yaml.Node]) -> str | None:
    if "intent" in fields or "user" in fields:
        return "user"
    return next((kind for kind in _STEP_KEYS if kind in fields), None)


def _user_uttered(fields: dict[str, yaml.Node], item: Item, source: str) -> UserUttered:
    intent = _intent(fields["intent"], item) if "intent" in fields else None
    text = None
    entities: tuple[Entity, ...] = ()
    if "user" in fields:
        written = _text(fields["user"], item, "user")
        text, annotations = parse_markup(written.strip(), f"{source}: {item.kind} {item.name!r}")
        entities = tuple(Entity(a.entity, a.value, a.role, a.group) for a in annotations)
    if "entities" in fields and not entities:
        entities = _entities(fields["entities"], item)
    return UserUttered(intent, entities, text, source=source)


def _intent(node: yaml.Node, item: Item) -> str:
    """The intent of a step; ``/greet`` and retrieval intents ``faq/ask_x`` warn."""
    intent = _text(node, item, "intent").strip()
    where = f"{item.path}:{line_of(node)}: {item.kind} {item.name!r}"
    if intent.startswith("/"):
        _warn(
            f"{where}: intent {intent!r} starts with '/', which is not needed in stories; it is "
            f"read as {intent[1:]!r}"
        )
        intent = intent[1:]
    if "/" in intent:
        base = intent.split("/")[0]
        _warn(
            f"{where}: {intent!r} is a retrieval intent; stories use the retrieval intent "
            f"itself, so it is read as {base!r}"
        )
        intent = base
    if not intent:
        raise item.error("empty intent name", line_of(node))
    return intent


def _entities(node: yaml.Node, item: Item) -> tuple[Entity, ...]:
    """``entities``: ``- type: value`` (optional ``role``/``group`` keys), ``- {entity: type,
    value: ..., role: ..., group: ...}``, or ``- type``."""
    if not isinstance(node, yaml.SequenceNode):
        raise item.error(f"'entities' must be a list, got {describe(node)}", line_of(node))
    entities = []
    for entry in node.value:
        if isinstance(entry, yaml.ScalarNode) and not is_null(entry):
            entities.append(Entity(_text(entry, item, "entity"), ""))
            continue
        written = yaml_value(entry) if isinstance(entry, yaml.MappingNode) else None
        if not written:
            raise item.error(
                f"an entity is 'type: value' or a type name, got {describe(entry)}", line_of(entry)
            )
        labels = {key: written.pop(key, None) for key in ("role", "group")}
        if set(written) == {"entity", "value"}:
            entity_type, value = written["entity"], written["value"]
        elif len(written) == 1:
            entity_type, value = next(iter(written.items()))
        else:
            raise item.error(
                f"an entity is one 'type: value' pair (and optional role and group), got the "
                f"keys {', '.join(map(str, written))}; list each entity on its own '- ' line",
                line_of(entry),
            )
        for key, label in [("type", entity_type), *labels.items()]:
            if label is not None and (not isinstance(label, str) or not label.strip()):
                raise item.error(
                    f"the entity {key} must be a non-empty string, got {label!r}", line_of(entry)
                )
        entities.append(Entity(entity_type, value, labels["role"], labels["group"]))
    return tuple(entities)


def _slot_events(node: yaml.Node, item: Item) -> list[SlotSet]:
    """``slot_was_set``: ``- slot: value`` maps, or bare slot names (value ``True``)."""
    if not isinstance(node, yaml.SequenceNode):
        raise item.error(
            f"'slot_was_set' must be a list such as '- slot: value', got {describe(node)}",
            line_of(node),
        )
    events = []
    for entry in node.value:
        source = f"{item.path}:{line_of(entry)}"
        if isinstance(entry, yaml.MappingNode):
            for key, value in entry.value:
                name = _text(key, item, "slot")
                events.append(SlotSet(name, yaml_value(value), source=source))
        elif isinstance(entry, yaml.ScalarNode) and not is_null(entry):
            events.append(SlotSet(_text(entry, item, "slot"), True, source=source))
        else:
            raise item.error(
                f"a 'slot_was_set' entry is 'slot: value' or a slot name, got {describe(entry)}",
                line_of(entry),
            )
    return events


def _active_loop(node: yaml.Node, item: Item, source: str) -> ActiveLoop:
    if is_null(node):
        return ActiveLoop(None, source=source)
    return ActiveLoop(_text(node, item, "active_loop"), source=source)


def _or_alternatives(node: yaml.Node, item: Item) -> list[tuple[Event, ...]]:
    """The alternatives of an ``or`` step: intent steps and ``slot_was_set`` steps."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise item.error(
            f"'or' must be a list of alternative steps ('- intent: ...' or '- slot_was_set: "
            f"...'), got {describe(node)}",
            line_of(node),
        )
    alternatives = []
    for entry in node.value:
        step_kind, content = _read_step(entry, item)
        if step_kind == "user" and content[0][0].intent is not None:
            alternatives += content
        elif step_kind == "slot_was_set":
            alternatives += content
        else:
            raise item.error(
                "an 'or' alternative is an intent step ('- intent: ...') or a 'slot_was_set' "
                f"step, got a {step_kind} step",
                line_of(entry),
            )
    return alternatives


def _read_condition(node: yaml.Node | None, item: Item) -> tuple[Event, ...]:
    if node is None or is_null(node):
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise item.error(
            f"'condition' must be a list of steps, got {describe(node)}", line_of(node)
        )
    events: list[Event] = []
    for entry in node.value:
        step_kind, content = _read_step(entry, item)
        if step_kind not in ("slot_was_set", "active_loop"):
            raise item.error(
                f"a condition is a 'slot_was_set' or 'active_loop' step, got a {step_kind} step",
                line_of(entry),
            )
        events += content[0]
    return tuple(events)


def _text(node: yaml.Node, item: Item, key: str) -> str:
    value = yaml_value(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # e.g. a story named 2019, a bot text "42"
    if not isinstance(value, str) or not value.strip():
        raise item.error(f"'{key}' must be a non-empty string, got {describe(node)}", line_of(node))
    return value


def _warn(message: str) -> None:
    warnings.warn(message, TrainingDataWarning, stacklevel=4)


# --- Checkpoints and implicit action_listen ------------------------------------------------------


def _join_at_checkpoints(parts: list[_Part]) -> list[Story]:
    """Every path from a part without start checkpoints through the checkpoints to a part
    without end checkpoints, one per combination of ``or`` alternatives."""
    starting: dict[tuple[bool, str], list[tuple[_Part, _Checkpoint]]] = defaultdict(list)
    for part in parts:
        for checkpoint in part.start_checkpoints:
            starting[part.is_rule, checkpoint.name].append((part, checkpoint))
    ending = {(p.is_rule, c.name): (p, c) for p in parts for c in p.end_checkpoints}
    for key, [(part, checkpoint), *_] in starting.items():
        if key not in ending:
            raise _checkpoint_error(part, checkpoint, "starts", "ends in")
    for key, (part, checkpoint) in ending.items():
        if key not in starting:
            raise _checkpoint_error(part, checkpoint, "ends", "starts with")

    stories: list[Story] = []

    def follow(path: list[_Part], events: tuple[Event, ...]) -> None:
        part = path[-1]
        for variant in part.variants():
            so_far = events + variant
            if not part.end_checkpoints:
                stories.append(_story(path, so_far))
            for checkpoint in part.end_checkpoints:
                for following, start in starting[part.is_rule, checkpoint.name]:
                    if following in path:
                        names = " > ".join(p.name for p in [*path, following])
                        raise StoriesError(
                            f"{start.source}: checkpoint {checkpoint.name!r} leads in a circle "
                            f"({names}); stories joined at checkpoints must end somewhere"
                        )
                    if _slots_hold(start.slots, so_far):
                        follow([*path, following], so_far)

    for part in parts:
        if not part.start_checkpoints:
            follow([part], ())
    return stories


def _checkpoint_error(part: _Part, checkpoint: _Checkpoint, verb: str, other_verb: str):
    kind = "rule" if part.is_rule else "story"
    return StoriesError(
        f"{checkpoint.source}: {kind} {part.name!r}: checkpoint {checkpoint.name!r} {verb} it, "
        f"but no {kind} {other_verb} it; check the name or add the {kind} that "
        f"{other_verb.split()[0]} there"
    )


def _slots_hold(slots: dict, events: Iterable[Event]) -> bool:
    """Whether the slots have the given values at the end of ``events``."""
    values: dict[str, Any] = {}
    for event in events:
        if isinstance(event, SlotSet):
            values[event.name] = event.value
    return all(values.get(name) == value for name, value in slots.items())


def _story(path: list[_Part], events: tuple[Event, ...]) -> Story:
    first, last = path[0], path[-1]
    return Story(
        name=" > ".join(part.name for part in path),
        source=first.source,
        events=_with_action_listens(events, listen_at_end=last.wait_for_user_input),
        is_rule=first.is_rule,
        condition=first.condition,
        conversation_start=first.conversation_start,
        wait_for_user_input=last.wait_for_user_input,
        metadata=first.metadata,
    )


def _with_action_listens(events: Iterable[Event], listen_at_end: bool) -> tuple[Event, ...]:
    """Rasa's implicit ``action_listen``: before each user turn (unless one is there) and at
    the end."""
    written: list[Event] = []
    for event in events:
        if isinstance(event, UserUttered) and not (written and _is_listen(written[-1])):
            written.append(ActionExecuted(ACTION_LISTEN))
        written.append(event)
    if listen_at_end and not (written and _is_listen(written[-1])):
        written.append(ActionExecuted(ACTION_LISTEN))
    return tuple(written)


def _is_listen(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.name == ACTION_LISTEN


def with_entity_slots(events: Iterable[Event], domain: Domain) -> tuple[Event, ...]:
    """The events with the slots that Rasa fills from entities in training stories.

    Rasa's training data generator adds, after each user turn of a story, a ``SlotSet`` for
    every slot with an unconditional ``from_entity`` mapping that matches one of the turn's
    entities (``Domain.slots_for_entities``). Stories leave these implicit; a policy that
    trains on stories needs them. Trackers from Rasa already hold them.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> domain = load_domain(example_domain_file())
        >>> with_entity_slots([UserUttered("book", (Entity("seat", "aisle"),))], domain)[1:]
        (SlotSet(name='seat', value='aisle'),)
    """
    with_slots: list[Event] = []
    for event in events:
        with_slots.append(event)
        if isinstance(event, UserUttered):
            filled = domain.slots_for_entities(event.entities)
            with_slots += [SlotSet(name, value, source=event.source) for name, value in filled]
    return tuple(with_slots)


# --- Validation against a domain ------------------------------------------------------------------


def validate_stories(stories: Sequence[Story], domain: Domain) -> None:
    """Check that stories and rules use only what the domain declares, with fitting values.

    Every intent, entity (with its role and group), action, slot and active loop must be in
    the domain (Rasa's default intents, actions and loops count as declared), and every slot
    value must fit its slot's type. Then two stories (not rules) that take different actions
    after the same history are reported: the history is the sequence of intents with the entity
    labels their intent uses, actions, featurized slot values (also those ``with_entity_slots``
    adds) and active loops, from the start.

    Args:
        stories: What ``load_stories`` returned.
        domain: What ``load_domain`` returned.

    Raises:
        TrainingDataError: The first problem found; the message names the file, the line, the
            story or rule, the step, and what the domain declares.

    Warns:
        TrainingDataWarning: A categorical slot is set to a value it does not declare (it is
            featurized as ``__other__``, as in Rasa), a float slot to a value outside its range,
            or two stories take different actions after the same history.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> domain = load_domain(example_domain_file())
        >>> stories = load_stories(example_stories_file())
        >>> validate_stories(stories, domain)
        Traceback (most recent call last):
        ...
        diet_sparse.errors.StoriesError: ...: story 'book': step 'action: utter_ask_date': \
action 'utter_ask_date' is not in the domain; declare it under 'actions' or 'responses'
    """
    warned: set[str] = set()
    for story in stories:
        for where, events in (("condition", story.condition), ("step", story.events)):
            for event in events:
                problem = _domain_problem(event, domain)
                if problem is None:
                    continue
                kind = "rule" if story.is_rule else "story"
                location = f"{event.source}: {kind} {story.name!r}: {where} {_step_text(event)!r}"
                if problem.startswith("warning: "):
                    message = f"{location}: {problem.removeprefix('warning: ')}"
                    if message not in warned:
                        warned.add(message)
                        warnings.warn(message, TrainingDataWarning, stacklevel=2)
                else:
                    raise StoriesError(f"{location}: {problem}")
    _warn_about_conflicts(stories, domain)


def check_no_end_to_end_steps(stories: Sequence[Story]) -> None:
    """Refuse stories and rules to train on that hold end-to-end steps: a ``user:`` text without
    an intent, or a ``bot:`` text. diet-sparse's policy learns from intents and actions by name
    (Rasa's TED trains on texts too, end to end); test stories may hold ``user:`` texts, which
    the NLU model parses (`diet-sparse test`).

    Raises:
        StoriesError: the first such step, with its file, line, story and what to write.
    """
    for story in stories:
        kind = "rule" if story.is_rule else "story"
        for event in (*story.condition, *story.events):
            if isinstance(event, UserUttered) and event.intent is None:
                fix = "add 'intent: <name>' to the step"
            elif isinstance(event, ActionExecuted) and event.name is None:
                fix = "write the action instead, e.g. 'action: utter_greet'"
            else:
                continue
            raise StoriesError(
                f"{event.source}: {kind} {story.name!r}: step {_step_text(event)!r} is an "
                "end-to-end step, which diet-sparse does not train on (intents and actions by "
                f"name only); {fix}"
            )


def _domain_problem(event: Event, domain: Domain) -> str | None:
    """What is wrong with an event for this domain ("warning: ..." if it is only doubtful)."""
    if isinstance(event, UserUttered):
        if event.intent is not None and event.intent not in domain.intents:
            return (
                f"intent {event.intent!r} is not in the domain"
                f"{did_you_mean(event.intent, domain.intents)}; declare it under 'intents'"
            )
        for entity in event.entities:
            if entity.type not in domain.entities:
                return (
                    f"entity {entity.type!r} is not in the domain"
                    f"{did_you_mean(entity.type, domain.entities)}; declare it under 'entities'"
                )
            for label, declared in (("role", domain.roles), ("group", domain.groups)):
                value = getattr(entity, label)
                if value is not None and value not in declared.get(entity.type, ()):
                    return (
                        f"entity {entity.type!r} has no {label} {value!r} in the domain; add it "
                        f"to the {label}s of {entity.type!r} under 'entities'"
                    )
    elif isinstance(event, ActionExecuted):
        if event.name is not None and event.name not in domain.action_names:
            return (
                f"action {event.name!r} is not in the domain"
                f"{did_you_mean(event.name, domain.action_names)}; declare it under 'actions' "
                "or 'responses'"
            )
    elif isinstance(event, SlotSet):
        slot = domain.slots.get(event.name)
        if slot is None:
            return (
                f"slot {event.name!r} is not in the domain"
                f"{did_you_mean(event.name, list(domain.slots))}; declare it under 'slots'"
            )
        try:
            slot.check_value(event.value)
        except ValueError as error:
            return str(error)
        if event.value is None:
            return None
        if slot.type == "categorical" and slot.category(event.value) == OTHER_VALUE:
            if str(event.value).casefold() != OTHER_VALUE:
                return (
                    f"warning: {event.value!r} is not one of the values of categorical slot "
                    f"{slot.name!r} ({', '.join(slot.values[:-1])}); it is featurized as "
                    f"{OTHER_VALUE!r}"
                )
        if slot.type == "float" and not slot.min_value <= float(event.value) <= slot.max_value:
            return (
                f"warning: {event.value!r} is outside [{slot.min_value}, {slot.max_value}] of "
                f"float slot {slot.name!r}; it is featurized as the nearest bound"
            )
    elif event.name is not None and event.name not in domain.loop_names:
        return (
            f"active loop {event.name!r} is not a form of the domain"
            f"{did_you_mean(event.name, domain.loop_names)}; declare it under 'forms'"
        )
    return None


def _step_text(event: Event) -> str:
    """The step an event was written as, e.g. ``action: utter_greet``."""
    if isinstance(event, UserUttered):
        return f"intent: {event.intent}" if event.intent is not None else f"user: {event.text}"
    if isinstance(event, ActionExecuted):
        return f"action: {event.name}" if event.name is not None else f"bot: {event.text}"
    if isinstance(event, SlotSet):
        return f"slot_was_set: {event.name}"
    return f"active_loop: {event.name}"


def _warn_about_conflicts(stories: Sequence[Story], domain: Domain) -> None:
    """Warn once per history after which two stories take different actions."""
    first_seen: dict[tuple, tuple[str, Story]] = {}  # history -> action taken, story
    reported: set[tuple] = set()
    for story in stories:
        if story.is_rule:
            continue  # rules are for rule policies; a policy like TED trains on stories only
        history: list[tuple] = []
        for event in with_entity_slots(story.events, domain):
            if isinstance(event, ActionExecuted):
                action = event.name if event.name is not None else f"bot: {event.text}"
                key = tuple(history)
                known_action, other = first_seen.setdefault(key, (action, story))
                # Like Rasa, not at the start: a story may begin with any action.
                if known_action != action and history and key not in reported:
                    reported.add(key)
                    warnings.warn(
                        f"stories {other.name!r} ({other.source}) and {story.name!r} "
                        f"({story.source}) have the same history but then take different "
                        f"actions after {history[-1][1]!r}: {known_action!r} and {action!r}; a "
                        "policy cannot learn both, so make them agree or let an earlier event "
                        "tell them apart",
                        TrainingDataWarning,
                        stacklevel=3,
                    )
            entry = _history_entry(event, domain)
            if entry is not None:
                history.append(entry)


def _history_entry(event: Event, domain: Domain) -> tuple | None:
    """What a policy sees of an event (``None``: nothing)."""
    if isinstance(event, UserUttered):
        labels = set()
        for entity in event.entities:
            labels.add(entity.type)
            for label in (entity.role, entity.group):
                if label is not None:
                    labels.add(f"{entity.type}{ENTITY_LABEL_SEPARATOR}{label}")
        used = labels & set(domain.entities_used_by(event.intent))
        name = event.intent if event.intent is not None else event.text
        return ("user", name, tuple(sorted(used)))
    if isinstance(event, ActionExecuted):
        return ("action", event.name if event.name is not None else f"bot: {event.text}")
    if isinstance(event, SlotSet):
        slot = domain.slots.get(event.name)
        if slot is None or slot.feature_size == 0:
            return None
        return ("slot", event.name, tuple(slot.features(event.value)))
    return ("active_loop", event.name)


@functools.cache
def example_stories_file() -> Path:
    """A small stories file for the docstring examples."""
    path = Path(tempfile.mkdtemp()) / "stories.yml"
    path.write_text(
        """
version: "3.1"
stories:
- story: greet
  steps:
  - intent: greet
  - action: utter_greet
- story: book
  steps:
  - or:
    - intent: book
      entities:
      - city: Rome
    - intent: inform
  - action: utter_ask_date
rules:
- rule: say hello
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
""",
        encoding="utf-8",
    )
    return path
