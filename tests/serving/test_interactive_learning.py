"""Interactive learning, whole (issue 28): a conversation the bot gets wrong is corrected through
the server's endpoints (the chat page's calls), saved into the project's data/interactive/, and
the project trained again answers that conversation as corrected."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from diet_sparse.dialogue.bot import Bot
from diet_sparse.persistence import load, load_policy
from diet_sparse.project import train_project
from diet_sparse.rasa.events import UserUttered
from diet_sparse.serving.app import create_app
from diet_sparse.serving.tracker_store import TrackerStore

CONFIG = """\
recipe: default.v1
assistant_id: interactive_learning_test
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 80
    transformer_size: 16
    number_of_transformer_layers: 1
    number_of_attention_heads: 2
    random_seed: 1
  - name: EntitySynonymMapper
policies:
  - name: MemoizationPolicy
    max_history: 3
  - name: RulePolicy
  - name: TEDPolicy
    epochs: 3
    max_history: 3
    transformer_size: 16
"""
DOMAIN = """\
version: "3.1"
intents: [greet, bye, ask_weather]
responses:
  utter_greet: [{text: "Hello!"}]
  utter_bye: [{text: "Bye!"}]
  utter_weather: [{text: "Sunny all week."}]
"""
NLU = """\
version: "3.1"
nlu:
  - intent: greet
    examples: |
      - hello
      - hi
      - good morning
  - intent: bye
    examples: |
      - bye
      - goodbye
      - see you later
  - intent: ask_weather
    examples: |
      - is it raining
      - will it rain today
"""
STORIES = """\
version: "3.1"
stories:
  - story: greet
    steps:
      - intent: greet
      - action: utter_greet
  - story: bye
    steps:
      - intent: bye
      - action: utter_bye
"""
# The bot reads this as a greeting at first: no example like it, no story about the weather.
QUESTION = "good morning, what is the forecast"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interactive_project")
    files = {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/nlu.yml": NLU,
             "data/stories.yml": STORIES}  # fmt: skip
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def answers(bot: Bot, text: str) -> tuple[str, list[str]]:
    """The intent the bot read in ``text`` and the actions it ran."""
    replies = bot.respond(text)
    said = [event for event in bot.events if isinstance(event, UserUttered)][-1]
    return said.intent, [reply["action"] for reply in replies]


def test_a_corrected_conversation_saved_trains_a_bot_that_answers_it_as_corrected(project):
    first = train_project(project, out=project / "models" / "first", progress=False)
    nlu, policy = load(first.path), load_policy(first.path)
    store = TrackerStore("sqlite://")
    app = create_app(nlu, policy=policy, tracker_store=store, project=project, interactive=True)
    with TestClient(app) as client:

        def say(text: str) -> None:
            sent = {"sender": "ann", "message": text}
            assert client.post("/webhooks/rest/webhook", json=sent).status_code == 200

        say("hello")
        say(QUESTION)
        turn = client.get("/conversations/ann/turns").json()["turns"][2]
        assert turn["user"]["intent"]["name"] != "ask_weather"  # what the test is about
        fixed = client.post(
            "/conversations/ann/corrections", json={"turn": 2, "intent": "ask_weather"}
        ).json()
        # then each wrong action, as the page's user would, until the turn is as it should be
        wanted = ["utter_weather", "action_listen"]
        for _ in wanted:
            done = [action["action"] for action in fixed["turns"][2]["actions"]]
            if done == wanted:
                break
            wrong = next(
                i for i, action in enumerate(done) if i >= len(wanted) or action != wanted[i]
            )
            correction = {"turn": 2, "action_index": wrong, "action": wanted[wrong]}
            fixed = client.post("/conversations/ann/corrections", json=correction).json()
        assert [action["action"] for action in fixed["turns"][2]["actions"]] == wanted
        assert fixed["turns"][2]["user"]["reverted"] is False
        saved = client.post("/conversations/ann/save")
        assert saved.status_code == 200, saved.text
    store.close()
    (written,) = saved.json()["files"]
    assert (project / written).is_file() and written.startswith("data/interactive/")

    second = train_project(project, out=project / "models" / "second", progress=False)
    bot = Bot(load(second.path), load_policy(second.path))
    assert answers(bot, "hello") == ("greet", ["utter_greet", "action_listen"])
    assert answers(bot, QUESTION) == ("ask_weather", ["utter_weather", "action_listen"])
