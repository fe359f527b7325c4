"""A Rasa project folder trained as it is (issue 13): config.yml, domain.yml and data/ give an
NLU model and a policy in one model directory, which loads either way and talks in the shell."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import example_project

from diet_sparse.cli import main
from diet_sparse.persistence import load, load_policy

ROOT = Path(__file__).parent.parent
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
  - name: EntitySynonymMapper
policies:
  - name: MemoizationPolicy
  - name: TEDPolicy
    epochs: 3
    max_history: 3
    transformer_size: 16
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = example_project(tmp_path_factory.mktemp("project"), CONFIG)
    return folder


@pytest.fixture(scope="module")
def trained(project):
    out = project / "models" / "first"
    command = [sys.executable, "-m", "diet_sparse.cli", "train", "--project", str(project),
               "--out", str(out), "--quiet"]  # fmt: skip
    trained = subprocess.run(
        command, capture_output=True, text=True, timeout=600
    )  # as users run it
    assert trained.returncode == 0, trained.stderr
    assert trained.stderr.splitlines()[-1] == f"Model saved to {out}"
    return out


def test_a_project_trains_both_models_into_one_directory(trained):
    assert (trained / "nlu" / "metadata.json").is_file()
    assert (trained / "core" / "metadata.json").is_file()
    nlu, policy = load(trained), load_policy(trained)  # either part, from the project model
    assert nlu.config.epochs == 3 and policy.config.max_history == 3
    assert nlu.parse("hello")["intent"]["name"] in nlu.intents


def test_train_with_no_arguments_in_a_project_folder_uses_it(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    monkeypatch.setattr("diet_sparse.project.time.strftime", lambda _: "fixed")
    assert main(["train", "--quiet"]) == 0
    assert (project / "models" / "fixed" / "nlu").is_dir()
    assert "Model saved to" in capsys.readouterr().err


def test_outside_a_project_train_still_asks_for_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["train"])
    assert exit_.value.code == 2


def test_a_project_without_data_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    assert main(["train", "--project", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error:") and "data/" in error


def test_contradicting_rules_fail_before_the_nlu_model_trains(project, tmp_path, capsys):
    broken = shutil.copytree(project, tmp_path / "broken", ignore=shutil.ignore_patterns("models"))
    (broken / "data" / "contradiction.yml").write_text(
        'version: "3.1"\nrules:\n- rule: greet back\n  steps:\n  - intent: greet\n'
        "  - action: utter_goodbye\n"
    )
    config = broken / "config.yml"  # with the rule policy, which applies rules
    config.write_text(
        config.read_text().replace("policies:\n", "policies:\n  - name: RulePolicy\n")
    )
    assert main(["train", "--project", str(broken), "--quiet"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: rules ") and "contradict" in error
    assert not (broken / "models").exists()  # nothing trained, nothing lost


def test_the_shell_of_a_project_model_is_the_bot(trained):
    result = subprocess.run(
        [sys.executable, "-m", "diet_sparse.cli", "shell", "--model", str(trained)],
        input="hello\n/exit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "The bot answers" in result.stderr
    assert "intent:" not in result.stdout  # the bot's replies, not the parse


def test_train_project_trains_a_project_folder_from_python(project, tmp_path):
    import diet_sparse
    from diet_sparse.project import train_project

    assert diet_sparse.train_project is train_project
    trained = diet_sparse.train_project(project, out=tmp_path / "model", progress=False)
    assert trained.path == tmp_path / "model"
    assert trained.nlu == trained.path / "nlu" and trained.core == trained.path / "core"
    nlu, policy = load(trained.path), load_policy(trained.path)
    assert nlu.config.epochs == 3 and policy.config.max_history == 3


def test_train_project_without_a_domain_trains_the_nlu_model_only(project, tmp_path):
    from diet_sparse.project import train_project

    nlu_only = shutil.copytree(project, tmp_path / "nlu_only", ignore=shutil.ignore_patterns("m*"))
    (nlu_only / "domain.yml").unlink()
    trained = train_project(nlu_only, progress=False)
    assert trained.core is None and (trained.nlu / "metadata.json").is_file()
    assert trained.path.parent == nlu_only / "models"


BROKEN = {
    "contradicting rules": (
        "data/contradiction.yml",
        'version: "3.1"\nrules:\n- rule: greet back\n  steps:\n  - intent: greet\n'
        "  - action: utter_goodbye\n",
        "TrainingDataError",
    ),
    "a domain that is not YAML": ("domain.yml", "intents: [greet\n", "TrainingDataError"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_bad_project_fails_before_tensorflow_loads(project, tmp_path, broken):
    name, text, error = BROKEN[broken]
    folder = shutil.copytree(project, tmp_path / "broken", ignore=shutil.ignore_patterns("models"))
    (folder / name).write_text(text)
    config = folder / "config.yml"  # with the rule policy, which applies rules
    config.write_text(
        config.read_text().replace("policies:\n", "policies:\n  - name: RulePolicy\n")
    )
    code = (
        "import sys, diet_sparse\n"
        "try:\n"
        f"    diet_sparse.train_project({str(folder)!r})\n"
        "except diet_sparse.errors.DietSparseError as error:\n"
        "    print(type(error).__name__, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == [error, "False"], result.stderr[-2000:]
    assert not (folder / "models").exists()  # nothing trained, nothing lost
