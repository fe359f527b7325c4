"""Entity tags: entity spans to per-token tag ids (BILOU or plain) and back.

Entity types get BILOU tags (``B-city``, ``I-city``, ``L-city``, ``U-city``) when `BILOU_flag`
is on, else one tag per type. Roles and groups are tagged per token with their name, since their
spans are the entity's.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diet_sparse.config import DIETConfig
from diet_sparse.nlu.tokenizer import Token, tokenize
from diet_sparse.rasa.nlu_data import EntityAnnotation, TrainingData, TrainingDataWarning

OUTSIDE = "O"


@dataclass(frozen=True)
class TagVocabulary:
    """Tag names by id; id 0 is always ``O`` (no entity)."""

    tags: tuple[str, ...]
    bilou: bool = False  # tags other than O carry a B-, I-, L- or U- prefix

    @classmethod
    def for_entities(cls, entity_types: list[str], bilou: bool) -> TagVocabulary:
        if not bilou:
            return cls((OUTSIDE, *entity_types))
        return cls((OUTSIDE, *(f"{p}-{e}" for e in entity_types for p in "BILU")), bilou=True)

    @classmethod
    def for_labels(cls, labels: list[str]) -> TagVocabulary:
        return cls((OUTSIDE, *labels))

    def __len__(self) -> int:
        return len(self.tags)

    def labels(self) -> list[str]:
        """The entity types (roles, groups) tagged, in tag order: BILOU prefixes and ``O`` off.

        Example:
            >>> TagVocabulary.for_entities(["city", "date"], bilou=True).labels()
            ['city', 'date']
        """
        names = [tag.partition("-")[2] if self.bilou else tag for tag in self.tags[1:]]
        return list(dict.fromkeys(names))

    def index(self, tag: str) -> int:
        return self._ids[tag]

    def valid_transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which tag may follow which (N, N) [previous, next], which may start a message (N,)
        and which may end it (N,). BILOU tags allow only well-formed spans: an entity opened by
        ``B-x`` continues with ``I-x`` and closes with ``L-x``; ``U-x`` is a whole one; after
        ``O``, ``L-`` or ``U-`` comes ``O``, ``B-`` or ``U-``. Plain tags allow everything.

        Example:
            >>> vocabulary = TagVocabulary.for_entities(["city"], bilou=True)  # O B I L U
            >>> allowed, start, end = vocabulary.valid_transitions()
            >>> allowed[1].astype(int).tolist()  # after B-city: I-city or L-city
            [0, 0, 1, 1, 0]
            >>> start.astype(int).tolist(), end.astype(int).tolist()
            ([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
        """
        n = len(self.tags)
        if not self.bilou:
            return np.ones((n, n), bool), np.ones(n, bool), np.ones(n, bool)
        prefixes = [tag.partition("-")[0] if i else OUTSIDE for i, tag in enumerate(self.tags)]
        types = [tag.partition("-")[2] for tag in self.tags]
        opens = np.array([p in (OUTSIDE, "B", "U") for p in prefixes])  # may start a span
        closes = np.array([p in (OUTSIDE, "L", "U") for p in prefixes])  # ends outside a span
        allowed = np.zeros((n, n), bool)
        for i in range(n):
            if closes[i]:
                allowed[i] = opens
            else:  # inside an entity: only its own I- or L- follows
                allowed[i] = [p in ("I", "L") and t == types[i] for p, t in zip(prefixes, types)]
        return allowed, opens, closes

    @property
    def _ids(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_ids")
        if cached is None:
            cached = {tag: i for i, tag in enumerate(self.tags)}
            object.__setattr__(self, "_cached_ids", cached)
        return cached


def warn_about_entities_off_token_boundaries(data: TrainingData) -> None:
    """Warn of each entity whose span does not start and end where tokens do, as Rasa warns
    ("Misaligned entity annotation", ``check_correct_entity_annotations``): a
    `TrainingDataWarning` naming the example's file and line, what is off (a word cut, or
    characters the tokenizer drops) and the tokens the entity is tagged on, which are all the
    tokens the span overlaps.

    Example:
        >>> import warnings
        >>> from diet_sparse.rasa.nlu_data import Example, parse_markup
        >>> text, entities = parse_markup("in [u. s. d.](currency)")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warn_about_entities_off_token_boundaries(TrainingData([Example(text, "a", entities)]))
        >>> print(str(caught[0].message).partition("': ")[2])
        the span 'u. s. d.' ends in '.', which the tokenizer drops; the entity is tagged on the tokens 'u' 's' 'd'; to silence this, leave the '.' outside the brackets
    """  # noqa: E501
    for example in data.examples:
        tokens = tokenize(example.text)
        for entity in example.entities:
            problem = _misalignment(example.text, tokens, entity)
            if problem is not None:
                warnings.warn(
                    f"{example.source}: entity {entity.entity!r} in example {example.text!r}: "
                    f"{problem}",
                    TrainingDataWarning,
                    stacklevel=2,
                )


def _misalignment(text: str, tokens: list[Token], entity: EntityAnnotation) -> str | None:
    """What is off with an entity's span and how to fix it; None if it starts and ends on tokens."""
    span = text[entity.start : entity.end]
    if any(t.start == entity.start for t in tokens) and any(t.end == entity.end for t in tokens):
        return None
    covered = [tokens[i] for i in _tokens_in_span(tokens, entity.start, entity.end)]
    if not covered:
        return (
            f"the span {span!r} holds no token (the tokenizer drops its characters), so the "
            "entity is not learned; annotate words or numbers"
        )
    first, last = covered[0], covered[-1]
    problems: list[tuple[str, str | None]] = []  # (what is off, the characters dropped)
    if entity.start < first.start:
        dropped = text[entity.start : first.start]
        problems.append((f"starts with {dropped!r}", dropped))
    elif entity.start > first.start:
        problems.append((f"starts inside the token {first.text!r}", None))
    if entity.end > last.end:
        dropped = text[last.end : entity.end]
        problems.append((f"ends in {dropped!r}", dropped))
    elif entity.end < last.end:
        problems.append((f"ends inside the token {last.text!r}", None))
    drops = [dropped for _, dropped in problems if dropped is not None]
    if len(drops) == len(problems):
        what = " and ".join(p for p, _ in problems) + ", which the tokenizer drops"
        fix = f"leave the {' and the '.join(map(repr, drops))} outside the brackets"
    else:  # a word is cut (and perhaps dropped characters at the other end)
        what = " and ".join(
            p if d is None else f"{p} (dropped by the tokenizer)" for p, d in problems
        )
        fix = "put the brackets around whole words"
    tagged = " ".join(repr(t.text) for t in covered)
    where = f"the entity is tagged on the token{'s' if len(covered) > 1 else ''} {tagged}"
    return f"the span {span!r} {what}; {where}; to silence this, {fix}"


def tag_vocabularies(data: TrainingData, config: DIETConfig) -> dict[str, TagVocabulary]:
    """One tag vocabulary per entity head the data needs (none without entities)."""
    if not (config.entity_recognition and data.entity_types):
        return {}
    vocabularies = {"entity": TagVocabulary.for_entities(data.entity_types, config.BILOU_flag)}
    if data.roles:
        vocabularies["role"] = TagVocabulary.for_labels(data.roles)
    if data.groups:
        vocabularies["group"] = TagVocabulary.for_labels(data.groups)
    return vocabularies


def _tokens_in_span(tokens: list[Token], start: int, end: int) -> list[int]:
    """Indices of the tokens that overlap ``[start, end)``."""
    return [i for i, token in enumerate(tokens) if token.start < end and token.end > start]


def entity_tag_ids(
    tokens: list[Token], entities: list[EntityAnnotation], vocabulary: TagVocabulary
) -> np.ndarray:
    """Tag id of every token for the entity types of ``entities``."""
    ids = np.zeros(len(tokens), dtype=np.int32)
    for entity in entities:
        covered = _tokens_in_span(tokens, entity.start, entity.end)
        for position, i in enumerate(covered):
            if not vocabulary.bilou:
                tag = entity.entity
            elif len(covered) == 1:
                tag = f"U-{entity.entity}"
            elif position == 0:
                tag = f"B-{entity.entity}"
            elif position == len(covered) - 1:
                tag = f"L-{entity.entity}"
            else:
                tag = f"I-{entity.entity}"
            ids[i] = vocabulary.index(tag)
    return ids


def attribute_tag_ids(
    tokens: list[Token],
    entities: list[EntityAnnotation],
    vocabulary: TagVocabulary,
    attribute: str,
) -> np.ndarray:
    """Tag id of every token for an entity attribute, ``role`` or ``group``."""
    ids = np.zeros(len(tokens), dtype=np.int32)
    for entity in entities:
        label = getattr(entity, attribute)
        if label:
            for i in _tokens_in_span(tokens, entity.start, entity.end):
                ids[i] = vocabulary.index(label)
    return ids


@dataclass
class TaggedSpan:
    """An entity decoded from tags: token range ``[first, last]`` and the lowest confidence."""

    entity: str
    first: int
    last: int
    confidence: float


def decode_entity_tags(
    tag_ids: np.ndarray,
    confidences: np.ndarray,
    vocabulary: TagVocabulary,
    breaks: Callable[[str, int], bool] | None = None,
) -> list[TaggedSpan]:
    """Group per-token tags into entity spans.

    Decoding is lenient, as a CRF can still emit an odd sequence: a span starts at ``B``/``U``
    or at a change of entity type, and ends at ``L``/``U``, ``O`` or the next span. ``breaks``,
    if given, says whether an entity of a type must not run on into token ``i`` (see
    `comma_breaks`). A multi-token entity is only as confident as its least confident token.
    """
    spans: list[TaggedSpan] = []
    current: TaggedSpan | None = None
    for i, tag_id in enumerate(tag_ids):
        tag = vocabulary.tags[int(tag_id)]
        if tag == OUTSIDE:
            current = None
            continue
        prefix, _, entity = tag.partition("-") if vocabulary.bilou else ("", "", tag)
        confidence = float(confidences[i])
        continues = (
            current is not None
            and current.entity == entity
            and prefix not in ("B", "U")
            and not (breaks is not None and breaks(entity, i))
        )
        if continues:
            current.last = i
            current.confidence = min(current.confidence, confidence)
        else:
            current = TaggedSpan(entity, i, i, confidence)
            spans.append(current)
        if prefix in ("L", "U"):
            current = None
    return spans


def comma_breaks(
    text: str, tokens: list[Token], split_entities_by_comma: bool | dict[str, bool]
) -> Callable[[str, int], bool] | None:
    """The ``breaks`` of `decode_entity_tags` for Rasa's ``split_entities_by_comma``: an entity
    of a type that is split does not run on across a comma between two tokens, so "avocado,
    tofu" tagged as one ingredient gives two. The setting is one value for every type or a
    mapping of entity type to value (types not listed are split). None when nothing can break.

    Example:
        >>> from diet_sparse.nlu.tokenizer import tokenize
        >>> text = "avocado, tofu and Allee 5, Berlin"
        >>> breaks = comma_breaks(text, tokenize(text), {"address": False})
        >>> breaks("ingredient", 1), breaks("address", 5), breaks("ingredient", 2)
        (True, False, False)
    """
    if split_entities_by_comma is False:
        return None
    commas = {i for i in range(1, len(tokens)) if "," in text[tokens[i - 1].end : tokens[i].start]}
    if not commas:
        return None
    if split_entities_by_comma is True:
        return lambda entity, i: i in commas
    return lambda entity, i: i in commas and split_entities_by_comma.get(entity, True)


def span_attribute(
    tag_ids: np.ndarray, confidences: np.ndarray, span: TaggedSpan, vocabulary: TagVocabulary
) -> tuple[str | None, float]:
    """The role or group of a span: its most frequent non-``O`` tag, with the lowest confidence."""
    positions = range(span.first, span.last + 1)
    labels = Counter(int(tag_ids[i]) for i in positions if tag_ids[i] != 0)
    if not labels:
        return None, 0.0
    label_id = labels.most_common(1)[0][0]
    confidence = min(float(confidences[i]) for i in positions if tag_ids[i] == label_id)
    return vocabulary.tags[label_id], confidence
