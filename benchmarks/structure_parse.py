"""One-message parse latency of a `random` and a `block` model side by side (issue 12).

    python benchmarks/structure_parse.py          # about 2 minutes

Trains one model per structure for one epoch on a sixth of SNIPS (a parse costs the same
whatever the training length), then, in fresh processes that never import TensorFlow (as a
serving process), parses the 700 SNIPS test messages one at a time, alternating the two models
message by message over 3 rounds, and prints each model's median. Writes
benchmarks/results/structure_parse.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from common import RESULTS, dataset, machine, reference_seconds, write_json

from diet_sparse.rasa.nlu_data import TrainingData, load_training_data

MEASURE = """
import json, statistics, sys, time
from diet_sparse.persistence import load
models = {name: load(path) for name, path in json.loads(sys.argv[1]).items()}
texts = json.loads(sys.argv[2])
for model in models.values():
    for text in texts[:50]:
        model.parse(text)
times = {name: [] for name in models}
for _ in range(3):
    for text in texts:
        for name, model in models.items():
            started = time.perf_counter()
            model.parse(text)
            times[name].append(time.perf_counter() - started)
print(json.dumps({name: statistics.median(t) * 1000 for name, t in times.items()}))
"""


def main() -> None:
    from diet_sparse.training import train

    data = load_training_data(dataset("snips", "train"))
    data = TrainingData(data.examples[::6], data.synonyms, data.regexes, data.lookups)
    texts = [e.text for e in load_training_data(dataset("snips", "test")).examples]
    result = {"machine": machine(), "reference_seconds": {"start": reference_seconds()}}
    scratch = tempfile.mkdtemp()
    models = {}
    for structure in ("random", "block"):
        models[structure] = f"{scratch}/{structure}"
        config = {"epochs": 1, "connection_structure": structure}
        train(data, config, out=models[structure], progress=False)
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, json.dumps(models), json.dumps(texts)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print("median ms per message:", {k: round(v, 3) for k, v in runs[-1].items()})
    result["runs_median_ms"] = runs
    result["reference_seconds"]["end"] = reference_seconds()
    print("wrote", write_json(RESULTS / "structure_parse.json", result))


if __name__ == "__main__":
    main()
