import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_DATA

SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]


def run(*args, stdin=None):
    return subprocess.run(
        [*COMMAND, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=300
    )


def test_train_then_parse_end_to_end(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("epochs: 2\ntransformer_size: 16\ndense_dimension: 16\n")
    model = tmp_path / "model"
    trained = run("train", "--config", config, "--data", EXAMPLE_DATA, "--out", model)
    assert trained.returncode == 0, trained.stderr
    assert "Trainable weights:" in trained.stderr
    assert "connection_density=0.2" in trained.stderr
    assert "Epochs" in trained.stderr  # the progress bar
    assert "loss=" in trained.stderr and "i_acc=" in trained.stderr and "e_f1=" in trained.stderr
    assert (model / "weights.npz").is_file()

    parsed = run("parse", "--model", model, "--compact", "hello there", "book a flight")
    assert parsed.returncode == 0, parsed.stderr
    results = [json.loads(line) for line in parsed.stdout.splitlines()]
    assert [r["text"] for r in results] == ["hello there", "book a flight"]
    assert all(r["intent"]["name"] for r in results)

    piped = run("parse", "--model", model, stdin="first line\nsecond line\n")
    assert piped.returncode == 0, piped.stderr
    assert [json.loads(line)["text"] for line in piped.stdout.splitlines()] == [
        "first line",
        "second line",
    ]


def test_bad_config_is_one_line_error_before_training(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("epoch: 2\n")
    result = run("train", "--config", config, "--data", EXAMPLE_DATA, "--out", tmp_path / "m")
    assert result.returncode == 1
    assert "error:" in result.stderr and "Did you mean 'epochs'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Trainable weights" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_bad_data_names_the_file(tmp_path):
    data = tmp_path / "nlu.yml"
    data.write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi [there\n')
    result = run("train", "--data", data, "--out", tmp_path / "m")
    assert result.returncode == 1
    assert "nlu.yml" in result.stderr and "Traceback" not in result.stderr


def test_parse_with_missing_model_is_a_clear_error(tmp_path):
    result = run("parse", "--model", tmp_path / "missing", "hi")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_readme_names_the_two_setup_commands():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
