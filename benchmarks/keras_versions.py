"""Keras 2 (tf-keras) against Keras 3 on one TensorFlow: the training step of DIET's encoder.

    .venv-3.13/bin/python benchmarks/keras_versions.py --rounds 3

From TensorFlow 2.16 on, `tf.keras` is Keras 3 unless TF_USE_LEGACY_KERAS selects tf-keras
(Keras 2), as `diet_sparse.training` does. This measures what a port to Keras 3 would gain in
the part that is most of an epoch (the encoder blocks: three quarters of a SNIPS epoch, see
benchmarks/profile.py): the same `training/transformer.py` source, unchanged, runs under each
Keras in its own process, built with DIET's defaults (size 256, 2 layers, 4 heads, density 0.2,
block structure), on batches of SNIPS's shapes (64 and 256 messages of 4-16 tokens), one
compiled step = forward, backward and Adam. The two processes alternate over ``--rounds``, so a
drift of the machine's speed touches both alike. The rest of training (the sparse input
projection with its LazyAdam, which reads Keras 2 optimizer internals, the heads, the loop) is
not ported, so not measured here.

Writes benchmarks/results/keras_versions.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, ROOT, machine, reference_seconds, write_json

VARIANTS = ("keras2", "keras3")
BATCH_SIZES = (64, 256)  # DIET's default batch size grows from 64 to 256
LENGTHS = (4, 16)  # tokens per message, the sentence slot included (SNIPS: about 10 on average)


def load_transformer(variant: str):
    """training/transformer.py under the chosen Keras. Keras 2 comes through the package (which
    selects tf-keras); for Keras 3 the file is loaded on its own, the package left unimported."""
    if variant == "keras2":
        import diet_sparse.training.transformer as transformer

        return transformer
    os.environ["TF_USE_LEGACY_KERAS"] = "0"
    path = ROOT / "diet_sparse" / "training" / "transformer.py"
    spec = importlib.util.spec_from_file_location("transformer_under_keras3", path)
    transformer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(transformer)
    return transformer


def time_steps(variant: str, steps: int, warmup: int) -> dict:
    """Milliseconds per training step of the encoder, for each batch size (one process)."""
    import numpy as np
    import tensorflow as tf

    from diet_sparse.config import DIETConfig

    transformer = load_transformer(variant)
    keras = tf.keras
    config = DIETConfig()
    encoder = transformer.TransformerEncoder(
        config.transformer_size,
        config.number_of_transformer_layers,
        config.number_of_attention_heads,
        config.connection_density,
        seed=0,
        drop_rate=config.drop_rate,
        drop_rate_attention=config.drop_rate_attention,
        connection_structure=config.connection_structure,
        fan_in_initialization=config.fan_in_initialization,
    )
    optimizer = keras.optimizers.Adam(config.learning_rate)
    rng = np.random.default_rng(0)
    width = config.dense_dimension

    @tf.function(reduce_retracing=True)
    def step(x, mask, target):
        with tf.GradientTape() as tape:
            encoded = encoder(x, mask, training=True)
            loss = tf.reduce_mean(tf.square(encoded - target) * mask[..., None])
        gradients = tape.gradient(loss, encoder.trainable_variables)
        optimizer.apply_gradients(zip(gradients, encoder.trainable_variables))
        return loss

    def batch(size: int):
        length = LENGTHS[1]
        lengths = rng.integers(LENGTHS[0], LENGTHS[1] + 1, size)
        mask = (np.arange(length)[None] < lengths[:, None]).astype(np.float32)
        x = rng.normal(size=(size, length, width)).astype(np.float32) * mask[..., None]
        target = rng.normal(size=(size, length, config.transformer_size)).astype(np.float32)
        return tf.constant(x), tf.constant(mask), tf.constant(target)

    encoder(*batch(BATCH_SIZES[0])[:2])  # built eagerly, as DIET.build_all does
    results = {}
    for size in BATCH_SIZES:
        batches = [batch(size) for _ in range(8)]
        for i in range(warmup):
            step(*batches[i % len(batches)])
        started = time.perf_counter()
        for i in range(steps):
            loss = step(*batches[i % len(batches)])
        float(loss)  # the last step has finished
        seconds = time.perf_counter() - started
        results[str(size)] = {
            "ms_per_step": 1000 * seconds / steps,
            "examples_per_second": size * steps / seconds,
            "final_loss": float(loss),
        }
    package = type(encoder).__mro__[1].__module__.split(".")[0]
    return {
        "keras": f"{package} {sys.modules[package].__version__}",
        "tensorflow": tf.__version__,
        "weights": int(sum(np.prod(v.shape) for v in encoder.trainable_variables)),
        "batches": results,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "keras_versions.json")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_steps(args.child, args.steps, args.warmup)))
        return

    command = ["python", *sys.argv] if argv is None else ["python", __file__, *argv]
    record = {
        "benchmark": "keras_versions",
        "command": shlex.join(command),
        "machine": machine(),
        "reference_seconds": {"start": reference_seconds(), "end": None},
        "batch_sizes": list(BATCH_SIZES),
        "message_tokens": list(LENGTHS),
        "steps": args.steps,
        "runs": [],
        "summary": {},
    }
    child = [sys.executable, __file__, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    for round_ in range(args.rounds):
        for variant in VARIANTS:
            output = subprocess.run(
                [*child, "--child", variant], capture_output=True, text=True, check=True
            ).stdout
            run = {"round": round_, "variant": variant, **json.loads(output.splitlines()[-1])}
            record["runs"].append(run)
            shown = ", ".join(
                f"batch {size}: {b['ms_per_step']:.1f} ms" for size, b in run["batches"].items()
            )
            print(f"round {round_} {variant} ({run['keras']}): {shown}", flush=True)
            write_json(args.out, record)
    for variant in VARIANTS:
        runs = [run for run in record["runs"] if run["variant"] == variant]
        record["summary"][variant] = {
            "keras": runs[0]["keras"],
            **{
                f"batch_{size}_ms_per_step_median": statistics.median(
                    run["batches"][str(size)]["ms_per_step"] for run in runs
                )
                for size in BATCH_SIZES
            },
        }
    for size in BATCH_SIZES:
        key = f"batch_{size}_ms_per_step_median"
        ratio = record["summary"]["keras3"][key] / record["summary"]["keras2"][key]
        record["summary"][f"batch_{size}_keras3_over_keras2"] = ratio
        print(f"batch {size}: Keras 3 takes {ratio:.2f}x the time of Keras 2 per step")
    record["reference_seconds"]["end"] = reference_seconds()
    write_json(args.out, record)
    print("written", args.out)


if __name__ == "__main__":
    main()
