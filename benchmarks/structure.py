"""What each connection structure costs per layer: floating-point work and wall time, forward
and backward (TensorFlow, training) and forward (ONNX Runtime, prediction), of a dense layer, a
`random` randomly connected layer and a `block` one, at several densities, for the default
encoder's layer shapes (issue 12).

    python benchmarks/structure.py                    # about 5 minutes on 2 cores
    python benchmarks/structure.py --rounds 5 --densities 0.2 0.05

Every variant of a shape and row count is timed in each round, one after another, and the
medians over rounds are reported, so a drift of the machine's speed touches them alike. The
block layer is timed on block-layout activations (its inputs and outputs in (blocks, rows,
width / blocks), as they are between the encoder's layers) and, for prediction, also wrapped in
the transposes from and to (rows, width) that a layer alone would need. TensorFlow and ONNX
Runtime run on one thread. Writes benchmarks/results/structure_layers.json.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from common import RESULTS, machine, reference_seconds, write_json

from diet_sparse.network.connectivity import block_mask, structure_blocks

SHAPES = {"query/key/value/output": (256, 256), "feed-forward in": (256, 1024),
          "feed-forward out": (1024, 256)}  # fmt: skip
HEADS = 4  # the default's; the block count depends on it only through the head split


def ort_session(build) -> object:
    import onnxruntime
    from onnx import TensorProto, helper

    from diet_sparse.network.onnx_graph import GraphBuilder

    g = GraphBuilder({})
    x_shape, output = build(g)
    graph = helper.make_graph(
        g.nodes + [helper.make_node("Identity", [output], ["y"])],
        "layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        list(g.initializers.values()),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model.SerializeToString(), options)


def ort_variants(n_in: int, n_out: int, density: float, rng) -> dict:
    """name -> (session, input) of the prediction variants of one layer."""
    from diet_sparse.network.onnx_graph import add_block_dense

    blocks = structure_blocks(min(n_in, n_out), HEADS, density)
    mask = block_mask(n_in, n_out, blocks, density, rng)
    kernel = (rng.normal(size=(n_in, n_out)) * mask).astype(np.float32)
    bias = np.zeros(n_out, np.float32)

    def dense(g):
        g.weights.update({"l/kernel": kernel, "l/bias": bias})
        return ["N", n_in], g.dense("x", "l")

    def block(g):
        g.weights.update({"l/kernel": kernel, "l/bias": bias})
        return [blocks, "N", n_in // blocks], add_block_dense(g, "x", "l", blocks, mask != 0)

    def block_wrapped(g):
        g.weights.update({"l/kernel": kernel, "l/bias": bias})
        shape = g.constant("in", np.array([-1, blocks, n_in // blocks], np.int64))
        x = g.op("Transpose", g.op("Reshape", "x", shape), perm=[1, 0, 2])
        y = g.op("Transpose", add_block_dense(g, x, "l", blocks, mask != 0), perm=[1, 0, 2])
        return ["N", n_in], g.op("Reshape", y, g.constant("out", np.array([0, -1], np.int64)))

    return {"dense or random": dense, "block": block, "block + transposes": block_wrapped}, blocks


def time_call(function, repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def tf_variants(n_in: int, n_out: int, density: float, rows: int):
    import tensorflow as tf

    from diet_sparse.training.transformer import BlockConnectedDense, RandomlyConnectedDense

    blocks = structure_blocks(min(n_in, n_out), HEADS, density)
    layers = {
        "dense": (tf.keras.layers.Dense(n_out), (rows, n_in)),
        "random": (
            RandomlyConnectedDense(n_out, connection_density=density, mask_seed=1),
            (rows, n_in),
        ),  # fmt: skip
        "block": (
            BlockConnectedDense(n_out, blocks=blocks, connection_density=density, mask_seed=1),
            (blocks, rows, n_in // blocks),
        ),  # fmt: skip
    }
    compiled = {}
    for name, (layer, shape) in layers.items():
        x = tf.random.stateless_normal(shape, seed=(1, 2))
        layer(x)

        @tf.function
        def forward(x=x, layer=layer):
            return layer(x)

        @tf.function
        def backward(x=x, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(layer(x))
            return tape.gradient(y, [x, *layer.trainable_variables])

        compiled[name] = (forward, backward)
    return compiled, blocks


def computed_share(density: float, blocks: int) -> float:
    return math.ceil(density * blocks - 1e-9) / blocks if blocks > 1 else 1.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--densities", type=float, nargs="+", default=[1.0, 0.5, 0.2, 0.05])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "structure_layers.json")
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    result = {
        "benchmark": "structure",
        "command": " ".join(["python", Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(),
        "reference_seconds": {"start": reference_seconds()},
        "rounds": args.rounds,
        "layers": [],
    }
    rng = np.random.default_rng(0)
    for label, (n_in, n_out) in SHAPES.items():
        for density in args.densities:
            sessions, blocks = ort_variants(n_in, n_out, density, rng)
            built = {name: ort_session(build) for name, build in sessions.items()}
            tf_layers, _ = tf_variants(n_in, n_out, density, 1280)
            times: dict[str, list[float]] = {}
            for _ in range(args.rounds):
                for rows, repeats in ((11, 300), (1280, 20)):
                    for name, session in built.items():
                        shape = session.get_inputs()[0].shape
                        x = rng.normal(size=[rows if d == "N" else d for d in shape]).astype(
                            np.float32
                        )
                        key = f"onnx {name}, {rows} rows"
                        times.setdefault(key, []).append(
                            time_call(lambda s=session, x=x: s.run(None, {"x": x}), repeats)
                        )
                for name, (forward, backward) in tf_layers.items():
                    for part, function in (("forward", forward), ("forward+backward", backward)):
                        key = f"tensorflow {name} {part}, 1280 rows"
                        times.setdefault(key, []).append(time_call(function, 10))
            medians = {key: statistics.median(values) * 1e6 for key, values in times.items()}
            share = computed_share(density, blocks)
            entry = {
                "layer": label,
                "shape": [n_in, n_out],
                "density": density,
                "blocks": blocks,
                "computed_share_block": share,
                "mflop_dense_per_1280_rows": 2 * 1280 * n_in * n_out / 1e6,
                "mflop_block_per_1280_rows": 2 * 1280 * n_in * n_out * share / 1e6,
                "median_microseconds": medians,
            }
            result["layers"].append(entry)
            print(f"\n{label} {n_in}->{n_out}, density {density}, {blocks} blocks, block "
                  f"computes {share:.3f} of dense", flush=True)  # fmt: skip
            for key, value in medians.items():
                print(f"  {key:<48} {value:10.1f} us", flush=True)
            write_json(args.out, result)
    result["reference_seconds"]["end"] = reference_seconds()
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
