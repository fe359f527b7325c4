"""Training data: reading Rasa 3 YAML NLU files into plain Python objects.

`load_training_data` reads intents and their examples, entity annotations in Rasa's
`[span](entity)` markup, synonyms, regexes and lookup tables; `parse_markup` turns one annotated
example into plain text and entity offsets, reading the markup as Rasa 3.6 does. Data that
cannot be used raises `TrainingDataError` naming the file, line, item and fix; doubtful data
warns with `TrainingDataWarning`.

The types below are the contract the rest of the package relies on.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from diet_sparse.errors import TrainingDataError, TrainingDataWarning
from diet_sparse.rasa.yaml_reading import (
    Item,
    check_top_level_keys,
    compose,
    describe,
    line_of,
    mapping_fields,
    yaml_files,
)


@dataclass(frozen=True)
class EntityAnnotation:
    """An entity in an example's plain text: ``text[start:end]`` is the annotated span."""

    start: int
    end: int
    value: str
    entity: str
    role: str | None = None
    group: str | None = None


@dataclass
class Example:
    """One training message: plain text (markup removed), its intent and its entities."""

    text: str
    intent: str | None
    entities: list[EntityAnnotation] = field(default_factory=list)
    metadata: dict | None = None
    source: str = ""  # "file:line" where the example was read, for error messages


@dataclass(frozen=True)
class RegexPattern:
    """A regular expression from a ``regex:`` item; featurizers match it against messages."""

    name: str
    pattern: str


@dataclass(frozen=True)
class LookupTable:
    """The elements of a ``lookup:`` item, merged across files."""

    name: str
    elements: tuple[str, ...]


@dataclass
class TrainingData:
    """Everything read from the training data files: examples, synonyms, regexes, lookups."""

    examples: list[Example] = field(default_factory=list)
    # lower-cased entity text -> canonical value
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[RegexPattern] = field(default_factory=list)
    lookups: list[LookupTable] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples if e.intent is not None})

    @property
    def entity_types(self) -> list[str]:
        return sorted({a.entity for e in self.examples for a in e.entities})

    @property
    def roles(self) -> list[str]:
        return sorted({a.role for e in self.examples for a in e.entities if a.role})

    @property
    def groups(self) -> list[str]:
        return sorted({a.group for e in self.examples for a in e.entities if a.group})


# --- Entity markup -------------------------------------------------------------------------------

# Rasa 3.6's entity markup (the language of ENTITY_REGEX in rasa/shared/nlu/training_data/
# entities_parser.py): ``[span]`` directly followed by one annotation. Anything else, a lone
# ``]``, ``[span]`` without an annotation, ``[](city)`` or ``[x](city:)``, is plain text.
_ENTITY_MARKUP = re.compile(
    r"\[(?P<span>[^\]]+?)\]"  # [span]: no "]" inside, but "[" may be: "[a [b](x)" spans "a [b"
    r"(?:"
    r"\((?P<type>[^:)]+?)(?::(?P<value>[^)]+))?\)"  # (type) or (type:value)
    r"|\{(?P<attributes>[^}]+?)\}"  # {"entity": ..., ...}, up to the first "}"
    r"|\[(?P<attribute_list>.*?)\]"  # [{...}, {...}]: several entities on one span
    r")"
)
_LISTED_ATTRIBUTES = re.compile(r"\{(?P<attributes>[^}]+?)\}")
_JSON_EXAMPLE = '{"entity": "city", "value": "Berlin"}'


class _MarkupProblem(Exception):
    """What is wrong with one example's markup; ``parse_markup`` adds the example and source."""


def parse_markup(text: str, source: str = "") -> tuple[str, list[EntityAnnotation]]:
    """Remove Rasa entity markup from an example, returning the plain text and its entities.

    The markup is Rasa 3.6's: ``[span](entity)``, ``[span](entity:value)``,
    ``[span]{"entity": ..., "value": ..., "role": ..., "group": ...}`` (``value``, ``role`` and
    ``group`` optional; ``value`` defaults to the span text; other keys are ignored) and
    ``[span][{...}, {...}]`` for several entities on one span. Brackets that do not form markup
    are ordinary text, as in Rasa. Entity offsets index the plain text: ``plain[start:end]`` is
    the span.

    Args:
        text: One example as written in the training data.
        source: Where the example comes from (e.g. ``"data/nlu.yml:12"``), used in errors.

    Returns:
        The plain text and its entities in the order they appear.

    Raises:
        TrainingDataError: Where Rasa fails: an annotation ``{...}`` that is not JSON, has no
            ``"entity"``, or has a value of the wrong type; the message names ``source``, the
            example and what is wrong.

    Warns:
        TrainingDataWarning: An entity name that is empty or only whitespace (Rasa trains it).

    Example:
        >>> plain, entities = parse_markup('fly from [Rome]{"entity": "city", "role": "from"}')
        >>> plain
        'fly from Rome'
        >>> entities[0]
        EntityAnnotation(start=9, end=13, value='Rome', entity='city', role='from', group=None)
        >>> parse_markup("play [jazz](genre) (loud) hello]")[0]
        'play jazz (loud) hello]'
        >>> parse_markup("to [NYC](city:New York)")[1][0].value
        'New York'
    """
    try:
        plain, entities = _parse_markup(text)
    except _MarkupProblem as problem:
        location = f"{source}: " if source else ""
        raise TrainingDataError(
            f"{location}invalid entity markup in example {text!r}: {problem}"
        ) from None
    for entity in entities:
        if not entity.entity.strip():
            location = f"{source}: " if source else ""
            warnings.warn(
                f"{location}entity {plain[entity.start : entity.end]!r} in example {text!r} has "
                f"the empty entity name {entity.entity!r}; it is learned under that name (as "
                "Rasa does): write the entity type, e.g. [Berlin](city)",
                TrainingDataWarning,
                stacklevel=2,
            )
    return plain, entities


def _parse_markup(text: str) -> tuple[str, list[EntityAnnotation]]:
    plain_parts: list[str] = []
    entities: list[EntityAnnotation] = []
    plain_length = 0
    position = 0
    for markup in _ENTITY_MARKUP.finditer(text):
        span = markup["span"]
        before = text[position : markup.start()]
        start = plain_length + len(before)
        plain_length = start + len(span)
        plain_parts += [before, span]
        for fields in _annotations(markup):
            entities.append(
                EntityAnnotation(
                    start=start,
                    end=plain_length,
                    value=fields.get("value", span),
                    entity=fields["entity"],
                    role=fields.get("role") or None,  # Rasa leaves out an empty role or group
                    group=fields.get("group") or None,
                )
            )
        position = markup.end()
    plain_parts.append(text[position:])
    return "".join(plain_parts), entities


def _annotations(markup: re.Match[str]) -> list[dict[str, str]]:
    """The fields of each entity that one piece of markup annotates."""
    if markup["type"] is not None:
        fields = {"entity": markup["type"]}
        if markup["value"] is not None:
            fields["value"] = markup["value"]
        return [fields]
    if markup["attributes"] is not None:
        return [_read_attributes(markup["attributes"], markup.start("attributes"))]
    # [span][...]: each {...} inside is one entity; anything else there is ignored, as in Rasa.
    listed_at = markup.start("attribute_list")
    return [
        _read_attributes(inner["attributes"], listed_at + inner.start("attributes"))
        for inner in _LISTED_ATTRIBUTES.finditer(markup["attribute_list"])
    ]


def _read_attributes(body: str, body_at: int) -> dict[str, str]:
    """Read the JSON object ``{body}`` whose text starts at column ``body_at``; check it as Rasa
    does (``entity`` a string; ``role``, ``group`` strings; ``value`` a string or a number)."""
    annotation = f"{{{body}}}"
    try:
        fields = json.loads(annotation)
    except json.JSONDecodeError as error:
        raise _MarkupProblem(
            f"invalid JSON {annotation} at column {body_at} ({error.msg}); write it like "
            f"{_JSON_EXAMPLE}, with double quotes and no '}}' inside"
        ) from None
    if "entity" not in fields:
        raise _MarkupProblem(f'{annotation} has no "entity" key; write it like {_JSON_EXAMPLE}')
    for key in ("entity", "role", "group"):
        if key in fields and not isinstance(fields[key], str):
            raise _MarkupProblem(
                f'"{key}" in {annotation} must be a string, got {json.dumps(fields[key])}'
            )
    value = fields.get("value")
    if "value" in fields:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _MarkupProblem(
                f'"value" in {annotation} must be a string or a number, got {json.dumps(value)}'
            )
        fields["value"] = str(value)
    return fields


# The key naming an item's kind, and every key an item of that kind may have.
_ITEM_KEYS = {
    "intent": ("examples", "intent", "metadata"),
    "synonym": ("examples", "synonym"),
    "regex": ("examples", "regex"),
    "lookup": ("examples", "lookup"),
}
_LISTED_EXAMPLE_KEYS = ("metadata", "text")
# Training holds every example's features in memory: reading and featurizing 10 MB of examples
# peaks at about 1.4 GB, so more than this is refused before it is read (split off a sample).
MAX_TRAINING_DATA_BYTES = 20 * 2**20
# One example's tokens attend to each other (memory grows with the square of its length); the
# server refuses messages over 2,000 characters by default.
MAX_EXAMPLE_CHARACTERS = 10_000
# How the error for data with no NLU file starts (`data validate` and projects tell it apart).
NO_NLU_DATA = "no 'nlu' key"


def load_training_data(paths: str | Path | Sequence[str | Path]) -> TrainingData:
    """Read Rasa 3 YAML NLU training data from files and directories into one ``TrainingData``.

    Each file is a mapping with an optional ``version`` and an ``nlu`` list of items, each one of
    ``intent`` (with ``examples`` and optional ``metadata``), ``synonym``, ``regex`` or ``lookup``
    (each with ``examples``). ``examples`` is a block string of ``- example`` lines or, for
    intents, a list of ``{text: ..., metadata: ...}`` mappings. A directory stands for all
    ``*.yml`` and ``*.yaml`` files below it, sorted by path. Items of the same name in several
    files are merged. The other keys of a Rasa project's files (``stories``, ``rules`` and the
    domain's, see ``RASA_TOP_LEVEL_KEYS``) are skipped, so a file may mix them with ``nlu`` and
    a project's whole ``data/`` folder can be read; a file without ``nlu`` adds nothing.

    ``Example.source`` is the ``"file:line"`` of each example. ``Example.metadata`` is the
    intent's metadata updated with the example's own. Synonyms come from ``synonym`` items and
    from entity annotations whose ``value`` differs from the span text, keyed by the lower-cased
    text, as Rasa's ``EntitySynonymMapper`` reads them.

    Args:
        paths: A file, a directory, or a sequence of them.

    Returns:
        The examples, synonyms, regexes and lookup tables of all files.

    Raises:
        TrainingDataError: A path does not exist, a directory holds no YAML files, no file has
            an ``nlu`` key, a file has a top-level key no Rasa file has, or a file is not valid
            training data; the message names the file, the line, the item and the fix.

    Warns:
        TrainingDataWarning: The same text is an example of two intents, an intent has fewer
            than 2 examples, or a text is a synonym of two values (the later is kept). (Entity
            spans off token boundaries are NLU's check:
            ``diet_sparse.nlu.tagging.warn_about_entities_off_token_boundaries``.)

    Example:
        >>> data = load_training_data("data/")  # doctest: +SKIP
        >>> data.intents[:2], len(data.examples)  # doctest: +SKIP
        (['affirm', 'book_flight'], 202)
    """
    reader = _Reader()
    files = yaml_files(paths)
    _check_size(files)
    for path in files:
        reader.read_file(path)
    if not reader.files_with_nlu:
        where = str(files[0]) if len(files) == 1 else f"any of the {len(files)} files"
        raise TrainingDataError(
            f"{NO_NLU_DATA} in {where}; a training data file is a mapping with an 'nlu' list of "
            "items such as '- intent: greet'"
        )
    return reader.finish()


def _check_size(files: list[Path]) -> None:
    """Refuse more training data than featurizing can hold, before reading any of it."""
    sizes = {path: path.stat().st_size for path in files}
    total = sum(sizes.values())
    if total > MAX_TRAINING_DATA_BYTES:
        largest = max(sizes, key=sizes.get)
        raise TrainingDataError(
            f"the training data is {total / 2**20:.1f} MB in {len(files)} file(s) (the largest, "
            f"{largest}, {sizes[largest] / 2**20:.1f} MB); diet-sparse reads at most "
            f"{MAX_TRAINING_DATA_BYTES // 2**20} MB, since featurizing holds every example in "
            "memory (about 1.4 GB for 10 MB): train on a sample of it"
        )


def _nlu_items(root: yaml.Node | None, path: Path) -> list[yaml.Node] | None:
    """The items of the file's ``nlu`` list after checking the file's top level; ``None`` for a
    file without ``nlu`` (a domain, stories or rules file of the same project)."""
    if root is None:
        raise TrainingDataError(
            f"{path} is empty; a training data file is a mapping with an 'nlu' list of items "
            "such as '- intent: greet'"
        )
    fields = mapping_fields(root, path, "the top level of the file")
    check_top_level_keys(root, path)
    if "nlu" not in fields:
        return None
    nlu = fields["nlu"]
    if not isinstance(nlu, yaml.SequenceNode):
        raise TrainingDataError(
            f"{path}:{line_of(nlu)}: 'nlu' must be a list of items ('- intent: ...'), got "
            f"{describe(nlu)}"
        )
    return nlu.value


# --- NLU items -----------------------------------------------------------------------------------


class _Reader:
    """Collects the items of all files, merging items of the same name."""

    def __init__(self) -> None:
        self.examples: list[Example] = []
        self.synonyms: dict[str, str] = {}
        self.synonym_sources: dict[str, str] = {}
        self.regexes: dict[RegexPattern, None] = {}  # an ordered set
        self.lookups: dict[str, dict[str, None]] = {}  # name -> ordered set of elements
        self.files_with_nlu = 0

    def read_file(self, path: Path) -> None:
        items = _nlu_items(compose(path), path)
        if items is None:
            return  # a domain, stories or rules file: nothing for NLU
        self.files_with_nlu += 1
        for node in items:
            item, fields = _item(node, path)
            if item.kind == "intent":
                self._read_intent(item, fields)
            elif item.kind == "synonym":
                for variant, line in _block_examples(fields["examples"], item):
                    self._add_synonym(variant, item.name, item.source(line))
            elif item.kind == "regex":
                for pattern, line in _block_examples(fields["examples"], item):
                    _check_regex(pattern, item, line)
                    self.regexes[RegexPattern(item.name, pattern)] = None
            else:
                elements = self.lookups.setdefault(item.name, {})
                for element, _ in _block_examples(fields["examples"], item):
                    elements[element] = None

    def finish(self) -> TrainingData:
        _warn_about_texts_of_several_intents(self.examples)
        _warn_about_small_intents(self.examples)
        return TrainingData(
            examples=self.examples,
            synonyms=self.synonyms,
            regexes=list(self.regexes),
            lookups=[LookupTable(name, tuple(elements)) for name, elements in self.lookups.items()],
        )

    def _read_intent(self, item: Item, fields: dict[str, yaml.Node]) -> None:
        intent_metadata = _metadata(fields.get("metadata"), item, item.line)
        examples_node = fields["examples"]
        if isinstance(examples_node, yaml.SequenceNode):
            entries = _listed_examples(examples_node, item)
        else:
            entries = [(text, line, None) for text, line in _block_examples(examples_node, item)]
        for text, line, example_metadata in entries:
            plain, entities = parse_markup(text, f"{item.source(line)}: intent {item.name!r}")
            if len(plain) > MAX_EXAMPLE_CHARACTERS:
                raise item.error(
                    f"an example of {len(plain):,} characters; an example may have at most "
                    f"{MAX_EXAMPLE_CHARACTERS:,} (its tokens attend to each other, so memory "
                    "grows with the square of its length): shorten or split it",
                    line,
                )
            example = Example(
                text=plain,
                intent=item.name,
                entities=entities,
                metadata=_merge_metadata(intent_metadata, example_metadata),
                source=item.source(line),
            )
            for entity in entities:
                self._add_synonym(plain[entity.start : entity.end], entity.value, example.source)
            self.examples.append(example)

    def _add_synonym(self, variant: str, canonical: str, source: str) -> None:
        if variant == canonical:
            return
        key = variant.lower()
        known = self.synonyms.get(key)
        if known is not None and known != canonical:
            # Rasa warns and keeps the later value (EntitySynonymMapper, check_duplicate_synonym).
            warnings.warn(
                f"{source}: {variant!r} is a synonym of {canonical!r} here but of {known!r} at "
                f"{self.synonym_sources[key]}; an entity text maps to one value, so {canonical!r}"
                " (read last) is kept, as Rasa keeps it: remove the one you do not mean",
                TrainingDataWarning,
                stacklevel=2,
            )
        self.synonyms[key] = canonical
        self.synonym_sources[key] = source


def _item(node: yaml.Node, path: Path) -> tuple[Item, dict[str, yaml.Node]]:
    """Check an ``nlu`` item's keys; return what it is and its value nodes."""
    fields = mapping_fields(node, path, "an nlu item")
    kinds = [kind for kind in _ITEM_KEYS if kind in fields]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none of them"
        raise TrainingDataError(
            f"{path}:{line_of(node)}: an nlu item needs exactly one of the keys "
            f"{', '.join(_ITEM_KEYS)}; found {found} (keys: {', '.join(fields)})"
        )
    kind = kinds[0]
    name_node = fields[kind]
    name = name_node.value if isinstance(name_node, yaml.ScalarNode) else ""
    if not name.strip():
        raise TrainingDataError(
            f"{path}:{line_of(node)}: the {kind} name must be a non-empty string, got "
            f"{describe(name_node)}"
        )
    item = Item(path, kind, name, line_of(node))
    unknown = [key for key in fields if key not in _ITEM_KEYS[kind]]
    if unknown:
        raise item.error(
            f"unknown key {unknown[0]!r}; allowed keys: {', '.join(_ITEM_KEYS[kind])}",
            line_of(fields[unknown[0]]),
        )
    if "examples" not in fields:
        raise item.error("no 'examples'; add an 'examples: |' block of '- ' lines")
    return item, fields


def _block_examples(node: yaml.Node, item: Item) -> list[tuple[str, int]]:
    """The ``- text`` lines of an ``examples: |`` block, each with its line in the file."""
    if not isinstance(node, yaml.ScalarNode):
        allowed = "a block string of '- ' lines"
        if item.kind == "intent":
            allowed += " or a list of {text: ..., metadata: ...} mappings"
        raise item.error(f"'examples' must be {allowed}, got {describe(node)}", line_of(node))
    # Lines of a literal block ("|") sit one below the other after the "|"; other scalar styles
    # fold lines together, so only the line where they start is known.
    literal = node.style == "|"
    first_line = line_of(node) + (1 if literal else 0)
    examples = []
    for offset, raw_line in enumerate(node.value.split("\n")):
        line = first_line + offset if literal else first_line
        stripped = raw_line.strip()
        if not stripped:
            continue
        if stripped == "-":
            raise item.error("empty example; write its text after '- '", line)
        if not stripped.startswith("- "):
            raise item.error(
                f"example line {stripped!r} does not start with '- '; write one example per "
                "line as '- text'",
                line,
            )
        examples.append((stripped[2:].strip(), line))
    if not examples:
        raise item.error("has no examples; add at least one '- ' line under 'examples:'")
    return examples


def _listed_examples(node: yaml.SequenceNode, item: Item) -> list[tuple[str, int, dict | None]]:
    """The entries of a list of ``{text: ..., metadata: ...}`` examples, with their lines."""
    if item.kind != "intent":
        raise item.error(
            "'examples' must be a block string of '- ' lines, got a list", line_of(node)
        )
    examples = []
    for entry in node.value:
        fields = mapping_fields(entry, item.path, f"an example of intent {item.name!r}")
        unknown = [key for key in fields if key not in _LISTED_EXAMPLE_KEYS]
        if unknown:
            raise item.error(
                f"example has unknown key {unknown[0]!r}; allowed keys: "
                f"{', '.join(_LISTED_EXAMPLE_KEYS)}",
                line_of(fields[unknown[0]]),
            )
        text_node = fields.get("text")
        if text_node is None:
            raise item.error("example has no 'text'", line_of(entry))
        if not isinstance(text_node, yaml.ScalarNode):
            raise item.error(f"'text' must be a string, got {describe(text_node)}", line_of(entry))
        line = line_of(text_node) + (1 if text_node.style == "|" else 0)
        text = text_node.value.strip()
        if not text:
            raise item.error("empty example text", line)
        examples.append((text, line, _metadata(fields.get("metadata"), item, line)))
    if not examples:
        raise item.error("has no examples; add at least one entry under 'examples:'")
    return examples


def _metadata(node: yaml.Node | None, item: Item, line: int) -> dict | None:
    if node is None:
        return None
    metadata = yaml.SafeLoader("").construct_document(node)
    if metadata is not None and not isinstance(metadata, dict):
        raise item.error(f"'metadata' must be a mapping, got {describe(node)}", line)
    return metadata


def _merge_metadata(intent_metadata: dict | None, example_metadata: dict | None) -> dict | None:
    if intent_metadata is None and example_metadata is None:
        return None
    return {**(intent_metadata or {}), **(example_metadata or {})}


def _check_regex(pattern: str, item: Item, line: int) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise item.error(
            f"{pattern!r} is not a valid regular expression ({error}); escape special "
            "characters with a backslash",
            line,
        ) from None


# --- Warnings ------------------------------------------------------------------------------------


def _warn(message: str) -> None:
    warnings.warn(message, TrainingDataWarning, stacklevel=3)


def _warn_about_texts_of_several_intents(examples: list[Example]) -> None:
    intents_of_text: dict[str, dict[str, str]] = defaultdict(dict)  # text -> intent -> source
    for example in examples:
        intents_of_text[example.text].setdefault(example.intent, example.source)
    for text, intents in intents_of_text.items():
        if len(intents) > 1:
            listed = " and ".join(f"intent {name!r} ({source})" for name, source in intents.items())
            _warn(
                f"example {text!r} is under {listed}; a classifier cannot tell them apart, "
                "so keep it under one intent"
            )


def _warn_about_small_intents(examples: list[Example]) -> None:
    counts = Counter(example.intent for example in examples)
    first_source = {}
    for example in examples:
        first_source.setdefault(example.intent, example.source)
    for intent, count in counts.items():
        if count < 2:
            _warn(
                f"intent {intent!r} has only {count} example ({first_source[intent]}); give "
                "each intent at least 2 examples, better 10 or more"
            )
