"""What the bot says, as Rasa 3.6 says it: a response's variation chosen by its ``condition`` and
``channel`` (``TemplatedNaturalLanguageGenerator``, ``ResponseVariationFilter``), slots filled
into each of its fields (``interpolator``), the ``bot`` event it becomes
(``create_bot_utterance``), the messages of a custom action's answer (``RemoteAction``), and what
Rasa's REST channel sends for each event (``CollectingOutputChannel``).

A message here is the dict Rasa hands its output channel (``BotUttered.message()``): ``text``,
``buttons``, ``quick_replies``, ``image``, ``attachment``, ``elements``, ``custom``, then the
event's metadata (``utter_action``, and the variation's other fields such as ``condition``).
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

from diet_sparse.rasa.domain import SLOT_REFERENCE
from diet_sparse.rasa.events import BotUttered

logger = logging.getLogger(__name__)

# The name of the output channel of Rasa's REST webhook (CollectingOutputChannel.name()), which
# `rasa shell` talks to as well: the channel a variation's ``channel:`` must name to be chosen
# there, before the variations without one.
OUTPUT_CHANNEL = "collector"
# The fields of a variation that slots are filled into (TemplatedNaturalLanguageGenerator).
INTERPOLATED_FIELDS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")
# The fields of a message that a `bot` event keeps in its ``data`` (create_bot_utterance).
BOT_DATA_FIELDS = ("elements", "quick_replies", "buttons", "attachment", "image", "custom")


def fill_response(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with every ``{name}`` replaced by its value, as Rasa's ``interpolate_text``:
    Python's ``str.format`` (an unset slot reads ``None``, ``{{`` is a brace). A text that names
    anything not in ``values`` is left entirely as written (Rasa logs it), and so is one
    ``str.format`` cannot read (a lone ``{``), where Rasa's action would fail.

    Example:
        >>> fill_response("A flight to {destination}?", {"destination": "Lisbon"})
        'A flight to Lisbon?'
        >>> fill_response("{destination} at {hour}", {"destination": "Rome"})
        '{destination} at {hour}'
    """
    try:
        filled = SLOT_REFERENCE.sub(r"{0[\1]}", text).format(values)
        if "0[" in filled:  # a name in double braces: Rasa gives the text unfilled, unescaped
            return text.format({})
        return filled
    except KeyError as error:
        logger.warning("%r names %s, which is no slot: said as written", text, error)
    except (ValueError, IndexError, AttributeError, TypeError) as error:
        logger.warning("%r cannot be filled in (%s): said as written", text, error)
    return text


def interpolate(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with `fill_response` applied to every string in it, however deep in mappings
    and lists (keys are left), as Rasa's ``interpolate``; ``value`` itself is not changed.

    Example:
        >>> interpolate([{"title": "{city}", "payload": "/go"}], {"city": "Rome"})
        [{'title': 'Rome', 'payload': '/go'}]
    """
    if isinstance(value, str):
        return fill_response(value, values)
    if isinstance(value, dict):
        return {key: interpolate(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, values) for item in value]
    return value


def _condition_met(condition: Sequence[Mapping[str, Any]], slots: Mapping[str, Any]) -> bool:
    """Whether every slot of a variation's ``condition`` has its value (texts compared without
    regard to case), as Rasa's ``_matches_filled_slots``."""
    for constraint in condition:
        value, wanted = slots.get(constraint["name"]), constraint["value"]
        if isinstance(value, str) and isinstance(wanted, str):
            if value.casefold() != wanted.casefold():
                return False
        elif value != wanted:
            return False
    return True


def fitting_variations(
    variations: Sequence[Mapping[str, Any]], slots: Mapping[str, Any], channel: str
) -> list[Mapping[str, Any]]:
    """The variations a response may say, as Rasa's ``ResponseVariationFilter``: the first
    non-empty group of those whose condition holds and that name ``channel``, those without a
    condition that name it, those whose condition holds and name no channel, those with neither.
    A variation naming another channel is never said here.

    Example:
        >>> variations = [{"text": "Hi"}, {"text": "Hi, Ann", "condition":
        ...     [{"type": "slot", "name": "name", "value": "Ann"}]}]
        >>> fitting_variations(variations, {"name": "ann"}, "collector")[0]["text"]
        'Hi, Ann'
    """
    conditional = [v for v in variations if v.get("condition") and _condition_met(v["condition"],
                                                                                slots)]  # fmt: skip
    default = [v for v in variations if v.get("condition") is None]
    groups = (
        [v for v in conditional if v.get("channel") == channel],
        [v for v in default if v.get("channel") == channel],
        [v for v in conditional if v.get("channel") is None],
        [v for v in default if v.get("channel") is None],
    )
    return next((group for group in groups if group), [])


def choose_variation(
    variations: Sequence[Mapping[str, Any] | str],
    slots: Mapping[str, Any],
    rng: random.Random | None = None,
    channel: str = OUTPUT_CHANNEL,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """One of a response's `fitting_variations`, filled in (`interpolate`: its text, image,
    custom, buttons, attachment and quick replies) from the slots and ``values`` (which take
    precedence, as the keyword arguments of Rasa's generator). Rasa picks at random among
    them; here ``rng`` does (None: the first). None when no variation fits. A variation may
    be given as its text alone.

    Example:
        >>> variations = [{"text": "Flying to {destination}.", "buttons": [
        ...     {"title": "Book {destination}", "payload": "/book"}]}]
        >>> choose_variation(variations, {"destination": "Rome"})["buttons"][0]["title"]
        'Book Rome'
    """
    written = [{"text": v} if isinstance(v, str) else v for v in variations]
    fitting = fitting_variations(written, slots, channel)
    if not fitting:
        return None
    chosen = copy.deepcopy(dict(fitting[0] if rng is None else rng.choice(fitting)))
    values = {**slots, **(values or {})}
    for key in INTERPOLATED_FIELDS:
        if key in chosen:
            chosen[key] = interpolate(chosen[key], values)
    return chosen


def bot_uttered(message: Mapping[str, Any]) -> BotUttered:
    """The ``bot`` event of a message, as Rasa's ``create_bot_utterance``: ``text``, ``data``
    with each of `BOT_DATA_FIELDS` (None when absent; ``attachment`` is the image when there is
    no attachment), the other fields as ``metadata``."""
    rest = dict(message)
    text = rest.pop("text", None)
    data = {key: rest.pop(key, None) for key in BOT_DATA_FIELDS}
    data["attachment"] = data["attachment"] or data["image"]
    return BotUttered(text, data=data, metadata=rest)


def outgoing_message(event: BotUttered) -> dict[str, Any]:
    """The message a ``bot`` event sends to the output channel (Rasa's ``BotUttered.message()``
    without its timestamp): its data, text and metadata in one dict; an attachment that is the
    image is left out, so the image is sent once.

    Example:
        >>> outgoing_message(bot_uttered({"text": "Look", "image": "https://x/y.png"}))["image"]
        'https://x/y.png'
    """
    message = {**(event.data or {}), "text": event.text, **(event.metadata or {})}
    if message.get("image") == message.get("attachment"):
        message["attachment"] = None
    return message


def collected_messages(message: Mapping[str, Any], recipient_id: str) -> list[dict[str, Any]]:
    """What Rasa's REST channel answers for one message (``CollectingOutputChannel``), each
    ``{"recipient_id", "text", "image", "buttons", "attachment", "custom"}`` without the absent
    fields: the text with its quick replies (sent as ``buttons``, the buttons then left out) or
    buttons; or the text alone, one message per paragraph (split at blank lines); then the
    custom payload, the image, the attachment, and each element as ``"title : subtitle"`` with
    its buttons.

    Example:
        >>> collected_messages({"text": "Pick", "buttons": [{"title": "A", "payload": "/a"}]},
        ...                    "ann")
        [{'recipient_id': 'ann', 'text': 'Pick', 'buttons': [{'title': 'A', 'payload': '/a'}]}]
    """

    def sent(**fields: Any) -> dict[str, Any]:
        keys = ("text", "image", "buttons", "attachment", "custom")
        return {"recipient_id": recipient_id} | {
            key: fields[key] for key in keys if fields.get(key) is not None
        }

    collected = []
    text = message.get("text")
    if message.get("quick_replies"):
        collected.append(sent(text=text, buttons=message["quick_replies"]))
    elif message.get("buttons"):
        collected.append(sent(text=text, buttons=message["buttons"]))
    elif text:
        collected += [sent(text=part) for part in str(text).strip().split("\n\n")]
    for key in ("custom", "image", "attachment"):
        if message.get(key):
            collected.append(sent(**{key: message[key]}))
    for element in message.get("elements") or ():
        title = f"{element.get('title', '')} : {element.get('subtitle', '')}"
        collected.append(sent(text=title, buttons=element.get("buttons", [])))
    return collected


def action_server_messages(
    answers: Sequence[Mapping[str, Any]],
    responses: Mapping[str, Sequence[Mapping[str, Any]]],
    slots: Mapping[str, Any],
    rng: random.Random | None = None,
    channel: str = OUTPUT_CHANNEL,
) -> list[dict[str, Any]]:
    """The messages of an action server's ``responses`` (``dispatcher.utter_message``), as
    Rasa's ``RemoteAction._utter_responses``: one naming a domain ``response`` says a variation
    of it, filled in from the slots and the answer's other fields (``utter_message(response=
    "utter_x", name="Ann")`` fills ``{name}``), its ``buttons`` added to the variation's and its
    other non-empty fields laid over it; a response not in the domain says nothing. Others are
    sent as they are (``text``, ``buttons``, ``image``, ``attachment``, ``elements``, ``custom``
    (the SDK's ``json_message``), and any other field, kept as metadata).

    Example:
        >>> action_server_messages([{"text": "Done", "buttons": [], "custom": {},
        ...                          "response": None, "image": None}], {}, {})
        [{'text': 'Done'}]
    """
    messages = []
    for answer in answers:
        rest = dict(answer)
        name = rest.pop("response", None)
        if name:
            variations = responses.get(str(name)) or ()
            draft = choose_variation(variations, slots, rng, channel, rest)
            if draft is None:
                logger.warning("the action server named response %r, which has none that fits",
                               name)  # fmt: skip
                continue
            draft["utter_action"] = name
        else:
            draft = {}
        buttons = rest.pop("buttons", None) or []
        if buttons:
            draft["buttons"] = [*(draft.get("buttons") or []), *buttons]
        draft.update({key: value for key, value in rest.items() if value})
        messages.append(draft)
    return messages
