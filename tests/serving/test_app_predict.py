"""The server's POST /model/predict: a dialogue policy's next action from Rasa tracker events."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from policies import DOMAIN, QUICK, STORIES
from test_app import TOKEN, assert_error, launch, stop, wait_ready

from diet_sparse.config import ConfigError
from diet_sparse.serving.app import (
    DEFAULT_MAX_EVENTS,
    ServerStartError,
    check_option,
    create_app,
    serve,
)

LISTEN = {"event": "action", "name": "action_listen"}
GREET = {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}}
# a conversation as Rasa's tracker store keeps it: with timestamps, bot turns and slots
CONVERSATION = [
    {"event": "action", "name": "action_session_start", "timestamp": 1.0},
    {"event": "session_started", "timestamp": 1.1},
    {**LISTEN, "timestamp": 1.2},
    {**GREET, "timestamp": 2.0, "input_channel": "rest"},
    {"event": "action", "name": "utter_greet", "timestamp": 2.1, "policy": "TEDPolicy"},
    {"event": "bot", "text": "Hi!", "timestamp": 2.2},
    {**LISTEN, "timestamp": 2.3},
    {
        "event": "user",
        "text": "to Paris",
        "parse_data": {
            "intent": {"name": "book", "confidence": 0.9},
            "entities": [{"entity": "city", "value": "Paris", "role": "to", "start": 3, "end": 8}],
        },
    },
    {"event": "slot", "name": "destination", "value": "Paris"},
]


class StubNLU:
    """Just enough of `NLU` for `create_app`: these tests are about the policy."""

    intents = ["greet"]
    tag_vocabularies: dict = {}
    config = SimpleNamespace(connection_density=0.2)
    metadata = {"trained_at": None}

    def parse_batch(self, texts: list[str]) -> list[dict]:
        intent = {"name": "greet", "confidence": 1.0}
        return [
            {"text": t, "intent": intent, "intent_ranking": [intent], "entities": []} for t in texts
        ]


class BreakingPolicy:
    """The real policy, except that predicting after the user says "boom" raises, as a bug in
    the network would."""

    def __init__(self, policy) -> None:
        self.policy = policy

    def __getattr__(self, name: str):
        return getattr(self.policy, name)

    def predict(self, events):
        if any(getattr(event, "text", None) == "boom" for event in events):
            raise RuntimeError("the network broke")
        return self.policy.predict(events)


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    from diet_sparse.training import train_policy

    project = tmp_path_factory.mktemp("bot")
    (project / "domain.yml").write_text(DOMAIN)
    (project / "stories.yml").write_text(STORIES)
    out = project / "policy"
    train_policy(project / "domain.yml", project / "stories.yml", QUICK, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def policy(policy_dir):
    from diet_sparse.persistence import load_policy

    return load_policy(policy_dir)


@pytest.fixture(scope="module")
def client(policy, policy_dir):
    with TestClient(create_app(StubNLU(), policy=policy, policy_dir=policy_dir)) as client:
        yield client


def post_predict(client, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/model/predict", content=content, **kwargs)


# --- predictions --------------------------------------------------------------------------------


def test_predict_answers_like_policy_predict(client, policy):
    for events in (CONVERSATION, [LISTEN, GREET], []):
        response = post_predict(client, {"events": events, "sender_id": "ignored"})
        assert response.status_code == 200, response.text
        assert response.json() == policy.predict(events)
    greeted = post_predict(client, {"events": [LISTEN, GREET]}).json()
    assert greeted["scores"][0]["action"] == "utter_greet"
    assert greeted["policy"] == "TEDPolicy"


def test_predictions_leave_the_event_loop_free(policy):
    class SlowPolicy(BreakingPolicy):
        started, release = threading.Event(), threading.Event()
        released_in_time = False

        def predict(self, events):
            self.started.set()
            SlowPolicy.released_in_time = self.release.wait(timeout=10)
            return self.policy.predict(events)

    app = create_app(StubNLU(), policy=SlowPolicy(policy))

    async def health_during_a_prediction() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                predicting = asyncio.create_task(client.post("/model/predict", json={"events": []}))
                await asyncio.to_thread(SlowPolicy.started.wait, 10)
                health = await client.get("/health")  # hangs if the prediction holds the loop
                SlowPolicy.release.set()
                return health, await predicting

    health, predicted = asyncio.run(health_during_a_prediction())
    assert health.status_code == 200 and predicted.status_code == 200
    assert SlowPolicy.released_in_time


def test_concurrent_predictions_each_get_their_own_answer(policy):
    conversations = [CONVERSATION[:n] for n in range(len(CONVERSATION) + 1)] * 4
    app = create_app(StubNLU(), policy=policy)

    async def predict_together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                requests = [
                    client.post("/model/predict", json={"events": events})
                    for events in conversations
                ]
                return await asyncio.gather(*requests)

    answers = asyncio.run(predict_together())
    assert [answer.json() for answer in answers] == [policy.predict(e) for e in conversations]


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "error", "detail"),
    [
        (b'{"events": [', 400, "invalid_json", "not valid JSON"),
        (b"", 400, "invalid_json", '{"events": ['),
        ([LISTEN], 400, "invalid_request", "must be a JSON object, got an array"),
        ({"sender_id": "a"}, 400, "invalid_request", "missing 'events'"),
        ({"events": None}, 400, "invalid_request", "'events' must be an array"),
        ({"events": LISTEN}, 400, "invalid_request", "got an object"),
        ({"events": [], "token": 5}, 400, "invalid_request", "'token' must be a string"),
        ({"events": ["hi"]}, 400, "invalid_event", "tracker event 0: expected a mapping"),
        ({"events": [LISTEN, {"event": "dance"}]}, 400, "invalid_event", "tracker event 1"),
        ({"events": [LISTEN, {"event": "action"}]}, 400, "invalid_event", "needs a 'name'"),
        (
            {"events": [GREET, {"event": "bot"}, {"event": "user", "parse_data": {"intent": 1}}]},
            400,
            "invalid_event",
            "tracker event 2: 'parse_data.intent'",
        ),
        # indices count the events sent, also those the policy skips (bot) or drops (restart)
        (
            {
                "events": [
                    *[LISTEN, GREET, {"event": "bot", "text": "Hi!"}, LISTEN],
                    {"event": "user", "parse_data": {"intent": {"name": "dance"}}},
                ]
            },
            400,
            "not_in_domain",
            "tracker event 4: intent 'dance' is not in the domain",
        ),
        (
            {"events": [GREET, {"event": "restart"}, {"event": "action", "name": "utter_x"}]},
            400,
            "not_in_domain",
            "tracker event 2: action 'utter_x' is not in the domain",
        ),
        (
            {"events": [LISTEN, {"event": "slot", "name": "colour", "value": "red"}]},
            400,
            "not_in_domain",
            "tracker event 1: slot 'colour' is not in the domain",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_requests_get_a_json_error_naming_the_problem(client, body, status, error, detail):
    assert detail in assert_error(post_predict(client, body), status, error)["detail"]


def test_limits_on_body_size_and_event_count(policy):
    app = create_app(StubNLU(), policy=policy, max_body_bytes=2000, max_events=3)
    with TestClient(app) as client:
        assert post_predict(client, {"events": [LISTEN, GREET, LISTEN]}).status_code == 200
        response = post_predict(client, {"events": [LISTEN, GREET, LISTEN, GREET]})
        assert "the limit is 3" in assert_error(response, 413, "too_many_events")["detail"]
        too_large = {"events": [LISTEN, {**GREET, "text": "a" * 2000}]}
        assert_error(post_predict(client, too_large), 413, "payload_too_large")


def test_max_events_is_checked_like_the_other_options():
    check_option("max_events", DEFAULT_MAX_EVENTS)
    for bad in (0, 1.5, "10", True):
        with pytest.raises(ConfigError, match="max_events must be an integer >= 1"):
            check_option("max_events", bad)
    with pytest.raises(ConfigError, match="max_events"):
        create_app(StubNLU(), max_events=0)


def test_failing_prediction_is_500_and_the_server_keeps_serving(policy):
    with TestClient(create_app(StubNLU(), policy=BreakingPolicy(policy))) as client:
        boom = {"event": "user", "text": "boom", "parse_data": {"intent": {"name": "greet"}}}
        failed = post_predict(client, {"events": [LISTEN, boom]})
        assert "the network broke" in assert_error(failed, 500, "internal_error")["detail"]
        assert client.get("/health").status_code == 200
        assert post_predict(client, {"events": [LISTEN, GREET]}).status_code == 200


# --- tokens, no policy, status ------------------------------------------------------------------


def test_token_is_needed_in_body_query_or_bearer_header(policy):
    with TestClient(create_app(StubNLU(), policy=policy, auth_token=TOKEN)) as client:
        events = {"events": [LISTEN, GREET]}
        assert_error(post_predict(client, events), 401, "unauthorized")
        assert_error(post_predict(client, {**events, "token": "wrong"}), 401)
        assert_error(post_predict(client, b'{"events": [broken'), 401)  # no hint about the body
        assert_error(post_predict(client, {"events": "no list"}), 401)
        expected = policy.predict(events["events"])
        assert post_predict(client, {**events, "token": TOKEN}).json() == expected
        assert post_predict(client, events, params={"token": TOKEN}).json() == expected
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert post_predict(client, events, headers=bearer).json() == expected
        response = post_predict(client, {"events": "no list", "token": TOKEN})
        assert_error(response, 400, "invalid_request")  # checked once the token is given


def test_without_a_policy_predict_is_404_saying_so():
    with TestClient(create_app(StubNLU())) as client:
        response = post_predict(client, {"events": []})
        assert "--policy" in assert_error(response, 404, "not_found")["detail"]
        status = client.get("/status").json()
        assert status["policy_directory"] is None and status["policy_action_count"] is None
        assert client.post("/model/parse", json={"text": "hi"}).status_code == 200
    with TestClient(create_app(StubNLU(), auth_token=TOKEN)) as client:
        assert_error(post_predict(client, {"events": []}), 401)  # the token comes first
        assert_error(post_predict(client, {"events": [], "token": TOKEN}), 404, "not_found")


def test_status_names_the_policy_and_its_actions(client, policy, policy_dir):
    status = client.get("/status").json()
    assert status["policy_directory"] == str(policy_dir)
    assert status["policy_action_count"] == len(policy.action_names)


def test_openapi_describes_the_predict_request_and_response(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/model/predict"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["events"]
    assert body["properties"]["events"]["items"]["required"] == ["event"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"].endswith("/PredictResponse")
    assert {"400", "401", "404", "413", "500"} <= set(operation["responses"])


# --- start-up -----------------------------------------------------------------------------------


def test_bad_policy_directory_fails_start_up_in_one_line(tmp_path):
    (tmp_path / "not_a_policy").mkdir()
    (tmp_path / "not_a_policy" / "metadata.json").write_text('{"kind": "nlu"}')
    for policy_dir, problem in [
        (tmp_path / "missing", "does not exist"),
        (tmp_path / "not_a_policy", "not a diet-sparse dialogue policy: missing config.json"),
    ]:
        with pytest.raises(ServerStartError, match=problem) as raised:
            serve(tmp_path / "no_model", port=0, policy_dir=policy_dir)  # the policy loads first
        assert "\n" not in str(raised.value)


def test_real_server_predicts_with_a_policy(trained_model_dir, policy_dir, policy, tmp_path):
    # two worker processes, each loading the model and the policy itself
    options = ("--policy", str(policy_dir), "--auth-token", TOKEN, "--workers", "2")
    server = launch(trained_model_dir, tmp_path / "server.log", *options)
    try:
        wait_ready(server)
        body = {"events": CONVERSATION, "token": TOKEN}
        response = httpx.post(f"{server.url}/model/predict", json=body, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == policy.predict(CONVERSATION)
        status = httpx.get(f"{server.url}/status", params={"token": TOKEN}).json()
        assert status["policy_directory"] == str(policy_dir.resolve())
        assert status["policy_action_count"] == len(policy.action_names)
        assert "/model/predict" in server.log_text()
    finally:
        assert stop(server) == 0
    assert "Server stopped." in server.log_text()
    assert "Traceback" not in server.log_text()
