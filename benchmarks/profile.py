"""Where the time goes: a parse split into its stages, and a training epoch split by leaving
parts of the model out (issue 12's profile, before attacking the largest parts).

    python benchmarks/profile.py                       # both, SNIPS and Sara (about 10 min)
    python benchmarks/profile.py --only parse --dataset snips

parse: a model trained briefly on the dataset (prediction costs do not depend on how long it
trained) parses the test messages one at a time, as `parse` does; every stage of the real code
path is timed by wrapping it (featurizing, the sparse input projection, the wide path, the ONNX
Runtime run, CRF decoding, assembling the result), and what no stage covers is "the rest".

train: epochs of the default config on the training set, with the epoch after the first timed
(tracing excluded), for variants that each remove one part: the difference to the full model
is that part's cost. The data pipeline (building the batches) is timed inside the full run.
Every variant runs in the same process, interleaved over ``--rounds`` rounds, and the medians are
reported. Writes benchmarks/results/profile_<dataset>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from common import RESULTS, dataset, machine, print_table, reference_seconds, write_json

from diet_sparse.rasa.nlu_data import load_training_data

TRAIN_VARIANTS = {
    "full model": {},
    "no CRF heads (entity_recognition false)": {"entity_recognition": False},
    "no encoder blocks (0 transformer layers)": {"number_of_transformer_layers": 0},
    "no intent head (intent_classification false)": {"intent_classification": False},
    "density 1.0 (dense layers)": {"connection_density": 1.0},
    "no weight averaging (ema_momentum null)": {"ema_momentum": None},
}


class Stages:
    """Wall time per named stage, summed per message."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.messages: list[dict[str, float]] = []

    def wrap(self, owner, attribute: str, stage: str) -> None:
        function = getattr(owner, attribute)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[stage] += time.perf_counter() - started

        setattr(owner, attribute, timed)

    @contextmanager
    def message(self):
        self.current = defaultdict(float)
        started = time.perf_counter()
        yield
        total = time.perf_counter() - started
        self.current["the rest (Python around the stages)"] = total - sum(self.current.values())
        self.current["total"] = total
        self.messages.append(dict(self.current))


def profile_parse(name: str, train_files: list[Path], test_file: Path, warmup: int = 50) -> dict:
    import diet_sparse.network.onnx_graph as onnx_graph
    from diet_sparse.nlu.parser import ONE_BLAS_THREAD
    from diet_sparse.training import train

    nlu = train(load_training_data(train_files), {"epochs": 2}, progress=False)
    texts = [example.text for example in load_training_data(test_file).examples]
    stages = Stages()
    stages.wrap(nlu.featurizer, "transform", "featurize (tokens, sparse features)")
    stages.wrap(onnx_graph, "project_inputs", "sparse input projection (scipy)")
    stages.wrap(onnx_graph, "wide_scores", "wide path (scipy)")
    session = nlu.predictor._sessions(nlu.threads)
    stages.wrap(session, "run", "network (ONNX Runtime run)")
    for head, decoder in nlu.decoders.items():
        # as parse calls them: the entity head's Viterbi for every message and confidences for
        # those with entities; the role and group heads' decode (which calls both: wrapping
        # those too would count its time twice)
        if head == "entity":
            stages.wrap(decoder, "viterbi", f"CRF Viterbi ({head})")
            stages.wrap(decoder, "confidences", f"CRF confidences ({head})")
        else:
            stages.wrap(decoder, "decode", f"CRF decoding ({head})")
    stages.wrap(nlu, "_intent_result", "intent ranking")
    stages.wrap(nlu, "_entities", "entities from tags")
    for text in texts[:warmup]:
        nlu.parse(text)
    stages.messages.clear()
    with ONE_BLAS_THREAD:
        for text in texts:
            with stages.message():
                nlu._parse_chunk([text])
    names = list(dict.fromkeys(stage for m in stages.messages for stage in m))  # every stage met
    names.sort(key=lambda stage: stage in ("the rest (Python around the stages)", "total"))
    median = {
        stage: statistics.median(m.get(stage, 0.0) for m in stages.messages) for stage in names
    }
    mean = {stage: statistics.fmean(m.get(stage, 0.0) for m in stages.messages) for stage in names}
    total = mean["total"]
    print(f"\n{name}: one message at a time, {len(texts)} test messages, {nlu.threads} threads")
    print_table(
        [
            (
                stage,
                f"{mean[stage] * 1000:.3f} ms mean, {median[stage] * 1000:.3f} median, "
                f"{100 * mean[stage] / total:.0f}%",
            )  # fmt: skip
            for stage in names
        ]
    )
    return {
        "messages": len(texts),
        "threads": nlu.threads,
        "mean_ms": {s: v * 1000 for s, v in mean.items()},
        "median_ms": {s: v * 1000 for s, v in median.items()},
    }


def profile_train(name: str, train_files: list[Path], rounds: int, epochs: int) -> dict:
    import diet_sparse.training.trainer as trainer
    from diet_sparse.training import train

    data = load_training_data(train_files)
    pipeline: list[float] = []
    make_batch = trainer.make_batch

    def timed_make_batch(*args, **kwargs):
        started = time.perf_counter()
        batch = make_batch(*args, **kwargs)
        pipeline.append(time.perf_counter() - started)
        return batch

    trainer.make_batch = timed_make_batch
    seconds: dict[str, list[float]] = defaultdict(list)
    pipeline_seconds: list[float] = []
    for round_ in range(rounds):
        for variant, values in TRAIN_VARIANTS.items():
            history = []
            pipeline.clear()
            config = dict(values, epochs=epochs)
            train(data, config, progress=history.append)
            later = [epoch["seconds"] for epoch in history[1:]]
            seconds[variant].append(statistics.fmean(later))
            if variant == "full model":
                # batches of the epochs after the first, per epoch
                per_epoch = len(pipeline) // epochs
                pipeline_seconds.append(sum(pipeline[per_epoch:]) / (epochs - 1))
            print(f"round {round_ + 1} {variant}: {seconds[variant][-1]:.2f} s/epoch", flush=True)
    medians = {variant: statistics.median(values) for variant, values in seconds.items()}
    full = medians["full model"]
    result = {
        "examples": len(data.examples),
        "epochs_per_run": epochs,
        "rounds": rounds,
        "epoch_seconds": {v: s for v, s in seconds.items()},
        "median_epoch_seconds": medians,
        "data_pipeline_seconds_per_epoch": statistics.median(pipeline_seconds),
    }
    print(f"\n{name}: seconds per epoch after the first (median of {rounds} rounds)")
    rows = [(variant, f"{s:.2f} s ({s / full:.2f} of full)") for variant, s in medians.items()]
    rows.append(
        (
            "data pipeline inside the full run",
            f"{result['data_pipeline_seconds_per_epoch']:.2f} s "
            f"({result['data_pipeline_seconds_per_epoch'] / full:.2f} of full)",
        )
    )
    print_table(rows)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["parse", "train"], default=["parse", "train"])
    parser.add_argument(
        "--dataset", nargs="+", choices=["snips", "sara"], default=["sara", "snips"]
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training run (>= 2)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch traces and is not counted")
    for name in args.dataset:
        train_files = [dataset(name, "train")]
        if name == "sara":
            train_files.append(dataset(name, "train_extras"))
        result: dict = {
            "benchmark": "profile",
            "command": " ".join(["python", Path(sys.argv[0]).name, *sys.argv[1:]]),
            "machine": machine(),
            "reference_seconds": {"start": reference_seconds()},
            "dataset": name,
        }
        if "parse" in args.only:
            result["parse"] = profile_parse(name, train_files, dataset(name, "test"))
        if "train" in args.only:
            result["train"] = profile_train(name, train_files, args.rounds, args.epochs)
        result["reference_seconds"]["end"] = reference_seconds()
        path = write_json(RESULTS / f"profile_{name}.json", result)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
