"""Sara as a whole Rasa project, talked to through the REST channel: train the project, replay
Sara's 25 end-to-end test conversations through `diet-sparse serve`, and count the bot's actions
and turns that match.

    python benchmarks/sara_bot.py                  # Rasa's suggested config, 100 epochs, 3 seeds
    python benchmarks/sara_bot.py --epochs 20 --seeds 1 --out /tmp/sara_bot.json

The project is made in a temporary folder from ../shared/datasets: Sara's domain with its
retrieval responses (sara_core/domain.yml, responses.yml), all its stories and rules, and all
its NLU data (sara/train.yml, test.yml, train_extras.yml), as the real assistant trains on
everything; its config.yml is Rasa's suggested one. Each user turn of a test conversation is
replayed as `rasa test` replays it: the tracker is set to the conversation's true events before
the turn (PUT /conversations/{id}/tracker/events), the message is sent
(POST /webhooks/rest/webhook), and the actions the bot took (GET /conversations/{id}/tracker)
are compared with the conversation's, position by position. Twice: with the user's text, which
the NLU model parses (the bot as users meet it), and with the true intent and entities sent as
``/intent{"entity": "value"}`` (the dialogue policy alone). Custom actions are not run (no
action server), so their slot events within a turn are missing; forms run
(diet_sparse/dialogue/forms.py) but not Sara's form validation actions; the next turn starts
from the true events again. 8 of the 25 conversations replay a training story (see
sara_core/README.md). Writes benchmarks/results/sara_bot.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml
from common import (
    DATASETS,
    RESULTS,
    machine,
    mean_and_std,
    print_table,
    reference_seconds,
    write_json,
)

from diet_sparse.rasa.stories import ActionExecuted, ActiveLoop, SlotSet, UserUttered, load_stories

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "diet-sparse"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "diet_sparse.cli"]
CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: {epochs}
    constrain_similarities: true
    random_seed: {seed}
  - name: EntitySynonymMapper
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: TEDPolicy
    max_history: 5
    epochs: {epochs}
    constrain_similarities: true
    random_seed: {seed}
"""
FIGURES = ("action_accuracy", "action_accuracy_without_listen", "turn_accuracy",
           "conversation_accuracy")  # fmt: skip


def make_project(folder: Path, epochs: int, seed: int) -> Path:
    core, nlu = DATASETS / "sara_core", DATASETS / "sara"
    domain = yaml.safe_load((core / "domain.yml").read_text(encoding="utf-8"))
    responses = yaml.safe_load((core / "responses.yml").read_text(encoding="utf-8"))
    domain["responses"] = {**domain.get("responses", {}), **responses["responses"]}
    (folder / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True), "utf-8")
    (folder / "config.yml").write_text(CONFIG.format(epochs=epochs, seed=seed), encoding="utf-8")
    data = folder / "data"
    data.mkdir()
    for source in (core / "stories.yml", core / "rules.yml", nlu / "train.yml", nlu / "test.yml",
                   nlu / "train_extras.yml"):  # fmt: skip
        (data / f"{source.parent.name}_{source.name}").write_bytes(source.read_bytes())
    return folder


def event_json(event) -> dict:
    """A story event as a Rasa tracker event."""
    if isinstance(event, UserUttered):
        entities = [
            {key: value for key, value in entity._asdict().items() if value is not None}
            for entity in event.entities
        ]
        for entity in entities:
            entity["entity"] = entity.pop("type")
        parse = {"intent": {"name": event.intent, "confidence": 1.0}, "entities": entities}
        return {"event": "user", "text": event.text, "parse_data": parse}
    if isinstance(event, ActionExecuted):
        return {"event": "action", "name": event.name}
    if isinstance(event, SlotSet):
        return {"event": "slot", "name": event.name, "value": event.value}
    if isinstance(event, ActiveLoop):
        return {"event": "active_loop", "name": event.name}
    raise TypeError(event)


def shortcut(event: UserUttered) -> str:
    """The message naming the true intent and entities, as Rasa's buttons send it."""
    values: dict[str, list] = {}
    for entity in event.entities:
        values.setdefault(entity.type, []).append(entity.value)
    entities = {k: v[0] if len(v) == 1 else v for k, v in values.items()}
    return f"/{event.intent}" + (json.dumps(entities) if entities else "")


def start_server(project: Path, log: Path) -> tuple[subprocess.Popen, str]:
    with open(log, "w") as stderr:
        process = subprocess.Popen([*COMMAND, "serve", "--port", "0"], cwd=project,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped:\n{log.read_text()}")
        found = re.search(r"listening on (http://\S+)", log.read_text())
        if found:
            try:
                if httpx.get(f"{found[1]}/health").status_code == 200:
                    return process, found[1]
            except httpx.TransportError:
                pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


def replay(url: str, conversations, mode: str) -> dict:
    """Every user turn of every conversation, from its true history; mode text or intent."""
    client = httpx.Client(base_url=url, timeout=60)
    actions = correct_actions = turns = correct_turns = correct_conversations = 0
    without_listen = correct_without_listen = 0
    policies: Counter = Counter()
    failed = []
    for number, story in enumerate(conversations):
        sender = f"{mode}-{number}"
        events = list(story.events)
        starts = [i for i, event in enumerate(events) if isinstance(event, UserUttered)]
        all_right = True
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(events)
            gold = [e.name for e in events[start + 1 : end] if isinstance(e, ActionExecuted)]
            prefix = [event_json(e) for e in events[:start]]
            client.put(f"/conversations/{sender}/tracker/events", json=prefix).raise_for_status()
            user = events[start]
            message = user.text if mode == "text" and user.text else shortcut(user)
            client.post("/webhooks/rest/webhook",
                        json={"sender": sender, "message": message}).raise_for_status()  # fmt: skip
            tracker = client.get(f"/conversations/{sender}/tracker").json()["events"]
            last_user = max(i for i, e in enumerate(tracker) if e["event"] == "user")
            taken = [e for e in tracker[last_user + 1 :] if e["event"] == "action"]
            predicted = [e["name"] for e in taken]
            policies.update(e.get("policy") or "max_actions cap" for e in taken)
            for i, action in enumerate(gold):
                right = i < len(predicted) and predicted[i] == action
                actions += 1
                correct_actions += right
                if action != "action_listen":
                    without_listen += 1
                    correct_without_listen += right
            turns += 1
            if predicted == gold:
                correct_turns += 1
            else:
                all_right = False
                failed.append({"conversation": story.name, "message": message, "gold": gold,
                               "predicted": predicted})  # fmt: skip
        correct_conversations += all_right
    return {
        "action_accuracy": correct_actions / actions,
        "action_accuracy_without_listen": correct_without_listen / without_listen,
        "turn_accuracy": correct_turns / turns,
        "conversation_accuracy": correct_conversations / len(conversations),
        "actions": actions,
        "turns": turns,
        "conversations": len(conversations),
        "predicted_by": dict(policies),
        "failed_turns": failed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="DIET's and TED's (Rasa's: 100)")
    parser.add_argument("--out", type=Path, default=RESULTS / "sara_bot.json")
    parser.add_argument("--seeds", type=int, default=3, help="runs, seeds 42, 43, ...")
    args = parser.parse_args()
    reference_start = reference_seconds()
    conversations = load_stories(DATASETS / "sara_core" / "test_conversations.yml")
    runs = []
    for seed in range(42, 42 + args.seeds):
        with tempfile.TemporaryDirectory(prefix="sara-project-") as folder:
            project = make_project(Path(folder), args.epochs, seed)
            started = time.perf_counter()
            subprocess.run([*COMMAND, "train", "--quiet"], cwd=project, check=True)
            training_seconds = time.perf_counter() - started
            process, url = start_server(project, project / "server.log")
            try:
                results = {mode: replay(url, conversations, mode) for mode in ("text", "intent")}
            finally:
                process.terminate()
                process.wait(timeout=30)
        runs.append({"seed": seed, "training_seconds": round(training_seconds, 1), **results})
    summary = {
        "dataset": "sara_core test_conversations.yml through the REST channel",
        "epochs": args.epochs,
        "mean_and_std": {
            mode: {name: mean_and_std([run[mode][name] for run in runs]) for name in FIGURES}
            for mode in ("text", "intent")
        },
        "training_seconds": mean_and_std([run["training_seconds"] for run in runs]),
        "runs": runs,
        "machine": machine(),
        "reference_seconds": {"start": reference_start, "end": reference_seconds()},
    }
    write_json(args.out, summary)
    for mode, figures in summary["mean_and_std"].items():
        print(f"\n{mode}: messages sent as {'typed' if mode == 'text' else '/intent shortcuts'}")
        print_table([(name, _shown(value)) for name, value in figures.items()])
    print(f"\ntraining: {_shown(summary['training_seconds'])} s; written to {args.out}")
    return 0


def _shown(value: dict) -> str:
    spread = f" ± {value['std']:.3f}" if value["std"] is not None else ""
    return f"{value['mean']:.3f}{spread}"


if __name__ == "__main__":
    sys.exit(main())
