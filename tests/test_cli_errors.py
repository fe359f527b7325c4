"""Bad command-line input, run as a user runs it: exit 2, one error line, no traceback, no training.

Arguments out of range are refused by argparse, in one ``error:`` line naming the command, the
argument, the value and what is allowed; input that only the library can judge (files, model,
output directory) prints one ``error:`` line too. Neither starts any training.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_DATA

SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]
TRAINING_STARTED = "Trainable weights"  # the first line of every training


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=120)


SWEEP = ("sweep", "--train", EXAMPLE_DATA, "--test", EXAMPLE_DATA)
SERVE = ("serve", "--model", EXAMPLE_DATA)
CROSS_VALIDATION = ("test", "--cross-validation", "--data", EXAMPLE_DATA)


@pytest.mark.parametrize(
    "args, argument, value, allowed",
    [
        ((*SWEEP, "--densities", "1.0", "1.5"), "--densities", "1.5", "in [0, 1]"),
        ((*SWEEP, "--subsample", "0"), "--subsample", "0.0", "a fraction in (0, 1]"),
        ((*SWEEP, "--subsample", "2.5"), "--subsample", "2.5", "a whole number of examples"),
        ((*SWEEP, "--sizes", "8", "0"), "--sizes", "got 0", "an integer >= 1"),
        ((*SWEEP, "--repeats", "0"), "--repeats", "got 0", "an integer >= 1"),
        ((*SWEEP, "--epochs", "0"), "--epochs", "got 0", "an integer >= 1"),
        ((*SWEEP, "--sizes", "eight"), "--sizes", "'eight'", "invalid int value"),
        ((*CROSS_VALIDATION, "--folds", "1"), "--folds", "got 1", "an integer >= 2"),
        ((*SERVE, "--port", "70000"), "--port", "70000", "in [0, 65535]"),
        ((*SERVE, "--workers", "0"), "--workers", "got 0", "an integer >= 1"),
        ((*SERVE, "--max-body-bytes", "0"), "--max-body-bytes", "got 0", ">= 1"),
        ((*SERVE, "--max-text-length", "0"), "--max-text-length", "got 0", ">= 1"),
        ((*SERVE, "--batch-window-ms", "-1"), "--batch-window-ms", "-1.0", "a number >= 0"),
        ((*SERVE, "--auth-token", ""), "--auth-token", "''", "a non-empty string"),
    ],
)
def test_argument_out_of_range_is_refused_naming_argument_value_and_range(
    args, argument, value, allowed
):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [error] = result.stderr.strip().splitlines()
    assert error.startswith(f"error: diet-sparse {args[0]}: argument {argument}: ")
    assert value in error and allowed in error
    assert error.endswith(f"; see 'diet-sparse {args[0]} --help'")
    assert result.stdout == ""


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def in_the_way(tmp_path) -> Path:
    """A file where an output directory is asked for."""
    path = tmp_path / "taken"
    path.write_text("not a directory\n")
    return path


def test_train_refuses_an_out_that_is_a_file_before_training(in_the_way):
    result = run("train", "--data", EXAMPLE_DATA, "--out", in_the_way)
    assert result.returncode == 2
    assert error_lines(result) == [
        f"error: model directory {in_the_way} is an existing file; choose a directory"
    ]
    assert "Traceback" not in result.stderr and TRAINING_STARTED not in result.stderr
    assert in_the_way.read_text() == "not a directory\n"


def test_train_refuses_a_folder_that_is_not_a_model_before_training(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    result = run("train", "--data", EXAMPLE_DATA, "--out", tmp_path)
    assert result.returncode == 2
    assert len(error_lines(result)) == 1 and "not a diet-sparse model directory" in result.stderr
    assert TRAINING_STARTED not in result.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("test", "--model", EXAMPLE_DATA, "--data", EXAMPLE_DATA, "--out", "{file}"),
            "output directory {file} is an existing file",
        ),
        ((*CROSS_VALIDATION, "--out", "{file}"), "output directory {file} is an existing file"),
        (
            (*CROSS_VALIDATION, "--config", "{tmp}/missing.yml", "--out", "{tmp}/cv"),
            "config file {tmp}/missing.yml does not exist",
        ),
        ((*SWEEP, "--out", "{file}/sweep"), "cannot create output directory {file}/sweep"),
        (
            ("sweep", "--train", EXAMPLE_DATA, "--test", "{tmp}/missing.yml", "--out", "{tmp}/s"),
            "{tmp}/missing.yml does not exist",
        ),
        (
            ("train", "--data", EXAMPLE_DATA, "--config", "{tmp}/missing.yml", "--out", "{tmp}/m"),
            "config file {tmp}/missing.yml does not exist",
        ),
        (
            ("serve", "--model", "{tmp}/missing", "--port", "0"),
            "model directory {tmp}/missing does not exist",
        ),
    ],
)
def test_input_only_the_library_can_judge_is_one_error_line_before_any_training(
    args, message, in_the_way, tmp_path
):
    def filled(text):
        return str(text).format(file=in_the_way, tmp=tmp_path)

    result = run(*map(filled, args))
    assert result.returncode == 2
    assert len(error_lines(result)) == 1
    assert filled(message) in error_lines(result)[0]
    assert "Traceback" not in result.stderr and TRAINING_STARTED not in result.stderr
    assert result.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]  # nothing written
