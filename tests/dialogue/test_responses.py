"""Responses as Rasa 3.6 says them: which variation (condition, channel), slots filled into each
field, the bot event, the REST channel's messages, and a custom action's answer."""

from __future__ import annotations

import random

from diet_sparse.dialogue.bot import Bot
from diet_sparse.dialogue.responses import (
    action_server_messages,
    bot_uttered,
    choose_variation,
    collected_messages,
    fitting_variations,
    interpolate,
    outgoing_message,
)
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import ActionExecuted, BotUttered, SlotSet, UserUttered, events_as_json

GOLD = [{"type": "slot", "name": "tier", "value": "gold"}]


def texts(variations):
    return [variation["text"] for variation in variations]


def test_a_variation_whose_condition_holds_is_preferred_as_rasas():
    variations = [
        {"text": "Hi"},
        {"text": "Hi, gold member", "condition": GOLD},
        {"text": "Hi, big spender", "condition": [{"type": "slot", "name": "spent", "value": 9}]},
    ]
    assert texts(fitting_variations(variations, {"tier": "GOLD", "spent": 0}, "collector")) == [
        "Hi, gold member"  # texts compare without regard to case
    ]
    both = {"tier": "gold", "spent": 9}
    assert texts(fitting_variations(variations, both, "collector")) == [
        "Hi, gold member",
        "Hi, big spender",
    ]
    picked = {choose_variation(variations, both, random.Random(s))["text"] for s in range(20)}
    assert picked == {"Hi, gold member", "Hi, big spender"}  # at random among them
    assert texts(fitting_variations(variations, {"tier": None, "spent": 9.0}, "collector")) == [
        "Hi, big spender"  # 9 == 9.0, as Python compares them
    ]
    assert texts(fitting_variations(variations, {"tier": "basic"}, "collector")) == ["Hi"]


def test_channel_variations_come_first_and_other_channels_never():
    variations = [
        {"text": "anywhere"},
        {"text": "slack only", "channel": "slack"},
        {"text": "rest", "channel": "collector"},
        {"text": "rest, gold", "channel": "collector", "condition": GOLD},
        {"text": "gold", "condition": GOLD},
    ]
    gold, basic = {"tier": "gold"}, {"tier": "basic"}
    # Rasa's order: condition and channel, channel, condition, neither
    assert texts(fitting_variations(variations, gold, "collector")) == ["rest, gold"]
    assert texts(fitting_variations(variations, basic, "collector")) == ["rest"]
    assert texts(fitting_variations(variations, gold, "telegram")) == ["gold"]
    assert texts(fitting_variations(variations, basic, "telegram")) == ["anywhere"]
    assert texts(fitting_variations(variations[1:2], basic, "collector")) == []


def test_slots_are_filled_into_every_field_but_elements():
    variation = {
        "text": "To {city}",
        "buttons": [{"title": "{city}", "payload": '/go{{"city": "{city}"}}'}],
        "custom": {"deep": [{"city": "{city}", "n": 3, "flag": True}], "{city}": "key kept"},
        "image": "https://x/{city}.png",
        "elements": [{"title": "{city}"}],
        "id": "{city}",
    }
    said = choose_variation([variation], {"city": "Rome"})
    assert said["text"] == "To Rome"
    assert said["buttons"] == [{"title": "Rome", "payload": '/go{"city": "Rome"}'}]
    assert said["custom"] == {
        "deep": [{"city": "Rome", "n": 3, "flag": True}],
        "{city}": "key kept",
    }
    assert said["image"] == "https://x/Rome.png"
    assert said["elements"] == [{"title": "{city}"}] and said["id"] == "{city}"  # as Rasa
    assert variation["text"] == "To {city}"  # the domain's variation is not changed
    assert interpolate(7, {"city": "Rome"}) == 7


def test_the_bot_event_and_the_rest_channels_messages():
    event = bot_uttered(
        {"text": "One\n\nTwo", "image": "https://x/y.png", "utter_action": "utter_a", "id": "v1"}
    )
    assert event.data["attachment"] == event.data["image"] == "https://x/y.png"  # as Rasa's
    assert event.metadata == {"utter_action": "utter_a", "id": "v1"}
    message = outgoing_message(event)
    assert message["attachment"] is None  # the image is sent once
    assert collected_messages(message, "ann") == [
        {"recipient_id": "ann", "text": "One"},
        {"recipient_id": "ann", "text": "Two"},
        {"recipient_id": "ann", "image": "https://x/y.png"},
    ]
    replies = {"text": "Sure?", "quick_replies": [{"title": "Y"}], "buttons": [{"title": "N"}]}
    assert collected_messages(replies, "ann") == [
        {"recipient_id": "ann", "text": "Sure?", "buttons": [{"title": "Y"}]}
    ]
    only_custom = outgoing_message(bot_uttered({"custom": {"a": 1}}))
    assert collected_messages(only_custom, "ann") == [{"recipient_id": "ann", "custom": {"a": 1}}]


def test_a_custom_actions_answer_becomes_messages_as_rasas():
    responses = {"utter_hi": ({"text": "Hi {name}, from {city}", "buttons": [{"title": "A"}]},)}
    answers = [
        {"response": "utter_hi", "name": "Ann", "city": None, "buttons": [{"title": "B"}]},
        {"response": "utter_gone", "text": "never said"},
        {"text": "Plain", "buttons": [], "custom": {}, "image": None, "extra": "kept"},
    ]
    said = action_server_messages(answers, responses, {"city": "Rome", "name": "Bob"})
    assert said == [
        {  # the answer's fields fill the response first; its empty ones are not laid over
            "text": "Hi Ann, from None",
            "buttons": [{"title": "A"}, {"title": "B"}],
            "utter_action": "utter_hi",
            "name": "Ann",
        },
        {"text": "Plain", "extra": "kept"},
    ]


class OneIntentNLU:
    def parse(self, text):
        return {"text": text, "intent": {"name": "greet", "confidence": 1.0}, "entities": []}


class Script:
    def __init__(self, domain, *actions):
        self.domain, self.actions = domain, list(actions)

    def predict(self, events):
        action = self.actions.pop(0) if self.actions else "action_listen"
        return {"scores": [{"action": action, "score": 1.0}], "policy": "s", "confidence": 1.0}


class Actions:
    """An action server answering a message and a slot."""

    def run(self, action, sender_id, events, domain):
        return [SlotSet("city", "Oslo")], [{"text": "Done in {city}", "image": "https://x/i.png"}]


def test_the_bot_says_whole_messages_and_records_them(tmp_path):
    (tmp_path / "domain.yml").write_text(
        """
intents: [greet]
slots:
  city: {type: text, initial_value: Rome, mappings: [{type: custom}]}
actions: [action_book]
responses:
  utter_greet:
  - text: "Hi"
    buttons: [{title: "Weather in {city}", payload: "/greet"}]
  - text: "Hi on Slack"
    channel: slack
"""
    )
    domain = load_domain(tmp_path / "domain.yml")
    bot = Bot(OneIntentNLU(), Script(domain, "utter_greet", "action_book"), actions=Actions())
    greet, book, listen = bot.respond("hello")
    assert greet["text"] == "Hi"  # the result keeps its shape
    assert greet["bot_messages"] == [
        {
            "text": "Hi",
            "buttons": [{"title": "Weather in Rome", "payload": "/greet"}],
            "elements": None,
            "quick_replies": None,
            "attachment": None,
            "image": None,
            "custom": None,
            "utter_action": "utter_greet",
        }
    ]
    assert book["messages"] == ["Done in {city}"]  # text from the action server: not filled
    assert book["bot_messages"][0]["image"] == "https://x/i.png"
    assert listen["bot_messages"] == []
    kinds = [type(e).__name__ for e in bot.events[-5:]]
    assert kinds == ["BotUttered", "ActionExecuted", "BotUttered", "SlotSet", "ActionExecuted"]
    said = events_as_json([e for e in bot.events if isinstance(e, BotUttered)])[0]
    assert said["data"]["buttons"] == [{"title": "Weather in Rome", "payload": "/greet"}]
    slack = Bot(OneIntentNLU(), Script(domain, "utter_greet"), output_channel="slack")
    assert slack.respond("hello")[0]["text"] == "Hi on Slack"
    assert isinstance(bot.events[1], UserUttered) and isinstance(bot.events[0], ActionExecuted)
