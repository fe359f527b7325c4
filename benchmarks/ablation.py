"""Compare config variants of diet-sparse on one dataset, interleaved seed by seed, with paired
differences against the first variant.

    python benchmarks/ablation.py --dataset sara --epochs 30 \
        --variant default \
        --variant mlm use_masked_language_model=true \
        --variant all_negatives number_of_negative_examples=1000
    python benchmarks/ablation.py --dataset snips --examples-per-intent 10 --variant default ...

Every variant trains on the same examples with the same seeds (the config's ``random_seed`` +
0 .. N-1; with ``--examples-per-intent K`` the same seeded subsample), and the variants of a seed
run one after another, so a drift of the machine's speed touches them alike. For each variant
the table shows the mean and sample standard deviation over the seeds of intent accuracy and
entity F1 (exact spans), and the mean paired difference to the first variant (the same seed's
run), which is what tells a change from seed noise. The TF-IDF + logistic-regression baseline
of `accuracy.py` runs once per seed on the same split, for reference.

Writes benchmarks/results/ablation_<dataset>_<tag>.json (or ``--out``) after every run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from accuracy import (
    DIET_METRICS,
    ROOT,
    baseline_scores,
    data_paths,
    diet_scores,
    examples_per_intent,
    load_data,
    now,
    output_path,
    positive_int,
    run_header,
    size_label,
)
from common import RESULTS, cap_per_intent, mean_and_std, reference_seconds, write_json

from diet_sparse.config import ConfigError, as_config

PAIRED = ("intent_accuracy", "entity_micro_f1", "train_seconds", "parse_median_ms")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="snips, atis or sara (default snips)")
    parser.add_argument("--train", nargs="+", help="training data files")
    parser.add_argument("--test", help="test data")
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yml"))
    parser.add_argument("--epochs", type=positive_int, help="override every variant's epochs")
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument(
        "--examples-per-intent",
        type=examples_per_intent,
        default=None,
        metavar="K",
        help="train on at most K examples per intent (default: all)",
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        action="append",
        required=True,
        metavar="NAME [KEY=VALUE",
        help="a variant's name and its config overrides (YAML values); repeat per variant",
    )
    parser.add_argument("--tag", default="ablation", help="suffix of the result file's name")
    parser.add_argument("--out", type=Path, help="result file")
    args = parser.parse_args(argv)
    names = [variant[0] for variant in args.variant]
    if len(set(names)) != len(names):
        parser.error(f"--variant names must differ, got {names}")
    for variant in args.variant:
        for item in variant[1:]:
            if "=" not in item or not item.partition("=")[0]:
                parser.error(f"--variant {variant[0]}: expected KEY=VALUE, got {item!r}")
    return args


def variant_configs(args: argparse.Namespace) -> dict[str, dict]:
    """Each variant's config values: the config file, ``--epochs``, then the overrides."""
    configs = {}
    for name, *items in args.variant:
        try:
            values = as_config(args.config).to_dict()
            if args.epochs is not None:
                values["epochs"] = args.epochs
            for item in items:
                key, _, value = item.partition("=")
                values[key] = yaml.safe_load(value)
            configs[name] = as_config(values).to_dict()
        except (ConfigError, yaml.YAMLError) as error:
            raise SystemExit(f"ablation.py: --variant {name}: {error}") from None
    return configs


def summarise(runs: list[dict], names: list[str]) -> dict[str, dict]:
    """Per variant: mean ± std of every figure, and the paired difference to the first variant
    over the seeds both have finished."""
    first = {run["seed"]: run for run in runs if run["variant"] == names[0]}
    summary = {}
    for name in names:
        group = [run for run in runs if run["variant"] == name]
        if not group:
            continue
        paired = [run for run in group if run["seed"] in first]
        summary[name] = {
            "seeds": [run["seed"] for run in group],
            "diet": {m: mean_and_std([run["diet"][m] for run in group]) for m in DIET_METRICS},
            f"minus_{names[0]}": {
                m: mean_and_std([run["diet"][m] - first[run["seed"]]["diet"][m] for run in paired])
                for m in PAIRED
            },
        }
    return summary


def format_table(summary: dict[str, dict], baseline: dict, reference: str) -> str:
    def shown(figure: dict, digits: int = 3) -> str:
        std = "-" if figure["std"] is None else f"{figure['std']:.{digits}f}"
        return (
            f"{figure['mean']:+.{digits}f} ± {std}"
            if figure.get("signed")
            else (f"{figure['mean']:.{digits}f} ± {std}")
        )

    lines = [
        f"{'variant':<22}{'intent acc':<16}{'entity F1':<16}{'Δ intent':<17}{'Δ entity':<17}"
        f"{'train s':>8}{'Δ train':>9}{'parse ms':>9}{'Δ parse':>9}"
    ]
    for name, row in summary.items():
        delta = row[f"minus_{reference}"]
        lines.append(
            f"{name:<22}{shown(row['diet']['intent_accuracy']):<16}"
            f"{shown(row['diet']['entity_micro_f1']):<16}"
            f"{shown({**delta['intent_accuracy'], 'signed': True}):<17}"
            f"{shown({**delta['entity_micro_f1'], 'signed': True}):<17}"
            f"{row['diet']['train_seconds']['mean']:>8.1f}"
            f"{delta['train_seconds']['mean']:>+9.1f}"
            f"{row['diet']['parse_median_ms']['mean']:>9.2f}"
            f"{delta['parse_median_ms']['mean']:>+9.2f}"
        )
    lines.append(
        f"{'TF-IDF + LR baseline':<22}{shown(baseline['intent_accuracy']):<16}"
        "(intents only; same splits)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    command = ["python", *sys.argv] if argv is None else ["python", __file__, *argv]
    args = parse_arguments(argv)
    configs = variant_configs(args)
    names = list(configs)
    name, train_paths, test_path = data_paths(args)
    if args.out is None:
        args.out = RESULTS / f"ablation_{name}_{args.tag}.json"
    path = output_path(args, name)
    train_data, test_data = load_data(train_paths, test_path)
    base_seed = configs[names[0]]["random_seed"]
    seeds = [base_seed + i for i in range(args.seeds)]

    import diet_sparse.training  # noqa: F401  TensorFlow loads here, not in the first run's time

    record = {
        **run_header("ablation", command, name, train_paths, test_path),
        "examples_per_intent": size_label(args.examples_per_intent),
        "seeds": seeds,
        "variants": {variant[0]: variant[1:] for variant in args.variant},
        "configs": configs,
        "std": "sample standard deviation over the seeds (n - 1 denominator)",
        "runs": [],
        "baseline_runs": [],
        "summary": {},
        "baseline": None,
    }
    write_json(path, record)
    print(f"{name}: {len(names)} variants x {len(seeds)} seeds; results in {path}", flush=True)
    for seed in seeds:
        subsample = cap_per_intent(train_data, args.examples_per_intent, seed)
        baseline = baseline_scores(subsample.examples, test_data.examples, seed)
        record["baseline_runs"].append({"seed": seed, **baseline})
        for variant in names:
            config = as_config({**configs[variant], "random_seed": seed})
            diet = diet_scores(subsample, test_data, config)
            record["runs"].append({"variant": variant, "seed": seed, "diet": diet})
            record["summary"] = summarise(record["runs"], names)
            record["baseline"] = {
                m: mean_and_std([run[m] for run in record["baseline_runs"]])
                for m in ("intent_accuracy", "intent_weighted_f1")
            }
            write_json(path, record)
            print(
                f"seed {seed} {variant}: intent acc {diet['intent_accuracy']:.4f}, entity F1 "
                f"{diet['entity_micro_f1']:.4f}, {diet['train_seconds']:.1f} s "
                f"(baseline {baseline['intent_accuracy']:.4f})",
                flush=True,
            )
    record["reference_seconds"]["end"] = reference_seconds()
    record["finished"] = now()
    record["complete"] = True
    write_json(path, record)
    print()
    print(format_table(record["summary"], record["baseline"], names[0]))
    print(
        "\nΔ = mean paired difference to the first variant (same seed) ± its sample std; "
        "reference workload (s, start / end): "
        f"{record['reference_seconds']['start']:.3f} / {record['reference_seconds']['end']:.3f}"
    )
    print("written", path)


if __name__ == "__main__":
    main()
