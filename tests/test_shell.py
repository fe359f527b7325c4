"""The interactive shell, driven through stdin, and the way it shows a parse result."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path

from diet_sparse.shell import (
    button_payloads,
    format_intents,
    format_reply,
    format_result,
    highlight,
    run_shell,
)

SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]

FLIGHT = "book a flight from Berlin to Lisbon tomorrow"
RESULT = {
    "text": "fly from Berlin to NYC",
    "intent": {"name": "book_flight", "confidence": 0.981},
    "intent_ranking": [
        {"name": "book_flight", "confidence": 0.981},
        {"name": "greet", "confidence": 0.012},
        {"name": "deny", "confidence": 0.004},
        {"name": "affirm", "confidence": 0.003},
    ],
    "entities": [
        {
            "entity": "city",
            "start": 9,
            "end": 15,
            "value": "Berlin",
            "confidence_entity": 0.99,
            "role": "departure",
            "confidence_role": 0.9,
        },
        {
            "entity": "city",
            "start": 19,
            "end": 22,
            "value": "New York",
            "confidence_entity": 0.95,
            "group": "1",
            "confidence_group": 0.8,
        },
    ],
}


def test_piped_session_prints_intents_and_entities_until_exit(trained_model_dir, nlu):
    typed = f"{FLIGHT}\n\nhello there\n/exit\nthis line is never parsed\n"
    result = subprocess.run(
        [*COMMAND, "shell", "--model", str(trained_model_dir)],
        input=typed,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "\033[" not in out  # no colour codes when stdout is not a terminal
    assert out.count("intent: ") == 2  # the blank line is skipped, nothing after /exit
    for text in (FLIGHT, "hello there"):
        expected = nlu.parse(text)
        assert f"intent: {expected['intent']['name']} (" in out
        for entity in expected["entities"]:
            assert f"[{text[entity['start'] : entity['end']]}]({entity['entity']}" in out
    assert "this line is never parsed" not in out
    assert "next: " in out


def test_end_of_input_ends_the_shell(trained_model_dir, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello there\n"))
    assert run_shell(trained_model_dir) == 0
    out = capsys.readouterr().out
    assert out.startswith("intent: ") and "> " not in out  # no prompt when stdin is piped


def test_missing_model_is_one_error_line(tmp_path, monkeypatch, capsys):
    from diet_sparse.cli import main

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    assert main(["shell", "--model", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: model directory {tmp_path / 'missing'} does not exist"
    ]
    assert "Traceback" not in err


def test_intent_line_shows_the_next_two_intents():
    assert format_intents(RESULT) == ("intent: book_flight (0.98)  next: greet (0.01), deny (0.00)")
    alone = {"intent": {"name": "greet", "confidence": 1.0}, "intent_ranking": []}
    assert format_intents(alone) == "intent: greet (1.00)"


def test_entities_are_marked_in_the_text_with_role_and_group():
    assert highlight(RESULT["text"], RESULT["entities"]) == (
        "fly from [Berlin](city:departure) to [NYC](city#1)"
    )
    coloured = highlight(RESULT["text"], RESULT["entities"], colour=True)
    assert "\033[" in coloured and "Berlin" in coloured and "[Berlin]" not in coloured


def test_result_block_lists_each_entity_with_its_value():
    lines = format_result(RESULT).splitlines()
    assert lines[1] == "fly from [Berlin](city:departure) to [NYC](city#1)"
    assert lines[2].startswith("  city: 'Berlin' [9:15] (0.99)") and "role departure" in lines[2]
    assert "'New York'" in lines[3] and "group 1" in lines[3]
    no_entities = dict(RESULT, entities=[])
    assert format_result(no_entities).splitlines()[1] == "entities: none"


# --- the bot's messages ------------------------------------------------------------------------

PICK = {
    "action": "utter_pick",
    "kind": "response",
    "text": "Where to?",
    "bot_messages": [
        {
            "text": "Where to?",
            "buttons": [{"title": "Rome", "payload": '/inform{"city": "Rome"}'},
                        {"title": "Oslo", "payload": "/oslo", "url": "https://x"}],
            "image": "https://x/map.png",
            "custom": {"map": True},
        }
    ],
}  # fmt: skip


def test_a_reply_shows_buttons_numbered_images_and_custom_payloads_as_rasa_shell():
    listen = {"action": "action_listen", "kind": "listen", "text": None, "bot_messages": []}
    assert format_reply([PICK, listen]).splitlines() == [
        "Where to?",
        '1: Rome (/inform{"city": "Rome"})',
        '2: Oslo (/oslo) - {"url": "https://x"}',
        "Custom json:",
        "{",
        '  "map": true',
        "}",
        "Image: https://x/map.png",
    ]
    assert button_payloads([PICK, listen]) == ['/inform{"city": "Rome"}', "/oslo"]
    no_buttons = {**listen, "bot_messages": [{"text": "OK"}]}
    assert button_payloads([no_buttons]) == []


class ButtonBot:
    def __init__(self):
        self.heard = []

    def respond(self, text):
        self.heard.append(text)
        return [PICK]


def test_typing_a_buttons_number_sends_its_payload(monkeypatch, capsys, tmp_path):
    import diet_sparse.persistence
    import diet_sparse.shell

    bot = ButtonBot()
    monkeypatch.setattr(diet_sparse.persistence, "load", lambda model_dir: None)
    monkeypatch.setattr(diet_sparse.shell, "_bot", lambda *args: bot)
    monkeypatch.setattr(sys, "stdin", io.StringIO("3\nhi\n2\n1\n"))
    assert run_shell(tmp_path) == 0
    # "3" before any buttons is text; after a reply with two buttons, 2 and 1 choose
    assert bot.heard == ["3", "hi", "/oslo", '/inform{"city": "Rome"}']
    assert "1: Rome" in capsys.readouterr().out


def test_a_described_turn_lists_what_a_response_holds_besides_its_text():
    from diet_sparse.rasa.events import user_uttered
    from diet_sparse.shell import describe_turn

    user = user_uttered("where", {"intent": {"name": "ask", "confidence": 0.9}})
    lines = describe_turn([user], [{**PICK, "confidence": 0.95}])
    assert lines[2:] == [
        '  0.950  utter_pick  "Where to?"',
        '         1: Rome (/inform{"city": "Rome"})',
        '         2: Oslo (/oslo) - {"url": "https://x"}',
        "         Custom json:",
        "         {",
        '           "map": true',
        "         }",
        "         Image: https://x/map.png",
    ]
