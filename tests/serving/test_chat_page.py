"""The endpoints behind the chat page (issue 28), in this process: the conversation turn by turn
(`serving.inspector`), corrections that take turns back and let the bot go on
(`conversations.correct`), the domain to choose from, and the page's paths needing no token.
The page itself, in a real browser, is tests/browser/'s."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient
from policies import DOMAIN, QUICK, STORIES
from test_app_predict import StubNLU

from diet_sparse.errors import ConfigError, TrainingDataWarning
from diet_sparse.rasa.events import UserUttered, applied_events
from diet_sparse.serving.app import create_app
from diet_sparse.serving.tracker_store import TrackerStore

TOKEN = "page-secret"


class KeywordNLU(StubNLU):
    """Parses by keyword: "hi" greet, "bye" goodbye, "yes" affirm, "book" book (with the city
    after "to" as a ``to`` city); anything else greet, unsure."""

    def parse(self, text: str) -> dict:
        words = text.lower().split()
        intent, confidence, entities = "greet", 0.4, []
        for keyword, name in (("hi", "greet"), ("bye", "goodbye"), ("yes", "affirm")):
            if keyword in words:
                intent, confidence = name, 0.9
        if "book" in words:
            intent, confidence = "book", 0.9
            if "to" in words[:-1]:
                city = text.split()[words.index("to") + 1]
                start = text.index(city)
                entities = [{"entity": "city", "role": "to", "start": start,
                             "end": start + len(city), "value": city}]  # fmt: skip
        ranking = [{"name": intent, "confidence": confidence}]
        ranking.append({"name": "goodbye" if intent != "goodbye" else "greet", "confidence": 0.05})
        return {"text": text, "intent": ranking[0], "intent_ranking": ranking, "entities": entities}

    def parse_batch(self, texts: list[str]) -> list[dict]:
        return [self.parse(text) for text in texts]


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from diet_sparse.persistence import load_policy
    from diet_sparse.training import train_policy

    folder = tmp_path_factory.mktemp("chat_page")
    (folder / "domain.yml").write_text(DOMAIN)
    (folder / "stories.yml").write_text(STORIES)
    config = {**QUICK, "epochs": 5, "rules": True, "memoization": True}  # the stories decide
    train_policy(folder / "domain.yml", folder / "stories.yml", config, out=folder / "policy",
                 progress=False)  # fmt: skip
    return load_policy(folder / "policy")


@pytest.fixture
def store():
    store = TrackerStore("sqlite://")
    yield store
    store.close()


@pytest.fixture
def client(policy, store):
    app = create_app(KeywordNLU(), policy=policy, tracker_store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def say(client, text: str, sender: str = "ann") -> list[str]:
    answer = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    return [message.get("text") for message in answer.json()]


def turns(client, sender: str = "ann") -> list[dict]:
    answer = client.get(f"/conversations/{sender}/turns")
    assert answer.status_code == 200, answer.text
    return answer.json()["turns"]


def correct(client, body: dict, sender: str = "ann"):
    return client.post(f"/conversations/{sender}/corrections", json=body)


def test_turns_tell_each_message_its_actions_and_why(client):
    assert say(client, "hi") == ["Hi!"]
    assert say(client, "book a trip to Paris") == ["Book a trip to Paris?"]
    first, greeted, booked = turns(client)
    assert first["user"] is None and first["turn"] == 0
    assert greeted["user"]["text"] == "hi" and greeted["user"]["intent"]["name"] == "greet"
    assert [i["name"] for i in greeted["user"]["intent_ranking"]] == ["greet", "goodbye"]
    assert [a["action"] for a in greeted["actions"]] == ["utter_greet", "action_listen"]
    greet = greeted["actions"][0]
    assert greet["policy"] in ("MemoizationPolicy", "RulePolicy", "TEDPolicy")
    assert greet["confidence"] == greet["scores"][0]["score"]
    assert greet["scores"][0]["action"] == "utter_greet" and 1 <= len(greet["scores"]) <= 5
    assert greet["messages"] == [{"recipient_id": "ann", "text": "Hi!"}]
    assert booked["user"]["entities"][0]["value"] == "Paris"
    assert booked["slots"]["destination"] == "Paris" and booked["changed_slots"] == ["destination"]
    assert greeted["changed_slots"] == [] and greeted["slots"]["destination"] is None
    assert [e["event"] for e in booked["events"]][:2] == ["user", "slot"]


def test_an_intent_corrected_changes_what_the_bot_does_next(client, store):
    say(client, "hi")
    say(client, "see you")  # read as greet, unsure
    answer = correct(client, {"turn": 2, "intent": "goodbye"})
    assert answer.status_code == 200, answer.text
    assert [m["text"] for m in answer.json()["messages"]] == ["Bye."]
    *_, corrected = answer.json()["turns"]
    assert corrected["user"]["intent"] == {"name": "goodbye", "confidence": 1.0}
    assert corrected["user"]["corrected"] is True and corrected["turn"] == 2
    assert [a["action"] for a in corrected["actions"]] == ["utter_goodbye", "action_listen"]
    assert len(turns(client)) == 3  # the corrected turn replaced the one it corrects
    # nothing stored was deleted: the turn is taken back with Rasa's rewind, as rasa interactive
    events = store.events("ann")
    assert sum(e.event_type == "rewind" for e in events) == 1
    users = [e for e in applied_events(events) if isinstance(e, UserUttered)]
    assert [u.intent for u in users] == ["greet", "goodbye"]


def test_correcting_an_earlier_turn_takes_the_later_ones_back(client):
    say(client, "hi")
    say(client, "book a trip to Paris")
    say(client, "yes")
    answer = correct(client, {"turn": 1, "intent": "goodbye"})
    assert [m["text"] for m in answer.json()["messages"]] == ["Bye."]
    assert [t["user"] and t["user"]["text"] for t in turns(client)] == [None, "hi"]
    assert turns(client)[1]["slots"]["destination"] is None
    say(client, "yes")  # and the conversation goes on from there
    assert [t["user"] and t["user"]["text"] for t in turns(client)] == [None, "hi", "yes"]


def test_an_action_corrected_runs_and_the_bot_goes_on(client):
    say(client, "hi")
    answer = correct(client, {"turn": 1, "action_index": 0, "action": "utter_goodbye"})
    assert answer.status_code == 200, answer.text
    assert [m["text"] for m in answer.json()["messages"]] == ["Bye."]
    before, turn = answer.json()["turns"]
    assert [a["messages"] for a in before["actions"]] == [[]]  # not what was taken back ("Hi!")
    assert turn["user"]["text"] == "hi" and turn["user"]["corrected"] is False
    corrected, *rest = turn["actions"]
    assert (corrected["action"], corrected["policy"], corrected["corrected"]) == (
        "utter_goodbye", None, True
    )  # fmt: skip
    assert [a["action"] for a in rest][-1] == "action_listen"


def test_entities_corrected_fill_the_slots_their_mappings_name(client):
    say(client, "hi")
    say(client, "book it for Rome")  # no "to": no entity
    assert turns(client)[2]["user"]["entities"] == []
    body = {"turn": 2, "intent": "book", "entities": [
        {"start": 12, "end": 16, "entity": "city", "role": "to"}]}  # fmt: skip
    answer = correct(client, body)
    assert answer.status_code == 200, answer.text
    turn = answer.json()["turns"][2]
    assert turn["user"]["entities"] == [
        {"entity": "city", "start": 12, "end": 16, "value": "Rome", "role": "to"}
    ]
    assert turn["slots"]["destination"] == "Rome"
    assert [m["text"] for m in answer.json()["messages"]] == ["Book a trip to Rome?"]


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"turn": 1}, "a correction names either 'intent'"),
        ({"turn": 1, "intent": "greet", "action": "utter_greet"}, "either 'intent'"),
        ({"turn": 0, "intent": "greet"}, "'turn' must be the number of a turn with a message"),
        ({"turn": 7, "intent": "greet"}, "1 to 1, got 7"),
        ({"turn": 1, "intent": "goodby"}, "'intent' 'goodby' is not an intent of the domain"),
        ({"turn": 1, "action_index": 5, "action": "utter_greet"}, "'action_index' must be"),
        ({"turn": 1, "action_index": 0, "action": "utter_nope"}, "is not an action of the"),
        ({"turn": 1, "intent": "book", "entities": [{"start": 0, "end": 99, "entity": "city"}]},
         "'entities' item 0: 'start' and 'end' must be character offsets"),
        ({"turn": 1, "intent": "book", "entities": [{"start": 0, "end": 2, "entity": "town"}]},
         "entity 'town' is not in the domain"),
    ],
)  # fmt: skip
def test_a_correction_that_cannot_be_made_is_refused_and_stores_nothing(
    client, store, body, detail
):
    say(client, "hi")
    before = store.events("ann")
    answer = correct(client, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_correction"
    assert detail in answer.json()["detail"]
    assert store.events("ann") == before


def test_the_domain_lists_what_corrections_choose_from(client, policy):
    domain = client.get("/inspector/domain").json()
    assert domain["intents"][:4] == ["greet", "book", "affirm", "goodbye"]  # then Rasa's own
    assert domain["entities"] == ["city"]
    assert domain["actions"] == list(policy.action_names) and "utter_goodbye" in domain["actions"]
    assert domain["slots"] == {"booked": None, "destination": None}


def test_the_page_needs_no_token_but_its_data_does(policy, store):
    app = create_app(KeywordNLU(), policy=policy, tracker_store=store, auth_token=TOKEN)
    with TestClient(app) as client:
        assert client.get("/page/no-such-file.js").status_code == 404  # not 401: no token asked
        assert client.get("/page/..%2Fapp.py").status_code == 404
        assert client.get("/conversations/ann/turns").status_code == 401
        assert client.get("/inspector/domain").status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/conversations/ann/turns", headers=headers).status_code == 200
        assert client.get("/status", headers=headers).json()["interactive"] is False


def test_saving_needs_interactive_learning_in_a_project(client, policy, store):
    say(client, "hi")
    assert client.post("/conversations/ann/save").status_code in (404, 405)
    with pytest.raises(ConfigError, match="--interactive"):
        create_app(KeywordNLU(), policy=policy, tracker_store=store, interactive=True)


def test_the_conversation_as_rasa_yaml_a_story_and_training_data(client):
    say(client, "hi")
    say(client, "see you")
    correct(client, {"turn": 2, "intent": "goodbye"})
    story = client.get("/conversations/ann/story")
    assert story.status_code == 200 and story.headers["content-type"].startswith("text/yaml")
    steps = yaml.safe_load(story.text)["stories"][0]["steps"]
    # every event, as Rasa's endpoint: the turn taken back, then the corrected one
    assert [(s["intent"], s["user"]) for s in steps if "user" in s] == [
        ("greet", "hi"), ("greet", "see you"), ("goodbye", "see you")
    ]  # fmt: skip
    assert steps[-1] == {"action": "utter_goodbye"}
    data = client.get("/conversations/ann/training-data")
    assert 'filename="ann.yml"' in data.headers["content-disposition"]
    written = yaml.safe_load(data.text)
    examples = {item["intent"]: item["examples"] for item in written["nlu"]}
    assert examples == {"greet": "- hi\n", "goodbye": "- see you\n"}
    assert written["stories"][0]["steps"][2] == {"intent": "goodbye"}


def test_interactive_learning_saves_new_files_into_the_project(policy, store, tmp_path):
    from diet_sparse.rasa.nlu_data import load_training_data

    (tmp_path / "data").mkdir()
    app = create_app(KeywordNLU(), policy=policy, tracker_store=store, project=tmp_path,
                     interactive=True)  # fmt: skip
    with TestClient(app) as client:
        assert client.post("/conversations/ann/save").status_code == 400  # nothing said yet
        say(client, "hi")
        correct(client, {"turn": 1, "intent": "goodbye"})
        first = client.post("/conversations/ann/save").json()["files"]
        second = client.post("/conversations/ann/save").json()["files"]
        assert client.get("/status").json()["interactive"] is True
    assert len(first) == len(second) == 1 and first != second
    assert first[0].startswith("data/interactive/")
    with pytest.warns(TrainingDataWarning, match="only 1 example"):
        data = load_training_data(tmp_path / first[0])
    assert [(e.text, e.intent) for e in data.examples] == [("hi", "goodbye")]
