"""Comparing parse results up to float rounding (batch shapes change the last bits)."""

import math


def assert_same_parse(a: dict, b: dict, tolerance: float = 1e-4) -> None:
    assert a["text"] == b["text"]
    assert a["intent"]["name"] == b["intent"]["name"], a["text"]
    assert math.isclose(a["intent"]["confidence"], b["intent"]["confidence"], abs_tol=tolerance)
    assert [r["name"] for r in a["intent_ranking"]] == [r["name"] for r in b["intent_ranking"]]
    assert len(a["entities"]) == len(b["entities"]), a["text"]
    for x, y in zip(a["entities"], b["entities"]):
        assert {k: v for k, v in x.items() if not k.startswith("confidence")} == {
            k: v for k, v in y.items() if not k.startswith("confidence")
        }
        for key in x:
            if key.startswith("confidence"):
                assert math.isclose(x[key], y[key], abs_tol=tolerance), (a["text"], key)
