"""One error type (diet_sparse/errors.py): each kind of mistake a user makes raises its own
subclass of `DietSparseError` from the library, and reaches the command line as one ``error:``
line with exit status 2 and no traceback, through the CLI's one ``except DietSparseError``."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_DATA, ROOT

from diet_sparse import errors
from diet_sparse.errors import (
    ConfigError,
    DietSparseError,
    DomainError,
    EndpointsError,
    ModelLoadError,
    StoriesError,
    TrackerStoreError,
    TrainingDataError,
)

SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_every_error_class_derives_from_the_one_base():
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and not issubclass(value, Warning)
    ]
    assert len(classes) >= 15
    assert all(issubclass(cls, DietSparseError) for cls in classes)
    # and from the built-in error it refines, so code catching those keeps working
    assert issubclass(ConfigError, ValueError) and issubclass(ModelLoadError, RuntimeError)


def test_no_module_defines_an_error_class_outside_errors_py():
    package = ROOT / "diet_sparse"
    defined = [
        f"{path.relative_to(package)}: {line.strip()}"
        for path in package.rglob("*.py")
        if path.name != "errors.py"
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("class ") and "Error(" in line and "ApiError" not in line
    ]
    assert defined == []


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    """A tiny dialogue policy, for the commands that need one."""
    from diet_sparse.training import train_policy

    out = tmp_path_factory.mktemp("errors") / "policy"
    config = {"epochs": 1, "transformer_size": 8, "encoding_dimension": 8, "dense_dimension": 8}
    train_policy(EXAMPLE_DATA / "domain.yml", EXAMPLE_DATA, config, out=out, progress=False)
    return out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def cases(tmp_path: Path, policy: Path | None) -> dict:
    """kind -> (command-line arguments, the library error class, words of the message)."""
    nlu = write(
        tmp_path / "nlu.yml", 'nlu:\n- intent: greet\n  examples: |\n    - hi [there]{"entity"}\n'
    )
    domain = write(tmp_path / "domain.yml", "intents:\n- greet:\n    use_entities: [city]\n")
    stories = write(
        tmp_path / "stories.yml",
        "stories:\n- story: s\n  steps:\n  - intent: greet\n  - action: utter_nowhere\n",
    )
    config = write(tmp_path / "config.yml", "epoch: 2\n")
    model = tmp_path / "model"
    model.mkdir()
    write(model / "metadata.json", "{not json")
    endpoints = write(tmp_path / "endpoints.yml", "action_endpoint: [1, 2]\n")
    out = tmp_path / "out"
    return {
        "data": (("train", "--data", nlu, "--out", out), TrainingDataError, "nlu.yml:4"),
        "domain": (
            ("train", "core", "--domain", domain, "--data", EXAMPLE_DATA, "--out", out),
            DomainError,
            "entity 'city'",
        ),
        "stories": (
            (
                "train",
                "core",
                "--domain",
                EXAMPLE_DATA / "domain.yml",
                "--data",
                stories,
                "--out",
                out,
            ),
            StoriesError,
            "utter_nowhere",
        ),
        "config": (
            ("train", "--config", config, "--data", EXAMPLE_DATA, "--out", out),
            ConfigError,
            "epochs",
        ),
        "model file": (("parse", "--model", model, "hi"), ModelLoadError, "not a complete"),
        "argument": (("serve", "--model", model, "--port", "70000"), None, "--port"),
        "endpoints": (
            ("shell", "--model", model, "--endpoints", endpoints, "--say", "hi"),
            EndpointsError,
            "endpoints.yml",
        ),
        "tracker store": (
            ("serve", "--model", model, "--policy", policy, "--tracker-store", "nosuch://x"),
            TrackerStoreError,
            "nosuch://x",
        )
        if policy
        else None,
    }


KINDS = ["data", "domain", "stories", "config", "model file", "argument", "endpoints"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_user_error_is_one_error_line(tmp_path, kind):
    args, _, words = cases(tmp_path, None)[kind]
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert words in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_tracker_store_error_is_one_error_line(tmp_path, policy_dir, trained_model_dir):
    args = ("serve", "--model", trained_model_dir, "--policy", policy_dir)
    result = run(*args, "--tracker-store", "nosuch://x")
    assert result.returncode == 2, result.stderr
    errors_shown = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors_shown) == 1 and "nosuch://x" in errors_shown[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["data", "domain", "stories", "config", "model file"])
def test_the_library_raises_each_kind_s_own_class(tmp_path, kind):
    from diet_sparse.persistence import load
    from diet_sparse.project import check_nlu_training, check_policy_training
    from diet_sparse.rasa.endpoints import read_endpoints

    every = cases(tmp_path, None)
    args, error_class, words = every[kind]
    calls = {
        "data": lambda: check_nlu_training(None, args[2], tmp_path / "out"),
        "domain": lambda: check_policy_training(None, args[3], args[5], tmp_path / "out"),
        "stories": lambda: check_policy_training(None, args[3], args[5], tmp_path / "out"),
        "config": lambda: check_nlu_training(args[2], EXAMPLE_DATA, tmp_path / "out"),
        "model file": lambda: load(args[2]),
    }
    with pytest.raises(error_class, match=words.replace(".", r"\.")) as raised:
        calls[kind]()
    assert isinstance(raised.value, DietSparseError)
    with pytest.raises(EndpointsError):
        read_endpoints(every["endpoints"][0][4])
