"""The bot over HTTP (issue 13): Rasa's REST channel and tracker endpoints of `diet-sparse serve`
in a trained project folder, conversations kept in the tracker store (SQLite by default, shared
PostgreSQL for several servers), and the store itself."""

from __future__ import annotations

import re
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import example_project
from test_app import launch, stop, wait_ready

from diet_sparse.cli import main
from diet_sparse.dialogue.featurization import DialogueError
from diet_sparse.errors import EndpointsError
from diet_sparse.persistence import load, load_policy
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import ActionExecuted, events_as_json
from diet_sparse.rasa.intent_message import shortcut_parse
from diet_sparse.serving.conversations import replace_events, respond, tracker_json
from diet_sparse.serving.tracker_store import TrackerStore, TrackerStoreError

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import throwaway_postgres  # noqa: E402  (the benchmarks' PostgreSQL starter)

CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 3
    transformer_size: 16
    number_of_transformer_layers: 1
    number_of_attention_heads: 2
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: TEDPolicy
    epochs: 3
    transformer_size: 16
"""
GREETING = load_domain(ROOT / "data" / "domain.yml").responses["utter_greet"][0]["text"]
GOODBYE = load_domain(ROOT / "data" / "domain.yml").responses["utter_goodbye"][0]["text"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = example_project(tmp_path_factory.mktemp("bot_project"), CONFIG)
    assert main(["train", "--project", str(folder), "--quiet"]) == 0
    return folder


@pytest.fixture(scope="module")
def model(project):
    (trained,) = (project / "models").iterdir()
    return load(trained), load_policy(trained)


def user_texts(events):
    return [event["text"] for event in events if event["event"] == "user"]


# --- the store and the conversations, in this process -----------------------------------------


def test_intent_shortcuts_are_read_without_the_nlu_model():
    parse = shortcut_parse('/inform@0.5{"city": ["Rome", "Oslo"]}', ["inform"])
    assert parse["intent"] == {"name": "inform", "confidence": 0.5}
    assert [e["value"] for e in parse["entities"]] == ["Rome", "Oslo"]
    assert shortcut_parse("/unknown", ["inform"]) is None
    assert shortcut_parse("/inform{not json}", ["inform"])["entities"] == []  # as Rasa
    assert shortcut_parse("inform", ["inform"]) is None


def test_a_conversation_goes_on_where_the_store_left_it(model, tmp_path):
    nlu, policy = model
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    assert respond(store, "ann", "/greet", nlu, policy) == [
        {"recipient_id": "ann", "text": GREETING}
    ]
    first = events_as_json(store.events("ann"))  # as stored: Rasa's tracker JSON
    assert first[0] == {**first[0], "event": "action", "name": "action_listen"}
    # another store on the same file (a restarted server) goes on with it
    again = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    assert respond(again, "ann", "/goodbye", nlu, policy) == [
        {"recipient_id": "ann", "text": GOODBYE}
    ]
    events = again.events("ann")
    stored = events_as_json(events)
    assert stored[: len(first)] == first and user_texts(stored) == ["/greet", "/goodbye"]
    assert all(event["timestamp"] > 0 for event in stored)
    assert all(event["input_channel"] == "rest" for event in stored if event["event"] == "user")
    assert again.senders() == ["ann"] and again.events("bob") == []
    tracker = tracker_json("ann", events, policy.domain)
    assert tracker["latest_message"]["intent"]["name"] == "goodbye"
    assert tracker["latest_action_name"] == "action_listen"


def test_a_failed_turn_stores_nothing(model, tmp_path):
    nlu, policy = model
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    respond(store, "ann", "/greet", nlu, policy)
    before = events_as_json(store.events("ann"))

    class Broken:
        domain = policy.domain

        def predict(self, events):
            raise DialogueError("event 3: action 'utter_nothing' is not in the domain")

    with pytest.raises(DialogueError):
        respond(store, "ann", "/goodbye", nlu, Broken())
    assert events_as_json(store.events("ann")) == before
    with pytest.raises(DialogueError, match="utter_nothing"):
        replace_events(store, "ann", [{"event": "action", "name": "utter_nothing"}], policy)
    assert events_as_json(store.events("ann")) == before


def test_a_bad_store_url_is_one_line_without_its_password(tmp_path):
    with pytest.raises(TrackerStoreError, match="is not a database URL"):
        TrackerStore("not a url")
    with pytest.raises(TrackerStoreError) as error:
        TrackerStore("postgresql://ann:secret@127.0.0.1:1/nothing")
    assert "secret" not in str(error.value) and "\n" not in str(error.value)
    assert "cannot open the tracker store postgresql://ann:***@127.0.0.1:1/nothing" in str(
        error.value
    )


# --- the REST channel of a real server ----------------------------------------------------------


def post_message(url, sender, message):
    response = httpx.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def tracker(url, sender):
    response = httpx.get(f"{url}/conversations/{sender}/tracker", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def project_server(project, tmp_path):
    started = []

    def start():
        server = launch(None, tmp_path / f"server{len(started)}.log", cwd=project)
        started.append(server)
        return wait_ready(server)

    yield start
    for server in started:
        stop(server)


def test_the_rest_channel_keeps_two_senders_apart_and_survives_a_restart(project, project_server):
    (project / "tracker.db").unlink(missing_ok=True)
    (project / "credentials.yml").write_text("rest:\nsocketio:\n  user_message_evt: x\n")
    (project / "endpoints.yml").write_text("action_endpoint:\n  url: http://127.0.0.1:9/webhook\n")
    server = project_server()  # no --model: the project's newest model, with its policy
    log = server.log_text()
    assert "Using the newest model of the project" in log
    # the project's credentials.yml is read: the channel it asks for that is not offered, named
    assert "channels not offered by diet-sparse, ignored: socketio" in log
    # and its endpoints.yml's action server (this one is down: no custom action runs here)
    assert "Custom actions run on the action server at http://127.0.0.1:9/webhook" in log
    (project / "credentials.yml").unlink()
    (project / "endpoints.yml").unlink()
    turns = {"ann": ["/greet", "/goodbye", "/greet"], "bob": ["/goodbye", "/greet", "/goodbye"]}
    answers: dict[str, list] = {}

    def talk(sender):
        answers[sender] = [post_message(server.url, sender, text) for text in turns[sender]]

    threads = [threading.Thread(target=talk, args=(sender,)) for sender in turns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sender, texts in turns.items():
        said = {"/greet": GREETING, "/goodbye": GOODBYE}
        assert answers[sender] == [[{"recipient_id": sender, "text": said[t]}] for t in texts]
        assert user_texts(tracker(server.url, sender)["events"]) == texts
    before = tracker(server.url, "ann")["events"]
    # the store is the project's, beside (not inside) its models
    assert (project / "tracker.db").is_file()
    assert not list((project / "models").glob("**/tracker.db"))

    stop(server)
    server = project_server()
    assert tracker(server.url, "ann")["events"] == before
    post_message(server.url, "ann", "/goodbye")
    after = tracker(server.url, "ann")
    assert after["events"][: len(before)] == before
    assert user_texts(after["events"]) == [*turns["ann"], "/goodbye"]

    # Rasa's PUT of a tracker's events replaces them (a test replays conversations with it)
    replaced = httpx.put(
        f"{server.url}/conversations/ann/tracker/events",
        json=[{"event": "action", "name": "action_listen"}],
        timeout=30,
    )
    assert replaced.status_code == 200 and len(tracker(server.url, "ann")["events"]) == 1
    bad = httpx.post(f"{server.url}/webhooks/rest/webhook", json={"sender": "ann"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["detail"] == "missing 'message'"


# --- two servers on one PostgreSQL --------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own for these tests (benchmarks/common.py starts it)."""
    with throwaway_postgres() as url:
        if url is None:
            pytest.skip(
                "PostgreSQL is not installed (.ci/run installs it: apt-get install postgresql)"
            )
        yield url


def test_two_servers_on_one_postgres_keep_one_conversation(project, postgres, tmp_path):
    trained = next((project / "models").iterdir())
    servers = [
        launch(trained, tmp_path / f"replica{i}.log", "--tracker-store", postgres) for i in (0, 1)
    ]
    try:
        for server in servers:
            wait_ready(server)
        # one sender answered by the replicas in turn, as a load balancer may
        texts = ["/greet", "/goodbye", "/greet", "/goodbye"]
        for i, text in enumerate(texts):
            post_message(servers[i % 2].url, "carol", text)
        seen = [tracker(server.url, "carol")["events"] for server in servers]
        assert seen[0] == seen[1] and user_texts(seen[0]) == texts
        # and at the same time: each message's turn stays whole (the sender is locked)
        results = []

        def send(server, text):
            results.append(post_message(server.url, "dave", text))

        threads = [threading.Thread(target=send, args=(servers[i % 2], "/greet")) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        events = tracker(servers[0].url, "dave")["events"]
        kinds = [(e["event"], e.get("name")) for e in events if e["event"] in ("user", "action")]
        turn = [("user", None), ("action", "utter_greet"), ("action", "action_listen")]
        assert kinds == [("action", "action_listen"), *turn * 6]
        assert len(results) == 6
    finally:
        for server in servers:
            stop(server)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_sender_s_conversation_waits_for_the_other_store_s_turn(database, tmp_path, request):
    """Two stores on one database, as two server processes: while one holds a sender's
    conversation, the other's turn for that sender waits and then reads what the first wrote
    (without the lock it would read the conversation without it, and both would append to the
    same history). On PostgreSQL the lock is the sender's own: another sender does not wait."""
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
    else:
        url = request.getfixturevalue("postgres")
    first, second = TrackerStore(url), TrackerStore(url)
    holding, released = threading.Event(), threading.Event()
    seen: dict[str, list[str]] = {}
    listen = ActionExecuted("action_listen")

    def hold():
        with first.conversation("erin") as conversation:
            holding.set()
            released.wait(timeout=10)
            conversation.add([ActionExecuted("utter_greet")])

    def take_turn(sender):
        holding.wait(timeout=10)
        with second.conversation(sender) as conversation:
            seen[sender] = [event.name for event in conversation.events]
            conversation.add([listen])

    holder = threading.Thread(target=hold)
    waiter = threading.Thread(target=take_turn, args=("erin",))
    holder.start()
    waiter.start()
    try:
        if database == "postgresql":
            other = threading.Thread(target=take_turn, args=("frank",))
            other.start()
            other.join(timeout=5)
            assert seen.get("frank") == []  # done while erin's conversation was held
        waiter.join(timeout=0.5)
        assert waiter.is_alive()  # waits for erin's conversation
    finally:
        released.set()
        holder.join(timeout=10)
        waiter.join(timeout=10)
    assert seen["erin"] == ["utter_greet"]
    assert [event.name for event in first.events("erin")] == ["utter_greet", "action_listen"]
    first.close()
    second.close()


def test_sqlite_s_sender_locks_serialise_turns_and_leave_no_files(tmp_path):
    """Two stores on one SQLite file, four threads each, all for one sender and then one
    sender each: every turn reads the events of all turns before it (the lock file is removed
    after each turn, so waiting turns must lock the new file, not the removed one), and the
    lock folder is empty afterwards, not one file per sender ever seen."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    stores = [TrackerStore(url), TrackerStore(url)]
    seen: list[int] = []

    def take_turns(store, sender, turns):
        for _ in range(turns):
            with store.conversation(sender) as conversation:
                before = len(conversation.events)
                time.sleep(0.002)  # widen the window a missing lock would leave open
                conversation.add([ActionExecuted("action_listen")])
            if sender == "grace":
                seen.append(before)

    threads = [
        threading.Thread(target=take_turns, args=(stores[i % 2], "grace", 10)) for i in range(8)
    ]
    threads += [
        threading.Thread(target=take_turns, args=(stores[i % 2], f"sender {i}", 1))
        for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(seen) == list(range(80))  # no two turns read the same conversation
    assert list((tmp_path / "tracker.db.locks").iterdir()) == []
    for store in stores:
        store.close()


def test_credentials_yml_names_the_channels_not_offered(tmp_path):
    from diet_sparse.rasa.endpoints import read_credentials

    path = tmp_path / "credentials.yml"
    path.write_text("rest:\n")
    assert read_credentials(path).warning(path) is None
    path.write_text("rest:\nfacebook:\n  verify: x\nslack:\n  slack_token: y\n")
    channels = read_credentials(path)
    assert channels.rest and channels.unsupported == ("facebook", "slack")
    assert "ignored: facebook, slack" in channels.warning(path)
    path.write_text("socketio:\n")
    assert "no 'rest' channel listed" in read_credentials(path).warning(path)
    path.write_text("")
    assert read_credentials(path) == type(channels)(rest=False, unsupported=())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("rest:\n  - a\n b: [\n", r"credentials.yml, line \d+: invalid YAML"),
        ("- rest\n", "credentials.yml: expected a mapping of channel names"),
    ],
)
def test_a_bad_credentials_yml_is_one_line_before_the_server_starts(
    project, tmp_path, capsys, monkeypatch, text, expected
):
    import diet_sparse.serving.app

    started = []
    monkeypatch.setattr(diet_sparse.serving.app, "serve", lambda *a, **k: started.append(a))
    path = tmp_path / "credentials.yml"
    path.write_text(text)
    (model,) = (project / "models").iterdir()
    assert main(["serve", "--model", str(model), "--credentials", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(tmp_path) in error
    assert re.search(expected, error), error
    assert not started


def test_a_project_s_endpoints_yml_names_its_sql_tracker_store(tmp_path, monkeypatch):
    from diet_sparse.rasa.endpoints import read_endpoints
    from diet_sparse.serving.tracker_store import database_url

    endpoints = tmp_path / "endpoints.yml"
    monkeypatch.setenv("DB_PASSWORD", "s3cret")
    endpoints.write_text(
        "action_endpoint:\n  url: http://localhost:5055/webhook\ntracker_store:\n  type: SQL\n"
        "  dialect: postgresql\n  url: db.local\n  port: 5433\n  db: rasa\n  username: bot\n"
        "  password: ${DB_PASSWORD}\n"
    )
    store = read_endpoints(endpoints).tracker_store
    assert database_url(store) == "postgresql://bot:s3cret@db.local:5433/rasa"
    endpoints.write_text("tracker_store:\n  type: redis\n  url: localhost\n")
    with pytest.raises(EndpointsError, match="line 2: tracker_store type 'redis' is not supported"):
        read_endpoints(endpoints)
    assert read_endpoints(endpoints, tracker_store=False).tracker_store is None
    endpoints.write_text("tracker_store:\n  type: SQL\n  port: five\n")
    with pytest.raises(EndpointsError, match="line 3: tracker_store port must be a number"):
        read_endpoints(endpoints)
    endpoints.write_text("action_endpoint:\n  url: http://localhost:5055/webhook\n")
    assert read_endpoints(endpoints).tracker_store is None
    endpoints.write_text("- tracker_store\n")
    with pytest.raises(EndpointsError, match="endpoints.yml: expected keys such as"):
        read_endpoints(endpoints)
