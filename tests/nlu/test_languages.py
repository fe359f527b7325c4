"""End to end in other languages: a tiny model per language of tests/fixtures/languages/ (German,
Russian, Chinese, Japanese, Arabic) is trained, saved, loaded and parses its held-in examples to the
right intent and the right entities, with start, end and value in the text as the user wrote it;
and a model saved with tokenizer version 2 (tests/fixtures/tokenizer_v2/) parses as it did.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from comparing import assert_same_parse

from diet_sparse.nlu.tokenizer import TOKENIZER_VERSION
from diet_sparse.persistence import load
from diet_sparse.rasa.nlu_data import load_training_data

LANGUAGES = Path(__file__).parent.parent / "fixtures" / "languages"
# configs/tiny.yml, with a learning rate high enough to learn these 30 examples by heart in few
# epochs (at the default 0.001, the entities of Chinese took 150 epochs)
TINY = {
    "epochs": 40,  # 30 were enough here: 10 more of margin
    "learning_rate": 0.01,
    "batch_size": [32, 32],
    "transformer_size": 64,
    "dense_dimension": 64,
    "random_seed": 1,
}


# Entities of held-in examples, where the user wrote them: (text, entity, value, start).
WHERE_WRITTEN = {
    "de": [("Regnet es morgen in Köln?", "city", "Köln", 20)],
    "ru": [("Погода в Санкт-Петербурге на выходные", "city", "Санкт-Петербурге", 9)],
    "zh": [("明天南京天气好吗", "city", "南京", 2), ("我要一份馄饨和一杯茶", "dish", "馄饨", 4)],
    "ja": [
        ("明日の大阪の天気を教えて", "city", "大阪", 3),
        ("カレーライスが食べたい", "dish", "カレーライス", 0),
    ],
    "ar": [
        ("كيف الطقس في القاهرة؟", "city", "القاهرة", 13),
        ("أعطني شاورما من فضلك", "dish", "شاورما", 6),
    ],
}


@pytest.fixture(scope="module", params=list(WHERE_WRITTEN))
def language(request, tmp_path_factory):
    """(language code, training data, loaded model) of one language."""
    from diet_sparse.training import train

    data = load_training_data(LANGUAGES / f"{request.param}.yml")
    out = tmp_path_factory.mktemp("languages") / request.param
    train(data, TINY, out=out, progress=False)
    return request.param, data, load(out)


def entities(result: dict) -> list[tuple[str, int, int, str]]:
    return [(e["entity"], e["start"], e["end"], e["value"]) for e in result["entities"]]


def test_held_in_examples_give_their_intent_and_entities(language):
    _, data, nlu = language
    assert nlu.featurizer.tokenizer_version == TOKENIZER_VERSION
    results = nlu.parse_batch([example.text for example in data.examples])
    wrong = [
        (example.text, result["intent"]["name"], entities(result))
        for example, result in zip(data.examples, results, strict=True)
        if result["intent"]["name"] != example.intent
        or entities(result)
        != [(e.entity, e.start, e.end, example.text[e.start : e.end]) for e in example.entities]
    ]
    assert wrong == []


def test_an_entity_is_found_where_the_user_wrote_it(language):
    code, _, nlu = language
    for text, entity, value, start in WHERE_WRITTEN[code]:
        assert entities(nlu.parse(text)) == [(entity, start, start + len(value), value)], text


def test_decomposed_input_parses_as_composed_with_offsets_into_it(language):
    _, data, nlu = language
    texts = [example.text for example in data.examples]
    decomposed = [unicodedata.normalize("NFD", text) for text in texts]
    if decomposed == texts:
        pytest.skip("no character of this language decomposes")
    composed_results, decomposed_results = nlu.parse_batch(texts), nlu.parse_batch(decomposed)
    for nfd, composed, result in zip(decomposed, composed_results, decomposed_results, strict=True):
        assert result["intent"] == composed["intent"]
        assert len(result["entities"]) == len(composed["entities"])
        for entity, composed_entity in zip(result["entities"], composed["entities"], strict=True):
            assert entity["value"] == nfd[entity["start"] : entity["end"]]
            assert unicodedata.normalize("NFC", entity["value"]) == composed_entity["value"]


def test_a_model_saved_with_tokenizer_version_2_parses_as_it_did():
    fixture = LANGUAGES.parent / "tokenizer_v2"
    nlu = load(fixture / "model")
    assert nlu.featurizer.tokenizer_version == 2
    expected = json.loads((fixture / "parses.json").read_text(encoding="utf-8"))
    # version 2 keeps a Chinese sentence whole: the entity is the sentence
    assert expected[0]["entities"][0]["value"] == "北京今天天气怎么样"
    for result in expected:
        assert_same_parse(nlu.parse(result["text"]), result, tolerance=1e-5)
