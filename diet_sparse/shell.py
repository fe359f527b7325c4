"""Interactive shell: type a message, see its intent, the runners-up and the entities in place;
with a policy (a project's model that holds one, or one named apart) the bot answers instead.
A scripted conversation (``diet-sparse shell --say TEXT ...``) describes each turn instead: the
message, its parse, the slots it set, and each action with its confidence and text.

The bot's messages are shown as ``rasa shell`` shows what Rasa's REST channel sends: the text,
buttons as a numbered list (typing a number of the reply's last buttons sends that button's
payload, as choosing it in ``rasa shell``), ``Image:`` and ``Attachment:`` with their URL, and a
custom payload as JSON.

Reads lines with `input`, so it works at a terminal (with line editing) and with piped stdin.
Entities are highlighted in colour on a terminal and marked up as ``[Berlin](city:departure)``
otherwise. ``/exit`` or Ctrl-D ends the session.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from diet_sparse.dialogue.responses import collected_messages
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
    """What the bot does for one message: what each action said (`format_message`, each of
    the messages Rasa's REST channel would send); a custom action's name when it said nothing
    (no action server, or it sent nothing), a response's when it has no variation to say.

    Example:
        >>> print(format_reply([{"action": "utter_greet", "kind": "response", "text": "Hi!",
        ...     "bot_messages": [{"text": "Hi!", "buttons": [{"title": "Go", "payload": "/go"}]}]},
        ...     {"action": "action_check", "kind": "custom", "text": None},
        ...     {"action": "action_listen", "kind": "listen", "text": None}]))
        Hi!
        1: Go (/go)
        [action_check: a custom action, not run]
    """
    lines = []
    for action in actions:
        said = _rest_messages(action)
        if said:
            lines.extend(format_message(message) for message in said)
        elif action["kind"] == "response":
            lines.append(action["text"] or f"[{action['action']}: no text]")
        elif action["kind"] in ("custom", "form") and action.get("messages"):
            lines.extend(action["messages"])
        elif action["kind"] == "custom":
            ran = "said nothing" if "messages" in action else "not run"
            lines.append(f"[{action['action']}: a custom action, {ran}]")
    return "\n".join(lines)


def format_message(message: dict[str, Any]) -> str:
    """One message of Rasa's REST channel as ``rasa shell`` prints it: the text, each button
    as ``1: title (payload)`` (its other fields as JSON after it), ``Image: url``,
    ``Attachment: url`` and ``Custom json:`` with the payload.

    Example:
        >>> print(format_message({"recipient_id": "ann", "image": "https://x/y.png"}))
        Image: https://x/y.png
    """
    lines = [str(message["text"])] if message.get("text") is not None else []
    for index, button in enumerate(message.get("buttons") or ()):
        lines.append(_button_line(button, index))
    if message.get("image") is not None:
        lines.append(f"Image: {message['image']}")
    attachment = message.get("attachment")
    if attachment is not None:
        shown = attachment if isinstance(attachment, str) else json.dumps(attachment)
        lines.append(f"Attachment: {shown}")
    if message.get("custom") is not None:
        lines.append("Custom json:")
        lines.append(json.dumps(message["custom"], indent=2, ensure_ascii=False))
    return "\n".join(lines)


def _button_line(button: dict[str, Any], index: int) -> str:
    """``1: title (payload)``, as Rasa's ``button_to_string``."""
    rest = {key: value for key, value in button.items() if key not in ("title", "payload")}
    line = f"{index + 1}: {button.get('title', '')}"
    if "payload" in button:
        line += f" ({button['payload']})"
    return line + (f" - {json.dumps(rest, sort_keys=True)}" if rest else "")


def button_payloads(actions: list[dict[str, Any]]) -> list[str]:
    """What typing ``1``, ``2``, ... sends next: the payloads of the buttons of the last
    message of the reply that has buttons (a button without a payload sends its title).
    ``rasa shell`` lets one choose only when the reply's very last message has buttons (text
    with buttons, then an image: the buttons are only listed); here they can be chosen then too.

    Example:
        >>> button_payloads([{"action": "utter_ask", "kind": "response", "text": "Which?",
        ...     "bot_messages": [{"text": "Which?", "buttons": [{"title": "Rome",
        ...                                                     "payload": "/pick"}]}]}])
        ['/pick']
    """
    said = [message for action in actions for message in _rest_messages(action)]
    with_buttons = [message["buttons"] for message in said if message.get("buttons")]
    if not with_buttons:
        return []
    return [str(button.get("payload", button.get("title", ""))) for button in with_buttons[-1]]


def _rest_messages(action: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages Rasa's REST channel sends for what one action said."""
    return [
        sent
        for message in action.get("bot_messages", ())
        for sent in collected_messages(message, "shell")
    ]


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
        for message in _rest_messages(result):  # buttons, images, ...: indented below
            extra = format_message({key: v for key, v in message.items() if key != "text"})
            lines.extend(f"         {part}" for part in extra.splitlines())
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
    payloads: list[str] = []  # what the numbers of the last message's buttons send
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
        if text.isdigit() and 0 < int(text) <= len(payloads):
            text = payloads[int(text) - 1]
        if text and bot is not None:
            reply = bot.respond(text)
            payloads = button_payloads(reply)
            print(format_reply(reply), flush=True)
        elif text:
            print(format_result(nlu.parse(text), colour), flush=True)
