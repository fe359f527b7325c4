"""The dialogue domain: reading Rasa 3 ``domain.yml`` files into a ``Domain``.

A domain says what a dialogue policy sees and what it chooses from: the intents and the entities
each intent uses, entities with their roles and groups, slots and the features a policy sees of
them, responses, forms, and the action names (Rasa's default actions first, ``action_listen`` at
index 0). ``load_domain`` reads one file or several files and folders and merges them as Rasa's
``Domain.load`` does, then the ``responses`` of the training data files as Rasa's
``ResponsesSyncImporter`` does; a domain that cannot be used raises ``TrainingDataError`` naming
the file, the line and the key, as the NLU reader in ``nlu_data.py`` does.

Where this differs from Rasa 3 (on purpose, and only in what Rasa would accept):

- ``action_names`` puts forms right after the custom actions and sorts the responses after them,
  as Rasa's docs describe; Rasa 3's code sorts the responses first and appends the forms after
  them. Retrieval responses (``utter_faq/ask_x``) are not actions; their retrieval action
  (``utter_faq``) is, as Rasa adds it from the retrieval intents of the NLU data.
- ``intents`` keep the order of the files, followed by Rasa's default intents (Rasa sorts them).
  Of Rasa's default slots only ``requested_slot`` is added (for forms); none has features.
- A name defined differently in two domain files: the first file's definition is used (files
  are read in path order; Rasa reads a folder in the order the file system lists it) and a
  warning names both places. Rasa warns about repeated names even when the definitions are the
  same; here only a difference is said. ``config: store_entities_as_slots`` is taken from the
  first file that sets it (Rasa takes only the ``config`` of the first file it reads).
- Retrieval intents of the training data (``faq`` of ``faq/ask_x``) that the domain does not
  declare are added to its intents, as Rasa does; their retrieval action (``utter_faq``) is
  added only when the responses have one of its responses (Rasa adds it always).
- Values are read as Rasa's YAML 1.2 reader reads them: ``yes``/``no``/``on``/``off`` are text.
"""

from __future__ import annotations

import datetime
import functools
import re
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from diet_sparse.errors import DomainError, TrainingDataWarning
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

# A slot named in a response's text, as Rasa's interpolator finds it: "{destination}".
SLOT_REFERENCE = re.compile(r"\{([^\n{}]+?)\}")

# Rasa 3.0's DEFAULT_ACTION_NAMES (rasa/shared/core/constants.py) in its order, without the rule
# snippet marker "...", which only stands for "any steps" in rules and is never predicted. Later
# Rasa versions insert more (e.g. action_send_text after action_back). Policies rely on
# action_listen being index 0.
DEFAULT_ACTION_NAMES = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_extract_slots",
)
ACTION_LISTEN = DEFAULT_ACTION_NAMES[0]
ACTION_DEFAULT_FALLBACK = DEFAULT_ACTION_NAMES[3]
# faq/ask_price: a retrieval intent's sub-intent; utter_faq/ask_price: the response of utter_faq
RETRIEVAL_SEPARATOR = "/"
# Intents every Rasa domain has, declared or not (rasa/shared/core/constants.py DEFAULT_INTENTS).
DEFAULT_INTENTS = ("restart", "back", "out_of_scope", "session_start", "nlu_fallback")
# Default actions that run as loops, so stories may set them as the active loop.
DEFAULT_LOOPS = ("action_two_stage_fallback",)
# The slot a form sets to the slot it asks for; Rasa adds it (unfeaturized) to domains with forms.
REQUESTED_SLOT = "requested_slot"
SLOT_TYPES = ("text", "bool", "categorical", "float", "list", "any")
# The extra value of every categorical slot: any value not listed is featurized as this one.
OTHER_VALUE = "__other__"
ENTITY_LABEL_SEPARATOR = "#"  # "city#from": entity "city" with role (or group) "from"

_DOMAIN_KEYS = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "e2e_actions",
    "session_config",
    "config",
)
_INTENT_KEYS = ("use_entities", "ignore_entities", "is_retrieval_intent")
_ENTITY_KEYS = ("roles", "groups", "influence_conversation")
_SLOT_KEYS = (
    "type",
    "values",
    "min_value",
    "max_value",
    "influence_conversation",
    "initial_value",
    "mappings",
)
_FORM_KEYS = ("required_slots", "ignored_intents")
# Rasa's SessionConfig.default().as_dict(): a domain file whose session_config is this one does not
# replace another file's (Domain.merge_domain_dicts).
_DEFAULT_SESSION_CONFIG = {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}
# What makes a training data file worth parsing here: top-level responses, or a retrieval intent.
_DATA_FOR_THE_DOMAIN = re.compile(r"^responses\s*:|intent\s*:\s*[\"']?[^\s\"'/]+/", re.M)


@dataclass(frozen=True)
class Slot:
    """A slot: a value the dialogue remembers, and the features a dialogue policy sees of it.

    ``values`` (categorical slots) are the declared values followed by ``"__other__"``, which
    stands for every value not declared; ``min_value`` and ``max_value`` scale a float slot.
    ``mappings`` are kept as written (they say how Rasa fills the slot; nothing runs them here).
    """

    name: str
    type: str  # one of SLOT_TYPES
    values: tuple[str, ...] = ()
    min_value: float = 0.0
    max_value: float = 1.0
    influence_conversation: bool = True
    initial_value: Any = None
    mappings: tuple[dict, ...] = ()

    @property
    def feature_size(self) -> int:
        """How many features ``features`` returns: 0 for ``any`` and non-influencing slots.

        Example:
            >>> Slot("confirmed", "bool").feature_size, Slot("notes", "any").feature_size
            (2, 0)
        """
        if not self.influence_conversation or self.type == "any":
            return 0
        if self.type in ("bool", "float"):
            return 2
        if self.type == "categorical":
            return len(self.values)
        return 1  # text and list: is the slot set

    def features(self, value: Any) -> list[float]:
        """The slot's features for ``value`` (``None`` = not set), as Rasa 3's slots make them.

        text: [is set]; list: [is not empty]; bool: [is set, value]; float: [is set, value
        clipped to [min_value, max_value] and scaled to [0, 1]]; categorical: one-hot over
        ``values`` (case-insensitive; an undeclared value counts as ``"__other__"``). A value
        that cannot be read as the slot's type gives the features of an unset slot, as in Rasa.

        Example:
            >>> Slot("price", "float", min_value=0.0, max_value=200.0).features(50)
            [1.0, 0.25]
            >>> Slot("confirmed", "bool").features("no")
            [1.0, 0.0]
            >>> Slot("size", "categorical", values=("small", "large", "__other__")).features("Huge")
            [0.0, 0.0, 1.0]
        """
        size = self.feature_size
        if size == 0:
            return []
        if value is None:
            return [0.0] * size
        if self.type == "text":
            return [1.0]
        if self.type == "list":
            return [1.0 if value else 0.0]
        if self.type == "bool":
            try:
                return [1.0, float(_as_bool(value))]
            except ValueError:
                return [0.0, 0.0]
        if self.type == "float":
            try:
                number = float(value)
            except (TypeError, ValueError):
                return [0.0, 0.0]
            clipped = min(max(number, self.min_value), self.max_value)
            width = (self.max_value - self.min_value) or 1.0
            return [1.0, (clipped - self.min_value) / width]
        one_hot = [0.0] * size
        category = self.category(value)
        if category in self.values:
            one_hot[self.values.index(category)] = 1.0
        return one_hot

    def category(self, value: Any) -> str:
        """The value of ``values`` that ``value`` stands for: the same text ignoring case, else
        ``"__other__"`` (categorical slots).

        Example:
            >>> Slot("size", "categorical", values=("small", "__other__")).category("SMALL")
            'small'
        """
        text = str(value).casefold()
        for declared in self.values:
            if declared.casefold() == text:
                return declared
        return OTHER_VALUE

    def check_value(self, value: Any) -> None:
        """Raise ``ValueError`` saying what is expected if ``value`` cannot be this slot's value.

        Bool slots take true/false, yes/no or numbers (1 is true), float slots numbers; ``None``
        (unset) fits every slot. Categorical slots take any value (undeclared ones count as
        ``"__other__"``), and text, list and any slots take anything.

        Example:
            >>> Slot("confirmed", "bool").check_value("maybe")
            Traceback (most recent call last):
            ...
            ValueError: slot 'confirmed' is bool: expected true/false, yes/no or 1/0, got 'maybe'
        """
        if value is None:
            return
        if self.type == "bool":
            try:
                _as_bool(value)
            except ValueError:
                raise ValueError(
                    f"slot {self.name!r} is bool: expected true/false, yes/no or 1/0, got {value!r}"
                ) from None
        elif self.type == "float":
            try:
                float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"slot {self.name!r} is float: expected a number, got {value!r}"
                ) from None


def _as_bool(value: Any) -> bool:
    """Rasa's ``bool_from_any``: booleans, numbers (1 is true) and true/false/yes/no text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1.0
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isnumeric():
            return float(text) == 1.0
        if text in ("true", "yes"):
            return True
        if text in ("false", "no"):
            return False
    raise ValueError(f"cannot read {value!r} as true or false")


@dataclass(frozen=True)
class Domain:
    """What a dialogue policy sees and chooses from, read from ``domain.yml`` files.

    ``intents`` are the declared intents followed by Rasa's default intents that were not
    declared. ``used_entities`` maps each intent to the entity labels it uses (entity names and
    ``entity#role`` / ``entity#group`` labels, sorted), after its ``use_entities`` /
    ``ignore_entities``. ``responses`` maps each response to its variations, each a mapping as
    written (``text``, ``buttons``, ``image``, ``custom``, ``condition``, ``channel``, ...).
    ``forms`` maps each form to its required slots, ``form_ignored_intents`` a form to its
    ``ignored_intents`` where it has any (messages with them fill no slot while the form is
    active). ``action_names`` is the list a policy predicts from: Rasa's default actions, then
    the custom ``actions`` and the forms, then the ``utter_`` responses (sorted), each once.
    """

    intents: tuple[str, ...]
    entities: tuple[str, ...]
    roles: dict[str, tuple[str, ...]]
    groups: dict[str, tuple[str, ...]]
    used_entities: dict[str, tuple[str, ...]]
    slots: dict[str, Slot]
    responses: dict[str, tuple[dict[str, Any], ...]]
    actions: tuple[str, ...]
    forms: dict[str, tuple[str, ...]]
    action_names: tuple[str, ...]
    action_texts: tuple[str, ...] = ()  # e2e_actions: bot texts used as actions
    form_ignored_intents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    store_entities_as_slots: bool = True  # config: fill slots from entities (slots_for_entities)
    session_config: dict = field(default_factory=dict)  # read, not used
    version: str | None = None

    @property
    def entity_states(self) -> list[str]:
        """Entity labels a policy sees: entities, then ``entity#role``, then ``entity#group``
        labels (Rasa's ``Domain.entity_states``).

        Example:
            >>> domain = load_domain(example_domain_file())
            >>> domain.entity_states
            ['city', 'date', 'city#from', 'city#to']
        """
        return (
            list(self.entities)
            + [f"{e}{ENTITY_LABEL_SEPARATOR}{r}" for e, roles in self.roles.items() for r in roles]
            + [
                f"{e}{ENTITY_LABEL_SEPARATOR}{g}"
                for e, groups in self.groups.items()
                for g in groups
            ]
        )

    @property
    def initial_slot_values(self) -> dict[str, Any]:
        """Every slot's ``initial_value`` (``None``: unset), by name, in declaration order."""
        return {name: slot.initial_value for name, slot in self.slots.items()}

    @property
    def slot_states(self) -> list[str]:
        """A name for each slot feature, ``<slot>_<index>``, in the order slots are declared.

        Example:
            >>> load_domain(example_domain_file()).slot_states
            ['confirmed_0', 'confirmed_1', 'seat_0', 'seat_1', 'seat_2', 'seat_3']
        """
        return [
            f"{slot.name}_{index}"
            for slot in self.slots.values()
            for index in range(slot.feature_size)
        ]

    @property
    def loop_names(self) -> tuple[str, ...]:
        """What can be an active loop: the forms and Rasa's default loops.

        Example:
            >>> load_domain(example_domain_file()).loop_names
            ('booking_form', 'action_two_stage_fallback')
        """
        return tuple(self.forms) + DEFAULT_LOOPS

    @property
    def mapping_actions(self) -> tuple[str, ...]:
        """The actions the slots' ``custom`` mappings name, each once in the order of the slots:
        Rasa's ``action_extract_slots`` calls them on the action server whether the domain's
        ``actions`` lists them or not.

        Example:
            >>> load_domain(example_domain_file()).mapping_actions
            ()
        """
        names = (
            mapping["action"]
            for slot in self.slots.values()
            for mapping in slot.mappings
            if mapping.get("type") == "custom" and isinstance(mapping.get("action"), str)
        )
        return tuple(dict.fromkeys(names))

    def slots_for_entities(self, entities: Iterable[Sequence]) -> list[tuple[str, Any]]:
        """The slots Rasa fills from a user turn's entities when it turns stories into training
        dialogues: each slot with a ``from_entity`` mapping (without an ``active_loop``
        condition) whose entity, role and group match, with the last matching value (all of
        them for a list slot). Live trackers get these slot events from Rasa itself.

        Args:
            entities: ``(type, value, role, group)`` of each entity.

        Returns:
            ``(slot, value)`` pairs, in the order the slots are declared.

        Example:
            >>> domain = load_domain(example_domain_file())
            >>> entities = [("seat", "aisle", None, None), ("city", "Rome", None, None)]
            >>> domain.slots_for_entities(entities)
            [('seat', 'aisle')]
        """
        if not self.store_entities_as_slots:
            return []
        entities = [tuple(entity) + (None,) * (4 - len(entity)) for entity in entities]
        filled = []
        for slot in self.slots.values():
            values = [
                value
                for mapping in slot.mappings
                if mapping.get("type") == "from_entity" and not _needs_active_loop(mapping)
                for value in values_for_mapping(mapping, entities)
            ]
            if values:
                filled.append((slot.name, values if slot.type == "list" else values[-1]))
        return filled

    def entities_used_by(self, intent: str) -> tuple[str, ...]:
        """The entity labels a policy sees with ``intent``; all of them for an unknown intent.

        Example:
            >>> domain = load_domain(example_domain_file())
            >>> domain.entities_used_by("book"), domain.entities_used_by("greet")
            (('city', 'city#from', 'city#to', 'date'), ())
        """
        if intent in self.used_entities:
            return self.used_entities[intent]
        return tuple(sorted(self.entity_states))


def load_domain(
    paths: str | Path | Sequence[str | Path],
    data: str | Path | Sequence[str | Path] | None = None,
) -> Domain:
    """Read a Rasa 3 domain from YAML files and directories, merging them into one ``Domain``,
    with the responses and retrieval intents of the training data ``data``, as ``rasa train``
    builds the domain it trains with.

    A directory stands for all ``*.yml`` and ``*.yaml`` files below it, sorted by path. Keys of
    the other Rasa files (``nlu``, ``stories``, ``rules``) are skipped, so a file may mix them.
    Read keys: ``version``, ``intents`` (names, or ``name: {use_entities: [...] | true | false,
    ignore_entities: [...]}``), ``entities`` (names, or ``name: {roles: [...], groups: [...],
    influence_conversation: false}``), ``slots`` (``type`` text, bool, categorical with
    ``values``, float with ``min_value``/``max_value``, list or any; ``influence_conversation``,
    ``initial_value``, ``mappings``), ``responses``, ``actions``, ``forms`` (``required_slots`` as
    a list, or Rasa 2's mapping of slots), ``e2e_actions``, and ``session_config`` and
    ``config``, which are read and not used. A domain with forms gets Rasa's unfeaturized
    ``requested_slot``.

    Merging, as Rasa's ``Domain.from_directory`` and ``Domain.merge_domain_dicts``: a name
    defined in several files keeps its first definition (with a warning when they differ);
    within one file a name may be defined once only. ``session_config`` is the first one that is
    not Rasa's default. Then, as Rasa's ``ResponsesSyncImporter``: the training data files that
    have ``nlu`` or ``responses`` give their ``responses``, which replace the domain's of the
    same name (the last file's, in path order, among the data files), and the retrieval intents
    of their ``nlu`` items (``faq`` of ``faq/ask_x``) join the intents; their other keys are
    left to the NLU and stories readers. A file named in both ``paths`` and ``data`` is read as
    a domain file only.

    Args:
        paths: A file, a directory, or a sequence of them (Rasa's ``--domain``).
        data: The training data files and directories (Rasa's ``--data``), or None.

    Returns:
        The merged domain.

    Raises:
        TrainingDataError: A path does not exist, no file has a domain key, a top-level key is
            unknown, or a definition is invalid (a slot without a valid type, a categorical slot
            without values, a float slot whose min_value is not below its max_value, a value of
            the wrong type, a name defined twice in one file, a form requiring an undeclared
            slot); the message names the file, the line, the key and what is expected.

    Warns:
        TrainingDataWarning: A response name does not start with ``utter_`` (it cannot be
            predicted), an initial value lies outside a float slot's range or is not one of a
            categorical slot's values, an intent both uses and ignores an entity, or a name is
            defined differently in two files (saying which definition is used).

    Example:
        >>> domain = load_domain(example_domain_file())
        >>> domain.intents
        ('greet', 'book', 'restart', 'back', 'out_of_scope', 'session_start', 'nlu_fallback')
        >>> domain.action_names[0], domain.action_names[12:]
        ('action_listen', ('action_book', 'booking_form', 'utter_greet'))
        >>> domain.slots["seat"].values, domain.slots["seat"].features("aisle")
        (('window', 'aisle', 'middle', '__other__'), [0.0, 1.0, 0.0, 0.0])
    """
    reader = _DomainReader()
    files = yaml_files(paths, "domain")
    for path in files:
        reader.read_file(path)
    if not reader.files_with_domain_keys:
        where = str(files[0]) if len(files) == 1 else f"any of the {len(files)} files"
        raise DomainError(
            f"no domain key in {where}; a domain file is a mapping with keys such as 'intents', "
            "'slots', 'responses' and 'actions'"
        )
    if data is not None:
        domain_files = {path.resolve() for path in files}
        for path in yaml_files(data):
            if path.resolve() not in domain_files:
                reader.read_data_file(path)
    return reader.finish()


# --- Reading -------------------------------------------------------------------------------------


class _DomainReader:
    """Collects the definitions of all files; a name may be defined again only identically."""

    def __init__(self) -> None:
        # Each table: name -> (definition, "file:line" where it was first defined).
        self.intents: dict[str, tuple[tuple, str]] = {}
        self.entities: dict[str, tuple[tuple, str]] = {}
        self.slots: dict[str, tuple[Slot, str]] = {}
        self.responses: dict[str, tuple[list, str]] = {}
        self.forms: dict[str, tuple[tuple[str, ...], str]] = {}
        self.form_ignored_intents: dict[str, tuple[str, ...]] = {}
        self.actions: dict[str, None] = {}  # ordered sets
        self.action_texts: dict[str, None] = {}
        self.session_config: dict = {}
        self.version: str | None = None
        self.store_entities_as_slots = True
        self.store_entities_source: str | None = None  # the file that set it
        self.retrieval_intents: dict[str, str] = {}  # faq (of faq/ask_x) -> "file:line"
        self.files_with_domain_keys = 0
        self.defined_in: dict[tuple[str, str], Path] = {}  # (kind, name) -> its file
        self.file: Path | None = None  # the file being read
        self.reading_data = False  # a training data file's responses replace the domain's

    def read_file(self, path: Path) -> None:
        self.file = path
        root = compose(path)
        if root is None:
            raise DomainError(f"{path} is empty; a domain file is a mapping of domain keys")
        fields = mapping_fields(root, path, "the top level of the file")
        for key_node, _ in root.value:
            if key_node.value == "templates":
                raise DomainError(
                    f"unknown top-level key 'templates' in {path} (line {line_of(key_node)}); Rasa "
                    "2 renamed it 'responses'"
                )
        check_top_level_keys(root, path)
        if not set(fields) & (set(_DOMAIN_KEYS) - {"version"}):
            return  # an NLU, stories or rules file of the same project
        self.files_with_domain_keys += 1
        if "version" in fields and self.version is None:
            self.version = str(yaml_value(fields["version"]))
        for key, node in fields.items():
            if is_null(node) or key in ("version", "nlu", "stories", "rules"):
                continue
            if key == "intents":
                self._read_intents(node, path)
            elif key == "entities":
                self._read_entities(node, path)
            elif key == "slots":
                for name, slot_node, line in _named_fields(node, path, "'slots'"):
                    slot = _read_slot(Item(path, "slot", name, line, DomainError), slot_node)
                    self._define(self.slots, "slot", name, slot, f"{path}:{line}")
            elif key == "responses":
                self._read_responses(node, path)
            elif key == "actions":
                for name, _ in _action_names(node, path):
                    self.actions.setdefault(name, None)
            elif key == "forms":
                self._read_forms(node, path)
            elif key == "e2e_actions":
                for text, _ in _names(node, path, "'e2e_actions'", "a bot text"):
                    self.action_texts.setdefault(text, None)
            elif key == "session_config":
                self._read_session_config(_mapping_value(node, path, key))
            else:  # config
                self._read_config(_mapping_value(node, path, key), f"{path}:{line_of(node)}")

    def read_data_file(self, path: Path) -> None:
        """What a training data file gives the domain: its ``responses`` (replacing the
        domain's) and the retrieval intents of its ``nlu`` items. Its other keys, and what is
        wrong with them, are the NLU and stories readers' part."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return  # the NLU and stories readers say so
        if not _DATA_FOR_THE_DOMAIN.search(text):
            return  # most files: parsed by the other readers only
        root = compose(path)
        if not isinstance(root, yaml.MappingNode):
            return
        fields = {key.value: value for key, value in root.value}
        responses = fields.get("responses")
        if responses is not None and not is_null(responses):
            self.file, self.reading_data = path, True
            try:
                self._read_responses(responses, path)
            finally:
                self.reading_data = False
        if isinstance(fields.get("nlu"), yaml.SequenceNode):
            for item in fields["nlu"].value:
                intent = _retrieval_intent_of(item)
                if intent is not None:
                    self.retrieval_intents.setdefault(intent, f"{path}:{line_of(item)}")

    def _read_session_config(self, session_config: dict) -> None:
        """The first session_config that is not Rasa's default, else the first one."""
        if not self.session_config or (
            self.session_config == _DEFAULT_SESSION_CONFIG
            and session_config != _DEFAULT_SESSION_CONFIG
        ):
            self.session_config = session_config

    def _read_config(self, config: dict, source: str) -> None:
        """``store_entities_as_slots`` from the first file that sets it."""
        if "store_entities_as_slots" not in config:
            return
        value = config["store_entities_as_slots"] is not False
        if self.store_entities_source is None:
            self.store_entities_as_slots, self.store_entities_source = value, source
        elif value != self.store_entities_as_slots:
            warnings.warn(
                f"{source}: config: store_entities_as_slots: {str(value).lower()} differs from "
                f"{self.store_entities_source}; the first one is used",
                TrainingDataWarning,
                stacklevel=2,
            )

    def _define(self, table: dict, kind: str, name: str, definition: Any, source: str) -> None:
        """Record a definition; one already known is kept, as Rasa merges domain files (the
        first file's), except that a training data file's response replaces it."""
        known = table.get(name)
        first_file = self.defined_in.get((kind, name))
        if known is None:
            table[name] = (definition, source)
            self.defined_in[(kind, name)] = self.file
        elif first_file == self.file:
            raise DomainError(
                f"{source}: {kind} {name!r} is defined twice in this file (first at "
                f"{known[1]}); Rasa refuses that too, so remove one"
            )
        elif known[0] != definition and self.reading_data:
            table[name] = (definition, source)
            self.defined_in[(kind, name)] = self.file
            warnings.warn(
                f"{source}: {kind} {name!r} is also defined at {known[1]}; this one from the "
                "training data is used, as Rasa uses the training data's responses over the "
                "domain's (and a later data file's over an earlier one's)",
                TrainingDataWarning,
                stacklevel=2,
            )
        elif known[0] != definition:
            warnings.warn(
                f"{source}: {kind} {name!r} is defined differently at {known[1]}; that first "
                "definition is used, as Rasa keeps the first when it merges domain files",
                TrainingDataWarning,
                stacklevel=2,
            )

    def _read_intents(self, node: yaml.Node, path: Path) -> None:
        for name, properties, item_node in _named_items(node, path, "'intents'", "an intent"):
            item = Item(path, "intent", name, line_of(item_node), DomainError)
            use: bool | tuple = True
            ignore: tuple = ()
            if properties is not None:
                fields = _known_fields(properties, item, _INTENT_KEYS)
                if "use_entities" in fields:
                    use = _use_entities(fields["use_entities"], item)
                if "ignore_entities" in fields:
                    ignore = tuple(_item_names(fields["ignore_entities"], item, "ignore_entities"))
            self._define(self.intents, "intent", name, (use, ignore), item.source(item.line))

    def _read_entities(self, node: yaml.Node, path: Path) -> None:
        for name, properties, item_node in _named_items(node, path, "'entities'", "an entity"):
            item = Item(path, "entity", name, line_of(item_node), DomainError)
            roles: tuple = ()
            groups: tuple = ()
            influences = True
            if properties is not None:
                fields = _known_fields(properties, item, _ENTITY_KEYS)
                if "roles" in fields:
                    roles = tuple(_item_names(fields["roles"], item, "roles"))
                if "groups" in fields:
                    groups = tuple(_item_names(fields["groups"], item, "groups"))
                if "influence_conversation" in fields:
                    influences = _bool(
                        fields["influence_conversation"], item, "influence_conversation"
                    )
            definition = (roles, groups, influences)
            self._define(self.entities, "entity", name, definition, item.source(item.line))

    def _read_responses(self, node: yaml.Node, path: Path) -> None:
        for name, variations_node, line in _named_fields(node, path, "'responses'"):
            item = Item(path, "response", name, line, DomainError)
            if not isinstance(variations_node, yaml.SequenceNode) or not variations_node.value:
                raise item.error(
                    "expected a list of variations such as '- text: Hello!', got "
                    f"{describe(variations_node)}",
                    line_of(variations_node),
                )
            variations = []
            for variation in variations_node.value:
                fields = mapping_fields(variation, path, f"a variation of response {name!r}")
                for key, expected in _VARIATION_FIELD_TYPES.items():
                    if key in fields and not _has_shape(yaml_value(fields[key]), expected):
                        raise item.error(
                            f"{key!r} must be {expected}, got {describe(fields[key])}",
                            line_of(fields[key]),
                        )
                variations.append(_dates_as_text(yaml_value(variation)))
            self._define(self.responses, "response", name, variations, item.source(line))

    def _read_forms(self, node: yaml.Node, path: Path) -> None:
        for name, form_node, line in _named_fields(node, path, "'forms'"):
            item = Item(path, "form", name, line, DomainError)
            required: tuple[str, ...] = ()
            self.form_ignored_intents.pop(name, None)  # a form declared again: its own
            if not is_null(form_node):
                fields = _known_fields(form_node, item, _FORM_KEYS)
                slots_node = fields.get("required_slots")
                if isinstance(slots_node, yaml.MappingNode):  # Rasa 2: slot -> its mappings
                    required = tuple(key.value for key, _ in slots_node.value)
                elif slots_node is not None and not is_null(slots_node):
                    required = tuple(_item_names(slots_node, item, "required_slots"))
                ignored_node = fields.get("ignored_intents")
                if isinstance(ignored_node, yaml.ScalarNode) and not is_null(ignored_node):
                    ignored = (_name(ignored_node, path, f"'ignored_intents' of form {name!r}"),)
                elif ignored_node is not None and not is_null(ignored_node):
                    ignored = tuple(_item_names(ignored_node, item, "ignored_intents"))
                else:
                    ignored = ()
                if ignored:
                    self.form_ignored_intents[name] = ignored
            self._define(self.forms, "form", name, required, item.source(line))

    def finish(self) -> Domain:
        for intent, source in self.retrieval_intents.items():  # as ResponsesSyncImporter
            self.intents.setdefault(intent, ((True, ()), source))
        entities = {name: definition for name, (definition, _) in self.entities.items()}
        roles = {name: d[0] for name, d in entities.items() if d[0]}
        groups = {name: d[1] for name, d in entities.items() if d[1]}
        not_influencing = [name for name, d in entities.items() if not d[2]]

        used_entities = {}
        for intent, ((use, ignore), source) in self.intents.items():
            for entity in (use if use is not True else ()) + ignore:
                if entity not in entities:
                    raise DomainError(
                        f"{source}: intent {intent!r}: entity {entity!r} in use_entities or "
                        f"ignore_entities is not declared under 'entities'"
                    )
            used_entities[intent] = _used_entities(
                intent, use, ignore + tuple(not_influencing), entities, roles, groups
            )
        intents = tuple(self.intents) + tuple(i for i in DEFAULT_INTENTS if i not in self.intents)
        for intent in intents[len(self.intents) :]:
            used_entities[intent] = _used_entities(
                intent, True, tuple(not_influencing), entities, roles, groups
            )

        slots = {name: slot for name, (slot, _) in self.slots.items()}
        for form, (required, source) in self.forms.items():
            for slot in required:
                if slot not in slots:
                    raise DomainError(
                        f"{source}: form {form!r}: required slot {slot!r} is not declared under "
                        "'slots'"
                    )
        if self.forms and REQUESTED_SLOT not in slots:
            slots[REQUESTED_SLOT] = Slot(REQUESTED_SLOT, "text", influence_conversation=False)

        responses = {}
        for name, (variations, source) in self.responses.items():
            if not name.startswith("utter_"):
                warnings.warn(
                    f"{source}: response {name!r} does not start with 'utter_', so it is not an "
                    "action a policy can predict; rename it 'utter_...'",
                    TrainingDataWarning,
                    stacklevel=3,
                )
            responses[name] = tuple(variations)
            texts = (v["text"] for v in variations if v.get("text") is not None)
            _warn_about_unknown_slots(name, texts, slots, source)

        return Domain(
            intents=intents,
            entities=tuple(entities),
            roles=roles,
            groups=groups,
            used_entities=used_entities,
            slots=slots,
            responses=responses,
            actions=tuple(self.actions),
            forms={name: required for name, (required, _) in self.forms.items()},
            form_ignored_intents=dict(self.form_ignored_intents),
            action_names=_action_names_of(tuple(self.actions), tuple(self.forms), responses),
            action_texts=tuple(self.action_texts),
            store_entities_as_slots=self.store_entities_as_slots,
            session_config=self.session_config,
            version=self.version,
        )


# The fields of a response variation that Rasa's domain schema (responses.yml) types and that
# the bot relies on, with what they must be; the others (id, metadata, button_type, ...) are kept
# as written.
_VARIATION_FIELD_TYPES = {
    "text": "text",
    "image": "text",
    "channel": "text",
    "custom": "a mapping",
    "buttons": "a list of mappings",
    "quick_replies": "a list of mappings",
    "elements": "a list of mappings",
    "condition": "a list of mappings, each with a slot's 'name' and 'value'",
}


def _dates_as_text(value: Any) -> Any:
    """``value`` with YAML's dates and times (``2024-05-01``) as ISO text, so that a response
    is JSON (the bot event, the REST channel, a saved policy)."""
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


def _has_shape(value: Any, expected: str) -> bool:
    """Whether a response variation's field ``value`` is what `_VARIATION_FIELD_TYPES` says."""
    if expected == "text":
        return isinstance(value, str)
    if expected == "a mapping":
        return isinstance(value, dict)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return False
    return not expected.startswith("a list of mappings, each") or all(
        isinstance(item.get("name"), str) and "value" in item for item in value
    )


def _warn_about_unknown_slots(
    response: str, texts: Iterable[str], slots: dict, source: str
) -> None:
    """Warn once per slot a response names that the domain does not declare: the bot would say
    ``{name}`` as written (Rasa's response interpolator leaves it too, with a warning at run
    time; here it is said before training)."""
    named = dict.fromkeys(name for text in texts for name in SLOT_REFERENCE.findall(text))
    for slot in named:
        if slot not in slots:
            warnings.warn(
                f"{source}: response {response!r} names slot {slot!r}, which is not declared "
                f"under 'slots'{did_you_mean(slot, list(slots))}; the bot would say "
                f"'{{{slot}}}' as written",
                TrainingDataWarning,
                stacklevel=4,
            )


def _retrieval_intent_of(item: yaml.Node) -> str | None:
    """``faq`` for an ``nlu`` item ``intent: faq/ask_x``; None for any other item."""
    if not isinstance(item, yaml.MappingNode):
        return None
    for key, value in item.value:
        if key.value == "intent" and isinstance(value, yaml.ScalarNode):
            base, separator, _ = str(value.value).partition(RETRIEVAL_SEPARATOR)
            return base if separator and base else None
    return None


def mapping_entity_key(mapping: dict) -> tuple:
    """The ``(entity, role, group)`` that a ``from_entity`` slot mapping takes."""
    return (mapping.get("entity"), mapping.get("role"), mapping.get("group"))


def values_for_mapping(mapping: dict, entities: Iterable[Sequence]) -> list:
    """The values of the ``(type, value, role, group)`` entities that a ``from_entity`` slot
    mapping takes (entity, role and group match), in order.

    Example:
        >>> values_for_mapping({"entity": "city"}, [("city", "Rome", None, None),
        ...                                         ("city", "Oslo", "to", None)])
        ['Rome']
    """
    key = mapping_entity_key(mapping)
    return [value for kind, value, role, group in entities if (kind, role, group) == key]


def _needs_active_loop(mapping: dict) -> bool:
    """Whether a slot mapping applies only while a form runs (Rasa checks the first condition)."""
    conditions = mapping.get("conditions")
    first = conditions[0] if isinstance(conditions, list) and conditions else None
    return isinstance(first, dict) and first.get("active_loop") is not None


def _action_names_of(
    actions: tuple[str, ...], forms: tuple[str, ...], responses: dict[str, tuple]
) -> tuple[str, ...]:
    """Default actions, custom actions, forms, then utter_ responses (sorted), each once."""
    utter_actions = sorted(
        name.split(RETRIEVAL_SEPARATOR)[0] for name in responses if name.startswith("utter_")
    )  # utter_faq/ask_x is a response of the retrieval action utter_faq
    names: dict[str, None] = {}
    for name in DEFAULT_ACTION_NAMES + actions + forms + tuple(utter_actions):
        names.setdefault(name, None)
    return tuple(names)


def _used_entities(
    intent: str,
    use: bool | tuple[str, ...],
    ignore: tuple[str, ...],
    entities: dict[str, tuple],
    roles: dict[str, tuple[str, ...]],
    groups: dict[str, tuple[str, ...]],
) -> tuple[str, ...]:
    """Rasa's ``used_entities`` of an intent: the used entities with their role and group labels,
    minus the ignored ones with theirs, sorted."""

    def with_labels(names) -> set[str]:
        labels = set(names)
        for name in names:
            labels |= {f"{name}{ENTITY_LABEL_SEPARATOR}{r}" for r in roles.get(name, ())}
            labels |= {f"{name}{ENTITY_LABEL_SEPARATOR}{g}" for g in groups.get(name, ())}
        return labels

    included = with_labels(entities if use is True else use)
    excluded = with_labels(ignore)
    both = sorted(set(use) & set(ignore)) if use is not True else []
    if both:
        warnings.warn(
            f"intent {intent!r} both uses and ignores {both}; ignoring wins",
            TrainingDataWarning,
            stacklevel=4,
        )
    return tuple(sorted(included - excluded))


def _read_slot(item: Item, node: yaml.Node) -> Slot:
    name, path = item.name, item.path
    if is_null(node):
        raise item.error(f"no 'type'; add 'type:' with one of: {', '.join(SLOT_TYPES)}")
    fields = _known_fields(node, item, _SLOT_KEYS)
    if "type" not in fields:
        raise item.error(f"no 'type'; add 'type:' with one of: {', '.join(SLOT_TYPES)}")
    slot_type = yaml_value(fields["type"])
    if slot_type not in SLOT_TYPES:
        hint = ""
        if isinstance(slot_type, str) and ("unfeaturized" in slot_type or "." in slot_type):
            hint = " (an unfeaturized slot is 'type: any'; custom slot classes are not supported)"
        raise item.error(
            f"unknown type {slot_type!r}; expected one of: {', '.join(SLOT_TYPES)}{hint}",
            line_of(fields["type"]),
        )
    for key, only_for in (
        ("values", "categorical"),
        ("min_value", "float"),
        ("max_value", "float"),
    ):
        if key in fields and slot_type != only_for:
            raise item.error(f"'{key}' is only for {only_for} slots", line_of(fields[key]))

    influence = slot_type != "any"
    if "influence_conversation" in fields:
        influence = _bool(fields["influence_conversation"], item, "influence_conversation")
        if influence and slot_type == "any":
            raise item.error(
                "an 'any' slot cannot influence the conversation; set influence_conversation: "
                "false or pick a type with features (text, bool, categorical, float, list)",
                line_of(fields["influence_conversation"]),
            )
    values: tuple[str, ...] = ()
    if slot_type == "categorical":
        values = _categorical_values(fields.get("values"), item)
    min_value = _number(fields["min_value"], item, "min_value") if "min_value" in fields else 0.0
    max_value = _number(fields["max_value"], item, "max_value") if "max_value" in fields else 1.0
    if min_value >= max_value:
        raise item.error(
            f"min_value {min_value} must be smaller than max_value {max_value}",
            line_of(fields.get("min_value", fields.get("max_value", node))),
        )
    mappings = ()
    if "mappings" in fields and not is_null(fields["mappings"]):
        mappings = _mappings(fields["mappings"], item)
    slot = Slot(
        name=name,
        type=slot_type,
        values=values,
        min_value=min_value,
        max_value=max_value,
        influence_conversation=influence,
        mappings=mappings,
        initial_value=yaml_value(fields["initial_value"]) if "initial_value" in fields else None,
    )
    if slot.initial_value is not None:
        line = line_of(fields["initial_value"])
        try:
            slot.check_value(slot.initial_value)
        except ValueError as error:
            raise item.error(f"initial_value: {error}", line) from None
        _warn_about_slot_value(slot, slot.initial_value, f"{path}:{line}: initial_value")
    return slot


def _warn_about_slot_value(slot: Slot, value: Any, where: str) -> None:
    """Warn about a value Rasa accepts but featurizes differently than written."""
    if value is None:
        return
    if slot.type == "categorical" and slot.category(value) == OTHER_VALUE:
        if str(value).casefold() != OTHER_VALUE:
            warnings.warn(
                f"{where}: {value!r} is not one of the values of categorical slot {slot.name!r} "
                f"({', '.join(slot.values[:-1])}); it is featurized as {OTHER_VALUE!r}",
                TrainingDataWarning,
                stacklevel=4,
            )
    elif slot.type == "float" and not slot.min_value <= float(value) <= slot.max_value:
        warnings.warn(
            f"{where}: {value!r} is outside [{slot.min_value}, {slot.max_value}] of float slot "
            f"{slot.name!r}; it is featurized as the nearest bound",
            TrainingDataWarning,
            stacklevel=4,
        )


def _categorical_values(node: yaml.Node | None, item: Item) -> tuple[str, ...]:
    """The declared values as text (Rasa compares them as text), then ``__other__``."""
    if node is None or not isinstance(node, yaml.SequenceNode) or not node.value:
        got = "nothing" if node is None else describe(node)
        raise item.error(
            f"a categorical slot needs 'values', a list of the values it can take; got {got}",
            line_of(node) if node is not None else None,
        )
    values = []
    for value_node in node.value:
        if not isinstance(value_node, yaml.ScalarNode):
            raise item.error(
                f"a value must be a scalar, got {describe(value_node)}", line_of(value_node)
            )
        value = yaml_value(value_node)
        if value is None:
            raise item.error(
                "null is not a value (it means 'not set'); write \"null\" in quotes for the text",
                line_of(value_node),
            )
        values.append(str(value))
    if OTHER_VALUE not in values:
        values.append(OTHER_VALUE)
    return tuple(values)


def _mappings(node: yaml.Node, item: Item) -> tuple[dict, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise item.error(
            f"'mappings' must be a list such as '- type: from_entity', got {describe(node)}",
            line_of(node),
        )
    mappings = []
    for mapping in node.value:
        fields = mapping_fields(mapping, item.path, f"a mapping of slot {item.name!r}")
        if "type" not in fields:
            raise item.error("a mapping needs a 'type', e.g. 'type: from_entity'", line_of(mapping))
        mappings.append(yaml_value(mapping))
    return tuple(mappings)


# --- Small readers -------------------------------------------------------------------------------


def _known_fields(node: yaml.Node, item: Item, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    """The fields of an item's mapping, after rejecting keys that are not ``allowed``."""
    fields = mapping_fields(node, item.path, f"{item.kind} {item.name!r}")
    for key, value in fields.items():
        if key not in allowed:
            raise item.error(
                f"unknown key {key!r}{did_you_mean(key, allowed)}; allowed keys: "
                f"{', '.join(allowed)}",
                line_of(value),
            )
    return fields


def _name(node: yaml.Node, path: Path, what: str) -> str:
    value = yaml_value(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, str) or not value.strip():
        raise DomainError(
            f"{path}:{line_of(node)}: {what} must be a non-empty name, got {describe(node)}"
        )
    return value


def _names(node: yaml.Node, path: Path, where: str, what: str) -> list[tuple[str, int]]:
    """The names of a list, each with its line."""
    if not isinstance(node, yaml.SequenceNode):
        raise DomainError(f"{path}:{line_of(node)}: {where} must be a list, got {describe(node)}")
    return [(_name(entry, path, what), line_of(entry)) for entry in node.value]


def _item_names(node: yaml.Node, item: Item, key: str) -> list[str]:
    if not isinstance(node, yaml.SequenceNode):
        raise item.error(f"'{key}' must be a list of names, got {describe(node)}", line_of(node))
    return [
        _name(entry, item.path, f"an entry of '{key}' of {item.kind} {item.name!r}")
        for entry in node.value
    ]


def _named_fields(node: yaml.Node, path: Path, where: str) -> list[tuple[str, yaml.Node, int]]:
    """The entries of a mapping of names (``slots``, ``responses``, ``forms``): each name, its
    value, and the line of the name."""
    if not isinstance(node, yaml.MappingNode):
        raise DomainError(
            f"{path}:{line_of(node)}: {where} must be a mapping of names, got {describe(node)}"
        )
    return [
        (_name(key, path, f"a name in {where}"), value, line_of(key)) for key, value in node.value
    ]


def _named_items(
    node: yaml.Node, path: Path, where: str, what: str
) -> list[tuple[str, yaml.Node | None, yaml.Node]]:
    """The entries of a list of ``name`` or ``name: {properties}`` (intents, entities)."""
    if not isinstance(node, yaml.SequenceNode):
        raise DomainError(f"{path}:{line_of(node)}: {where} must be a list, got {describe(node)}")
    items = []
    for entry in node.value:
        if isinstance(entry, yaml.MappingNode):
            if len(entry.value) != 1:
                raise DomainError(
                    f"{path}:{line_of(entry)}: {what} with properties is one 'name: {{...}}' "
                    f"mapping, got {len(entry.value)} keys"
                )
            key, properties = entry.value[0]
            name = _name(key, path, what)
            if is_null(properties):
                raise DomainError(
                    f"{path}:{line_of(entry)}: {what} {name!r} is followed by ':' but has no "
                    "properties; remove the ':'"
                )
            items.append((name, properties, entry))
        else:
            items.append((_name(entry, path, what), None, entry))
    return items


def _action_names(node: yaml.Node, path: Path) -> list[tuple[str, int]]:
    """``actions``: names, or ``name: {send_domain: true}`` (the properties are not used)."""
    return [
        (name, line_of(entry))
        for name, _, entry in _named_items(node, path, "'actions'", "an action")
    ]


def _use_entities(node: yaml.Node, item: Item) -> bool | tuple[str, ...]:
    """``true`` (all entities), ``false`` or an empty list (none), or a list of entities."""
    if isinstance(node, yaml.SequenceNode):
        return tuple(_item_names(node, item, "use_entities"))
    value = yaml_value(node)
    if isinstance(value, bool) or value is None:
        return True if value else ()
    raise item.error(
        f"'use_entities' must be true, false or a list of entities, got {describe(node)}",
        line_of(node),
    )


def _bool(node: yaml.Node, item: Item, key: str) -> bool:
    value = yaml_value(node)
    if not isinstance(value, bool):
        raise item.error(f"'{key}' must be true or false, got {describe(node)}", line_of(node))
    return value


def _number(node: yaml.Node, item: Item, key: str) -> float:
    value = yaml_value(node)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise item.error(f"'{key}' must be a number, got {describe(node)}", line_of(node))
    return float(value)


def _mapping_value(node: yaml.Node, path: Path, key: str) -> dict:
    if not isinstance(node, yaml.MappingNode):
        raise DomainError(
            f"{path}:{line_of(node)}: '{key}' must be a mapping, got {describe(node)}"
        )
    return yaml_value(node)


@functools.cache
def example_domain_file() -> Path:
    """A small domain file for the docstring examples."""
    path = Path(tempfile.mkdtemp()) / "domain.yml"
    path.write_text(
        """
version: "3.1"
intents:
- greet:
    use_entities: []
- book
entities:
- city:
    roles: [from, to]
- date
slots:
  confirmed:
    type: bool
    mappings: [{type: custom}]
  seat:
    type: categorical
    values: [window, aisle, middle]
    mappings: [{type: from_entity, entity: seat}]
responses:
  utter_greet:
  - text: Hello!
actions:
- action_book
forms:
  booking_form:
    required_slots: [seat]
""",
        encoding="utf-8",
    )
    return path
