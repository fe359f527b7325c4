"""Interactive shell: type a message, see its intent, the runners-up and the entities in place;
with a policy (a project's model that holds one, or one named apart) the bot answers instead.
A scripted conversation (``diet-sparse shell --say TEXT ...``) describes each turn instead: the
message, its parse, the slots it set, and each action with its confidence and text.

Reads lines with `input`, so it works at a terminal (with line editing) and with piped stdin.
Entities are highlighted in colour on a terminal and marked up as ``[Berlin](city:departure)``
otherwise. ``/exit`` or Ctrl-D ends the session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from diet_sparse.rasa.events import Event, SlotSet

EXIT_COMMANDS = {"/exit", "/quit"}
RUNNERS_UP = 2
COLOURS = ("\033[1;36m", "\033[1;33m", "\033[1;35m", "\033[1;32m")  # cycled per entity
DIM, RESET = "\033[2m", "\033[0m"


def _label(entity: dict[str, Any]) -> str:
    """``city``, ``city:departure``, ``city#1``: the entity type with its role and group."""
    label = entity["entity"]
    if "role" in entity:
        label += f":{entity['role']}"
    if "group" in entity:
        label += f"#{entity['group']}"
    return label


def format_intents(result: dict[str, Any]) -> str:
    """``intent: book_flight (0.98)  next: greet (0.01), deny (0.00)``

    Example:
        >>> format_intents({"intent": {"name": "greet", "confidence": 0.9},
        ...                 "intent_ranking": [{"name": "greet", "confidence": 0.9},
        ...                                    {"name": "deny", "confidence": 0.1}]})
        'intent: greet (0.90)  next: deny (0.10)'
    """
    intent = result["intent"]
    line = f"intent: {intent['name']} ({intent['confidence']:.2f})"
    runners_up = [r for r in result["intent_ranking"] if r["name"] != intent["name"]]
    if runners_up:
        shown = ", ".join(f"{r['name']} ({r['confidence']:.2f})" for r in runners_up[:RUNNERS_UP])
        line += f"  next: {shown}"
    return line


def highlight(text: str, entities: list[dict[str, Any]], colour: bool = False) -> str:
    """``text`` with each entity span marked: ANSI colour, or ``[span](label)`` without.

    Example:
        >>> highlight("fly to Berlin", [{"entity": "city", "start": 7, "end": 13}])
        'fly to [Berlin](city)'
    """
    pieces, position = [], 0
    for i, entity in enumerate(sorted(entities, key=lambda e: e["start"])):
        start, end = entity["start"], entity["end"]
        if start < position:
            continue  # overlapping spans cannot both be marked inline; the list shows both
        span = text[start:end]
        if colour:
            tint = COLOURS[i % len(COLOURS)]
            marked = f"{tint}{span}{RESET}{DIM}({_label(entity)}){RESET}"
        else:
            marked = f"[{span}]({_label(entity)})"
        pieces += [text[position:start], marked]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def format_entity(entity: dict[str, Any]) -> str:
    """One line per entity: label, span, confidence, and the value where a synonym changed it."""
    line = (
        f"  {entity['entity']}: {entity['value']!r} [{entity['start']}:{entity['end']}] "
        f"({entity['confidence_entity']:.2f})"
    )
    for attribute in ("role", "group"):
        if attribute in entity:
            line += f"  {attribute} {entity[attribute]} ({entity[f'confidence_{attribute}']:.2f})"
    return line


def format_result(result: dict[str, Any], colour: bool = False) -> str:
    """The block printed for one message: intents, the highlighted text, one line per entity."""
    lines = [format_intents(result)]
    entities = result["entities"]
    if entities:
        lines.append(highlight(result["text"], entities, colour))
        lines += [format_entity(entity) for entity in entities]
    else:
        lines.append("entities: none")
    return "\n".join(lines)


def format_reply(actions: list[dict[str, Any]]) -> str:
    """What the bot does for one message: each response's text; each custom action's
    messages, or its name when it said nothing (no action server, or it sent no text).

    Example:
        >>> print(format_reply([{"action": "utter_greet", "kind": "response", "text": "Hi!"},
        ...     {"action": "action_check", "kind": "custom", "text": None},
        ...     {"action": "action_listen", "kind": "listen", "text": None}]))
        Hi!
        [action_check: a custom action, not run]
    """
    lines = []
    for action in actions:
        if action["kind"] == "response":
            lines.append(action["text"] or f"[{action['action']}: no text]")
        elif action["kind"] in ("custom", "form") and action.get("messages"):
            lines.extend(action["messages"])
        elif action["kind"] == "custom":
            ran = "said nothing" if "messages" in action else "not run"
            lines.append(f"[{action['action']}: a custom action, {ran}]")
    return "\n".join(lines)


def describe_turn(events: Sequence[Event], results: Sequence[dict[str, Any]]) -> list[str]:
    """Lines describing one message: the events and results of one `bot.Bot.respond`.

    Example:
        >>> from diet_sparse.rasa.events import user_uttered
        >>> print("\\n".join(describe_turn(
        ...     [user_uttered("hi", {"intent": {"name": "greet", "confidence": 0.99}})],
        ...     [{"action": "utter_greet", "confidence": 0.98, "text": "Hello!",
        ...       "kind": "response"}])))
        > hi
          intent   greet 0.990
          0.980  utter_greet  "Hello!"
    """
    user = events[0]
    parse = user.parse_data or {}
    intent = parse.get("intent") or {}
    lines = [f"> {user.text}", f"  intent   {intent.get('name')} {_score(intent)}".rstrip()]
    entities = [_describe_entity(entity) for entity in parse.get("entities", [])]
    if entities:
        lines.append(f"  entities {', '.join(entities)}")
    slots = [f"{e.name}={e.value!r}" for e in events if isinstance(e, SlotSet)]
    if slots:
        lines.append(f"  slots    {', '.join(slots)}")
    for result in results:
        confidence = result["confidence"]
        line = f"  {'-' if confidence is None else f'{confidence:.3f}':>5}  {result['action']}"
        if result["text"] is not None:
            line += f'  "{result["text"]}"'
        elif result["kind"] == "custom":
            line += (
                "  (custom action: said nothing)"
                if "messages" in result
                else ("  (custom action: not run here, no text)")
            )
        elif confidence is None:
            line += f"  ({len(results) - 1} actions without listening: the bot listens anyway)"
        lines.append(line)
    return lines


def _describe_entity(entity: dict[str, Any]) -> str:
    labels = [f"{key} {entity[key]}" for key in ("role", "group") if entity.get(key) is not None]
    described = f"{entity['entity']}={entity.get('value')!r}"
    if labels:
        described += f" ({', '.join(labels)})"
    confidence = entity.get("confidence_entity")
    return described if confidence is None else f"{described} {confidence:.3f}"


def _score(scored: dict[str, Any]) -> str:
    confidence = scored.get("confidence")
    return "" if confidence is None else f"{confidence:.3f}"


def describe_conversation(bot: Any, messages: Sequence[str]) -> Iterator[str]:
    """Send ``messages`` to ``bot`` (a `bot.Bot`) one after the other; yield the lines of
    `describe_turn` for each, as soon as it is answered."""
    for message in messages:
        first_new = len(bot.events)
        results = bot.respond(message)
        yield from describe_turn(bot.events[first_new:], results)


def scripted_conversation(
    nlu_dir: str | Path,
    policy_dir: str | Path,
    messages: Sequence[str],
    seed: int | None = None,
) -> str:
    """Load an NLU model and a policy, send them ``messages`` one after the other, and describe
    the conversation (`describe_turn`).

    Raises:
        ModelLoadError: a directory does not hold a model (NLU) or a policy.
        DialogueError: the NLU model knows an intent the policy's domain does not.

    Example:
        >>> print(scripted_conversation("models/default", "models/policy", ["hi"]))
        ... # doctest: +SKIP
        > hi
          intent   greet 0.998
          0.981  utter_greet  "Hello! I can book flights and tables, ..."
          0.993  action_listen
    """
    from diet_sparse.dialogue.bot import Bot
    from diet_sparse.persistence import load, load_policy

    bot = Bot(load(nlu_dir), load_policy(policy_dir), seed=seed)
    return "\n".join(describe_conversation(bot, messages))


def _bot(
    nlu: Any, model_dir: Path, action_endpoint: str | None, policy_dir: str | Path | None = None
) -> Any:
    """A `bot.Bot` with the policy in ``policy_dir``, or when ``model_dir`` is a project's model
    holding a policy, that one (its custom actions run on the action server at
    ``action_endpoint``, if given); else None."""
    from diet_sparse.persistence import PROJECT_CORE, load_policy

    if policy_dir is None:
        if not (model_dir / PROJECT_CORE / "metadata.json").is_file():
            return None
        policy_dir = model_dir
    from diet_sparse.dialogue.bot import Bot
    from diet_sparse.serving.action_server import ActionServer

    actions = ActionServer(action_endpoint) if action_endpoint else None
    return Bot(nlu, load_policy(policy_dir), actions=actions)


def _use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _enable_line_editing() -> None:
    try:
        import readline  # noqa: F401  (importing it gives input() history and editing)
    except ImportError:
        pass


def run_shell(
    model_dir: str | Path,
    action_endpoint: str | None = None,
    policy_dir: str | Path | None = None,
    say: Sequence[str] = (),
) -> int:
    """Load the model in ``model_dir`` and parse each line typed until ``/exit`` or Ctrl-D; with
    the policy in ``policy_dir``, or a project's model with a policy, the bot answers, its
    custom actions run on the Rasa action server at ``action_endpoint`` (a URL), if given.

    With ``say``, nothing is read: each of its messages is sent in turn and described (the
    bot's turn, `describe_turn`; without a policy, the parse), and the shell ends.

    Example:
        >>> run_shell("models/default")  # doctest: +SKIP
        > book a flight from Berlin
        intent: book_flight (0.99)  next: greet (0.00), deny (0.00)
        book a flight from [Berlin](city:departure)
          city: 'Berlin' [19:25] (0.98)  role departure (0.91)
    """
    from diet_sparse.persistence import load

    if say:
        nlu = load(model_dir)
        bot = _bot(nlu, Path(model_dir), action_endpoint, policy_dir)
        if bot is not None:
            for line in describe_conversation(bot, say):
                print(line, flush=True)
        else:
            for text in say:
                print(f"> {text}\n{format_result(nlu.parse(text))}", flush=True)
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_line_editing()
    print(f"Loading the model in {model_dir} ...", file=sys.stderr, flush=True)
    nlu = load(model_dir)
    bot = _bot(nlu, Path(model_dir), action_endpoint, policy_dir)
    if bot is not None:
        print("The bot answers (a model with a policy).", file=sys.stderr, flush=True)
    print("Type a message; /exit or Ctrl-D to quit.", file=sys.stderr, flush=True)
    colour = _use_colour(sys.stdout)
    prompt = "> " if interactive else ""
    while True:
        try:
            line = input(prompt)
        except EOFError:
            if interactive:
                print()
            return 0
        except KeyboardInterrupt:
            print()  # Ctrl-C drops the line typed so far, as in Python's own prompt
            continue
        text = line.strip()
        if text in EXIT_COMMANDS:
            return 0
        if text and bot is not None:
            print(format_reply(bot.respond(text)), flush=True)
        elif text:
            print(format_result(nlu.parse(text), colour), flush=True)
