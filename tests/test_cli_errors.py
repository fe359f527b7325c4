"""Bad command-line input, run as a user runs it: exit 2, one error line, no traceback, no training.

Arguments out of range are refused by argparse, in one ``error:`` line naming the command, the
argument, the value and what is allowed; input that only the library can judge (files, model,
output directory) prints one ``error:`` line too. Neither starts any training.
"""

import errno
import subprocess
import sys
import warnings
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


# --- a full disk ---------------------------------------------------------------------------------


def no_space(*args, **kwargs):
    """Write a few bytes where asked, then fail as a full disk does."""
    target = args[0] if args and isinstance(args[0], str | Path) else kwargs.get("file")
    if isinstance(target, str | Path):
        Path(target).write_bytes(b"\x89PNG half")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def cli_in_process(monkeypatch):
    """``cli.main`` in this process, its warnings kept as Python's (not printed over)."""
    from diet_sparse import cli

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    return cli.main


QUICK_CONFIG = "epochs: 1\ntransformer_size: 8\ndense_dimension: 8\nembedding_dimension: 8\n"


@pytest.mark.parametrize("command", ["train", "train core"])
def test_a_full_disk_while_saving_a_model_is_one_line_and_leaves_nothing(
    command, cli_in_process, monkeypatch, tmp_path, capsys
):
    from diet_sparse import persistence

    config = tmp_path / "config.yml"
    config.write_text(QUICK_CONFIG)
    out = tmp_path / "model"
    args = ["--config", str(config), "--data", str(EXAMPLE_DATA), "--out", str(out), "--quiet"]
    if command == "train core":
        args = ["core", "--domain", str(EXAMPLE_DATA / "domain.yml"), *args]
    monkeypatch.setattr(persistence.np, "savez_compressed", no_space)
    code = cli_in_process(["train", *args])
    stderr = capsys.readouterr().err
    assert code == 2
    assert error_lines_of(stderr) == [
        f"error: cannot write {out}: No space left on device; nothing was written there"
    ]
    assert list(tmp_path.iterdir()) == [config]  # no model, no half-written staging folder


def test_a_full_disk_while_plotting_a_sweep_is_one_line_and_leaves_no_broken_plot(
    cli_in_process, monkeypatch, tmp_path, capsys
):
    from matplotlib.figure import Figure

    config = tmp_path / "config.yml"
    config.write_text(QUICK_CONFIG)
    out = tmp_path / "sweep"
    monkeypatch.setattr(Figure, "savefig", no_space)
    data = ["--train", str(EXAMPLE_DATA), "--test", str(EXAMPLE_DATA)]
    code = cli_in_process(
        [
            "sweep",
            "--config",
            str(config),
            *data,
            "--densities",
            "1.0",
            "--sizes",
            "8",
            "--epochs",
            "1",
            "--out",
            str(out),
        ]  # fmt: skip
    )
    stderr = capsys.readouterr().err
    assert code == 2
    [line] = error_lines_of(stderr)
    assert line.startswith(f"error: cannot write {out / 'sweep_intent.png'}: No space left")
    assert sorted(path.name for path in out.iterdir()) == ["sweep.csv", "sweep_settings.json"]
    assert len((out / "sweep.csv").read_text().splitlines()) == 2  # the header and the point


def error_lines_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]
