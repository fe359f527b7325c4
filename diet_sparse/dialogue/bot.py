"""A small bot: an NLU model and a dialogue policy answering messages as Rasa's agent does. Each
message is parsed, slots are filled from its entities, and the policy picks actions until it
listens; responses are filled in from the slots, and custom actions run on an action server
when there is one. No TensorFlow needed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
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
from diet_sparse.dialogue.responses import (
    OUTPUT_CHANNEL,
    action_server_messages,
    bot_uttered,
    choose_variation,
    fill_response,
    outgoing_message,
)
from diet_sparse.dialogue.rules import RULE_POLICY_NAME
from diet_sparse.errors import ActionRejectedError, ActionServerError, DialogueError
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
from diet_sparse.rasa.intent_message import shortcut_parse
from diet_sparse.rasa.yaml_reading import did_you_mean

__all__ = ["Bot", "choose_variation", "fill_response", "shortcut_parse", "slot_values"]

logger = logging.getLogger(__name__)

# Actions predicted for one message before the bot gives up and listens (Rasa's
# max_number_of_predictions): a policy that never predicts action_listen cannot loop for ever.
MAX_ACTIONS = 10
# Action scores kept with each action the bot runs (`decision_metadata`), for the chat page's
# inspector.
DECISION_SCORES = 5
# Why the bot runs an action the policy did not predict, as `decision_metadata`'s ``rule``
FORM_RUNS_AGAIN = "the active form runs again when the user speaks"
FORM_ASKED = "the form asked for a slot: listen for the answer"
FALLBACK_LISTENS = "after the fallback the bot listens"
# The metadata key marking a message or an action corrected by hand (the chat page's corrections)
CORRECTED = "corrected"


class Bot:
    """A conversation with an NLU model and a dialogue policy, kept as tracker events
    (`events`; `events.events_as_json` writes them as Rasa's tracker JSON).

    ``events`` starts with ``action_listen`` (as every story does) and grows with each message:
    a `UserUttered` (``parse_data`` is the NLU's parse result), a `SlotSet` for each slot
    that the domain's slot mappings fill from the message (`forms.slots_from_message`), then
    for each predicted action an `ActionExecuted` (``name``, ``policy``, ``confidence``), each
    followed by a `BotUttered` when the action is a response.

    Responses are said as Rasa says them (`responses`): a variation whose ``condition``
    holds is preferred, slots are filled into every field, and the ``bot`` event keeps the
    buttons, image, custom payload and the rest in its ``data``. Custom actions (the domain's
    ``actions``) run on an action server when ``actions`` is given
    (`action_server.ActionServer`): the messages they say and then their events join the
    conversation. Without one, and for Rasa's default actions,
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
        output_channel: the channel responses are said on: a variation naming it (``channel:``)
            is preferred, one naming another is never said; default: ``collector``, the name
            of Rasa's REST channel's output.

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
        output_channel: str = OUTPUT_CHANNEL,
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
        self.output_channel = output_channel
        self.events: list[Event] = list(events) if events else [ActionExecuted(ACTION_LISTEN)]

    @property
    def slots(self) -> dict[str, Any]:
        """Every slot's value now (``None``: not set): initial values, then the slot events
        (but those of a message the bot took back, see `respond`)."""
        return slot_values(self.events, self.domain)

    def respond(
        self, text: str, parse: dict[str, Any] | None = None, metadata: dict | None = None
    ) -> list[dict[str, Any]]:
        """Parse ``text`` (a message naming its intent, ``/greet``, is read without the NLU
        model: `shortcut_parse`), fill slots from its entities, and run the actions the policy
        predicts until it predicts ``action_listen``. A given ``parse`` (Rasa's parse result,
        e.g. a message's parse corrected by hand) is taken instead of parsing ``text``; the
        message's event keeps ``metadata`` (Rasa's message metadata), if given.

        Returns:
            One ``{"action", "confidence", "text", "kind", "bot_messages"}`` per action, ending
            with ``action_listen``. ``bot_messages`` are the messages the action said, whole,
            as Rasa hands them to its output channel (`responses.outgoing_message`: text,
            buttons, image, custom, ...; `responses.collected_messages` gives what Rasa's REST
            channel sends of each). ``kind`` is ``"response"`` (``text`` is the filled-in response,
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
        start = len(self.events)
        results = self._run_actions(text, parse, metadata)
        return _with_bot_messages(results, self.events[start:])

    def run(self, action: str) -> list[dict[str, Any]]:
        """Run ``action`` now, as if the policy had predicted it (an action corrected by hand,
        as ``rasa interactive`` runs the one its user picks: no policy, no confidence), then the
        actions the policy predicts until it listens; returns what `respond` returns.

        Raises:
            DialogueError: ``action`` is not one of the policy's actions.
        """
        if action not in self.domain.action_names:
            hint = did_you_mean(action, self.domain.action_names)
            raise DialogueError(f"action {action!r} is not in the domain{hint}")
        start = len(self.events)
        results = self._act(forced=(action, None, None))
        return _with_bot_messages(results, self.events[start:])

    def _parse(self, text: str) -> dict[str, Any]:
        """The parse result of ``text``: a message naming an intent of the domain is read
        without the model (`shortcut_parse`), others (and those naming another intent) by the
        NLU, as Rasa's RegexMessageHandler does with the domain."""
        shortcut = shortcut_parse(text, self.domain.intents, self.domain.entities)
        if shortcut is not None:
            return shortcut
        if isinstance(self.nlu, NLU):  # it reads /intent messages too: against the domain
            return self.nlu.parse(text, domain=self.domain)
        return self.nlu.parse(text)

    def _run_actions(
        self, text: str, parse: dict[str, Any] | None, metadata: dict | None
    ) -> list[dict[str, Any]]:
        """`respond` without the bot messages in the results."""
        if parse is None:
            parse = self._parse(text)
        message = user_uttered(text, parse, "the NLU's parse result")
        if metadata is not None:
            message = dataclasses.replace(message, metadata=metadata)
        self.events.append(message)
        results: list[dict[str, Any]] = []
        extracted = extract_slots(self.domain, self.events, self._served(), self._run_action)
        self.events.extend(extracted)
        said = [e.text for e in extracted if isinstance(e, BotUttered) and e.text is not None]
        if said:  # the global validation action spoke (Rasa sends it before the actions)
            results.append(_said(ACTION_VALIDATE_SLOT_MAPPINGS, None, said, "custom"))
        applied = self._applied()
        loop = active_form(applied)[0] if not loop_rejected(applied) else None

        # Rasa's RulePolicy: a form that is active (and not rejected) when the user speaks runs
        # again
        forced = (loop, RULE_POLICY_NAME, 1.0) if loop in self.domain.forms else None
        return results + self._act(forced)

    def _act(self, forced: tuple[str, str | None, float | None] | None) -> list[dict[str, Any]]:
        """Run ``forced`` (action, policy, confidence) first, if given, then the actions the
        policy predicts, until it listens. Each action's event keeps in its ``metadata`` why it
        was chosen (`decision_metadata`), as Rasa keeps a prediction's ``action_metadata``."""
        results: list[dict[str, Any]] = []
        excluded: tuple[str, ...] = ()
        asked = False
        for _ in range(self.max_actions):
            if forced is not None:
                action, policy_name, confidence = forced
                metadata = _forced_metadata(action, policy_name)
                forced = None
            else:
                prediction = (
                    self.policy.predict(self.events, excluded=excluded)
                    if excluded
                    else self.policy.predict(self.events)
                )
                action = prediction["scores"][0]["action"]
                policy_name, confidence = prediction["policy"], prediction["confidence"]
                metadata = decision_metadata(prediction)
                excluded = ()
            if action in self.domain.forms:
                step = self._form_step(action)
                if step.rejected:  # the answer filled nothing: the policies choose again
                    rejected = ActionExecutionRejected(
                        action, policy=policy_name, confidence=confidence, metadata=metadata
                    )
                    self.events.append(rejected)
                    excluded = (action,)
                    continue
                if step.rejected_by_validation:  # its events count, not its action
                    results.append(self._run_form_step(action, confidence, step))
                    excluded = (action,)
                    continue
            self.events.append(
                ActionExecuted(action, policy=policy_name, confidence=confidence, metadata=metadata)
            )
            if action == ACTION_LISTEN:
                results.append(_result(action, confidence, None, "listen"))
                return results
            if action == ACTION_DEFAULT_FALLBACK:
                # Rasa's: say utter_default, take the message back (a "rewind" event, so the
                # policy sees the dialogue as before it), and listen
                response = self._say("utter_default", action)
                self.events.append(UserUtteranceReverted())
                self.events.append(
                    ActionExecuted(ACTION_LISTEN, metadata=_listen_metadata(FALLBACK_LISTENS))
                )
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
        reason = FORM_ASKED if asked else f"{self.max_actions} actions without action_listen"
        self.events.append(ActionExecuted(ACTION_LISTEN, metadata=_listen_metadata(reason)))
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
        """The custom actions that run, with an action server: the domain's, and those its
        slots' ``custom`` mappings name (Rasa calls them whether the domain lists them or not)."""
        if self.actions is None:
            return ()
        return tuple(dict.fromkeys([*self.domain.actions, *self.domain.mapping_actions]))

    def _run_action(self, action: str, events: list[Event]) -> list[Event]:
        """Run a response or a custom action in the conversation ``events`` (a form's, or the
        slot extraction's, temporary tracker in Rasa): the messages it says, then its events
        (`forms.ActionRunner`). A response is filled in from the slots of ``events``.

        Raises:
            ActionServerError: the action server did not run the custom action.
        """
        slots = slot_values(events, self.domain)
        if action in self.domain.responses:
            message = choose_variation(
                self.domain.responses[action], slots, self._rng, self.output_channel
            )
            if message is None:
                return []
            message["utter_action"] = action
            return [bot_uttered(message)]
        if action not in self._served():
            return []
        returned, answers = self.actions.call(action, self.sender_id, events, self.domain)
        messages = action_server_messages(
            answers, self.domain.responses, slots, self._rng, self.output_channel
        )
        return [bot_uttered(message) for message in messages] + returned

    def _run_custom(self, action: str, confidence: float | None) -> dict[str, Any]:
        """Run a custom action on the action server, if there is one: its events join the
        conversation after the messages it says (`responses.action_server_messages`)."""
        if self.actions is None or action not in self.domain.actions:
            return _result(action, confidence, None, "custom")
        returned, answers = self.actions.run(action, self.sender_id, self.events, self.domain)
        # as Rasa's RemoteAction: the messages are filled from the slots before the action's
        # events, and come before them in the conversation
        said = [
            bot_uttered(message)
            for message in action_server_messages(
                answers, self.domain.responses, self.slots, self._rng, self.output_channel
            )
        ]
        self.events.extend(said)
        self.events.extend(returned)
        messages = [str(event.text) for event in said if event.text is not None]
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
        """Say a variation of the response (`responses.choose_variation`), recorded as a
        ``bot`` event whose metadata names the response (``utter_action``, as Rasa's, whichever
        ``action`` says it); its text (None: it has none, or the response has no variation
        that fits)."""
        message = choose_variation(
            self.domain.responses.get(response_name, ()),
            self.slots,
            self._rng,
            self.output_channel,
        )
        if message is None:
            return None
        message["utter_action"] = response_name
        event = bot_uttered(message)
        self.events.append(event)
        return event.text


def slot_values(events: Sequence[Event], domain: Domain) -> dict[str, Any]:
    """Every slot's value after ``events``: the domain's initial values, then the slot events
    that still count (`events.applied_events`; a `AllSlotsReset` puts every slot back to its
    initial value, as Rasa's)."""
    return _slot_values(events, domain.initial_slot_values)


def decision_metadata(prediction: dict[str, Any]) -> dict[str, Any]:
    """Why the policy chose its action, to keep in the action event's ``metadata``:
    ``{"scores": [...]}``, the prediction's `DECISION_SCORES` best action scores, and ``rule``,
    the rule or reason of a `RulePolicy` prediction, when it has one."""
    metadata: dict[str, Any] = {"scores": prediction["scores"][:DECISION_SCORES]}
    if prediction.get("rule"):
        metadata["rule"] = prediction["rule"]
    return metadata


def _forced_metadata(action: str, policy_name: str | None) -> dict[str, Any]:
    """`decision_metadata` of an action not predicted: the active form run again (``policy``
    `RULE_POLICY_NAME`), or one corrected by hand (no policy)."""
    if policy_name is None:
        return {"scores": [], CORRECTED: True}
    return {"scores": [{"action": action, "score": 1.0}], "rule": FORM_RUNS_AGAIN}


def _listen_metadata(reason: str) -> dict[str, Any]:
    return {"scores": [{"action": ACTION_LISTEN, "score": 1.0}], "rule": reason}


def _said(action: str, confidence: float | None, said: list[str], kind: str) -> dict:
    result = _result(action, confidence, "\n".join(said) or None, kind)
    result["messages"] = said
    return result


def _result(action: str, confidence: float | None, text: str | None, kind: str) -> dict:
    return {"action": action, "confidence": confidence, "text": text, "kind": kind}


def _with_bot_messages(results: list[dict], events: Sequence[Event]) -> list[dict]:
    """``results`` with each action's ``bot_messages``: those of the ``bot`` events after its
    ``action`` event (the results follow the actions in order)."""
    for result in results:
        result["bot_messages"] = []
    current: dict | None = None
    waiting = iter(results)
    upcoming = next(waiting, None)
    for event in events:
        if isinstance(event, ActionExecuted) and upcoming and event.name == upcoming["action"]:
            current, upcoming = upcoming, next(waiting, None)
        elif isinstance(event, BotUttered) and current is not None:
            current["bot_messages"].append(outgoing_message(event))
    return results
