"""One Markdown table of intent accuracy and entity F1 from several accuracy.py result files:
a row per data set, training-set size and system, means ± sample standard deviations over the
seeds, pooled from the files that measured them.

    python benchmarks/accuracy_table.py benchmarks/results/accuracy_sara_*.json

diet-sparse's rows are named by how the file's config differs from today's defaults
("diet-sparse", "diet-sparse + use-m3", "diet-sparse (epochs=20)"), so that figures of
different configs are never pooled. Every file's runs draw their examples per intent with the
seed, so runs with the same seed trained on the same examples, whichever file they are in: a
row takes its runs from the file with the most seeds (of equals, the one started last: the
newest code), and the seeds that file lacks from the other files, most seeds and newest
first; the files it drew on are named.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accuracy import SYSTEMS
from common import mean_and_std

from diet_sparse.config import DIETConfig
from diet_sparse.persistence import ABSENT_FROM_OLDER_CONFIGS

SIZE_ORDER = {5: 0, 10: 1, 20: 2, "full": 3}


def system_name(system: str, config: dict) -> str:
    """The row name of ``system`` run with ``config``: diet-sparse's names what its config
    changes from today's defaults (a key the file lacks has the value it had before the key
    existed, `ABSENT_FROM_OLDER_CONFIGS`)."""
    name = SYSTEMS[system][0]
    if system != "diet":
        return name
    defaults = DIETConfig().to_dict()
    config = {**ABSENT_FROM_OLDER_CONFIGS, **config}  # as a model saved then would load
    changed = {
        key: value
        for key, value in config.items()
        if key in defaults and key != "random_seed" and value != defaults[key]
    }
    if not config.get("pretrained_encoder"):
        changed.pop("pretrained_vector_in_network", None)  # no vector: nothing to route
    encoder = changed.pop("pretrained_encoder", None)
    if encoder:
        name += f" + {encoder}"
    if changed:
        name += " (" + ", ".join(f"{key}={value}" for key, value in sorted(changed.items())) + ")"
    return name


def rows_of(paths: list[Path]) -> dict[tuple, dict]:
    """(dataset, size, system name) -> its figures, seeds, examples and files."""
    # (dataset, size, system name) -> (system, {file: (started, {seed: (examples, figures)})})
    found: dict[tuple, tuple[str, dict]] = {}
    for path in paths:
        record = json.loads(path.read_text())
        for run in record["runs"]:
            for system in (system for system in SYSTEMS if system in run):
                name = system_name(system, record["config"])
                key = (record["dataset"], run["examples_per_intent"], name)
                files = found.setdefault(key, (system, {}))[1]
                seeds = files.setdefault(path.name, (record.get("started") or "", {}))[1]
                seeds[run["seed"]] = (run["train_examples"], run[system])
    rows = {}
    for key, (system, files) in found.items():
        # the file with most seeds (then the newest) first; others add the seeds it lacks
        ranked = sorted(files.items(), key=lambda item: (len(item[1][1]), item[1][0]))[::-1]
        chosen: dict[int, tuple] = {}
        for file, (_, seeds) in ranked:
            for seed, (examples, figures) in seeds.items():
                chosen.setdefault(seed, (examples, figures, file))
        runs = [chosen[seed] for seed in sorted(chosen)]
        used = {file for _, _, file in runs}
        rows[key] = {
            "figures": {
                metric: mean_and_std([figures[metric] for _, figures, _ in runs])
                for metric in SYSTEMS[system][1]
                if all(metric in figures for _, figures, _ in runs)
            },
            "seeds": sorted(chosen),
            "train_examples": runs[0][0],
            "files": [file for file, _ in ranked if file in used],
        }
    return rows


def shown(figure: dict | None) -> str:
    if not figure:
        return "-"
    spread = "" if figure["std"] is None else f" ± {figure['std']:.3f}"
    return f"{figure['mean']:.3f}{spread}"


def table(rows: dict[tuple, dict]) -> str:
    lines = [
        "| data set | K (examples) | system | intent accuracy | entity F1 | seeds | file |",
        "| --- | --- | --- | ---: | ---: | --- | --- |",
    ]
    order = sorted(rows, key=lambda k: (k[0], SIZE_ORDER.get(k[1], 9), k[2]))
    for dataset, size, system in order:
        row = rows[(dataset, size, system)]
        figures = row["figures"]
        lines.append(
            f"| {dataset} | {size} ({row['train_examples']:,}) | {system} "
            f"| {shown(figures['intent_accuracy'])} | {shown(figures.get('entity_micro_f1'))} "
            f"| {len(row['seeds'])} | {', '.join(f'`{file}`' for file in row['files'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.files:
        if not path.is_file():
            raise SystemExit(f"accuracy_table.py: {path} not found")
    print(table(rows_of(args.files)))


if __name__ == "__main__":
    main()
