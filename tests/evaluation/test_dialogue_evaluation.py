"""Evaluating a dialogue policy on test stories as `rasa test core` does: counts, report, files."""

import json

import pytest

from diet_sparse.dialogue.featurization import DialogueError
from diet_sparse.evaluation import dialogue as core_evaluation
from diet_sparse.evaluation.dialogue import evaluate_policy, format_core_summary, test_core
from diet_sparse.persistence import save_policy
from diet_sparse.rasa.nlu_data import TrainingDataError
from diet_sparse.rasa.stories import load_stories

DOMAIN = """
version: "3.1"
intents: [greet, book, affirm, goodbye]
entities: [city]
slots:
  destination:
    type: text
    mappings: [{type: from_entity, entity: city}]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_ask_confirm: [{text: "Book a trip to {destination}?"}]
  utter_booked: [{text: "Booked."}]
  utter_goodbye: [{text: "Bye."}]
actions: [action_book]
"""

# Each next action follows from the current turn alone, so a policy that sees one turn
# (max_history 1) learns them all, and predicts a known action after a wrong step too.
STORIES = """
version: "3.1"
stories:
- story: book
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
    entities:
    - city: Paris
  - slot_was_set:
    - destination: Paris
  - action: utter_ask_confirm
  - intent: affirm
  - action: action_book
  - action: utter_booked
  - intent: goodbye
  - action: utter_goodbye
- story: goodbye
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""

QUICK = {
    "epochs": 200,
    "transformer_size": 16,
    "number_of_attention_heads": 2,
    "batch_size": 8,
    "drop_rate_dialogue": 0.0,
    "max_history": 1,
    "augmentation_factor": 0,
}

# The training story "book" as it is (9 predicted actions, all right), a story that books
# without asking (4 predicted actions, utter_booked wrong: the policy asks first), and a rule,
# which is not tested.
TEST_STORIES = """
version: "3.1"
stories:
- story: book
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
    entities:
    - city: Paris
  - slot_was_set:
    - destination: Paris
  - action: utter_ask_confirm
  - intent: affirm
  - action: action_book
  - action: utter_booked
  - intent: goodbye
  - action: utter_goodbye
- story: book without asking
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
    entities:
    - city: Rome
  - slot_was_set:
    - destination: Rome
  - action: utter_booked
rules:
- rule: say goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""


# The actions of the story "book" that are predicted: all but the listen opening the story.
BOOK_ACTIONS = (
    "utter_greet action_listen utter_ask_confirm action_listen action_book utter_booked "
    "action_listen utter_goodbye action_listen"
).split()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    (folder / "domain.yml").write_text(DOMAIN)
    (folder / "stories.yml").write_text(STORIES)
    (folder / "test_stories.yml").write_text(TEST_STORIES)
    return folder


@pytest.fixture(scope="module")
def policy(project):
    from diet_sparse.training import train_policy

    return train_policy(project / "domain.yml", project / "stories.yml", QUICK, progress=False)


@pytest.fixture(scope="module")
def policy_dir(policy, tmp_path_factory):
    return save_policy(policy, tmp_path_factory.mktemp("models") / "policy")


@pytest.fixture(scope="module")
def evaluation(policy, project):
    return evaluate_policy(policy, load_stories(project / "test_stories.yml"))


def test_every_action_is_predicted_from_the_true_history(evaluation):
    book, without_asking = evaluation["stories"]
    assert book["story"] == "book" and book["correct"]
    assert book["gold"] == book["predicted"] == BOOK_ACTIONS
    # after the wrong step the replay goes on with the story's action: the listen is right
    assert without_asking["gold"] == [
        "utter_greet",
        "action_listen",
        "utter_booked",
        "action_listen",
    ]
    assert without_asking["predicted"] == [
        "utter_greet",
        "action_listen",
        "utter_ask_confirm",
        "action_listen",
    ]
    assert not without_asking["correct"]
    assert all(0.0 < confidence <= 1.0 for confidence in without_asking["confidence"])


def test_counts_and_report(evaluation):
    assert evaluation["conversation_accuracy"] == {"accuracy": 0.5, "correct": 1, "total": 2}
    assert evaluation["summary"] == pytest.approx(
        {
            "action_accuracy": 12 / 13,
            "action_weighted_precision": evaluation["report"]["weighted avg"]["precision"],
            "action_weighted_f1": evaluation["report"]["weighted avg"]["f1-score"],
            "conversation_accuracy": 0.5,
            "in_data_fraction": sum(
                name != "TEDPolicy" for story in evaluation["stories"] for name in story["policies"]
            )
            / 13,
        }
    )
    report = evaluation["report"]
    assert report["accuracy"] == pytest.approx(12 / 13)
    assert report["utter_booked"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2}
    )
    assert report["utter_ask_confirm"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 1}
    )
    assert report["action_listen"]["support"] == 6  # not the listens opening the stories
    assert report["weighted avg"]["f1-score"] < 1.0


def test_summary_names_the_counts_and_the_failed_story(evaluation):
    summary = format_core_summary(evaluation)
    assert "12 of 13" in summary and "1 of 2" in summary
    assert summary.splitlines()[-1] == "failed stories: book without asking"
    assert "utter_booked 0.67" in summary and "utter_ask_confirm 0.67" in summary


def test_test_core_writes_rasa_files(policy_dir, project, tmp_path):
    out = tmp_path / "results"
    result = test_core(policy_dir, project / "test_stories.yml", out=out)
    assert result["conversation_accuracy"]["correct"] == 1
    assert sorted(path.name for path in out.iterdir()) == [
        "failed_test_stories.yml",
        "story_confusion_matrix.png",
        "story_report.json",
    ]
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"] == {"accuracy": 0.5, "correct": 1, "total": 2}
    assert report["utter_booked"]["support"] == 2 and "weighted avg" in report
    assert (out / "story_confusion_matrix.png").read_bytes().startswith(b"\x89PNG")

    failed = (out / "failed_test_stories.yml").read_text()
    source = project / "test_stories.yml"
    assert (
        failed
        == f"""version: "3.1"
stories:
- story: book without asking ({source}:19)
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
    entities:
    - city: Rome
  - slot_was_set:
    - destination: Rome
  - action: utter_booked  # predicted: utter_ask_confirm
"""
    )
    # a Rasa story file again: the same story, read back
    [read_back] = load_stories(out / "failed_test_stories.yml")
    original = load_stories(source)[1]
    assert read_back.events == original.events


def test_a_wrong_action_listen_is_written_out(policy, tmp_path):
    stories_file = tmp_path / "test.yml"
    stories_file.write_text(
        'version: "3.1"\nstories:\n- story: silent\n  steps:\n  - intent: greet\n'
        "  - action: utter_greet\n  - action: utter_goodbye\n"
    )
    stories = load_stories(stories_file)
    evaluation = evaluate_policy(policy, stories)
    assert evaluation["stories"][0]["predicted"][:2] == ["utter_greet", "action_listen"]
    written = core_evaluation.stories_as_yaml(stories, evaluation["stories"])
    assert "  - action: utter_goodbye  # predicted: action_listen\n" in written


def test_stale_files_of_an_earlier_run_are_removed_and_others_kept(policy_dir, project, tmp_path):
    out = tmp_path / "results"
    test_core(policy_dir, project / "test_stories.yml", out=out, successes=True)
    successful = out / "successful_test_stories.yml"
    assert "- story: book (" in successful.read_text()
    (out / "intent_report.json").write_text("{}")  # diet-sparse test (NLU) shares the folder

    stories_file = tmp_path / "only_right.yml"
    stories_file.write_text(
        'version: "3.1"\nstories:\n- story: hello\n  steps:\n  - intent: greet\n'
        "  - action: utter_greet\n"
    )
    test_core(policy_dir, stories_file, out=out)
    assert not successful.exists()
    assert (out / "intent_report.json").exists()
    assert (out / "failed_test_stories.yml").read_text() == core_evaluation.NO_FAILED_STORIES
    report = json.loads((out / "story_report.json").read_text())
    assert report["conversation_accuracy"] == {"accuracy": 1.0, "correct": 1, "total": 1}


def test_output_directory_is_checked_before_anything_is_read(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    with pytest.raises(FileExistsError, match="is an existing file"):
        test_core(tmp_path / "no_policy", tmp_path / "no_stories.yml", out=taken)


def test_stories_are_checked_against_the_policys_domain(policy_dir, tmp_path):
    stories_file = tmp_path / "test.yml"
    stories_file.write_text(
        'version: "3.1"\nstories:\n- story: dance\n  steps:\n  - intent: greet\n'
        "  - action: utter_dance\n"
    )
    with pytest.raises(TrainingDataError, match=r"test.yml:6: story 'dance'.*'utter_dance'"):
        test_core(policy_dir, stories_file, out=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_only_rules_is_nothing_to_evaluate(policy, project):
    rules = [story for story in load_stories(project / "test_stories.yml") if story.is_rule]
    with pytest.raises(TrainingDataError, match="no stories"):
        evaluate_policy(policy, rules)


def test_an_end_to_end_bot_text_is_a_clear_error(policy, tmp_path):
    stories_file = tmp_path / "test.yml"
    stories_file.write_text(
        'version: "3.1"\nstories:\n- story: e2e\n  steps:\n  - intent: greet\n  - bot: Hello!\n'
    )
    with pytest.raises(DialogueError, match="story 'e2e': step 'bot: Hello!' is an end-to-end"):
        evaluate_policy(policy, load_stories(stories_file))


# Test stories with the users' words, as `rasa init`'s test stories are written: `rasa test`
# parses each message with the NLU model and checks its intent and entities.
END_TO_END_STORIES = """
version: "3.1"
stories:
- story: book end to end
  steps:
  - user: hello
    intent: greet
  - action: utter_greet
  - user: a trip to [Paris](city)
    intent: book
  - slot_was_set:
    - destination: Paris
  - action: utter_ask_confirm
  - user: sure
  - action: action_book
  - action: utter_booked
"""
PARIS = {"entity": "city", "value": "Paris", "start": 10, "end": 15}


class ParsedAs:
    """An NLU model that parses each text as it is told to."""

    def __init__(self, parses: dict[str, tuple[str, list]]) -> None:
        self.parses = parses

    def parse_batch(self, texts: list[str]) -> list[dict]:
        return [
            {"text": t, "intent": {"name": self.parses[t][0]}, "entities": self.parses[t][1]}
            for t in texts
        ]


def evaluate_end_to_end(policy, tmp_path, parses):
    path = tmp_path / "test_e2e.yml"
    path.write_text(END_TO_END_STORIES)
    stories = load_stories(path)
    return stories, evaluate_policy(policy, stories, nlu=ParsedAs(parses))


def test_end_to_end_user_messages_are_parsed_and_scored(policy, tmp_path):
    right = {"hello": ("greet", []), "a trip to Paris": ("book", [PARIS]), "sure": ("affirm", [])}
    _, evaluation = evaluate_end_to_end(policy, tmp_path, right)
    (story,) = evaluation["stories"]
    assert story["correct"]
    assert [m["intent"] for m in story["messages"]] == ["greet", "book"]  # "sure" has none
    # the step without an intent took the model's (affirm), so the policy booked
    assert story["gold"] == story["predicted"] and "action_book" in story["predicted"]
    assert evaluation["summary"]["intent_accuracy"] == 1.0
    assert {"greet", "book", "utter_greet"} <= set(evaluation["report"])  # as Rasa's report
    assert "intents" in format_core_summary(evaluation)


def test_a_wrong_intent_or_entity_fails_the_story_and_is_marked_as_rasa_marks_it(policy, tmp_path):
    wrong = {"hello": ("goodbye", []), "a trip to Paris": ("book", []), "sure": ("affirm", [])}
    stories, evaluation = evaluate_end_to_end(policy, tmp_path, wrong)
    (story,) = evaluation["stories"]
    assert story["gold"] == story["predicted"]  # the actions are right, the parses are not
    assert not story["correct"]
    assert [m["correct"] for m in story["messages"]] == [False, False]
    assert evaluation["summary"]["intent_accuracy"] == 0.5  # the entity was missed, not book
    written = core_evaluation.stories_as_yaml(stories, evaluation["stories"])
    assert "- intent: greet  # predicted: goodbye: hello\n" in written
    assert "- intent: book  # predicted: book: a trip to Paris\n" in written

    found_elsewhere = dict(wrong, **{"a trip to Paris": ("book", [PARIS, dict(PARIS, start=2)])})
    _, evaluation = evaluate_end_to_end(policy, tmp_path, found_elsewhere)
    assert not evaluation["stories"][0]["messages"][1]["correct"]  # an entity too many
