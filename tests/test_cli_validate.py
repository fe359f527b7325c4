"""``diet-sparse data validate [stories]`` run in a Rasa project as ``rasa data validate`` is:
one line per finding, exit 0 when the project passes and 1 when Rasa 3.6 would fail it."""

import pytest
from validation_project import CONFLICT, DEEP_CONFLICT, write_project

from diet_sparse.cli import main


def validate(project, capsys, monkeypatch, *args) -> tuple[int, list[str]]:
    monkeypatch.chdir(project)
    code = main(["data", "validate", *args])
    return code, capsys.readouterr().out.splitlines()


def test_a_clean_project_exits_0_and_prints_nothing(tmp_path, capsys, monkeypatch):
    assert validate(write_project(tmp_path), capsys, monkeypatch) == (0, [])


def test_an_error_exits_1_with_one_line_naming_file_and_line(tmp_path, capsys, monkeypatch):
    project = write_project(
        tmp_path,
        (
            "data/stories.yml",
            "      - action: utter_bye\n",
            "      - action: utter_bye\n      - action: action_missing\n",
        ),
    )
    code, lines = validate(project, capsys, monkeypatch)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("error: data/stories.yml:9: The action ")


def test_fail_on_warnings_turns_a_warning_into_exit_1(tmp_path, capsys, monkeypatch):
    project = write_project(tmp_path, CONFLICT)
    code, lines = validate(project, capsys, monkeypatch)
    assert code == 0 and len(lines) == 1 and lines[0].startswith("warning: data/stories.yml:")
    assert validate(project, capsys, monkeypatch, "--fail-on-warnings")[0] == 1


def test_notices_never_fail(tmp_path, capsys, monkeypatch):
    project = write_project(tmp_path, ("domain.yml", "  - book\n", "  - book\n  - thank\n"))
    code, lines = validate(project, capsys, monkeypatch, "--fail-on-warnings")
    assert code == 0 and len(lines) == 2 and all(line.startswith("notice: ") for line in lines)


@pytest.mark.parametrize("max_history, code", [("1", 1), ("2", 0)])
def test_max_history_changes_whether_a_conflict_is_found(
    tmp_path, capsys, monkeypatch, max_history, code
):
    project = write_project(tmp_path, DEEP_CONFLICT)
    found = validate(
        project, capsys, monkeypatch, "--fail-on-warnings", "--max-history", max_history
    )
    assert found[0] == code and len(found[1]) == code


def test_validate_stories_checks_only_the_stories(tmp_path, capsys, monkeypatch):
    project = write_project(
        tmp_path, CONFLICT, ("domain.yml", "  - book\n", "  - book\n  - thank\n")
    )
    code, lines = validate(project, capsys, monkeypatch, "stories", "--fail-on-warnings")
    assert code == 1 and len(lines) == 1 and "Story structure conflict" in lines[0]


def test_domain_data_and_config_can_be_named(tmp_path, capsys, monkeypatch):
    project = write_project(tmp_path / "bot", CONFLICT)
    (tmp_path / "elsewhere").mkdir()
    code, lines = validate(
        tmp_path / "elsewhere",
        capsys,
        monkeypatch,
        "-d",
        str(project / "domain.yml"),
        "--data",
        str(project / "data" / "nlu.yml"),
        str(project / "data" / "stories.yml"),
        "-c",
        str(project / "config.yml"),
        "--fail-on-warnings",
    )
    assert code == 1 and "Story structure conflict" in lines[-1]
    # The rules' file was not named: its response is unused.
    assert lines[:-1] == [
        "notice: The utterance 'utter_ask_city' is not used in any story or rule."
    ]


def test_max_history_below_1_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(write_project(tmp_path))
    with pytest.raises(SystemExit) as exit:
        main(["data", "validate", "--max-history", "0"])
    assert exit.value.code == 2 and "--max-history" in capsys.readouterr().err
