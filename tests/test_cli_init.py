"""`diet-sparse init` writes a starter Rasa project as `rasa init` does, and `diet-sparse test`
without arguments in a project tests its newest model as `rasa test` does (test stories end to
end, then the NLU model on data/), writing Rasa's report files to results/."""

from __future__ import annotations

import fnmatch
import io
import json
import tomllib
from pathlib import Path

import pytest
import yaml

from diet_sparse.cli import main
from diet_sparse.project import (
    STARTER_FOLDER,
    check_nlu_training,
    check_policy_training,
    create_starter_project,
    train_project,
)
from diet_sparse.rasa.stories import load_stories, validate_stories

ROOT = Path(__file__).parent.parent
STARTER = ROOT / "diet_sparse" / "rasa" / STARTER_FOLDER
# what `rasa init` writes (its initial_project), which the starter mirrors file for file
RASA_INIT_FILES = {
    "config.yml", "domain.yml", "endpoints.yml", "credentials.yml", "data/nlu.yml",
    "data/stories.yml", "data/rules.yml", "tests/test_stories.yml", "actions/__init__.py",
    "actions/actions.py",
}  # fmt: skip


def written_files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def test_init_writes_rasa_inits_files_into_a_new_folder(tmp_path, capsys):
    folder = tmp_path / "bots" / "cafe"  # created, with the folder above it
    assert main(["init", str(folder), "--no-prompt", "--no-train"]) == 0
    assert written_files(folder) == RASA_INIT_FILES
    err = capsys.readouterr().err
    assert f"Created project directory at '{folder.resolve()}'." in err
    assert "'diet-sparse train'" in err  # not trained: says how to


def test_the_starter_project_passes_the_training_checks(tmp_path):
    create_starter_project(tmp_path / "cafe")
    folder = tmp_path / "cafe"
    config = yaml.safe_load((folder / "config.yml").read_text())
    assert {"recipe", "assistant_id", "language", "pipeline", "policies"} <= set(config)
    nlu = check_nlu_training(folder / "config.yml", folder / "data", tmp_path / "m" / "nlu")
    assert {"greet", "goodbye", "affirm", "deny"} <= set(nlu.data.intents)
    assert {"drink", "size"} <= {a.entity for e in nlu.data.examples for a in e.entities}
    policy = check_policy_training(
        folder / "config.yml", folder / "domain.yml", folder / "data", tmp_path / "m" / "core"
    )
    assert policy.has_stories and any(story.is_rule for story in policy.stories)
    assert "drink_order_form" in policy.domain.forms
    responses = yaml.safe_load((folder / "domain.yml").read_text())["responses"]
    assert any("buttons" in variant for variants in responses.values() for variant in variants)
    tests = load_stories(folder / "tests")
    validate_stories(tests, policy.domain)
    assert all(e.text for s in tests for e in s.events if type(e).__name__ == "UserUttered")


def test_init_refuses_a_folder_that_is_not_empty_with_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["init", str(tmp_path), "--no-prompt", "--no-train"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "not empty" in err[0]
    assert written_files(tmp_path) == {"notes.txt"}


def test_init_with_overwrite_writes_over_a_folder_and_keeps_its_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "config.yml").write_text("language: fr\n")
    assert main(["init", "--init-dir", str(tmp_path), "--overwrite", "--no-train"]) == 0
    assert written_files(tmp_path) == RASA_INIT_FILES | {"notes.txt"}
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert "language: en" in (tmp_path / "config.yml").read_text()


class Terminal(io.StringIO):
    """Answers typed at a terminal."""

    def isatty(self) -> bool:
        return True


def test_init_asks_before_writing_into_a_folder_that_is_not_empty(tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["init", str(tmp_path)]) == 0
    assert "is not empty. Write the starter project there? [y/N]" in capsys.readouterr().err
    assert written_files(tmp_path) == {"notes.txt"}


@pytest.mark.parametrize(
    ("arguments", "answers", "trains"),
    [
        (["--no-prompt"], "", True),  # rasa init --no-prompt trains
        (["--no-prompt", "--no-train"], "", False),
        ([], "n\n", False),  # asked, and the user says no
        ([], "\n\n", True),  # asked: yes by default, then no shell by default
    ],
)
def test_init_trains_the_initial_model_as_rasa_init_does(
    tmp_path, monkeypatch, capsys, arguments, answers, trains
):
    from diet_sparse import project

    trained = []

    def train(folder, progress=True):
        trained.append(Path(folder))
        return project.TrainedProject(Path(folder) / "models" / "m", Path("nlu"), None)

    monkeypatch.setattr(project, "train_project", train)
    monkeypatch.setattr("sys.stdin", Terminal(answers))
    assert main(["init", str(tmp_path / "cafe"), *arguments]) == 0
    assert trained == ([tmp_path / "cafe"] if trains else [])
    err = capsys.readouterr().err
    assert ("'diet-sparse shell'" in err) == trains  # how to talk to it, once trained


def test_the_wheel_carries_every_file_of_the_starter_project():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["diet_sparse.rasa"]
    shipped = {name for name in written_files(STARTER) if "__pycache__" not in name}
    assert shipped == RASA_INIT_FILES
    for name in shipped:
        path = f"{STARTER_FOLDER}/{name}"
        assert any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path


# A starter project trained quickly: the starter's config with few epochs and small layers.
QUICK = {"epochs: 60": "epochs: 5", "transformer_size: 64": "transformer_size: 16"}


@pytest.fixture(scope="module")
def trained_starter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("starter") / "cafe"
    create_starter_project(folder)
    config = (folder / "config.yml").read_text()
    for old, new in QUICK.items():
        assert old in config
        config = config.replace(old, new)
    (folder / "config.yml").write_text(config)
    train_project(folder, progress=False)
    return folder


def test_test_without_arguments_in_a_project_tests_it_as_rasa_test_does(
    trained_starter, monkeypatch, capsys
):
    monkeypatch.chdir(trained_starter)
    assert main(["test"]) == 0
    results = trained_starter / "results"
    rasa_names = {
        "story_report.json", "failed_test_stories.yml", "story_confusion_matrix.png",
        "intent_report.json", "intent_errors.json", "intent_confusion_matrix.png",
        "intent_histogram.png", "entity_report.json",
    }  # fmt: skip
    assert rasa_names <= written_files(results)
    report = json.loads((results / "story_report.json").read_text())
    assert report["conversation_accuracy"]["total"] == 3  # the three test stories
    assert {"utter_greet", "greet", "order_drink"} <= set(report)  # actions and intents
    out, err = capsys.readouterr()
    assert "of 22" in out.split("actions", 1)[1].splitlines()[0]  # every action predicted
    assert "of 10" in out.split("intents", 1)[1].splitlines()[0]  # every user message parsed
    # what the rules decide is right however little TED trained; the others may fail
    failed = (results / "failed_test_stories.yml").read_text()
    assert "ask the opening hours and say goodbye" not in failed
    intents = json.loads((results / "intent_report.json").read_text())
    assert intents["weighted avg"]["support"] > 50  # data/'s NLU examples, as Rasa's default
    assert err.strip().splitlines()[-1] == "Reports and plots written to results"


def test_test_in_a_project_without_a_model_says_to_train_first(tmp_path, monkeypatch, capsys):
    create_starter_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: no model trained in") and "diet-sparse train" in err[-1]
    assert not (tmp_path / "results").exists()
