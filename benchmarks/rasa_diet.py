"""Rasa 3.6's own DIETClassifier, trained and run by Rasa, as the reference of
benchmarks/accuracy.py: executed by a Python with ``rasa==3.6.21`` installed (never by
diet-sparse's, which never imports Rasa), it trains Rasa's default NLU pipeline on one Rasa YAML
NLU file and writes its parse of every test text as JSON.

    /path/to/rasa36/bin/python benchmarks/rasa_diet.py --nlu nlu.yml --texts texts.json \\
        --seed 42 --out parsed.json

The pipeline is the NLU part of Rasa 3.6's default config
(``rasa/engine/recipes/config_files/default_config.yml``, which ``rasa train`` fills in when a
project's ``config.yml`` has no pipeline): WhitespaceTokenizer, RegexFeaturizer,
LexicalSyntacticFeaturizer, CountVectorsFeaturizer (words), CountVectorsFeaturizer (char_wb
1-4-grams), DIETClassifier (100 epochs, ``constrain_similarities: true``), EntitySynonymMapper;
without its ResponseSelector (no responses to select here) and FallbackClassifier (every
message keeps DIET's intent, as diet-sparse's scores do). DIETClassifier's ``random_seed`` is
``--seed``. Training is ``rasa.model_training.train_nlu`` (what ``rasa train nlu`` runs);
parsing is ``Agent.load(model).parse_message(text)``, one message at a time, as ``rasa test
nlu`` and ``rasa shell nlu`` parse. Logging and TensorFlow's threads are set up as the ``rasa``
command sets them (`start_as_the_rasa_command`).

``--texts`` is a JSON list of strings; ``--out`` gets ``{"rasa_version", "train_seconds"
(train_nlu: featurizing, training and packing the model), "parse_seconds", "results": [{"intent":
{"name", "confidence"}, "entities": [Rasa's entity dicts]}, ...]}``, one result per text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

EPOCHS = 100  # Rasa's default config's DIETClassifier epochs


def pipeline(seed: int, epochs: int = EPOCHS) -> list[dict]:
    """Rasa 3.6's default NLU pipeline without ResponseSelector and FallbackClassifier."""
    return [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {
            "name": "DIETClassifier",
            "epochs": epochs,
            "constrain_similarities": True,
            "random_seed": seed,
        },
        {"name": "EntitySynonymMapper"},
    ]


def config(seed: int, epochs: int = EPOCHS) -> dict:
    """A whole Rasa config.yml (JSON is YAML) with that pipeline and no policies."""
    return {
        "recipe": "default.v1",
        "assistant_id": "diet-sparse-accuracy-benchmark",
        "language": "en",
        "pipeline": pipeline(seed, epochs),
        "policies": [],
    }


def start_as_the_rasa_command() -> None:
    """What ``rasa``'s ``main`` (rasa/__main__.py) sets up before a command, telemetry and
    plugins aside: logging at its default level (``LOG_LEVEL``, INFO: without this every parse
    logs at debug level), warnings once, and TensorFlow's threads and GPU memory from Rasa's
    environment variables (``TF_INTER_OP_PARALLELISM_THREADS``, ...: TensorFlow's defaults when
    unset)."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.io import configure_colored_logging
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow import environment

    configure_logging_and_warnings(None, None, warn_only_once=True, filter_repeated_logs=True)
    environment.setup_tf_environment()
    environment.check_deterministic_ops()
    configure_colored_logging(None)
    configure_structlog(None)


async def parse_all(agent, texts: list[str]) -> list[dict]:
    results = []
    for text in texts:
        parsed = await agent.parse_message(text)
        results.append({"intent": parsed["intent"], "entities": parsed.get("entities", [])})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nlu", required=True, help="Rasa YAML NLU training data")
    parser.add_argument("--texts", required=True, help="JSON list of the texts to parse")
    parser.add_argument("--seed", type=int, required=True, help="DIETClassifier's random_seed")
    parser.add_argument("--out", required=True, help="JSON file for the parse results")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="(for trying the script)")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

    import rasa
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    start_as_the_rasa_command()

    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="rasa-diet-") as work:
        config_file = Path(work) / "config.yml"
        config_file.write_text(json.dumps(config(args.seed, args.epochs), indent=2))
        started = time.perf_counter()
        model = train_nlu(str(config_file), args.nlu, str(Path(work) / "models"))
        train_seconds = time.perf_counter() - started
        if model is None:
            raise SystemExit("rasa_diet.py: Rasa trained no model (its messages are above)")
        agent = Agent.load(model)
        started = time.perf_counter()
        results = asyncio.run(parse_all(agent, texts))
        parse_seconds = time.perf_counter() - started
    Path(args.out).write_text(
        json.dumps(
            {
                "rasa_version": rasa.__version__,
                "train_seconds": train_seconds,
                "parse_seconds": parse_seconds,
                "results": results,
            },
            ensure_ascii=False,
            default=float,  # confidences may be numpy floats
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
