"""Evaluation of a dialogue policy on test stories, as ``rasa test core`` evaluates one.

Each test story is replayed with teacher forcing: at every bot action (``action_listen``
included) the policy predicts the next action from the story's own history up to there, the
prediction is compared with the story's action, and the replay goes on with the story's action,
right or wrong. As in Rasa, a story's first event (the ``action_listen`` that opens the
conversation) is where the replay starts, not a prediction; the slots Rasa fills from entities
are set, as in training (`dialogue_features.story_states_and_actions`); rules are not tested
(a policy like TED does not learn them). A story is correct when every one of its actions is.

Given an NLU model too (``nlu=``), the evaluation is end to end, as ``rasa test`` runs it: each
user message that has a text (a ``user:`` step) is parsed, its intent and entities are compared
with the story's, and a wrong one fails the story (it is marked in the failed stories as Rasa
marks it: ``# predicted: <intent>: <the text, predicted entities marked>``); the report and the
confusion matrix then cover these intents beside the actions, as Rasa's do. The replay goes on
with the story's own intent, right or wrong; a ``user:`` step without an intent takes the
model's (Rasa would count it wrong: diet-sparse's policy does not read texts).

`evaluate_policy` replays stories and returns the reports; `test_core` (behind ``diet-sparse
test core``) loads a policy directory and test stories, evaluates and writes, in its ``out``
directory:

    story_report.json            per action precision, recall, F1, support; accuracy, macro and
                                 weighted averages (scikit-learn's classification report), and
                                 conversation_accuracy: {accuracy, correct, total}
    failed_test_stories.yml      the stories with a wrong prediction, in Rasa's YAML story
                                 format, each wrong action step marked as Rasa marks it:
                                 ``- action: utter_x  # predicted: utter_y``; Rasa's line
                                 "# None of the test stories failed - all good!" if none failed
    successful_test_stories.yml  the other stories (only with ``successes=True``)
    story_confusion_matrix.png   gold against predicted actions

Files of an earlier run in the same ``out`` that this run does not write (a
``successful_test_stories.yml``) are removed; the reports of ``diet-sparse test`` (NLU) are left
alone, so both can share a results directory, as in Rasa. Nothing here prints: progress goes to
the ``diet_sparse.evaluation.dialogue`` logger, and `format_core_summary` makes the table that
``diet-sparse test core`` prints.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diet_sparse.dialogue.featurization import (
    DialogueError,
    conversation_states,
    story_states_and_actions,
)
from diet_sparse.dialogue.policy import POLICY_NAME, Policy
from diet_sparse.dialogue.rules import loop_rejected
from diet_sparse.evaluation.options import (
    CONFUSION_MATRIX_FILE,
    CORE_REPORT_FILES,
    DEFAULT_OUT,
    FAILED_STORIES_FILE,
    REPORT_FILE,
    SUCCESSFUL_STORIES_FILE,
)
from diet_sparse.persistence import check_output_directory, write_json
from diet_sparse.rasa.events import ActionExecutionRejected
from diet_sparse.rasa.nlu_data import TrainingDataError, TrainingDataWarning
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    Entity,
    Event,
    SlotSet,
    Story,
    UserUttered,
    load_stories,
    validate_stories,
    with_entity_slots,
)
from diet_sparse.rasa.story_writing import (
    TRAINING_DATA_FORMAT_VERSION,
    entity_yaml,
    yaml_step,
)

logger = logging.getLogger(__name__)

NO_FAILED_STORIES = "# None of the test stories failed - all good!\n"  # Rasa's words


def evaluate_policy(policy: Policy, stories: Sequence[Story], nlu: Any = None) -> dict[str, Any]:
    """Replay test stories with teacher forcing and score every predicted action; writes nothing.

    Args:
        policy: a trained `Policy` (``train_policy`` or ``load_policy``).
        stories: test stories (``load_stories``), best checked against the policy's domain
            first (``validate_stories``); rules among them are skipped.
        nlu: an NLU model (``load``): the stories' user messages with a text are parsed and
            scored too, end to end (see the module docstring); each story's result then has
            ``messages``: per scored message ``{event, text, intent, predicted_intent,
            entities, predicted_entities, correct}``, and ``summary`` has
            ``intent_accuracy`` over them.

    Returns:
        ``report`` (scikit-learn's classification report over all predicted actions, and
        with ``nlu`` the scored messages' intents),
        ``conversation_accuracy`` (``{accuracy, correct, total}``: the stories with every
        action right), ``summary`` (the headline numbers, flat, as Rasa logs them:
        ``action_accuracy``, ``action_weighted_precision``, ``action_weighted_f1``,
        ``conversation_accuracy``, and ``in_data_fraction``: the share of actions predicted by
        the rules or memorized stories, as Rasa reports it) and ``stories``: per tested story,
        in order, ``{story, source, gold, predicted, confidence, policies, correct}`` (``gold``
        and ``predicted`` are its actions, step by step, and ``policies`` what predicted each:
        the whole policy is tested, rules and memorized stories before TED).

    Raises:
        TrainingDataError: ``stories`` holds no story (only rules, or nothing) or no action.
        DialogueError: a story uses what the policy's domain lacks, or has a ``bot:`` step
            (an end-to-end bot text, which this policy cannot predict); the message names the
            story.

    Example:
        >>> evaluation = evaluate_policy(load_policy("models/policy"),
        ...                              load_stories("tests/test_stories.yml"))  # doctest: +SKIP
        >>> evaluation["conversation_accuracy"]  # doctest: +SKIP
        {'accuracy': 0.75, 'correct': 3, 'total': 4}
        >>> evaluation["summary"]["action_weighted_f1"]  # doctest: +SKIP
        0.94
    """
    from sklearn.metrics import classification_report  # imported on use: importing it is slow

    tested = [story for story in stories if not story.is_rule]
    skipped = len(stories) - len(tested)
    if not tested:
        raise TrainingDataError(
            "nothing to evaluate: the test data holds no stories (rules are not tested)"
        )
    logger.info(
        "Evaluating %d test stories%s",
        len(tested),
        f" ({skipped} rules skipped: rules are not tested)" if skipped else "",
    )
    results = [_replay(policy, story, nlu) for story in tested]
    gold = [action for result in results for action in result["gold"]]
    predicted = [action for result in results for action in result["predicted"]]
    if not gold:
        raise TrainingDataError("nothing to evaluate: the test stories hold no bot actions")
    report = classification_report(*_targets(results), output_dict=True, zero_division=0)
    correct_stories = sum(result["correct"] for result in results)
    conversations = {
        "accuracy": correct_stories / len(results),
        "correct": correct_stories,
        "total": len(results),
    }
    summary = {
        "action_accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
        "action_weighted_precision": float(report["weighted avg"]["precision"]),
        "action_weighted_f1": float(report["weighted avg"]["f1-score"]),
        "conversation_accuracy": conversations["accuracy"],
        "in_data_fraction": sum(
            name != POLICY_NAME for result in results for name in result["policies"]
        )
        / len(gold),
    }
    messages = [message for result in results for message in result.get("messages", ())]
    if messages:
        right = sum(message["intent"] == message["predicted_intent"] for message in messages)
        summary["intent_accuracy"] = right / len(messages)
    return {
        "report": report,
        "conversation_accuracy": conversations,
        "summary": summary,
        "stories": results,
    }


def _targets(results: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Gold and predicted labels of the report and the confusion matrix: every action, then
    (end to end) every scored message's intent, as Rasa's story report counts them."""
    gold = [action for result in results for action in result["gold"]]
    predicted = [action for result in results for action in result["predicted"]]
    messages = [message for result in results for message in result.get("messages", ())]
    gold += [message["intent"] for message in messages]
    predicted += [message["predicted_intent"] or "None" for message in messages]
    return gold, predicted


def _replay(policy: Policy, story: Story, nlu: Any = None) -> dict[str, Any]:
    """One story's predictions, each from the story's true history before the action; with
    ``nlu``, its user messages parsed and scored too."""
    where = f"{story.source}: story {story.name!r}"
    messages: list[dict[str, Any]] = []
    if nlu is not None:
        story, messages = _parse_user_messages(nlu, story, policy.domain.intents)
    for event in story.events:
        if isinstance(event, ActionExecuted) and event.name is None:
            raise DialogueError(
                f"{event.source or story.source}: story {story.name!r}: step 'bot: "
                f"{event.text}' is an end-to-end bot text; this policy predicts actions by name, "
                "so test stories need 'action:' steps"
            )
    try:
        story_states_and_actions(story, policy.domain)  # checked against the domain
    except DialogueError as error:
        raise DialogueError(f"{where}: {error}") from None
    first = _first_predicted(story)
    gold, predictions = [], []
    history: list[Event] = []  # the story so far, as Rasa's test tracker holds it
    actions_seen = 0
    for event in with_entity_slots(story.events, policy.domain):
        if isinstance(event, ActionExecuted):
            if actions_seen >= first:
                gold.append(event.name)
                predictions.append(_predict_next(policy, history, event.name))
            actions_seen += 1
        history.append(event)
    predicted = [prediction["scores"][0]["action"] for prediction in predictions]
    return {
        "story": story.name,
        "source": story.source,
        "gold": gold,
        "predicted": predicted,
        "confidence": [prediction["confidence"] for prediction in predictions],
        "policies": [prediction["policy"] for prediction in predictions],
        "correct": gold == predicted and all(message["correct"] for message in messages),
        **({"messages": messages} if nlu is not None else {}),
    }


def _parse_user_messages(
    nlu: Any, story: Story, intents: Sequence[str]
) -> tuple[Story, list[dict[str, Any]]]:
    """The story with each ``user:`` step that has no intent given the model's (when the domain
    has it), and what the model said of each user message that has both a text and an intent.
    """
    turns = [e for e in story.events if isinstance(e, UserUttered) and e.text is not None]
    parses = iter(nlu.parse_batch([turn.text for turn in turns]) if turns else [])
    events, messages = [], []
    for index, event in enumerate(story.events):
        if isinstance(event, UserUttered) and event.text is not None:
            parse = next(parses)
            intent = (parse.get("intent") or {}).get("name")
            entities = parse.get("entities", [])
            if event.intent is None:
                if intent in intents:
                    found = tuple(_parsed_entity(entity) for entity in entities)
                    event = dataclasses.replace(event, intent=intent, entities=found)
            else:
                gold_intent = event.full_intent or event.intent
                right_intent = intent in (gold_intent, event.intent)
                right_entities = _same_entities(event.entities, entities, event.text)
                messages.append(
                    {
                        "event": index,
                        "text": event.text,
                        "intent": gold_intent,
                        "predicted_intent": gold_intent if right_intent else intent,
                        "entities": [entity_yaml(entity) for entity in event.entities],
                        "predicted_entities": entities,
                        "correct": right_intent and right_entities,
                    }
                )
        events.append(event)
    return dataclasses.replace(story, events=tuple(events)), messages


def _parsed_entity(entity: dict[str, Any]) -> Entity:
    """An entity of a parse result as a story's."""
    value = str(entity.get("value", ""))
    return Entity(entity["entity"], value, entity.get("role"), entity.get("group"))


def _same_entities(gold: Sequence[Entity], parsed: Sequence[dict[str, Any]], text: str) -> bool:
    """Whether a parse found the story's entities: the same types, roles and groups, each value
    the story's (the normalized value, or the words of the text it was found in)."""
    remaining = list(parsed)
    for entity in gold:
        match = next(
            (
                found
                for found in remaining
                if (found["entity"], found.get("role"), found.get("group"))
                == (entity.type, entity.role, entity.group)
                and entity.value
                in (str(found.get("value")), text[found.get("start", 0) : found.get("end", 0)])
            ),
            None,
        )
        if match is None:
            return False
        remaining.remove(match)
    return not remaining


def _predict_next(policy: Policy, history: list[Event], gold: str) -> dict[str, Any]:
    """The prediction after ``history``, through the rules and memorized stories first, as
    Rasa's test runs the whole ensemble. Where it is the active form and the story does
    something else, the form is taken as rejected and the prediction made again, as Rasa's
    test emulates (``emulate_loop_rejection``): an ``action_execution_rejected`` joins
    ``history``."""

    def predict(excluded: tuple[str, ...] = ()) -> dict[str, Any]:
        states = conversation_states(history, policy.domain)
        return policy.predict_states([states], excluded, [history], [loop_rejected(history)])[0]

    prediction = predict()
    action = prediction["scores"][0]["action"]
    loop = conversation_states(history, policy.domain)[-1].active_loop
    if action != gold and action == loop and action in policy.domain.forms:
        history.append(ActionExecutionRejected(action))
        prediction = predict((action,))
    return prediction


def _first_predicted(story: Story) -> int:
    """Index, among the story's actions, of the first one predicted: a first event that is an
    action (the ``action_listen`` opening the conversation) is the replay's start, as in Rasa."""
    return 1 if story.events and isinstance(story.events[0], ActionExecuted) else 0


# --- Writing stories -----------------------------------------------------------------------------


def stories_as_yaml(stories: Sequence[Story], results: Sequence[dict[str, Any]]) -> str:
    """Stories in Rasa's YAML story format, each wrongly predicted action step marked with the
    comment ``# predicted: <action>``, as ``rasa test core`` marks them.

    Implicit ``action_listen`` steps are left out, unless wrongly predicted; the slots Rasa fills
    from entities are left implicit, as in the test stories. Each story is named after its name
    and source (``file:line``), as Rasa names failed stories after their file.

    Args:
        stories: the stories, e.g. those of `evaluate_policy`'s failed ones.
        results: for each story, its entry in ``evaluate_policy(...)["stories"]``.

    Example:
        >>> listen = ActionExecuted("action_listen")
        >>> story = Story("hello", "test.yml:3",
        ...               (listen, UserUttered("greet"), ActionExecuted("utter_greet"), listen))
        >>> print(stories_as_yaml([story], [{"gold": ["utter_greet", "action_listen"],
        ...                                 "predicted": ["utter_goodbye", "action_listen"]}]))
        version: "3.1"
        stories:
        - story: hello (test.yml:3)
          steps:
          - intent: greet
          - action: utter_greet  # predicted: utter_goodbye
        <BLANKLINE>
    """
    lines = [f'version: "{TRAINING_DATA_FORMAT_VERSION}"', "stories:"]
    for story, result in zip(stories, results, strict=True):
        lines.append(yaml_step({"story": f"{story.name} ({story.source})"}, "- "))
        lines.append("  steps:")
        steps = "\n".join(_steps(story, result["predicted"], result.get("messages", ())))
        lines += [f"  {line}" for line in steps.splitlines()]
    return "\n".join(lines) + "\n"


def _steps(
    story: Story, predicted: Sequence[str], messages: Sequence[dict[str, Any]] = ()
) -> list[str]:
    """The YAML lines of a story's steps, wrong predictions (actions, and end to end, user
    messages) marked."""
    wrong_messages = {message["event"]: message for message in messages if not message["correct"]}
    lines: list[str] = []
    slots: list[SlotSet] = []  # consecutive slot events make one slot_was_set step

    def flush_slots() -> None:
        if slots:
            step = {"slot_was_set": [{slot.name: slot.value} for slot in slots]}
            lines.append(yaml_step(step, "- "))
            slots.clear()

    action_index = -_first_predicted(story)  # index of the action in ``predicted``
    for index, event in enumerate(story.events):
        if isinstance(event, SlotSet):
            slots.append(event)
            continue
        flush_slots()
        if isinstance(event, ActionExecuted):
            guess = predicted[action_index] if action_index >= 0 else event.name
            action_index += 1
            wrong = guess != event.name
            if event.name == "action_listen" and not wrong:
                continue  # implicit in Rasa's format
            line = yaml_step({"action": event.name}, "- ")
            lines.append(f"{line}  # predicted: {guess}" if wrong else line)
        elif index in wrong_messages:
            first, *rest = yaml_step(_step(event), "- ").split("\n")
            comment = _predicted_message(wrong_messages[index])
            lines.append("\n".join([f"{first}  # {comment}", *rest]))
        else:
            lines.append(yaml_step(_step(event), "- "))
    flush_slots()
    return lines


def _predicted_message(message: dict[str, Any]) -> str:
    """Rasa's comment on a wrongly parsed message: ``predicted: <intent>: <text>``, the
    predicted entities marked in the text as ``[words](type)``."""
    text, marked = message["text"], message["text"]
    for entity in sorted(message["predicted_entities"], key=lambda e: -e.get("start", 0)):
        start, end = entity.get("start"), entity.get("end")
        if start is None or end is None:
            continue
        marked = f"{marked[:start]}[{text[start:end]}]({entity['entity']}){marked[end:]}"
    return f"predicted: {message['predicted_intent']}: {marked}"


def _step(event: Event) -> dict[str, Any]:
    """A user turn or an active loop as the mapping of its YAML story step."""
    if isinstance(event, ActiveLoop):
        return {"active_loop": event.name}
    assert isinstance(event, UserUttered)
    step: dict[str, Any] = {}
    if event.intent is not None:
        step["intent"] = event.intent
    if event.text is not None:
        step["user"] = event.text
    if event.entities:
        step["entities"] = [entity_yaml(entity) for entity in event.entities]
    return step


# --- Reports -------------------------------------------------------------------------------------


def write_core_results(
    evaluation: dict[str, Any],
    stories: Sequence[Story],
    out: str | Path,
    successes: bool = False,
) -> list[Path]:
    """Write the report, the failed (and with ``successes``, the successful) stories and the
    confusion matrix of an evaluation to the directory ``out``; remove an earlier run's files
    that this run does not write (see `CORE_REPORT_FILES`).

    Args:
        evaluation: what `evaluate_policy` returned for ``stories``.
        stories: the stories it evaluated (rules among them are skipped, as there).
        out: the output directory; created if needed.
        successes: also write ``successful_test_stories.yml``.

    Returns:
        The paths written (see the module docstring for what each file holds).
    """
    from diet_sparse.evaluation.plots import plot_confusion_matrix

    out = check_output_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    report = dict(evaluation["report"], conversation_accuracy=evaluation["conversation_accuracy"])
    written = [write_json(out / REPORT_FILE, report)]
    tested = [story for story in stories if not story.is_rule]
    pairs = list(zip(tested, evaluation["stories"], strict=True))
    failed = [(story, result) for story, result in pairs if not result["correct"]]
    path = out / FAILED_STORIES_FILE
    path.write_text(stories_as_yaml(*zip(*failed)) if failed else NO_FAILED_STORIES, "utf-8")
    written.append(path)
    if successes:
        succeeded = [(story, result) for story, result in pairs if result["correct"]]
        path = out / SUCCESSFUL_STORIES_FILE
        path.write_text(stories_as_yaml(*zip(*succeeded)) if succeeded else "", "utf-8")
        written.append(path)
    gold, predicted = _targets(evaluation["stories"])
    accuracy = evaluation["summary"]["action_accuracy"]
    written.append(
        plot_confusion_matrix(
            gold,
            predicted,
            out / CONFUSION_MATRIX_FILE,
            title=f"Action confusion matrix, accuracy {accuracy:.3f}",
            unit="actions",
        )
    )
    for name in CORE_REPORT_FILES:
        earlier = out / name
        if earlier not in written and earlier.is_file():
            earlier.unlink()
    return written


def test_core(
    policy_dir: str | Path,
    stories_paths: str | Path | Sequence[str | Path],
    out: str | Path = DEFAULT_OUT,
    successes: bool = False,
    nlu_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a saved policy on test stories and write reports and a plot; prints nothing.

    ``out`` is checked first, then the stories are read, the policy loaded and the stories
    checked against the policy's domain, all before anything is predicted.
    `format_core_summary` makes the table that ``diet-sparse test core`` prints.

    Args:
        policy_dir: a policy directory written by ``diet-sparse train core``.
        stories_paths: YAML files / directories holding test ``stories:`` (rules are skipped).
        out: directory for the files listed in the module docstring.
        successes: also write ``successful_test_stories.yml``.
        nlu_dir: an NLU model directory (or a project's model): parse the stories' user
            messages with it and score them too, end to end, as ``rasa test`` does.

    Returns:
        The evaluation of `evaluate_policy`.

    Raises:
        OutputDirectoryError, OutputPermissionError: ``out`` cannot be a directory or written.
        TrainingDataError: the stories cannot be read, use what the policy's domain lacks, or
            hold no story.
        ModelLoadError: ``policy_dir`` is not a policy directory (or is damaged).
        DialogueError: a story cannot be replayed (see `evaluate_policy`).

    Example:
        >>> evaluation = test_core("models/policy", "tests/", out="results")  # doctest: +SKIP
        >>> print(format_core_summary(evaluation))  # doctest: +SKIP
    """
    from diet_sparse.persistence import load, load_policy

    out = check_output_directory(out)
    stories = load_stories(stories_paths)
    policy = load_policy(policy_dir)
    nlu = load(nlu_dir) if nlu_dir is not None else None
    with warnings.catch_warnings():
        # Test stories that go different ways after the same history are what a test may hold.
        warnings.filterwarnings(
            "ignore", r"stories .* have the same history", category=TrainingDataWarning
        )
        validate_stories(stories, policy.domain)
    evaluation = evaluate_policy(policy, stories, nlu)
    write_core_results(evaluation, stories, out, successes=successes)
    return evaluation


test_core.__test__ = False  # not a pytest test, whatever imports it


def format_core_summary(evaluation: dict[str, Any]) -> str:
    """A short text table of an evaluation's action and conversation figures.

    Example:
        >>> print(format_core_summary({
        ...     "summary": {"action_accuracy": 0.9, "action_weighted_precision": 0.92,
        ...                 "action_weighted_f1": 0.89, "conversation_accuracy": 0.5},
        ...     "conversation_accuracy": {"accuracy": 0.5, "correct": 1, "total": 2},
        ...     "report": {"utter_greet": {"f1-score": 0.8, "support": 2}},
        ...     "stories": [{"story": "hello", "gold": ["a"] * 5, "predicted": ["a"] * 5,
        ...                  "correct": True},
        ...                 {"story": "book", "gold": ["a"] * 5, "predicted": ["a"] * 4 + ["b"],
        ...                  "correct": False}]}))
                          correct  accuracy  weighted precision  weighted F1
        actions           9 of 10     0.900               0.920        0.890
        conversations      1 of 2     0.500
        lowest action F1: utter_greet 0.80
        failed stories: book
    """
    stories = evaluation["stories"]
    total = sum(len(story["gold"]) for story in stories)
    correct = sum(g == p for story in stories for g, p in zip(story["gold"], story["predicted"]))
    conversations, metrics = evaluation["conversation_accuracy"], evaluation["summary"]
    stories_correct = f"{conversations['correct']} of {conversations['total']}"
    lines = [
        f"{'':13}{'correct':>12}{'accuracy':>10}{'weighted precision':>20}{'weighted F1':>13}",
        f"{'actions':13}{f'{correct} of {total}':>12}{metrics['action_accuracy']:>10.3f}"
        f"{metrics['action_weighted_precision']:>20.3f}{metrics['action_weighted_f1']:>13.3f}",
        f"{'conversations':13}{stories_correct:>12}{conversations['accuracy']:>10.3f}",
    ]
    messages = [message for story in stories for message in story.get("messages", ())]
    if messages:
        right = sum(message["intent"] == message["predicted_intent"] for message in messages)
        lines.append(
            f"{'intents':13}{f'{right} of {len(messages)}':>12}{metrics['intent_accuracy']:>10.3f}"
        )
    worst = sorted(  # lowest F1 first; among equals, the actions taken most often
        (values["f1-score"], -values["support"], label)
        for label, values in evaluation["report"].items()
        if isinstance(values, dict) and label not in ("macro avg", "weighted avg", "micro avg")
    )[:5]
    if worst and worst[0][0] < 1.0:
        lines.append(
            "lowest action F1: "
            + ", ".join(f"{label} {f1:.2f}" for f1, _, label in worst if f1 < 1.0)
        )
    failed = [story["story"] for story in stories if not story["correct"]]
    if failed:
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        lines.append(f"failed stories: {', '.join(failed[:5])}{more}")
    return "\n".join(lines)
