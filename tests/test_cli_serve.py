"""`serve` start-up failures and announcements: the library raises and logs, printing nothing;
``diet-sparse serve`` turns a failure into one ``error:`` line and exit code 2."""

import logging
import socket
import warnings

import pytest

from diet_sparse import cli
from diet_sparse.config import ConfigError
from diet_sparse.serving.app import ServerStartError, _announce, create_app, serve


def test_missing_model_directory_raises_and_prints_nothing(tmp_path, capsys):
    with pytest.raises(ServerStartError, match="does not exist"):
        serve(tmp_path / "missing", port=0)
    assert capsys.readouterr() == ("", "")


def test_incomplete_model_directory_raises_one_line(tmp_path):
    (tmp_path / "metadata.json").write_text("{}")
    with pytest.raises(ServerStartError, match="not a complete diet-sparse model") as raised:
        serve(tmp_path, port=0)
    assert "\n" not in str(raised.value)


def test_taken_port_fails_before_loading_the_model(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="diet_sparse")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServerStartError, match="cannot listen on 127.0.0.1"):
            serve(tmp_path / "missing", port=taken.getsockname()[1])
    assert "Loading" not in caplog.text


@pytest.mark.parametrize(
    "option, value",
    [
        ("port", 70000),
        ("workers", 0),
        ("max_body_bytes", 0),
        ("batch_window_ms", -1.0),
        ("auth_token", ""),
    ],
)
def test_options_out_of_range_raise_before_anything_starts(tmp_path, option, value):
    with pytest.raises(ConfigError, match=f"{option} must be .*, got {value!r}"):
        serve(tmp_path / "missing", **{option: value})


def test_create_app_checks_its_limits_with_the_same_rule():
    with pytest.raises(ConfigError, match="max_text_length must be an integer >= 1, got 0"):
        create_app(object(), max_text_length=0)


def test_cli_prints_one_error_line_and_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    assert cli.main(["serve", "--model", str(tmp_path / "missing"), "--port", "0"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.splitlines() == [
        f"Loading the model in {tmp_path / 'missing'} ...",
        f"error: model directory {tmp_path / 'missing'} does not exist",
    ]


@pytest.mark.parametrize(
    "host, token, level, text",
    [
        ("0.0.0.0", None, logging.WARNING, "WARNING: listening on 0.0.0.0 without --auth-token"),
        ("127.0.0.1", None, logging.INFO, "only accepting connections from this machine"),
        ("0.0.0.0", "secret", logging.INFO, "Requests must carry the token"),
    ],
)
def test_announcement_is_logged_not_printed(host, token, level, text, caplog, capsys):
    caplog.set_level(logging.INFO, logger="diet_sparse")
    _announce(f"http://{host}:5005", host, auth_token=token)
    first, second = caplog.records
    announced = first.getMessage()
    assert announced.startswith("diet-sparse ") and f"listening on http://{host}:5005" in announced
    assert (second.levelno, text in second.getMessage()) == (level, True)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "written, commands, expected",
    [
        (
            b'action_endpoint:\n  url: "http://h\xff\xfe/webhook"\n',
            ("serve", "shell"),
            "endpoints.yml, line 2, key 'url': not UTF-8 text (byte 0xff, column 17)",
        ),
        (b"# caf\xe9\n", ("serve", "shell"), "endpoints.yml, line 1: not UTF-8 text"),
        (
            b"tracker_store:\n  type: SQL\n  port: abc\n",
            ("serve",),  # the shell keeps no conversations: it does not read tracker_store
            "endpoints.yml, line 3: tracker_store port must be a number from 1 to 65535, got 'abc'",
        ),
        (
            "tracker_store:\n  type: SQL\n  port: '²'\n".encode(),  # isdigit(), but no int
            ("serve",),
            "endpoints.yml, line 3: tracker_store port must be a number",
        ),
        (
            b"tracker_store:\n  type: SQL\n  port: 70000\n",
            ("serve",),
            "endpoints.yml, line 3: tracker_store port must be a number from 1 to 65535",
        ),
    ],
)
def test_a_bad_endpoints_yml_is_one_error_line_from_serve_and_shell(
    tmp_path, monkeypatch, capsys, written, commands, expected
):
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() replaces it
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_bytes(written)
    model, policy = tmp_path / "model", tmp_path / "policy"  # read after endpoints.yml
    model.mkdir()
    policy.mkdir()
    arguments = {
        "serve": ["serve", "--model", str(model), "--policy", str(policy)],
        "shell": ["shell", "--nlu", str(model), "--policy", str(policy), "--say", "hi"],
    }
    for command in commands:
        assert cli.main([*arguments[command], "--endpoints", str(endpoints)]) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and error.startswith(f"error: {tmp_path / expected}")
