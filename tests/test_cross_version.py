"""Prediction does not care which Python trained a model: models committed from Python 3.11
(TensorFlow 2.15, numpy 1) and 3.13 (TensorFlow 2.21, numpy 2) parse, under whatever Python runs
the tests, as they did right after training (tests/fixtures/cross_version/make.py makes them)."""

import json
import math
from pathlib import Path

import pytest
from comparing import assert_same_parse

from diet_sparse.persistence import load

FIXTURES = Path(__file__).parent / "fixtures" / "cross_version"
TRAINED_ON = {"python3.11": "2.15", "python3.13": "2.21"}  # fixture -> its TensorFlow


@pytest.mark.parametrize("fixture", sorted(TRAINED_ON))
def test_a_model_parses_as_on_the_python_that_trained_it(fixture):
    nlu = load(FIXTURES / fixture / "model")
    assert nlu.metadata["python_version"].startswith(fixture.removeprefix("python") + ".")
    assert nlu.metadata["tensorflow_version"].startswith(TRAINED_ON[fixture] + ".")
    expected = json.loads((FIXTURES / fixture / "parses.json").read_text(encoding="utf-8"))
    assert sum(bool(result["entities"]) for result in expected) >= 3  # entities are compared
    one_by_one = [nlu.parse(result["text"]) for result in expected]
    batch = nlu.parse_batch([result["text"] for result in expected])
    for got in (one_by_one, batch):
        for parsed, result in zip(got, expected):
            assert_same_parse(parsed, result, tolerance=1e-5)
            for ours, theirs in zip(parsed["intent_ranking"], result["intent_ranking"]):
                assert math.isclose(ours["confidence"], theirs["confidence"], abs_tol=1e-5)


def test_both_fixtures_parse_the_same_messages():
    """The two models see the same messages, so each version's reading of both is checked."""
    texts = [
        [result["text"] for result in json.loads((FIXTURES / f / "parses.json").read_text())]
        for f in TRAINED_ON
    ]
    assert texts[0] == texts[1]
