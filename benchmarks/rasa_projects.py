"""Whole Rasa 3 projects trained and tested unchanged, by diet-sparse and (given its Python) by
Rasa 3.6: training time, peak memory, model size and ``test core`` on each project's own test
stories (``tests/``), side by side.

    python benchmarks/rasa_projects.py                                   # diet-sparse only
    python benchmarks/rasa_projects.py --rasa-python /path/to/rasa36/bin/python
    python benchmarks/rasa_projects.py --project my_bot --project other_bot --out /tmp/p.json

The projects: diet-sparse's starter (``diet-sparse init``), the test projects of
tests/fixtures/projects/, any ``--project`` given, and, with ``--rasa-python``, the project
``rasa init`` writes (copied from that Rasa's package; never kept in this repository). Each is
copied into a temporary folder and trained there exactly as a user would: ``diet-sparse train``
and ``rasa train`` in the folder, with no option. ``test core`` replays the test stories with
their true intents (Rasa: ``rasa test core --stories tests``), counting every action,
``action_listen`` included, and the conversations predicted right throughout. Time and peak
memory (maximum resident set size) come from GNU time; Rasa is run in its own environment
(``pip install rasa==3.6.21`` on Python 3.10), never imported here. Writes
benchmarks/results/rasa_projects.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, directory_size, machine, reference_seconds, write_json, write_results

FIXTURE_PROJECTS = ROOT / "tests" / "fixtures" / "projects"
TIME = ("/usr/bin/time", "-f", "%e %M")  # GNU time: wall seconds, peak RSS in KiB
SKIPPED = ("models", "results", ".rasa", "__pycache__")


def timed(command: list[str], cwd: Path) -> dict:
    """Run ``command`` in ``cwd`` under GNU time: its wall seconds, peak memory (MiB), exit
    status and output."""
    done = subprocess.run([*TIME, *command], cwd=cwd, capture_output=True, text=True)
    *rest, last = done.stderr.rstrip().splitlines() or [""]
    seconds, kib = (last.split() + ["nan", "nan"])[:2]
    return {
        "seconds": float(seconds),
        "peak_mib": float(kib) / 1024,
        "returncode": done.returncode,
        "stdout": done.stdout,
        "stderr": "\n".join(rest),
    }


def copy_project(source: Path, into: Path) -> Path:
    shutil.copytree(source, into, ignore=shutil.ignore_patterns(*SKIPPED))
    return into


def has_nlu_data(project: Path) -> bool:
    return any(
        re.search(r"^nlu:", path.read_text(encoding="utf-8"), re.M)
        for path in (project / "data").rglob("*.y*ml")
    )


def diet_sparse_run(project: Path) -> dict:
    """``diet-sparse train`` in the project, or, without NLU data (where ``rasa train``
    trains the policy alone), ``diet-sparse train core``."""
    executable = str(Path(sys.executable).parent / "diet-sparse")
    nlu_data = has_nlu_data(project)
    if nlu_data:
        trained = timed([executable, "train"], project)
    else:
        command = ["train", "core", "--config", "config.yml", "--domain", "domain.yml"]
        trained = timed([executable, *command, "--data", "data", "--out", "models/core-only/core"],
                        project)  # fmt: skip
    if trained["returncode"] != 0:
        return {"error": trained["stderr"].strip().splitlines()[-2:]}
    (model,) = sorted((project / "models").iterdir())[-1:]
    tested = subprocess.run(
        [executable, "test", "core", "--model", str(model / "core"), "--stories", "tests"]
        + ["--out", "results"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    actions = re.search(r"^actions\s+(\d+) of (\d+)", tested.stdout, re.M)
    conversations = re.search(r"^conversations\s+(\d+) of (\d+)", tested.stdout, re.M)
    if actions is None or conversations is None:
        return {"error": (tested.stderr.strip().splitlines() or ["no test core output"])[-1:]}
    return {
        "train_seconds": trained["seconds"],
        "train_peak_mib": trained["peak_mib"],
        "model_mib": directory_size(model) / 2**20,
        "trained": "train" if nlu_data else "train core (no NLU data)",
        "actions": [int(actions[1]), int(actions[2])],
        "conversations": [int(conversations[1]), int(conversations[2])],
    }


def rasa_run(project: Path, python: str) -> dict:
    trained = timed([python, "-m", "rasa", "train"], project)
    if trained["returncode"] != 0:
        return {"error": trained["stderr"].strip().splitlines()[-2:]}
    (model,) = sorted((project / "models").glob("*.tar.gz"))[-1:]
    subprocess.run(
        [python, "-m", "rasa", "test", "core", "--stories", "tests", "--out", "results"]
        + ["--model", str(model)],
        cwd=project,
        capture_output=True,
        text=True,
    )
    report_file = project / "results" / "story_report.json"
    if not report_file.is_file():
        return {"error": ["rasa test core wrote no story_report.json"]}
    report = json.loads(report_file.read_text())
    total = report["weighted avg"]["support"]
    conversations = report.get("conversation_accuracy", {})
    return {
        "train_seconds": trained["seconds"],
        "train_peak_mib": trained["peak_mib"],
        "model_mib": model.stat().st_size / 2**20,
        "actions": [round(report["accuracy"] * total), total],
        "conversations": [conversations.get("correct"), conversations.get("total")],
    }


def rasa_init_project(python: str) -> Path:
    """The folder ``rasa init`` copies its project from, in that Rasa's installation."""
    code = "import os, rasa.cli.scaffold as s; print(os.path.dirname(s.__file__))"
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip()) / "initial_project"


def starter_project(into: Path) -> Path:
    from diet_sparse.project import create_starter_project

    create_starter_project(into)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa-python", help="a Python with rasa==3.6.21 installed")
    parser.add_argument("--project", action="append", default=[], help="another project folder")
    parser.add_argument("--out", type=Path, help="JSON file (default: benchmarks/results/)")
    parser.add_argument("--only", help="run only the projects whose name holds this text")
    args = parser.parse_args()

    results: dict = {"machine": machine(), "reference_seconds": [reference_seconds()]}
    with tempfile.TemporaryDirectory(prefix="rasa-projects-") as temporary:
        work = Path(temporary)
        sources = {"diet-sparse starter": starter_project(work / "starter-source")}
        if FIXTURE_PROJECTS.is_dir():
            for folder in sorted(p for p in FIXTURE_PROJECTS.iterdir() if p.is_dir()):
                sources[f"fixture {folder.name}"] = folder
        for given in args.project:
            sources[Path(given).name] = Path(given)
        if args.rasa_python:
            sources["rasa init"] = rasa_init_project(args.rasa_python)
        if args.only:
            sources = {name: path for name, path in sources.items() if args.only in name}
        rows = {}
        for i, (name, source) in enumerate(sources.items()):
            row = {"diet-sparse": diet_sparse_run(copy_project(source, work / f"{i}-diet"))}
            if args.rasa_python:
                row["rasa 3.6"] = rasa_run(
                    copy_project(source, work / f"{i}-rasa"), args.rasa_python
                )
            rows[name] = row
            print(format_row(name, row), flush=True)
        results["projects"] = rows
    results["reference_seconds"].append(reference_seconds())
    path = write_json(args.out, results) if args.out else write_results("rasa_projects", results)
    print(f"written to {path}")


def format_row(name: str, row: dict) -> str:
    lines = [name]
    for system, figures in row.items():
        if "error" in figures:
            lines.append(f"  {system:12} failed: {' '.join(figures['error'])}")
            continue
        (right, actions), (won, conversations) = figures["actions"], figures["conversations"]
        lines.append(
            f"  {system:12} train {figures['train_seconds']:6.1f} s  peak "
            f"{figures['train_peak_mib']:6.0f} MiB  model {figures['model_mib']:6.1f} MiB  "
            f"actions {right}/{actions}  conversations {won}/{conversations}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
