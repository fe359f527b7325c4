"""`NLU.parse` of messages that name their intent: read without the network, as Rasa's
RegexMessageHandler (any intent without a domain, only the domain's with one)."""

from __future__ import annotations

from types import SimpleNamespace

from diet_sparse.rasa.intent_message import shortcut_parse

DOMAIN = SimpleNamespace(intents=["greet"], entities=["city"])


def test_a_message_naming_its_intent_skips_the_network(nlu):
    text = '/greet{"city": "Rome", "colour": "red"}'
    assert nlu.parse(text) == shortcut_parse(text)  # no domain: any entity type, any intent
    assert nlu.parse("/dance")["intent"] == {"name": "dance", "confidence": 1.0}
    assert [e["entity"] for e in nlu.parse(text, domain=DOMAIN)["entities"]] == ["city"]
    by_model = nlu.parse("/dance", domain=DOMAIN)  # not the domain's: the model parses it
    assert by_model["intent"]["name"] in nlu.intents and "intent_ranking" in by_model


def test_a_batch_reads_them_apart_and_keeps_the_order(nlu):
    texts = ["/greet", "hello there", "/dance", "book a flight"]
    parsed = nlu.parse_batch(texts, domain=DOMAIN)
    assert [p["text"] for p in parsed] == texts
    assert parsed[0]["intent"] == {"name": "greet", "confidence": 1.0}
    for i in (1, 2, 3):
        assert parsed[i]["intent"]["name"] == nlu.parse(texts[i], domain=DOMAIN)["intent"]["name"]
    assert nlu.parse_batch(["/dance"])[0]["intent"]["name"] == "dance"
