"""The command line end to end: train then parse in subprocesses, and what each command prints."""

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_DATA

from diet_sparse import cli
from diet_sparse.evaluation import nlu as evaluation
from diet_sparse.evaluation import sweep

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
    assert result.returncode == 2
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        line for line in result.stderr.splitlines() if "Did you mean 'epochs'?" in line
    ]
    assert "Traceback" not in result.stderr
    assert "Trainable weights" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_an_entity_off_token_boundaries_is_warned_once_before_training(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("epochs: 1\ntransformer_size: 16\ndense_dimension: 16\n")
    data = tmp_path / "nlu.yml"
    data.write_text(
        'version: "3.1"\nnlu:\n- intent: book\n  examples: |\n    - fly to [Ber](city)lin\n'
        "    - fly to [Rome](city)\n- intent: greet\n  examples: |\n    - hi\n    - hello\n"
    )
    result = run("train", "--config", config, "--data", data, "--out", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    warned = [i for i, line in enumerate(lines) if "ends inside the token 'Berlin'" in line]
    assert len(warned) == 1 and lines[warned[0]].startswith(f"warning: {data}:5: entity 'city'")
    assert warned[0] < next(i for i, line in enumerate(lines) if "Trainable weights" in line)


def test_bad_data_names_the_file(tmp_path):
    data = tmp_path / "nlu.yml"
    # invalid JSON in an entity annotation, which Rasa's reader refuses too
    data.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi [there]{"entity"}\n'
    )
    result = run("train", "--data", data, "--out", tmp_path / "m")
    assert result.returncode == 2
    assert "nlu.yml" in result.stderr and "Traceback" not in result.stderr


def test_parse_with_missing_model_is_a_clear_error(tmp_path):
    result = run("parse", "--model", tmp_path / "missing", "hi")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_readme_names_the_two_setup_commands():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


# --- in-process: what each command prints around the library, which prints nothing -------------


@pytest.fixture
def quiet_warnings(monkeypatch):
    """main() replaces warnings.showwarning; the test's own is restored afterwards."""
    import warnings

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)


def test_test_prints_the_summary_table_and_where_reports_went(
    quiet_warnings, trained_model_dir, nlu, tmp_path, capsys
):
    out = tmp_path / "results"
    arguments = ["--model", trained_model_dir, "--data", EXAMPLE_DATA, "--out", out]
    code = cli.main(["test", *map(str, arguments)])
    printed = capsys.readouterr()
    assert code == 0
    evaluated = evaluation.evaluate(nlu, EXAMPLE_DATA)
    summary, fallback = printed.out.split("\n\n")
    assert summary == evaluation.format_summary(evaluated)
    assert fallback.splitlines()[0].startswith("If nlu_fallback replaced uncertain intents")
    assert "\n".join(fallback.splitlines()[1:]) == evaluation.format_fallback_report(
        evaluated["fallback_report"]
    )
    assert printed.err.splitlines()[-1] == f"Reports and plots written to {out}"
    assert (out / "intent_report.json").is_file()


def test_sweep_prints_each_point_as_it_is_done_then_the_summary(
    quiet_warnings, monkeypatch, tmp_path, capsys
):
    row = {
        "density": 0.2,
        "size": 8,
        "seed": 42,
        "randomly_connected_weights": 1234,
        "total_trainable_weights": 5000,
        "intent_weighted_f1": 0.9,
        "entity_micro_f1": 0.8,
        "train_seconds": 3.25,
    }
    dense = dict(row, density=1.0, randomly_connected_weights=6000)
    given = {}

    def fake_sweep(config, **arguments):
        given.update(arguments)
        arguments["on_point"](dense, 1, 2)
        arguments["on_point"](row, 2, 2)
        return [dense, row]

    monkeypatch.setattr(sweep, "sweep", fake_sweep)
    code = cli.main(["sweep", "--train", "t.yml", "--test", "t.yml", "--out", str(tmp_path)])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        sweep.format_point(dense, 1, 2),
        sweep.format_point(row, 2, 2),
        *sweep.format_smallest([dense, row]).splitlines(),
    ]
    assert "[2/2] density 0.2, size 8, seed 42: 1,234 connected weights" in sweep.format_point(
        row, 2, 2
    )
    # the defaults the CLI passes are the library's
    assert given["densities"] == list(sweep.DEFAULT_DENSITIES)
    assert given["sizes"] == list(sweep.DEFAULT_SIZES)
    assert given["repeats"] == sweep.DEFAULT_REPEATS


def test_progress_logged_by_the_library_is_shown_as_plain_lines_on_stderr(
    quiet_warnings, monkeypatch, tmp_path, capsys
):
    accuracy = {"mean": 0.5, "std": 0.1, "per_fold": [0.4, 0.6]}
    summary = {"folds": 2, "tested_examples": 3, "metrics": {"intent_accuracy": accuracy}}

    def fake_cross_validate(data, config, folds, out):
        evaluation.logger.info("Fold %d/%d: training on %d examples", 1, folds, 2)
        evaluation.logger.debug("not shown")
        return summary

    monkeypatch.setattr(evaluation, "cross_validate", fake_cross_validate)
    arguments = ["--cross-validation", "--folds", "2", "--data", "d.yml", "--out", str(tmp_path)]
    code = cli.main(["test", *arguments])
    printed = capsys.readouterr()
    assert code == 0
    assert printed.err.splitlines() == [
        "Fold 1/2: training on 2 examples",
        f"Reports and plots written to {tmp_path}",
    ]
    assert printed.out == evaluation.format_cross_validation(summary) + "\n"
    assert not logging.getLogger("diet_sparse").handlers  # main() leaves logging as it was


def test_serve_defaults_are_the_servers():
    from diet_sparse.serving import app as server

    args = cli.build_parser().parse_args(["serve", "--model", "m"])
    assert args.host == server.DEFAULT_HOST and args.port == server.DEFAULT_PORT
    assert args.workers == server.DEFAULT_WORKERS
    assert args.max_body_bytes == server.DEFAULT_MAX_BODY_BYTES
    assert args.max_text_length == server.DEFAULT_MAX_TEXT_LENGTH
    assert args.batch_window_ms == server.DEFAULT_BATCH_WINDOW_MS
    test_args = cli.build_parser().parse_args(["test", "--data", "d"])
    assert (test_args.out, test_args.folds) == (evaluation.DEFAULT_OUT, evaluation.DEFAULT_FOLDS)


HEAVY = ("fastapi", "tensorflow", "sklearn", "matplotlib")  # the server, training, evaluation


def test_help_and_parse_load_neither_the_server_nor_training_nor_evaluation():
    """``diet-sparse --help`` answers at once, and ``parse`` loads only what prediction needs:
    the command line imports each command's modules inside its handler."""
    model = Path(__file__).parent / "fixtures" / "format1_model"
    code = (
        "import contextlib, io, json, sys\n"
        "from diet_sparse import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()) as shown:\n"
        "    try:\n"
        "        cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"after_help = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "with contextlib.redirect_stdout(io.StringIO()) as parsed:\n"
        f"    code = cli.main(['parse', '--model', {str(model)!r}, 'hello there'])\n"
        f"after_parse = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps([after_help, after_parse, code, shown.getvalue()[:20],\n"
        "                  json.loads(parsed.getvalue())['text']]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    after_help, after_parse, code, help_text, parsed = json.loads(result.stdout)
    assert help_text.startswith("usage: diet-sparse")
    assert code == 0 and parsed == "hello there"
    assert after_help == [] and after_parse == []
