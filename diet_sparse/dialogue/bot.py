"""A small bot: an NLU model and a dialogue policy answering messages as Rasa's agent does. Each
message is parsed, slots are filled from its entities, and the policy picks actions until it
listens; responses are filled in from the slots, and custom actions run on an action server
when there is one. No TensorFlow needed.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Sequence
from typing import Any

from diet_sparse.dialogue.forms import (
    ACTION_VALIDATE_SLOT_MAPPINGS,
    FormStep,
    active_form,
    extract_slots,
    loop_rejected,
    run_form,
)
from diet_sparse.dialogue.policy import Policy
from diet_sparse.dialogue.rules import RULE_POLICY_NAME
from diet_sparse.errors import ActionRejectedError, ActionServerError
from diet_sparse.nlu.parser import NLU
from diet_sparse.rasa.domain import (
    ACTION_DEFAULT_FALLBACK,
    ACTION_LISTEN,
    RETRIEVAL_SEPARATOR,
    Domain,
)
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActionExecutionRejected,
    BotUttered,
    Event,
    UserUtteranceReverted,
    UserUttered,
    applied_events,
    user_uttered,
)
from diet_sparse.rasa.events import slot_values as _slot_values

logger = logging.getLogger(__name__)

# Actions predicted for one message before the bot gives up and listens (Rasa's
# max_number_of_predictions): a policy that never predicts action_listen cannot loop for ever.
MAX_ACTIONS = 10
# The keys of an action server's response that Rasa does not keep as a message's metadata.
_MESSAGE_KEYS = ("response", "text", "elements", "quick_replies", "buttons", "attachment", "image",
                 "custom")  # fmt: skip
# A slot in a response text, as Rasa's interpolator finds it: "{destination}".
_SLOT_REFERENCE = re.compile(r"\{([^\n{}]+?)\}")
# A message that names its intent, as Rasa's buttons send them: /inform@0.9{"city": "Rome"}.
# Rasa's RegexMessageHandler reads the confidence before the entities; after them is read too.
_INTENT_SHORTCUT = re.compile(
    r"/(?P<intent>[^{@\s]+)(?:@(?P<confidence>[0-9.]+))?(?P<entities>\{.*\})?"
    r"(?:@(?P<confidence_after>[0-9.]+))?",
    re.S,
)


def shortcut_parse(
    text: str, intents: Sequence[str], entity_types: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The parse result of a message that names its intent (``/greet``, with a confidence and
    entities as JSON: ``/inform@0.9{"city": "Rome"}``), read without the NLU model as Rasa 3.6's
    ``RegexMessageHandler`` reads such messages (buttons and tests send them).

    None for any other message, and, as Rasa, for an intent not in ``intents``: Rasa warns
    ("Continuing with given line as user text") and the NLU model's parse of the text stands;
    here too it is logged and the caller parses the text with the model. As Rasa, what cannot
    be read of the rest is left out with a warning, the intent kept: entities that are not a
    JSON object, entity types not in ``entity_types`` (None: any), and a confidence that is not
    a number (0.0) or above 1 (1.0). An entity's value must be a string, a number or a boolean
    (a list gives one entity per item, as Rasa); other values (objects, null, NaN, Infinity)
    are left out with a warning, where Rasa would keep them as they came: a tracker event's
    numbers must be finite (`events.event_from_json`) and a slot holds no nested objects.

    Example:
        >>> shortcut_parse('/inform{"city": "Rome"}', ["inform"])["entities"]
        [{'entity': 'city', 'value': 'Rome', 'start': 7, 'end': 23}]
    """
    found = _INTENT_SHORTCUT.fullmatch(text.strip())
    if found is None:
        return None
    if found["intent"] not in intents:
        logger.warning(
            "%r names intent %r, which is not in the domain (%s): the NLU model parses it as "
            "text, as Rasa does",
            text,
            found["intent"],
            ", ".join(intents),
        )
        return None
    entities = []
    if found["entities"]:
        start, end = found.span("entities")
        for name, value in _shortcut_entities(text, found["entities"], entity_types):
            entities.append({"entity": name, "value": value, "start": start, "end": end})
    confidence = _shortcut_confidence(text, found["confidence"] or found["confidence_after"])
    intent = {"name": found["intent"], "confidence": confidence}
    return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": entities}


def _shortcut_entities(
    text: str, written: str, entity_types: Sequence[str] | None
) -> list[tuple[str, Any]]:
    """(type, value) of each entity of a `shortcut_parse` message's JSON, without those that
    cannot be read (logged)."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON has")

    try:
        values = json.loads(written, parse_constant=no_constants)
        if not isinstance(values, dict):
            raise ValueError(f"it is {type(values).__name__}, not an object")
    except (ValueError, RecursionError) as error:
        logger.warning("%r: its entities are not a JSON object (%s); continuing without", text,
                       error)  # fmt: skip
        return []
    read = []
    for name, value in values.items():
        if entity_types is not None and name not in entity_types:
            logger.warning("%r: entity type %r is not in the domain; continuing without", text,
                           name)  # fmt: skip
            continue
        for one in value if isinstance(value, list) else [value]:
            if _is_entity_value(one):
                read.append((name, one))
            else:
                logger.warning(
                    "%r: entity %r has the value %r; an entity's value is a string, a number or "
                    "a boolean (or a list of them): continuing without",
                    text,
                    name,
                    one,
                )
    return read


def _is_entity_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # 1e400 reads as inf
    return isinstance(value, str | int | bool)


def _shortcut_confidence(text: str, written: str | None) -> float:
    """A `shortcut_parse` message's confidence, as Rasa reads it: 1.0 when not given, 0.0 when
    not a number, at most 1.0 (each with a warning)."""
    if written is None:
        return 1.0
    try:
        confidence = float(written)
    except ValueError:
        logger.warning("%r: confidence %r is not a number; continuing with 0.0", text, written)
        return 0.0
    if confidence > 1.0:
        logger.warning("%r: confidence %s is above 1; continuing with 1.0", text, written)
        return 1.0
    return confidence


def fill_response(text: str, slots: dict[str, Any]) -> str:
    """``text`` with every ``{slot}`` replaced by the slot's value, as Rasa fills responses: an
    unset slot reads ``None``, and a name that is not a slot is left as written.

    Example:
        >>> fill_response("A flight to {destination}?", {"destination": "Lisbon"})
        'A flight to Lisbon?'
    """
    return _SLOT_REFERENCE.sub(
        lambda match: str(slots[match[1]]) if match[1] in slots else match[0], text
    )


def choose_variation(
    texts: Sequence[str], slots: dict[str, Any], rng: random.Random | None = None
) -> str | None:
    """One of a response's variations, filled in: the first whose slots are all set (or, with
    ``rng``, a random one of them); the first of all when none has all its slots set. ``None``
    for a response without text variations.

    Preferring complete variations lets a domain list the specific text first and a general one
    after it ("Playing {genre}." then "Playing some music."), as Rasa's conditional responses do.

    Example:
        >>> texts = ["Shall I book a flight from {departure} to {destination}?",
        ...          "Shall I book a flight to {destination}?"]
        >>> choose_variation(texts, {"departure": None, "destination": "Rome"})
        'Shall I book a flight to Rome?'
    """
    if not texts:
        return None
    complete = [
        text
        for text in texts
        if all(slots.get(name) is not None for name in _SLOT_REFERENCE.findall(text))
    ]
    candidates = complete or list(texts)
    chosen = candidates[0] if rng is None else rng.choice(candidates)
    return fill_response(chosen, slots)


class Bot:
    """A conversation with an NLU model and a dialogue policy, kept as tracker events
    (`events`; `events.events_as_json` writes them as Rasa's tracker JSON).

    ``events`` starts with ``action_listen`` (as every story does) and grows with each message:
    a `UserUttered` (``parse_data`` is the NLU's parse result), a `SlotSet` for each slot
    that the domain's slot mappings fill from the message (`forms.slots_from_message`), then
    for each predicted action an `ActionExecuted` (``name``, ``policy``, ``confidence``), each
    followed by a `BotUttered` when the action is a response with text.

    Responses produce text. Custom actions (the domain's ``actions``) run on an action server
    when ``actions`` is given (`action_server.ActionServer`): their events join the
    conversation and their responses are said. Without one, and for Rasa's default actions,
    they are recorded but not run: they say nothing and set no slots. Forms run as Rasa runs
    them (`forms`): a form asks for its required slots one by one, the answers fill them
    through the slot mappings and its validation action ``validate_<form>`` on the action
    server, and a form that is active when the user speaks runs again.

    Args:
        nlu: what parses messages: an `NLU`, or any object whose ``parse(text)`` returns Rasa's
            parse result.
        policy: what predicts actions: a `Policy`, or any object whose ``predict(events)``
            returns ``{"scores": [{"action", "score"}, ...], "policy", "confidence"}``.
        domain: the slots and responses; default: the policy's domain.
        max_actions: actions predicted per message at most; then the bot listens anyway.
        events: the conversation so far, as `events` events (a stored conversation to go
            on with); default: a new one.
        seed: None picks the first fitting variation of a response; a number picks a random
            one, the same ones for the same seed.
        actions: what runs custom actions: an `action_server.ActionServer`, or any object
            whose ``run(action, sender_id, events, domain)`` returns the events (typed, as
            `events.events_from_json` reads them) and the responses of Rasa's action server
            protocol; default: none (custom actions are not run).
        sender_id: the conversation's sender, as the action server is told.

    Example:
        >>> bot = Bot(load("models/default"), load_policy("models/policy"))  # doctest: +SKIP
        >>> bot.respond("book a flight from Berlin to Lisbon")  # doctest: +SKIP
        [{'action': 'utter_confirm_flight', 'confidence': 0.97, 'kind': 'response',
          'text': 'Shall I book a flight from Berlin to Lisbon?'},
         {'action': 'action_listen', 'confidence': 0.99, 'kind': 'listen', 'text': None}]
    """

    def __init__(
        self,
        nlu: NLU,
        policy: Policy,
        domain: Domain | None = None,
        max_actions: int = MAX_ACTIONS,
        seed: int | None = None,
        events: Sequence[Event] | None = None,
        actions: Any = None,
        sender_id: str = "default",
    ) -> None:
        if not isinstance(max_actions, int) or max_actions < 1:
            raise ValueError(f"max_actions must be an integer >= 1, got {max_actions!r}")
        self.nlu = nlu
        self.policy = policy
        self.domain = domain if domain is not None else policy.domain
        self.max_actions = max_actions
        self._rng = random.Random(seed) if seed is not None else None
        self.actions = actions
        self.sender_id = sender_id
        self.events: list[Event] = list(events) if events else [ActionExecuted(ACTION_LISTEN)]

    @property
    def slots(self) -> dict[str, Any]:
        """Every slot's value now (``None``: not set): initial values, then the slot events
        (but those of a message the bot took back, see `respond`)."""
        return slot_values(self.events, self.domain)

    def respond(self, text: str) -> list[dict[str, Any]]:
        """Parse ``text`` (a message naming its intent, ``/greet``, is read without the NLU
        model: `shortcut_parse`), fill slots from its entities, and run the actions the policy
        predicts until it predicts ``action_listen``.

        Returns:
            One ``{"action", "confidence", "text", "kind"}`` per action, ending with
            ``action_listen``. ``kind`` is ``"response"`` (``text`` is the filled-in response,
            ``None`` if it has no text variation), ``"custom"`` (an action without a response:
            ``text`` is ``None``, or with an action server the messages it said, one per line,
            and ``messages`` lists them), ``"form"`` (``text`` and ``messages``: what its
            validation action said and the question it asked, if any; after a question the
            bot listens, ``confidence`` 1) or ``"listen"``. A form rejected by the user's
            answer is not listed (the events hold ``action_execution_rejected``); one its
            validation action rejected is, for what it said. When the domain's
            ``action_validate_slot_mappings`` says something after the message, a ``"custom"``
            entry of that name (``confidence`` ``None``) comes first. When ``max_actions`` actions
            came without ``action_listen``, the bot listens anyway: the last entry is then
            ``action_listen`` with ``confidence`` ``None``. ``action_default_fallback`` (the
            policy's core fallback) says ``utter_default`` and takes the message back, as
            Rasa's does: the next message is read as if this one had not been sent; then the
            bot listens (also ``confidence`` ``None``).

        Raises:
            DialogueError: the NLU's intent, or an action, is not in the policy's domain.
        """
        shortcut = shortcut_parse(text, self.domain.intents, self.domain.entities)
        parse = shortcut or self.nlu.parse(text)
        self.events.append(user_uttered(text, parse, "the NLU's parse result"))
        results: list[dict[str, Any]] = []
        extracted = extract_slots(self.domain, self.events, self._served(), self._run_action)
        self.events.extend(extracted)
        said = [e.text for e in extracted if isinstance(e, BotUttered) and e.text is not None]
        if said:  # the global validation action spoke (Rasa sends it before the actions)
            results.append(_said(ACTION_VALIDATE_SLOT_MAPPINGS, None, said, "custom"))
        applied = self._applied()
        loop = active_form(applied)[0] if not loop_rejected(applied) else None

        asked = False
        # Rasa's RulePolicy: a form that is active (and not rejected) when the user speaks runs
        # again
        forced = (loop, RULE_POLICY_NAME, 1.0) if loop in self.domain.forms else None
        excluded: tuple[str, ...] = ()
        for _ in range(self.max_actions):
            if forced is not None:
                action, policy_name, confidence = forced
                forced = None
            else:
                prediction = (
                    self.policy.predict(self.events, excluded=excluded)
                    if excluded
                    else self.policy.predict(self.events)
                )
                action = prediction["scores"][0]["action"]
                policy_name, confidence = prediction["policy"], prediction["confidence"]
                excluded = ()
            if action in self.domain.forms:
                step = self._form_step(action)
                if step.rejected:  # the answer filled nothing: the policies choose again
                    rejected = ActionExecutionRejected(
                        action, policy=policy_name, confidence=confidence
                    )
                    self.events.append(rejected)
                    excluded = (action,)
                    continue
                if step.rejected_by_validation:  # its events count, not its action
                    results.append(self._run_form_step(action, confidence, step))
                    excluded = (action,)
                    continue
            self.events.append(ActionExecuted(action, policy=policy_name, confidence=confidence))
            if action == ACTION_LISTEN:
                results.append(_result(action, confidence, None, "listen"))
                return results
            if action == ACTION_DEFAULT_FALLBACK:
                # Rasa's: say utter_default, take the message back (a "rewind" event, so the
                # policy sees the dialogue as before it), and listen
                response = self._say("utter_default", action)
                self.events.append(UserUtteranceReverted())
                self.events.append(ActionExecuted(ACTION_LISTEN))
                results.append(_result(action, confidence, response, "response"))
                results.append(_result(ACTION_LISTEN, None, None, "listen"))
                return results
            if action in self.domain.forms:
                results.append(self._run_form_step(action, confidence, step))
                asked = active_form(self._applied())[0] == action
                if asked:
                    break  # listen for the answer
                continue
            name = self._response_name(action)
            if name is None:
                results.append(self._run_custom(action, confidence))
                continue
            response = self._say(name, action)
            results.append(_result(action, confidence, response, "response"))
        # A form asked, or the cap: listen, so that the next message is read as the user's turn.
        self.events.append(ActionExecuted(ACTION_LISTEN))
        results.append(_result(ACTION_LISTEN, 1.0 if asked else None, None, "listen"))
        return results

    def _applied(self) -> list[Event]:
        """The events that still count (`events.applied_events`)."""
        return applied_events(self.events, self.domain.initial_slot_values)

    def _form_step(self, form: str) -> FormStep:
        """What the form does now (`forms.run_form`); a validation action or question that did
        not run loses all of the form's events (logged), as in Rasa, and one the action server
        rejected rejects the form."""
        try:
            return run_form(form, self.domain, self.events, self._served(), self._run_action)
        except ActionRejectedError as error:
            logger.warning("%s; form %r is rejected", error, form)
            return FormStep(rejected=True)
        except ActionServerError as error:
            logger.warning("%s; form %r goes on without its events", error, form)
            return FormStep()

    def _run_form_step(self, form: str, confidence: float | None, step: FormStep) -> dict:
        """Record a form's events (its validation's messages and its question among them)."""
        self.events.extend(step.events)
        said = [e.text for e in step.events if isinstance(e, BotUttered) and e.text is not None]
        return _said(form, confidence, said, "form")

    def _served(self) -> tuple[str, ...]:
        """The custom actions that run: the domain's, with an action server."""
        return tuple(self.domain.actions) if self.actions is not None else ()

    def _run_action(self, action: str, events: list[Event]) -> list[Event]:
        """Run a response or a custom action in the conversation ``events`` (a form's, or the
        slot extraction's, temporary tracker in Rasa): the messages it says, then its events
        (`forms.ActionRunner`). A response is filled in from the slots of ``events``.

        Raises:
            ActionServerError: the action server did not run the custom action.
        """
        slots = slot_values(events, self.domain)
        if action in self.domain.responses:
            text = choose_variation(self.domain.responses[action], slots, self._rng)
            return [] if text is None else [BotUttered(text, metadata={"utter_action": action})]
        if self.actions is None or action not in self.domain.actions:
            return []
        returned, responses = self.actions.call(action, self.sender_id, events, self.domain)
        said: list[Event] = []
        for response in responses:
            name = response.get("response") or response.get("template")
            # Rasa's create_bot_utterance keeps the response's other keys as metadata
            metadata = {k: v for k, v in response.items() if v and k not in _MESSAGE_KEYS}
            if response.get("text") is not None:
                said.append(BotUttered(str(response["text"]), metadata=metadata))
            elif name and str(name) in self.domain.responses:
                for uttered in self._run_action(str(name), events):
                    said.append(BotUttered(uttered.text, metadata=uttered.metadata | metadata))
        return said + returned

    def _run_custom(self, action: str, confidence: float | None) -> dict[str, Any]:
        """Run a custom action on the action server, if there is one: its events join the
        conversation, and its responses are said (a named response filled in from the slots,
        as `_say` does)."""
        if self.actions is None or action not in self.domain.actions:
            return _result(action, confidence, None, "custom")
        returned, responses = self.actions.run(action, self.sender_id, self.events, self.domain)
        self.events.extend(returned)
        messages = []
        for response in responses:
            name = response.get("response") or response.get("template")
            if response.get("text") is not None:
                text = str(response["text"])
                self.events.append(BotUttered(text, metadata={}))
            elif name:
                text = self._say(str(name), action)
            else:
                text = None  # an image, buttons or a custom payload only: no text to say
            if text is not None:
                messages.append(text)
        result = _result(action, confidence, "\n".join(messages) or None, "custom")
        result["messages"] = messages
        return result

    def _response_name(self, action: str) -> str | None:
        """The response ``action`` says: its own, or for a retrieval action (``utter_faq``) the
        one of the last message's retrieval intent (``faq/ask_price``: ``utter_faq/ask_price``),
        as Rasa's ResponseSelector picks it; None for an action without one."""
        if action in self.domain.responses:
            return action
        users = [e for e in self._applied() if isinstance(e, UserUttered)]
        intent = users[-1].full_intent if users else None
        base, _, sub = (intent or "").partition(RETRIEVAL_SEPARATOR)
        name = f"{action}{RETRIEVAL_SEPARATOR}{sub}"
        return name if sub and action == f"utter_{base}" and name in self.domain.responses else None

    def _say(self, response_name: str, action: str) -> str | None:
        """A variation of the response filled in, recorded as a ``bot`` event; None for a
        response without text (or none of that name)."""
        texts = self.domain.responses.get(response_name, ())
        response = choose_variation(texts, self.slots, self._rng)
        if response is not None:
            self.events.append(BotUttered(response, metadata={"utter_action": action}))
        return response


def slot_values(events: Sequence[Event], domain: Domain) -> dict[str, Any]:
    """Every slot's value after ``events``: the domain's initial values, then the slot events
    that still count (`events.applied_events`; a `AllSlotsReset` puts every slot back to its
    initial value, as Rasa's)."""
    return _slot_values(events, domain.initial_slot_values)


def _said(action: str, confidence: float | None, said: list[str], kind: str) -> dict:
    result = _result(action, confidence, "\n".join(said) or None, kind)
    result["messages"] = said
    return result


def _result(action: str, confidence: float | None, text: str | None, kind: str) -> dict:
    return {"action": action, "confidence": confidence, "text": text, "kind": kind}
