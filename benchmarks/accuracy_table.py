"""One Markdown table of intent accuracy and entity F1 from several accuracy.py result files:
a row per data set, training-set size and system, means ± sample standard deviations over the
seeds, each figure from the file that measured it.

    python benchmarks/accuracy_table.py benchmarks/results/accuracy_sara_*.json

diet-sparse's rows are named by the pretrained encoder of the file's config ("diet-sparse",
"diet-sparse + use-m3"); a system measured in several files on the same data set and size is
shown once, from the file with the most seeds (of equals, the one started last: the newest
code). Every file's runs draw their examples per intent with the seed, so files with the same
seeds trained on the same examples.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from accuracy import SYSTEMS

SIZE_ORDER = {5: 0, 10: 1, 20: 2, "full": 3}


def system_name(system: str, config: dict) -> str:
    name = SYSTEMS[system][0]
    encoder = config.get("pretrained_encoder")
    return f"{name} + {encoder}" if system == "diet" and encoder else name


def rows_of(paths: list[Path]) -> dict[tuple, dict]:
    """(dataset, size, system name) -> its figures, seeds and file."""
    rows: dict[tuple, dict] = {}
    for path in paths:
        record = json.loads(path.read_text())
        for summary in record["summary"]:
            for system in SYSTEMS:
                if system not in summary:
                    continue
                key = (
                    record["dataset"],
                    summary["examples_per_intent"],
                    system_name(system, record["config"]),
                )
                candidate = {
                    "figures": summary[system],
                    "seeds": summary["seeds"],
                    "train_examples": summary["train_examples"],
                    "file": path.name,
                    "rank": (len(summary["seeds"]), record.get("started") or ""),
                }
                if key not in rows or candidate["rank"] > rows[key]["rank"]:
                    rows[key] = candidate
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
            f"| {len(row['seeds'])} | `{row['file']}` |"
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
