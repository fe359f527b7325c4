"""Messages that name their intent, as Rasa's buttons and tests send them: ``/greet``,
``/inform@0.9{"city": "Rome"}``, read into a parse result without any model, as Rasa 3.6's
``RegexMessageHandler`` reads them (``YAMLStoryReader.unpack_regex_message``). The NLU model and
the bot both answer such messages with `shortcut_parse`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Collection
from typing import Any

logger = logging.getLogger(__name__)

INTENT_MESSAGE_PREFIX = "/"
# Rasa's YAMLStoryReader._regex_message_pattern: intent, @confidence, {entities}, the rest (read
# without; "." stops at a line break, the intent does not)
_INTENT_MESSAGE = re.compile(
    r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)"
)
# the component Rasa names as the entities' extractor
EXTRACTOR = "RegexMessageHandler"


def shortcut_parse(
    text: str,
    intents: Collection[str] | None = None,
    entity_types: Collection[str] | None = None,
) -> dict[str, Any] | None:
    """The parse result of a message that names its intent (``/greet``, with a confidence and
    entities as JSON: ``/inform@0.9{"city": "Rome"}``), as Rasa 3.6's ``RegexMessageHandler``
    gives it: ``text`` (stripped), ``intent`` and ``intent_ranking`` (that intent alone, with
    confidence 1.0 unless given), and ``entities``, each spanning the whole JSON object
    (``start``/``end``) with ``extractor`` ``RegexMessageHandler``.

    None for any other message, and, as Rasa, for an intent not in ``intents`` (logged: Rasa
    continues "with given line as user text", so the caller parses it with the model).
    ``intents`` None accepts any intent and ``entity_types`` None any entity type, as Rasa's
    NLU-only model (it has no domain). As Rasa, what cannot be read of the rest is left out with
    a warning, the intent kept: entities that are not a JSON object, entity types not in
    ``entity_types``, a confidence that is not a number (0.0) or above 1 (1.0), and anything
    after the entities (``/inform{"a": 1}@0.9`` has confidence 1.0). An entity's value must be
    a string, a finite number or a boolean (a list gives one entity per item, as Rasa); other
    values (objects, null, NaN) are left out with a warning, where Rasa keeps them as they
    came: a tracker event's numbers must be finite and a slot holds no nested objects.

    Example:
        >>> shortcut_parse('/inform{"city": "Rome"}', ["inform"])["entities"]
        [{'entity': 'city', 'value': 'Rome', 'start': 7, 'end': 23, 'extractor': 'RegexMessageHandler'}]
    """  # noqa: E501
    user_text = text.strip()
    if not user_text.startswith(INTENT_MESSAGE_PREFIX):
        return None
    found = _INTENT_MESSAGE.match(user_text)
    if found is None:
        logger.warning("%r starts with '/' but names no intent; parsing it as text", user_text)
        return None
    intent_name = found["intent"].strip()
    if intents is not None and intent_name not in intents:
        logger.warning(
            "%r names intent %r, which is not in the domain (%s): continuing with the message "
            "as text, as Rasa does",
            user_text,
            intent_name,
            ", ".join(intents),
        )
        return None
    entities = []
    if found["entities"]:
        start, end = found.span("entities")
        for name, value in _entities(user_text, found["entities"], entity_types):
            entities.append(
                {"entity": name, "value": value, "start": start, "end": end, "extractor": EXTRACTOR}
            )
    if found["rest"]:
        logger.warning("%r: continuing without %r, which is not understood", text, found["rest"])
    confidence = _confidence(user_text, found["confidence"])
    intent = {"name": intent_name, "confidence": confidence}
    return {
        "text": user_text,
        "intent": intent,
        "intent_ranking": [dict(intent)],
        "entities": entities,
    }


def _entities(
    text: str, written: str, entity_types: Collection[str] | None
) -> list[tuple[str, Any]]:
    """(type, value) of each entity of a `shortcut_parse` message's JSON, without those that
    cannot be read (logged)."""
    try:
        values = json.loads(written)
        if not isinstance(values, dict):
            raise ValueError(f"it is {type(values).__name__}, not an object")
    except (ValueError, RecursionError) as error:
        logger.warning("%r: its entities are not a JSON object (%s); continuing without", text,
                       error)  # fmt: skip
        return []
    read = []
    for name, value in values.items():
        if entity_types is not None and name not in entity_types:
            logger.warning("%r: entity type %r is not in the domain; continuing without", text,
                           name)  # fmt: skip
            continue
        for one in value if isinstance(value, list) else [value]:
            if _is_entity_value(one):
                read.append((name, one))
            else:
                logger.warning(
                    "%r: entity %r has the value %r; an entity's value is a string, a number or "
                    "a boolean (or a list of them): continuing without",
                    text,
                    name,
                    one,
                )
    return read


def _is_entity_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # NaN, Infinity, 1e400
    return isinstance(value, str | int | bool)


def _confidence(text: str, written: str | None) -> float:
    """A `shortcut_parse` message's confidence (``@0.9``), as Rasa reads it: 1.0 when not
    given, 0.0 when not a number, at most 1.0 (each with a warning)."""
    if written is None:
        return 1.0
    try:
        confidence = float(written[1:])
    except ValueError:
        logger.warning("%r: confidence %r is not a number; continuing with 0.0", text, written)
        return 0.0
    if confidence > 1.0:
        logger.warning("%r: confidence %s is above 1; continuing with 1.0", text, written)
        return 1.0
    return confidence
