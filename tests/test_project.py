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


def test_an_interrupted_project_training_leaves_no_model_to_pick(project, tmp_path, monkeypatch):
    """Ctrl-C after the NLU model is saved: nothing appears in models/, and serve and shell keep
    the newest complete model (a model of the old layout with nlu/ alone beside an empty core/
    is passed over too)."""
    from diet_sparse import project as project_module
    from diet_sparse.persistence import latest_project_model

    folder = shutil.copytree(project, tmp_path / "bot", ignore=shutil.ignore_patterns("models"))
    complete = folder / "models" / "20250101-000000"
    for part in ("nlu", "core"):
        (complete / part).mkdir(parents=True)
        (complete / part / "metadata.json").write_text("{}")
    half = folder / "models" / "20250102-000000"  # interrupted before the staging existed
    (half / "nlu").mkdir(parents=True)
    (half / "nlu" / "metadata.json").write_text("{}")
    (half / "core").mkdir()

    def nlu_saved(self, progress=True):
        self.out.mkdir(parents=True)
        (self.out / "metadata.json").write_text("{}")

    def interrupted(self, progress=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(project_module.NLUTraining, "run", nlu_saved)
    monkeypatch.setattr(project_module.PolicyTraining, "run", interrupted)
    monkeypatch.setattr(project_module.time, "strftime", lambda _: "20250103-000000")
    with pytest.raises(KeyboardInterrupt):
        project_module.train_project(folder, progress=False)
    assert sorted(p.name for p in (folder / "models").iterdir()) == [complete.name, half.name]
    assert latest_project_model(folder) == complete

    monkeypatch.setattr(project_module.PolicyTraining, "run", nlu_saved)  # now it completes
    trained = project_module.train_project(folder, progress=False)
    assert trained.path == folder / "models" / "20250103-000000"
    assert latest_project_model(folder) == trained.path
    assert sorted(p.name for p in (folder / "models").iterdir())[-1] == "20250103-000000"
    assert not any(p.name.startswith(".") for p in (folder / "models").iterdir())


def test_train_project_refuses_to_replace_a_folder_that_is_no_model(project, tmp_path):
    from diet_sparse.errors import ModelDirectoryError
    from diet_sparse.project import train_project

    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "todo.txt").write_text("keep me")
    with pytest.raises(ModelDirectoryError, match="is not a project's model directory"):
        train_project(project, out=keep, progress=False)
    assert (keep / "todo.txt").read_text() == "keep me"


# --- where the domain is: domain.yml or domain/, with the responses of data/ ---------------------

OUT_OF_SCOPE = """\
version: "3.1"
rules:
- rule: say what is out of scope
  steps:
  - intent: out_of_scope
  - action: utter_out_of_scope
responses:
  utter_out_of_scope:
  - text: Sorry, that is beyond me.
"""


def test_the_project_domain_is_domain_yml_else_the_domain_folder(tmp_path):
    """Rasa's default --domain is domain.yml (rasa/shared/constants.py DEFAULT_DOMAIN_PATH);
    a domain/ folder, which Rasa reads with --domain domain, is found without."""
    from diet_sparse.errors import TrainingDataWarning
    from diet_sparse.project import project_domain

    assert project_domain(tmp_path) is None
    (tmp_path / "domain").mkdir()
    assert project_domain(tmp_path) == tmp_path / "domain"
    (tmp_path / "domain.yml").write_text("intents: [greet]\n")
    with pytest.warns(TrainingDataWarning, match="domain.yml is read, as 'rasa train' reads it"):
        assert project_domain(tmp_path) == tmp_path / "domain.yml"


@pytest.fixture(scope="module")
def split_project(project, tmp_path_factory):
    """The example project with its domain split into domain/ (intents, responses, slots and
    actions) and a rule whose response is in data/, as Rasa projects keep retrieval and
    out-of-scope responses."""
    from conftest import split_domain

    folder = tmp_path_factory.mktemp("split") / "bot"
    shutil.copytree(project, folder, ignore=shutil.ignore_patterns("models"))
    parts = {
        "intents.yml": ("version", "intents", "entities"),
        "responses/responses.yml": ("version", "responses"),
        "slots.yml": ("version", "slots", "actions", "forms"),
    }
    split_domain(folder / "domain.yml", folder / "domain", parts)
    (folder / "domain.yml").unlink()
    (folder / "data" / "out_of_scope.yml").write_text(OUT_OF_SCOPE, encoding="utf-8")
    config = folder / "config.yml"  # with the rule policy, which applies rules
    config.write_text(
        config.read_text().replace("policies:\n", "policies:\n  - name: RulePolicy\n")
    )
    return folder


def test_a_split_domain_and_the_responses_of_data_train_and_are_said(split_project, tmp_path):
    from diet_sparse.dialogue.bot import Bot
    from diet_sparse.project import train_project

    trained = train_project(split_project, out=tmp_path / "model", progress=False)
    assert trained.core is not None  # the domain/ folder was read: the policy trained
    policy = load_policy(trained.path)
    assert "utter_out_of_scope" in policy.domain.action_names
    assert "utter_greet" in policy.domain.responses  # from domain/responses/responses.yml
    replies = Bot(load(trained.path), policy).respond("/out_of_scope")
    assert replies[0]["action"] == "utter_out_of_scope"
    assert replies[0]["text"] == "Sorry, that is beyond me."


def test_bad_responses_in_data_are_a_one_line_error_naming_the_file(split_project, tmp_path):
    folder = shutil.copytree(split_project, tmp_path / "bot")
    bad = folder / "data" / "out_of_scope.yml"
    bad.write_text(OUT_OF_SCOPE.replace("  - text: Sorry, that is beyond me.\n", "    Sorry\n"))
    code = (
        "import sys, diet_sparse\n"
        "try:\n"
        f"    diet_sparse.train_project({str(folder)!r})\n"
        "except diet_sparse.errors.DietSparseError as error:\n"
        "    print(error)\n"
        "    print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    error, tensorflow_loaded = result.stdout.splitlines()  # one line, and no TensorFlow
    assert error.startswith(f"{bad}:9: response 'utter_out_of_scope': expected a list of var")
    assert tensorflow_loaded == "False", result.stderr[-2000:]
    assert not (folder / "models").exists()


def test_a_project_without_nlu_data_says_how_to_train_its_policy_alone(tmp_path):
    # Rasa trains the policy alone there ("No NLU data present"); diet-sparse says how to.
    project = shutil.copytree(Path(__file__).parent / "fixtures" / "projects" / "forms_rules",
                              tmp_path / "bot")  # fmt: skip
    from diet_sparse.errors import TrainingDataError
    from diet_sparse.project import train_project

    with pytest.raises(TrainingDataError) as caught:
        train_project(project)
    assert "no 'nlu' key" in str(caught.value)
    assert f"'diet-sparse train core --domain {project / 'domain.yml'}" in str(caught.value)
    assert not (project / "models").exists()
