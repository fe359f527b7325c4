"""The dialogue policy on the command line: train core, predict, test core, serve --policy."""

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from diet_sparse import cli
from diet_sparse.config import TEDConfig, load_config
from diet_sparse.evaluation import dialogue as core_evaluation
from diet_sparse.serving import app as server

SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]
NLU_MODEL = ROOT / "tests" / "fixtures" / "format1_model"  # a real NLU model directory
TRAINING_STARTED = "Trainable weights"  # the first line of every training

DOMAIN = """
version: "3.1"
intents: [greet, goodbye]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_goodbye: [{text: "Bye."}]
"""

# A Rasa project's data folder: NLU data, stories and rules side by side.
NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
- intent: goodbye
  examples: |
    - bye
    - see you
"""

STORIES = """
version: "3.1"
stories:
- story: greet then goodbye
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
"""

RULES = """
version: "3.1"
rules:
- rule: goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""

CONFIG = """
epochs: 150
augmentation_factor: 0
transformer_size: 16
number_of_attention_heads: 2
batch_size: 8
drop_rate_dialogue: 0.0
max_history: 1
"""

# One right story, one with a wrong step (the policy greets back; this story says goodbye).
TEST_STORIES = """
version: "3.1"
stories:
- story: polite
  steps:
  - intent: greet
  - action: utter_greet
- story: rude
  steps:
  - intent: greet
  - action: utter_goodbye
"""

GREETED = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
]


def run(*args, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=300
    )


def train_core_options(project, out, domain=None, data=None, config=None) -> list:
    """The options of ``train core`` on the project, some replaced."""
    return [
        *("--domain", domain or project / "domain.yml"),
        *("--data", data or project / "data"),
        *("--config", config or project / "config.yml"),
        *("--out", out),
    ]


def train_core(project, tmp_path, out=None, **replaced) -> list:
    return ["train", "core", *train_core_options(project, out or tmp_path / "policy", **replaced)]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bot")
    (folder / "domain.yml").write_text(DOMAIN)
    (folder / "config.yml").write_text(CONFIG)
    (folder / "test_stories.yml").write_text(TEST_STORIES)
    (folder / "data").mkdir()
    for name, text in (("nlu.yml", NLU), ("stories.yml", STORIES), ("rules.yml", RULES)):
        (folder / "data" / name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def training(project) -> subprocess.CompletedProcess:
    """The one training of these tests: ``diet-sparse train core`` on the project."""
    return run("train", "core", *train_core_options(project, project / "policy"))


@pytest.fixture(scope="module")
def policy_dir(training, project) -> Path:
    assert training.returncode == 0, training.stderr
    return project / "policy"


@pytest.fixture
def quiet_warnings(monkeypatch):
    """main() replaces warnings.showwarning; the test's own is restored afterwards."""
    import warnings

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)


# --- end to end, in subprocesses ---------------------------------------------------------------


def test_train_core_shows_progress_and_saves_a_policy(training, policy_dir):
    assert TRAINING_STARTED in training.stderr
    assert "1 rules read; TED trains on stories only" in training.stderr
    assert "Epochs" in training.stderr  # the progress bar, with loss and action accuracy
    assert "loss=" in training.stderr and "acc=" in training.stderr
    assert training.stderr.splitlines()[-1] == f"Policy saved to {policy_dir}"
    assert json.loads((policy_dir / "metadata.json").read_text())["kind"] == "policy"


def test_predict_prints_the_next_action_of_a_tracker_file(policy_dir, tmp_path):
    tracker = tmp_path / "tracker.json"
    tracker.write_text(json.dumps({"sender_id": "user-1", "events": GREETED}))
    predicted = run("predict", "--model", policy_dir, "--tracker", tracker)
    assert predicted.returncode == 0, predicted.stderr
    result = json.loads(predicted.stdout)
    from diet_sparse.persistence import load_policy

    assert result == load_policy(policy_dir).predict(GREETED)  # rules, stories or TED
    assert result["scores"][0]["action"] == "utter_greet"
    assert result["confidence"] == result["scores"][0]["score"]


def test_predict_reads_a_list_of_events_from_stdin(policy_dir):
    events = [*GREETED, {"event": "action", "name": "utter_greet"}]
    predicted = run("predict", "--model", policy_dir, "--tracker", "-", stdin=json.dumps(events))
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["scores"][0]["action"] == "action_listen"


def test_test_core_prints_the_summary_and_writes_the_reports(policy_dir, project, tmp_path):
    out, stories = tmp_path / "results", project / "test_stories.yml"
    tested = run("test", "core", "--model", policy_dir, "--stories", stories, "--out", out)
    assert tested.returncode == 0, tested.stderr
    from diet_sparse.persistence import load_policy
    from diet_sparse.rasa.stories import load_stories

    evaluation = core_evaluation.evaluate_policy(load_policy(policy_dir), load_stories(stories))
    assert tested.stdout == core_evaluation.format_core_summary(evaluation) + "\n"
    assert "1 of 2" in tested.stdout and "failed stories: rude" in tested.stdout
    assert tested.stderr.splitlines()[-1] == f"Reports and plots written to {out}"
    assert (
        "  - action: utter_goodbye  # predicted: utter_greet\n"
        in (out / "failed_test_stories.yml").read_text()
    )
    assert {path.name for path in out.iterdir()} == {
        "story_report.json",
        "failed_test_stories.yml",
        "story_confusion_matrix.png",
    }


def test_an_error_is_one_line_with_exit_code_2_as_a_user_runs_it(policy_dir, tmp_path):
    result = run("predict", "--model", policy_dir, "--tracker", tmp_path / "missing.json")
    assert result.returncode == 2
    assert result.stderr == f"error: tracker file {tmp_path / 'missing.json'} does not exist\n"
    assert result.stdout == ""


# --- errors, in process: one error line, exit code 2, nothing trained or written --------------


def error_of(capsys, *args) -> str:
    """Run the command; it must fail with exit code 2 and exactly one line, an ``error:``."""
    code = cli.main([*map(str, args)])
    printed = capsys.readouterr()
    assert code == 2
    lines = printed.err.splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], printed.err
    assert TRAINING_STARTED not in printed.err and "Traceback" not in printed.err
    assert printed.out == ""
    return lines[-1]


def test_train_core_with_a_bad_domain_names_the_file(quiet_warnings, project, tmp_path, capsys):
    domain = tmp_path / "domain.yml"
    domain.write_text('version: "3.1"\nintents: [greet]\nrespones: {}\n')
    error = error_of(capsys, *train_core(project, tmp_path, domain=domain))
    assert str(domain) in error and "respones" in error
    missing = tmp_path / "missing.yml"
    error = error_of(capsys, *train_core(project, tmp_path, domain=missing))
    assert str(missing) in error and "does not exist" in error
    assert not (tmp_path / "policy").exists()


def test_train_core_with_bad_stories_names_the_file(quiet_warnings, project, tmp_path, capsys):
    stories = tmp_path / "stories.yml"
    stories.write_text(STORIES.replace("utter_goodbye", "utter_bye"))
    error = error_of(capsys, *train_core(project, tmp_path, data=stories))
    assert f"{stories}:" in error and "'utter_bye' is not in the domain" in error
    assert not (tmp_path / "policy").exists()


def test_train_core_with_a_bad_config_or_out(quiet_warnings, project, tmp_path, capsys):
    config = tmp_path / "config.yml"
    config.write_text("epoch: 2\n")
    error = error_of(capsys, *train_core(project, tmp_path, config=config))
    assert "Did you mean 'epochs'?" in error
    taken = tmp_path / "taken"
    taken.write_text("mine\n")
    error = error_of(capsys, *train_core(project, tmp_path, out=taken))
    assert error == f"error: model directory {taken} is an existing file; choose a directory"


@pytest.mark.parametrize(
    "tracker, message",
    [
        ('{"events": [', "{file}: invalid JSON at line 1, column 13"),
        ("42", "{file}: a tracker is a JSON object with an 'events' list"),
        ('{"sender_id": "x"}', "{file}: a tracker must have an 'events' list"),
        ('[{"event": "usr"}]', "{file}: tracker event 0: unknown event type 'usr'"),
        (
            json.dumps([GREETED[0], {"event": "user", "parse_data": {"intent": {"name": "x"}}}]),
            "{file}: event 1: intent 'x' is not in the domain",
        ),
    ],
)
def test_predict_with_a_bad_tracker(quiet_warnings, policy_dir, tmp_path, capsys, tracker, message):
    path = tmp_path / "tracker.json"
    path.write_text(tracker)
    error = error_of(capsys, "predict", "--model", policy_dir, "--tracker", path)
    assert error.startswith("error: " + message.format(file=path))


def test_a_missing_model(quiet_warnings, project, tmp_path, capsys):
    tracker = tmp_path / "tracker.json"
    tracker.write_text(json.dumps(GREETED))
    missing = tmp_path / "missing"
    error = error_of(capsys, "predict", "--model", missing, "--tracker", tracker)
    assert error == f"error: policy directory {missing} does not exist"
    stories = project / "test_stories.yml"
    arguments = ("--stories", stories, "--out", tmp_path / "results")
    error = error_of(capsys, "test", "core", "--model", missing, *arguments)
    assert error == f"error: policy directory {missing} does not exist"
    assert not (tmp_path / "results").exists()


def test_an_nlu_model_where_a_policy_is_expected(quiet_warnings, project, tmp_path, capsys):
    tracker = tmp_path / "tracker.json"
    tracker.write_text(json.dumps(GREETED))
    error = error_of(capsys, "predict", "--model", NLU_MODEL, "--tracker", tracker)
    assert error.startswith(f"error: {NLU_MODEL} is not a diet-sparse dialogue policy")
    stories = project / "test_stories.yml"
    arguments = ("--stories", stories, "--out", tmp_path / "results")
    error = error_of(capsys, "test", "core", "--model", NLU_MODEL, *arguments)
    assert error.startswith(f"error: {NLU_MODEL} is not a diet-sparse dialogue policy")


def test_a_policy_where_an_nlu_model_is_expected(quiet_warnings, policy_dir, project, capsys):
    error = error_of(capsys, "parse", "--model", policy_dir, "hello")
    assert str(policy_dir) in error and "holds a dialogue policy, not an NLU model" in error
    data = project / "data" / "nlu.yml"
    error = error_of(capsys, "test", "--model", policy_dir, "--data", data, "--out", project / "r")
    assert str(policy_dir) in error and "holds a dialogue policy, not an NLU model" in error


def test_test_core_with_stories_the_domain_lacks(quiet_warnings, policy_dir, tmp_path, capsys):
    stories = tmp_path / "test_stories.yml"
    stories.write_text(TEST_STORIES.replace("intent: greet", "intent: dance", 1))
    arguments = ("--stories", stories, "--out", tmp_path / "results")
    error = error_of(capsys, "test", "core", "--model", policy_dir, *arguments)
    assert f"{stories}:" in error and "intent 'dance' is not in the domain" in error
    assert not (tmp_path / "results").exists()


# --- arguments ---------------------------------------------------------------------------------


def test_train_and_test_without_core_are_the_nlu_commands_as_before(capsys):
    args = cli.build_parser().parse_args(["train", "--data", "d", "--out", "m"])
    assert args.handler is cli._train
    args = cli.build_parser().parse_args(["test", "--data", "d"])
    assert args.handler is cli._test and args.out == "results"
    with pytest.raises(SystemExit) as exited:
        cli.main(["train", "--out", "m"])
    assert exited.value.code == 2
    assert "error: diet-sparse train: the following arguments are required: --data" in (
        capsys.readouterr().err
    )


def test_core_options_and_defaults():
    args = cli.build_parser().parse_args(["test", "core", "--model", "p", "--stories", "s.yml"])
    assert args.handler is cli._test_core and args.out == core_evaluation.DEFAULT_OUT
    args = cli.build_parser().parse_args(
        ["train", "--config", "c.yml", "core", "--domain", "d.yml", "--stories", "s", "--out", "p"]
    )
    assert args.handler is cli._train_core
    assert (args.config, args.data, args.quiet) == ("c.yml", ["s"], False)


def test_train_help_explains_core():
    result = run("train", "--help")
    assert result.returncode == 0
    assert "'diet-sparse train core' trains the dialogue policy" in " ".join(result.stdout.split())


def test_serve_passes_the_policy_only_when_given(quiet_warnings, monkeypatch):
    calls = []
    monkeypatch.setattr(server, "serve", lambda model, **options: calls.append(options))
    assert cli.main(["serve", "--model", "m"]) == 0
    assert cli.main(["serve", "--model", "m", "--policy", "p"]) == 0
    assert "policy_dir" not in calls[0]
    assert calls[1]["policy_dir"] == "p"


def test_ted_config_lists_every_key_with_its_default():
    path = ROOT / "configs" / "ted.yml"
    assert sorted(yaml.safe_load(path.read_text())) == sorted(f.name for f in fields(TEDConfig))
    assert load_config(path, kind=TEDConfig) == TEDConfig()
