"""Rasa's REST channel sends every response whole: buttons, quick replies, images, attachments,
elements and custom payloads, conditional and channel variations, slots filled into each field,
and what a custom action's answer says. The expected messages and events below were produced by
Rasa 3.6.21 itself, without training, on this same domain with city=Rome and tier=gold: its
``ActionBotResponse`` (``TemplatedNaturalLanguageGenerator``) for each response and
``RemoteAction._utter_responses`` for `ANSWERS`, each ``bot`` event sent through a
``CollectingOutputChannel`` (the REST webhook's)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from action_servers import LocalActionServer
from fastapi.testclient import TestClient

from diet_sparse.errors import TrainingDataWarning
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import ActionExecuted, UserUttered
from diet_sparse.serving.app import create_app
from diet_sparse.serving.tracker_store import TrackerStore

DOMAIN = """
version: "3.1"
intents: [greet, menu, ticket, quick, cards, tier, channel, broken, ask]
entities: [city, tier]
slots:
  city:
    type: text
    influence_conversation: false
    mappings: [{type: from_entity, entity: city}]
  tier:
    type: categorical
    values: [gold, basic]
    influence_conversation: false
    mappings: [{type: from_entity, entity: tier}]
actions: [action_ask]
responses:
  utter_greet:
  - text: "Hi! Where to?"
    buttons:
    - {title: "Weather in {city}", payload: '/ask{{"city": "{city}"}}'}
    - {title: "Menu", payload: "/menu"}
  utter_menu:
  - text: "Our menu"
    image: "https://example.com/{city}.png"
    custom: {kind: menu, city: "{city}", items: ["soup in {city}", 3, {dish: "{city} pie"}]}
  utter_ticket:
  - text: "Your ticket\\n\\nHave a nice trip"
    attachment: {type: file, url: "https://example.com/{city}.pdf"}
  utter_quick:
  - text: "Quick?"
    quick_replies: [{title: "Yes", payload: "/affirm"}]
    buttons: [{title: "Left out", payload: "/x"}]
  utter_cards:
  - text: "Cards"
    elements:
    - {title: "Card {city}", subtitle: "one", buttons: [{title: "Go", payload: "/go"}]}
    - {title: "Plain"}
  utter_tier:
  - text: "Welcome, gold member"
    condition: [{type: slot, name: tier, value: GOLD}]
  - text: "Welcome"
  utter_channel:
  - text: "On Slack"
    channel: slack
  - text: "Anywhere"
  - text: "On the REST channel"
    channel: collector
  utter_broken:
  - text: "{city} and {nope}"
    buttons: [{title: "{city} {{literal}}", payload: '/ask{"city": "{city}"}'}]
  utter_named:
  - text: "Hello {name} from {city}"
"""
# What the action server answers for action_ask: rasa_sdk's utter_message fields for
# utter_message(text=...), (response=..., buttons=...), (json_message=...), (image=...),
# (response=..., name="Ann"), a response the domain lacks, (text, attachment, elements).
_BLANK = {"text": None, "buttons": [], "elements": [], "custom": {}, "template": None,
          "response": None, "image": None, "attachment": None}  # fmt: skip
ANSWERS = [
    {**_BLANK, "text": "Plain text"},
    {**_BLANK, "response": "utter_greet", "template": "utter_greet",
     "buttons": [{"title": "Extra", "payload": "/extra"}]},
    {**_BLANK, "custom": {"payload": "pdf", "data": [1, 2]}},
    {**_BLANK, "image": "https://example.com/a.png"},
    {**_BLANK, "response": "utter_named", "template": "utter_named", "name": "Ann"},
    {**_BLANK, "response": "utter_missing", "template": "utter_missing"},
    {**_BLANK, "text": "Look", "attachment": "https://example.com/b.pdf",
     "elements": [{"title": "E"}]},
]  # fmt: skip

# Rasa 3.6.21's REST channel, per action, without recipient_id (see the module's docstring).
RASA_REST = {
    "utter_greet": [
        {
            "text": "Hi! Where to?",
            "buttons": [
                {"title": "Weather in Rome", "payload": '/ask{"city": "Rome"}'},
                {"title": "Menu", "payload": "/menu"},
            ],
        }
    ],
    "utter_menu": [
        {"text": "Our menu"},
        {"custom": {"kind": "menu", "city": "Rome", "items": ["soup in Rome", 3,
                                                              {"dish": "Rome pie"}]}},
        {"image": "https://example.com/Rome.png"},
    ],
    "utter_ticket": [
        {"text": "Your ticket"},
        {"text": "Have a nice trip"},
        {"attachment": {"type": "file", "url": "https://example.com/Rome.pdf"}},
    ],
    "utter_quick": [{"text": "Quick?", "buttons": [{"title": "Yes", "payload": "/affirm"}]}],
    "utter_cards": [
        {"text": "Cards"},
        {"text": "Card {city} : one", "buttons": [{"title": "Go", "payload": "/go"}]},
        {"text": "Plain : ", "buttons": []},
    ],
    "utter_tier": [{"text": "Welcome, gold member"}],
    "utter_channel": [{"text": "On the REST channel"}],
    "utter_broken": [
        {
            "text": "{city} and {nope}",
            "buttons": [{"title": "{city} {{literal}}", "payload": '/ask{"city": "{city}"}'}],
        }
    ],
    "action_ask": [
        {"text": "Plain text"},
        {
            "text": "Hi! Where to?",
            "buttons": [
                {"title": "Weather in Rome", "payload": '/ask{"city": "Rome"}'},
                {"title": "Menu", "payload": "/menu"},
                {"title": "Extra", "payload": "/extra"},
            ],
        },
        {"custom": {"payload": "pdf", "data": [1, 2]}},
        {"image": "https://example.com/a.png"},
        {"text": "Hello Ann from Rome"},
        {"text": "Look"},
        {"attachment": "https://example.com/b.pdf"},
        {"text": "E : ", "buttons": []},
    ],
}  # fmt: skip
# Some of Rasa 3.6.21's bot events (text, data without its nulls, metadata), by action.
RASA_BOT_EVENTS = {
    "utter_menu": [{
        "text": "Our menu",
        "data": {"attachment": "https://example.com/Rome.png",  # the image, as Rasa's
                 "image": "https://example.com/Rome.png",
                 "custom": {"kind": "menu", "city": "Rome",
                            "items": ["soup in Rome", 3, {"dish": "Rome pie"}]}},
        "metadata": {"utter_action": "utter_menu"},
    }],
    "utter_tier": [{
        "text": "Welcome, gold member",
        "data": {},
        "metadata": {"condition": [{"type": "slot", "name": "tier", "value": "GOLD"}],
                     "utter_action": "utter_tier"},
    }],
    "utter_channel": [{
        "text": "On the REST channel",
        "data": {},
        "metadata": {"channel": "collector", "utter_action": "utter_channel"},
    }],
}  # fmt: skip
RASA_ACTION_EVENTS = [  # the last four bot events of action_ask
    {"text": None, "data": {"custom": {"payload": "pdf", "data": [1, 2]}}, "metadata": {}},
    {"text": None, "data": {"attachment": "https://example.com/a.png",
                            "image": "https://example.com/a.png"}, "metadata": {}},
    {"text": "Hello Ann from Rome", "data": {},
     "metadata": {"utter_action": "utter_named", "template": "utter_named", "name": "Ann"}},
    {"text": "Look", "data": {"elements": [{"title": "E"}],
                              "attachment": "https://example.com/b.pdf"}, "metadata": {}},
]  # fmt: skip


def answer_city_oslo(request: dict) -> tuple[int, dict]:
    """Every action answers `ANSWERS` and sets city to Oslo (after the messages, as Rasa
    applies them: they still say Rome)."""
    return 200, {"events": [{"event": "slot", "name": "city", "value": "Oslo"}],
                 "responses": ANSWERS}  # fmt: skip


class StubNLU:
    """Every message here names its intent (read without the NLU), so this never parses."""

    intents: list[str] = []
    tag_vocabularies: dict = {}
    config = SimpleNamespace(connection_density=0.2)
    metadata = {"trained_at": None}

    def parse(self, text: str) -> dict:
        raise AssertionError(f"{text!r} should have been read as naming its intent")

    def parse_batch(self, texts: list[str]) -> list[dict]:
        return [self.parse(text) for text in texts]


class IntentPolicy:
    """The intent ``x`` is answered by ``utter_x`` (``ask``: the custom action), then listen."""

    def __init__(self, domain) -> None:
        self.domain = domain
        self.action_names = list(domain.action_names)

    def predict(self, events, excluded=()):
        action = "action_listen"
        for event in reversed(events):
            if isinstance(event, ActionExecuted):
                break  # answered
            if isinstance(event, UserUttered):
                action = "action_ask" if event.intent == "ask" else f"utter_{event.intent}"
                break
        return {"scores": [{"action": action, "score": 1.0}], "policy": "test", "confidence": 1.0}


@pytest.fixture
def client(tmp_path):
    (tmp_path / "domain.yml").write_text(DOMAIN)
    with pytest.warns(TrainingDataWarning, match="names slot"):  # {nope} and {name}
        policy = IntentPolicy(load_domain(tmp_path / "domain.yml"))
    server = LocalActionServer(answer_city_oslo)
    app = create_app(StubNLU(), policy=policy, tracker_store=TrackerStore("sqlite://"),
                     action_endpoint=server.url)  # fmt: skip
    with TestClient(app) as client:
        yield client
    server.close()


def say(client, message: str) -> list[dict]:
    answer = client.post("/webhooks/rest/webhook", json={"sender": "ann", "message": message})
    assert answer.status_code == 200, answer.text
    return answer.json()


def bot_events(client) -> list[dict]:
    events = client.get("/conversations/ann/tracker").json()["events"]
    return [
        {"text": e["text"], "data": {k: v for k, v in e["data"].items() if v is not None},
         "metadata": e["metadata"]}
        for e in events
        if e["event"] == "bot"
    ]  # fmt: skip


def test_the_rest_channel_sends_every_response_as_rasa_does(client):
    first = say(client, '/greet{"city": "Rome", "tier": "gold"}')
    assert all(message.pop("recipient_id") == "ann" for message in first)
    assert first == RASA_REST["utter_greet"]
    for action in RASA_REST:
        if action != "utter_greet":
            intent = "ask" if action == "action_ask" else action.removeprefix("utter_")
            sent = say(client, f"/{intent}")
            assert [m.pop("recipient_id") for m in sent] == ["ann"] * len(sent)
            assert sent == RASA_REST[action], action


def test_bot_events_keep_the_data_and_metadata_as_rasas(client):
    say(client, '/greet{"city": "Rome", "tier": "gold"}')
    for action, expected in RASA_BOT_EVENTS.items():
        before = len(bot_events(client))
        say(client, f"/{action.removeprefix('utter_')}")
        assert bot_events(client)[before:] == expected, action
    say(client, "/ask")
    assert bot_events(client)[-4:] == RASA_ACTION_EVENTS


def test_a_custom_actions_slots_count_after_its_messages(client):
    say(client, '/greet{"city": "Rome"}')
    assert say(client, "/ask")[4]["text"] == "Hello Ann from Rome"  # as Rasa: said first
    assert say(client, "/greet")[0]["buttons"][0]["title"] == "Weather in Oslo"
