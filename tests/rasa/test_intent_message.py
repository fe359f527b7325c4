"""Messages that name their intent, read as Rasa 3.6's RegexMessageHandler reads them. The
expected parses were produced by Rasa 3.6.21's ``YAMLStoryReader.unpack_regex_message`` (with
``entity_extractor_name="RegexMessageHandler"``, as the component calls it), without a domain
(an NLU-only model) and with one of intents greet and inform and the entity city."""

from __future__ import annotations

import pytest

from diet_sparse.rasa.intent_message import shortcut_parse

INTENTS, ENTITIES = ["greet", "inform"], ["city"]
ROME = ("city", "Rome", 7, 23)
# text -> (stripped text, intent, confidence, entities) without and with the domain; None: the
# message is parsed as text
RASA = {
    "/greet": [("/greet", "greet", 1.0, [])] * 2,
    "  /greet  ": [("/greet", "greet", 1.0, [])] * 2,
    '/inform{"city": "Rome"}': [('/inform{"city": "Rome"}', "inform", 1.0, [ROME])] * 2,
    '/inform@0.5{"city": ["Rome", "Oslo"]}': [
        ('/inform@0.5{"city": ["Rome", "Oslo"]}', "inform", 0.5,
         [("city", "Rome", 11, 37), ("city", "Oslo", 11, 37)])
    ] * 2,
    '/inform{"city": "Rome"}@0.9': [('/inform{"city": "Rome"}@0.9', "inform", 1.0, [ROME])] * 2,
    "/inform@2": [("/inform@2", "inform", 1.0, [])] * 2,
    "/inform@0.9.1": [("/inform@0.9.1", "inform", 0.0, [])] * 2,
    '/inform{"town": "x", "city": 1}': [
        ('/inform{"town": "x", "city": 1}', "inform", 1.0, [("town", "x", 7, 31),
                                                             ("city", 1, 7, 31)]),
        ('/inform{"town": "x", "city": 1}', "inform", 1.0, [("city", 1, 7, 31)]),
    ],
    "/inform{not json}": [("/inform{not json}", "inform", 1.0, [])] * 2,
    "/unknown": [("/unknown", "unknown", 1.0, []), None],
    "/greet there": [("/greet there", "greet there", 1.0, []), None],
    "hello": [None, None],
    '/inform{"city": "Rome"} extra': [('/inform{"city": "Rome"} extra', "inform", 1.0, [ROME])] * 2,
    "/ greet": [("/ greet", "greet", 1.0, [])] * 2,
    "/greet\nhello": [("/greet\nhello", "greet\nhello", 1.0, []), None],
    "/inform[1]": [("/inform[1]", "inform[1]", 1.0, []), None],
}  # fmt: skip


def short(parse):
    if parse is None:
        return None
    entities = [(e["entity"], e["value"], e["start"], e["end"]) for e in parse["entities"]]
    return parse["text"], parse["intent"]["name"], parse["intent"]["confidence"], entities


@pytest.mark.parametrize("text", RASA)
def test_messages_naming_their_intent_are_read_as_rasa_reads_them(text):
    without, with_domain = RASA[text]
    assert short(shortcut_parse(text)) == without
    assert short(shortcut_parse(text, INTENTS, ENTITIES)) == with_domain


def test_the_parse_has_rasas_keys_and_extractor():
    parse = shortcut_parse('/inform{"city": "Rome"}', INTENTS, ENTITIES)
    assert parse == {
        "text": '/inform{"city": "Rome"}',
        "intent": {"name": "inform", "confidence": 1.0},
        "intent_ranking": [{"name": "inform", "confidence": 1.0}],
        "entities": [{"entity": "city", "value": "Rome", "start": 7, "end": 23,
                      "extractor": "RegexMessageHandler"}],
    }  # fmt: skip
    parse["intent_ranking"][0]["confidence"] = 0.1
    assert parse["intent"]["confidence"] == 1.0  # two dicts, as Rasa's
