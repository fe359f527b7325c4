"""Saving a conversation into a project's data/interactive/ (diet_sparse/serving/interactive.py):
new files only, checked against the domain first, and a project that still trains."""

import datetime
import errno
import os
import warnings

import pytest
from validation_project import write_project

from diet_sparse.errors import InteractiveSaveError
from diet_sparse.project import PROJECT_DATA, check_nlu_training, check_policy_training
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActiveLoop,
    SlotSet,
    UserUtteranceReverted,
    user_uttered,
)
from diet_sparse.rasa.nlu_data import load_training_data
from diet_sparse.rasa.stories import load_stories
from diet_sparse.serving.interactive import INTERACTIVE_FOLDER, safe_file_name, save_conversation

LISTEN = ActionExecuted("action_listen")
NOW = datetime.datetime(2026, 12, 6, 14, 30, 5, tzinfo=datetime.UTC)
ROLES = ("domain.yml", "entities:\n  - city\n", "entities:\n  - city:\n      roles: [to]\n")


def user(text, intent, entities=()):
    parsed = [
        {"entity": entity, "start": text.index(span), "end": text.index(span) + len(span),
         "value": span, **({"role": role} if role else {})}
        for span, entity, role in entities
    ]  # fmt: skip
    return user_uttered(text, {"text": text, "intent": {"name": intent}, "entities": parsed})


def booking(intent="book", action="utter_booked"):
    return [
        ActionExecuted("action_session_start"),
        LISTEN,
        user("hey", "greet"),
        ActionExecuted("utter_greet"),
        LISTEN,
        user("oops", "bye"),
        UserUtteranceReverted(),
        LISTEN,
        user("take me to Oslo", intent, [("Oslo", "city", "to")]),
        ActionExecuted("booking_form"),
        ActiveLoop("booking_form"),
        SlotSet("city", "Oslo"),
        SlotSet("requested_slot", None),
        ActiveLoop(None),
        ActionExecuted(action),
        LISTEN,
    ]


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "bot", ROLES)


@pytest.fixture
def domain(project):
    return load_domain(project / "domain.yml")


def interactive_files(project):
    folder = project / INTERACTIVE_FOLDER
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_saved_conversation_reads_back(project, domain):
    paths = save_conversation(project, "ann@web", booking(), domain, now=NOW)
    assert paths == [project / "data/interactive/20261206-143005-ann_web.yml"]
    assert interactive_files(project) == paths  # no temporary file left behind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (story,) = load_stories(paths[0])
        examples = load_training_data(paths[0]).examples
    assert story.name == "ann@web (2026-12-06 14:30:05 UTC)"
    intents = [event.intent for event in story.events if hasattr(event, "intent")]
    assert intents == ["greet", "book"]  # the taken-back "oops" is not there
    actions = [e.name for e in story.events if isinstance(e, ActionExecuted)]
    assert "utter_booked" in actions and "booking_form" in actions
    assert [(e.intent, e.text) for e in examples] == [
        ("greet", "hey"),
        ("book", "take me to Oslo"),
    ]
    assert [(a.entity, a.role) for a in examples[1].entities] == [("city", "to")]


def test_saving_twice_gives_two_files_and_never_overwrites(project, domain):
    first = save_conversation(project, "ann", booking(), domain, now=NOW)[0]
    first_text = first.read_text()
    taken = project / INTERACTIVE_FOLDER / "20261206-143005-ann-2.yml"
    taken.write_text("someone else's\n")
    second = save_conversation(project, "ann", booking(), domain, now=NOW)[0]
    assert second.name == "20261206-143005-ann-3.yml"
    assert first.read_text() == first_text and taken.read_text() == "someone else's\n"
    assert second.read_text() == first_text
    assert len(interactive_files(project)) == 3


def test_without_hard_links_a_file_is_still_new(project, domain, monkeypatch):
    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    first = save_conversation(project, "ann", booking(), domain, now=NOW)[0]
    first.write_text("edited\n")
    second = save_conversation(project, "ann", booking(), domain, now=NOW)[0]
    assert (first.name, second.name) == ("20261206-143005-ann.yml", "20261206-143005-ann-2.yml")
    assert first.read_text() == "edited\n" and "story: ann" in second.read_text()
    assert interactive_files(project) == sorted([first, second])


@pytest.mark.parametrize(
    ("events", "named"),
    [
        (booking(intent="travel"), "intent 'travel' is not in the domain"),
        (booking(action="utter_nope"), "action 'utter_nope' is not in the domain"),
        ([LISTEN, user("hi", "greet"), SlotSet("mood", "good")], "slot 'mood'"),
        ([LISTEN, user("to Oslo", "book", [("Oslo", "town", None)])], "entity 'town'"),
        ([LISTEN, user("to Oslo", "book", [("Oslo", "city", "from")])], "role 'from'"),
        ([LISTEN, user("hi", "greet"), ActiveLoop("other_form")], "active loop 'other_form'"),
        ([LISTEN, user("say [hi](city) now", "greet")], "reads back as 'say hi now'"),
    ],
)
def test_an_invalid_conversation_writes_nothing(project, domain, events, named):
    with pytest.raises(InteractiveSaveError, match="cannot save conversation 'ann'") as error:
        save_conversation(project, "ann", events, domain, now=NOW)
    assert named in str(error.value) and "\n" not in str(error.value)
    assert "data/interactive/20261206-143005-ann.yml" in str(error.value)
    assert interactive_files(project) == []


def test_a_conversation_without_user_messages_is_nothing_to_save(project, domain):
    taken_back = [user("hi", "greet"), UserUtteranceReverted()]
    for events in ([], [LISTEN, ActionExecuted("utter_greet")], taken_back):
        with pytest.raises(InteractiveSaveError, match="nothing to save"):
            save_conversation(project, "ann", events, domain)
    assert interactive_files(project) == []


def test_a_missing_project_is_an_error(tmp_path, domain):
    with pytest.raises(InteractiveSaveError, match="does not exist"):
        save_conversation(tmp_path / "nowhere", "ann", booking(), domain)
    assert not (tmp_path / "nowhere").exists()


def test_a_project_with_saved_conversations_trains(project, domain, tmp_path):
    save_conversation(project, "ann", booking(), domain, now=NOW)
    greeting = [LISTEN, user("/greet", "greet"), ActionExecuted("utter_greet")]  # no NLU data
    save_conversation(project, "bob/../x", greeting, domain, now=NOW)
    data = project / PROJECT_DATA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nlu = check_nlu_training(project / "config.yml", data, tmp_path / "nlu_model")
        policy = check_policy_training(
            project / "config.yml", project / "domain.yml", data, tmp_path / "core_model"
        )
    assert ("book", "take me to Oslo") in [(e.intent, e.text) for e in nlu.data.examples]
    saved = [
        story.name for story in policy.stories if story.source.startswith(str(data / "interactive"))
    ]
    assert saved == ["ann (2026-12-06 14:30:05 UTC)", "bob/../x (2026-12-06 14:30:05 UTC)"]


def test_sender_ids_become_safe_file_names():
    assert safe_file_name("../../etc/passwd") == "etc_passwd"
    assert safe_file_name("ünï") == "n"
    assert safe_file_name("äö ") == "conversation"
    assert len(safe_file_name("a" * 300)) == 40
