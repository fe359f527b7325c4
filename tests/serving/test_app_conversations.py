"""The bot's HTTP endpoints in this process (issue 26): what enters through the REST channel and
the tracker endpoints is checked once, at the boundary, the same with every tracker store: the
events (`rasa.events.events_from_json`), the sender ids (`rasa.events.check_sender_id`) and the
token."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from policies import DOMAIN, QUICK, STORIES
from test_app import TOKEN, assert_error
from test_app_predict import LISTEN, StubNLU
from test_conversations import postgres  # noqa: F401  (a fixture: PostgreSQL of its own)

from diet_sparse.serving.app import create_app
from diet_sparse.serving.tracker_store import TrackerStore


class StubBotNLU(StubNLU):
    """`StubNLU` that the bot can ask too: every message is ``greet``."""

    def parse(self, text: str) -> dict:
        return self.parse_batch([text])[0]


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from diet_sparse.persistence import load_policy
    from diet_sparse.training import train_policy

    project = tmp_path_factory.mktemp("bot")
    (project / "domain.yml").write_text(DOMAIN)
    (project / "stories.yml").write_text(STORIES)
    quick = {**QUICK, "epochs": 5}  # these tests are about what the server lets in
    train_policy(project / "domain.yml", project / "stories.yml", quick, out=project / "policy",
                 progress=False)  # fmt: skip
    return load_policy(project / "policy")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres")
    store = TrackerStore(url)
    yield store
    with store.engine.begin() as connection:  # the PostgreSQL server is the module's
        connection.exec_driver_sql("DELETE FROM events")
    store.close()


@pytest.fixture
def client(policy, store):
    app = create_app(StubBotNLU(), policy=policy, tracker_store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def put_events(client, sender: str, body: str | list) -> object:
    content = body if isinstance(body, str) else json.dumps(body)
    return client.put(f"/conversations/{sender}/tracker/events", content=content)


# --- events -----------------------------------------------------------------------------------

TIMESTAMPED = '[{"event": "action", "name": "action_listen", "timestamp": %s}]'


@pytest.mark.parametrize(
    "body, detail",
    [
        (TIMESTAMPED % "1e400", "tracker event 0: 'timestamp' is inf"),
        (TIMESTAMPED % "NaN", "tracker event 0: 'timestamp' is nan"),
        (TIMESTAMPED % "-Infinity", "tracker event 0: 'timestamp' is -inf"),
        (TIMESTAMPED % '"yesterday"', "tracker event 0: 'timestamp' must be a number"),
        (TIMESTAMPED % "true", "tracker event 0: 'timestamp' must be a number"),
        ("[1, 2, 3]", "tracker event 0: expected a mapping"),
        (
            '[{"event": "action", "name": "action_listen"}, {"event": "slot", "name": "booked",'
            ' "value": {"deep": [1, NaN]}}]',
            "tracker event 1: 'value.deep[1]' is nan",
        ),
        (
            '[{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet",'
            ' "confidence": Infinity}}}]',
            "tracker event 0: 'parse_data.intent.confidence' is inf",
        ),
        (
            '[{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet",'
            ' "confidence": "high"}}}]',
            "tracker event 0: 'parse_data.intent.confidence' must be a number",
        ),
        ('[{"event": "user", "text": 5}]', "tracker event 0: 'text' must be a string"),
        (
            '[{"event": "action", "name": "action_listen", "confidence": "1"}]',
            "tracker event 0: 'confidence' must be a number",
        ),
        ('[{"event": "action", "name": 7}]', "tracker event 0: 'name' must be a string"),
        ('[{"event": "bot", "text": ["hi"]}]', "tracker event 0: 'text' must be a string"),
        ('[{"event": "action_execution_rejected"}]', "needs a 'name' string"),
        ('[{"event": "dance"}]', "unknown event type 'dance'"),
        ('[{"event": "restart", "metadata": 1}]', "'metadata' must be an object"),
    ],
)
def test_bad_events_are_400_naming_index_and_field_and_store_nothing(client, body, detail):
    assert put_events(client, "ann", [LISTEN]).status_code == 200
    response = put_events(client, "ann", body)
    assert detail in assert_error(response, 400, "invalid_event")["detail"]
    tracker = client.get("/conversations/ann/tracker")
    assert tracker.status_code == 200 and tracker.json()["events"][0]["name"] == "action_listen"
    assert len(tracker.json()["events"]) == 1
    # /model/predict reads events with the same rules
    predict = client.post("/model/predict", content=f'{{"events": {body}}}')
    assert detail in assert_error(predict, 400, "invalid_event")["detail"]


def test_good_events_with_timestamps_and_nulls_are_stored(client):
    intent = {"name": "greet", "confidence": 0.9}
    parse_data = {"intent": intent, "entities": [], "intent_ranking": [intent]}
    events = [
        {**LISTEN, "timestamp": 1, "policy": None, "confidence": 1},
        {"event": "user", "text": "hi", "timestamp": 2.5, "parse_data": parse_data},
    ]
    assert put_events(client, "ann", events).status_code == 200
    stored = client.get("/conversations/ann/tracker").json()["events"]
    assert [event["timestamp"] for event in stored] == [1, 2.5]


# --- sender ids -------------------------------------------------------------------------------


def test_sender_ids_follow_one_rule_on_every_endpoint_and_store(client):
    too_long = "x" * 256
    for sender in ("", too_long, "a\x00b"):
        answer = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hi"})
        detail = assert_error(answer, 400, "invalid_sender_id")["detail"]
        assert "non-empty string of at most 255 characters" in detail
    assert_error(client.get(f"/conversations/{too_long}/tracker"), 400, "invalid_sender_id")
    assert_error(put_events(client, too_long, [LISTEN]), 400, "invalid_sender_id")
    assert_error(client.get("/conversations//tracker"), 400, "invalid_sender_id")
    # the longest is kept, whatever the database's column
    longest = "y" * 255
    answer = client.post("/webhooks/rest/webhook", json={"sender": longest, "message": "hi"})
    assert answer.status_code == 200
    assert client.get(f"/conversations/{longest}/tracker").json()["sender_id"] == longest
    # no sender is Rasa's "default", as is null
    for body in ({"message": "hi"}, {"sender": None, "message": "hi"}):
        assert client.post("/webhooks/rest/webhook", json=body).status_code == 200
    events = client.get("/conversations/default/tracker").json()["events"]
    assert [event["text"] for event in events if event["event"] == "user"] == ["hi", "hi"]


@pytest.mark.parametrize("sender", ["a/b", "team/ann/2", "a b?c#d", "ü/%"])
def test_every_stored_conversation_is_reachable_with_its_url_encoded_id(client, sender):
    from urllib.parse import quote

    answer = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hi"})
    assert answer.status_code == 200
    encoded = quote(sender, safe="")
    tracker = client.get(f"/conversations/{encoded}/tracker")
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == sender
    assert len(tracker.json()["events"]) > 1
    replaced = put_events(client, encoded, [LISTEN])
    assert replaced.status_code == 200 and replaced.json()["sender_id"] == sender
    assert len(client.get(f"/conversations/{encoded}/tracker").json()["events"]) == 1


# --- the token --------------------------------------------------------------------------------


def test_the_401_names_the_ways_each_path_takes_the_token(policy):
    app = create_app(StubBotNLU(), policy=policy, tracker_store=TrackerStore("sqlite://"),
                     auth_token=TOKEN)  # fmt: skip
    message = {"sender": "ann", "message": "hi"}
    with TestClient(app) as client:
        # the REST channel and the tracker endpoints: ?token= or the header, not the body
        refused = client.post("/webhooks/rest/webhook", json={**message, "token": TOKEN})
        detail = assert_error(refused, 401, "unauthorized")["detail"]
        assert "?token=" in detail and "Bearer" in detail and "body" not in detail
        for response in (
            client.get("/conversations/ann/tracker"),
            client.put("/conversations/ann/tracker/events", json=[LISTEN]),
            client.get("/status"),
        ):
            assert "body" not in assert_error(response, 401, "unauthorized")["detail"]
        webhook = client.post("/webhooks/rest/webhook", json=message, params={"token": TOKEN})
        assert webhook.status_code == 200
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/conversations/ann/tracker", headers=bearer).status_code == 200
        # /model/parse and /model/predict: in the body too, as Rasa's NLU client sends it
        for path in ("/model/parse", "/model/predict"):
            detail = assert_error(client.post(path, json={}), 401, "unauthorized")["detail"]
            assert "JSON body as 'token'" in detail and "?token=" in detail
        parsed = client.post("/model/parse", json={"text": "hi", "token": TOKEN})
        assert parsed.status_code == 200
