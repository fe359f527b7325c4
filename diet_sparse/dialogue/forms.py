"""Forms and slot mappings in a live conversation, as Rasa 3.6 runs them.

After each user message Rasa's ``action_extract_slots`` fills slots through the domain's slot
mappings (`extract_slots`: `slots_from_message`, then the global validation action
``action_validate_slot_mappings`` on the action server when the domain lists it). A form that
the policies predict (or that is active when the user speaks) asks for its required slots one
at a time; `run_form` returns its events in Rasa's order (``FormAction`` and ``LoopAction`` of
``rasa/core/actions/forms.py`` and ``loops.py``):

- Not active: ``active_loop`` is set, the slot mappings are read again on the latest message
  with the form active (so mappings with its ``conditions`` and ``from_trigger_intent`` ones
  fill slots from the message that started it), and the required slots then set are
  validated.
- Active, right after a user message: the required slots (and the requested one) set since
  the message are the candidates. The form's validation action ``validate_<form>`` (when the
  domain lists it and an action server runs it) gets the conversation with the candidates as
  its last ``slot`` events, and Rasa SDK's ``FormValidationAction`` extracts custom slots
  (``extract_<slot>``) and returns a ``slot`` event for each slot it validated: ``None``
  rejects a value, so the form asks again; a ``requested_slot`` event asks for a slot of its
  choosing (SDK's ``required_slots``), ``requested_slot`` ``None`` ends the form. When a slot
  was requested and neither the message nor the validation set any slot, the form is
  *rejected* (Rasa's ``ActionExecutionRejection``) and the policies choose another action; a
  validation action may also reject it itself (an ``action_execution_rejected`` event).
- Back after another action: the validation action runs without candidates.
- Then it asks for the slot the validation requested, else the first required slot still
  unset: ``requested_slot`` is set to it and the question is the first of
  ``action_ask_<form>_<slot>``, ``utter_ask_<form>_<slot>``, ``action_ask_<slot>``,
  ``utter_ask_<slot>`` that the domain has; the bot then listens. With nothing left to ask the
  form ends (``requested_slot`` unset, then active loop ``null``) and the policies go on.

Not done (Rasa has them): the ``LoopInterrupted`` events of Rasa's RulePolicy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from diet_sparse.errors import ActionServerError
from diet_sparse.rasa.domain import (
    ACTION_LISTEN,
    REQUESTED_SLOT,
    Domain,
    mapping_entity_key,
    values_for_mapping,
)
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
    applied_events,
    slot_values,
)

logger = logging.getLogger(__name__)

# Rasa's global validation action (Rasa SDK's ValidationAction), run after each user message
# when the domain lists it.
ACTION_VALIDATE_SLOT_MAPPINGS = "action_validate_slot_mappings"

# Runs an action (a response or a custom action on the action server) in a conversation given
# as its events, as Rasa runs it on a temporary tracker: the events it adds, the messages it
# says (`BotUttered`) first. It raises `errors.ActionServerError` where the action did not run.
ActionRunner = Callable[[str, list[Event]], list[Event]]


@dataclass(frozen=True)
class FormStep:
    """What a form action does: the events it adds (its messages among them, as `BotUttered`
    events), the question it asks (an action or a response name, or None when it asks
    nothing), and whether it was rejected (Rasa's ``ActionExecutionRejection``: no events)."""

    events: list[Event] = field(default_factory=list)
    ask: str | None = None
    rejected: bool = False

    @property
    def rejected_by_validation(self) -> bool:
        """Whether its validation action rejected it (an ``action_execution_rejected``
        event among its events): Rasa then logs its events but not the form's own action."""
        return any(isinstance(event, ActionExecutionRejected) for event in self.events)


def active_form(events: Sequence[Event]) -> tuple[str | None, str | None]:
    """The active loop and the requested slot after ``events`` (applied events, see
    `events.applied_events`)."""
    loop = requested = None
    for event in events:
        if isinstance(event, ActiveLoop):
            loop = event.name
        elif isinstance(event, SlotSet) and event.name == REQUESTED_SLOT:
            requested = event.value
    return loop, requested


def loop_rejected(events: Sequence[Event]) -> bool:
    """Whether the active loop was rejected (``action_execution_rejected``) and has not run
    since (``events``: applied events): Rasa's RulePolicy then does not run it again by itself.
    """
    rejected = False
    loop = None
    for event in events:
        if isinstance(event, ActiveLoop):
            loop, rejected = event.name, False
        elif isinstance(event, ActionExecutionRejected) and event.name == loop is not None:
            rejected = True
        elif isinstance(event, ActionExecuted) and event.name == loop:
            rejected = False
    return rejected and loop is not None


def extract_slots(
    domain: Domain,
    events: Sequence[Event],
    actions: Sequence[str] = (),
    run: ActionRunner | None = None,
) -> list[Event]:
    """The events of Rasa's ``action_extract_slots`` after the conversation's last user
    message: a `SlotSet` for each slot its mappings fill (`slots_from_message`), and at the
    place of each ``custom`` mapping that names an ``action`` (one of ``actions``, those an
    action server runs, with ``run``) the slot events of that action, each action run once,
    validated by ``action_validate_slot_mappings`` when it is one of ``actions``. As Rasa's
    ``_execute_validation_action``, that action gets the conversation with the slot events
    added; its ``slot`` and ``bot`` events come first, then the slot events for the slots it
    did not return. An action that did not run loses its events (logged by ``run``'s caller),
    and the slot events stand.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> from diet_sparse.rasa.events import user_uttered
        >>> parse = {"intent": {"name": "book"}, "entities": [{"entity": "seat", "value": "aisle"}]}
        >>> extract_slots(load_domain(example_domain_file()), [user_uttered("aisle", parse)])
        [SlotSet(name='seat', value='aisle')]
    """
    applied = applied_events(events, domain.initial_slot_values)
    loop, requested = active_form(applied)
    text, parse = _latest_message(applied)
    found: list[Event] = []
    ran = set()
    for slot, value, action in _mapped(
        domain, text, parse, loop, requested, loop_rejected(applied)
    ):
        if action is None:
            found.append(SlotSet(slot, value))
        elif action not in ran and run is not None and action in actions:
            ran.add(action)  # Rasa runs each once, on the conversation as it came, and keeps
            # only its slot events (its messages are dropped with the rest)
            found += [
                e for e in _run_or_nothing(run, action, list(events)) if isinstance(e, SlotSet)
            ]
    if run is None or ACTION_VALIDATE_SLOT_MAPPINGS not in actions:
        return found
    returned = _run_or_nothing(run, ACTION_VALIDATE_SLOT_MAPPINGS, [*events, *found])
    kept = [e for e in returned if isinstance(e, SlotSet | BotUttered)]  # Rasa drops the rest
    validated = {e.name for e in kept if isinstance(e, SlotSet)}
    return kept + [e for e in found if isinstance(e, SlotSet) and e.name not in validated]


def slots_from_message(
    domain: Domain,
    text: str,
    parse: dict[str, Any],
    active_loop: str | None = None,
    requested_slot: str | None = None,
    loop_rejected: bool = False,
) -> list[tuple[str, Any]]:
    """The slots a user message fills, as Rasa's ``action_extract_slots`` fills them.

    The first of a slot's mappings that gives a value fills it: ``from_entity`` (entity, role
    and group match; the last value, or all of them for a list slot), ``from_text`` (the
    message's text), ``from_intent`` (the mapping's ``value``) and ``from_trigger_intent`` (its
    ``value``, while a form is active: one its ``conditions`` name, if any). Mappings apply when
    the message's intent suits the mapping's ``intent`` and ``not_intent`` (and is not one of
    the active form's ``ignored_intents``, unless the mapping's ``conditions`` name only other
    loops) and, for a mapping with ``conditions`` (but ``from_trigger_intent``), when one of
    them names the active loop (and, if it names one, the requested slot). While a form is
    active, a ``from_entity`` mapping fills a slot the form did not ask for only when no other
    required slot of the form maps that entity too (Rasa's unique entity mapping). The
    domain's ``store_entities_as_slots: false`` turns off the ``from_entity`` mappings only.
    While the form is rejected (``loop_rejected``), the requested slot's mappings with
    ``conditions`` fill nothing.

    Returns:
        ``(slot, value)`` pairs, in the order the slots are declared.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> domain = load_domain(example_domain_file())
        >>> parse = {"intent": {"name": "book"}, "entities": [{"entity": "seat", "value": "aisle"}]}
        >>> slots_from_message(domain, "an aisle seat", parse)
        [('seat', 'aisle')]
    """
    mapped = _mapped(domain, text, parse, active_loop, requested_slot, loop_rejected)
    return [(slot, value) for slot, value, action in mapped if action is None]


def _mapped(
    domain: Domain,
    text: str,
    parse: dict[str, Any],
    active_loop: str | None,
    requested_slot: str | None,
    loop_rejected: bool,
) -> list[tuple[str, Any, str | None]]:
    """`slots_from_message`'s ``(slot, value)`` pairs as ``(slot, value, None)``, and where a
    ``custom`` mapping with an ``action`` applies (Rasa's ``ActionExtractSlots.run`` reaches
    it), ``(slot, None, action)``, in Rasa's order."""
    intent = (parse.get("intent") or {}).get("name") or ""
    entities = [
        (e.get("entity"), e.get("value"), e.get("role"), e.get("group"))
        for e in parse.get("entities", [])
    ]
    required = domain.forms.get(active_loop or "", ())
    filled: list[tuple[str, Any, str | None]] = []
    for slot in domain.slots.values():
        values = []
        for mapping in slot.mappings:
            kind = mapping.get("type")
            if not _intent_suits(mapping, intent, _ignored_intents(domain, mapping, active_loop)):
                continue
            if kind != "from_trigger_intent" and not _conditions_hold(
                mapping, active_loop, requested_slot
            ):
                continue
            if mapping.get("conditions") and loop_rejected and slot.name == requested_slot:
                continue  # Rasa: a rejected form's requested slot waits for the form
            if kind == "from_entity":
                if not domain.store_entities_as_slots:  # the domain's switch, entity slots only
                    continue
                if slot.name in required and slot.name != requested_slot:
                    if _entity_maps_another_slot(domain, mapping, slot.name, required):
                        continue
                values += values_for_mapping(mapping, entities)
            elif kind == "from_text":
                values.append(text)
            elif kind == "from_intent" and "value" in mapping:
                values.append(mapping["value"])
            elif kind == "from_trigger_intent" and _triggered(mapping, active_loop):
                values.append(mapping.get("value"))
            elif kind == "custom" and mapping.get("action"):
                filled.append((slot.name, None, mapping["action"]))
            if values:
                break  # as Rasa's ActionExtractSlots: the first mapping with a value fills it
        if values:
            filled.append((slot.name, values if slot.type == "list" else values[-1], None))
    return filled


def run_form(
    form: str,
    domain: Domain,
    events: Sequence[Event],
    actions: Sequence[str] = (),
    run: ActionRunner | None = None,
) -> FormStep:
    """What the form action ``form`` does now (see the module's description), step by step
    as Rasa 3.6's ``LoopAction.run`` and ``FormAction``.

    Args:
        form: A form of the domain.
        domain: Its domain.
        events: The conversation's events, the form's own ``action`` event not yet among them.
        actions: The custom actions an action server runs: ``validate_<form>``,
            ``action_validate_slot_mappings`` and ``action_ask_*`` run only when listed here.
        run: Runs the form's question and its validation action (`ActionRunner`); None:
            neither runs (the question is still named in `FormStep.ask`).

    Raises:
        ActionServerError: from ``run``: the validation action or the question did not run
            (Rasa then loses all of the form's events).

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> domain = load_domain(example_domain_file())
        >>> run_form("booking_form", domain, [ActionExecuted("action_listen")]).events
        [ActiveLoop(name='booking_form'), SlotSet(name='requested_slot', value='seat')]
    """
    form_run = _FormRun(form, domain, list(events), actions, run)
    return form_run.step()


@dataclass
class _FormRun:
    """One run of a form action; the methods are those of Rasa's ``FormAction`` of the same
    names."""

    form: str
    domain: Domain
    events: list[Event]  # the conversation; at activation with the slots extracted again
    actions: Sequence[str]
    run: ActionRunner | None
    asked: str | None = None  # the question asked
    active: bool = False  # whether the form was the active loop before this run
    slot_to_fill: str | None = None  # Rasa's get_slot_to_fill: its requested slot, if active

    def step(self) -> FormStep:
        applied = applied_events(self.events, self.domain.initial_slot_values)
        loop, requested = active_form(applied)
        self.active = loop == self.form
        self.slot_to_fill = requested if self.active else None
        added: list[Event] = []
        if not self.active:
            added = [ActiveLoop(self.form), *self.activate()]
        if not _is_done(added):
            try:
                added += self.do(added, loop is not None, _latest_action(applied))
            except _Rejected:
                return FormStep(rejected=True)
        if _is_done(added):
            added.append(ActiveLoop(None))
        return FormStep(added, self.asked)

    def activate(self) -> list[Event]:
        """Rasa 3.6 runs ``action_extract_slots`` again on the latest message, on a copy of
        the conversation with the form active (``FormAction._activate_loop``), and validates
        the required slots that are then set."""
        active = [*self.events, ActiveLoop(self.form)]  # Rasa's temporary tracker
        extracted = [
            e
            for e in extract_slots(self.domain, active, self.actions, self.run)
            if isinstance(e, SlotSet)
        ]
        self.events += extracted  # Rasa updates the tracker the form runs on with them
        if self._validation_action() is None:
            return extracted
        slots = slot_values(self.events, self.domain.initial_slot_values)
        prefilled = {
            name: slots.get(name)
            for name in self.domain.forms[self.form]
            if slots.get(name) is not None
        }
        validated = self.validate_slots(prefilled)
        names = {e.name for e in validated if isinstance(e, SlotSet)}
        return validated + [e for e in extracted if e.name not in names]

    def do(self, so_far: list[Event], loop_was_active: bool, latest_action: str | None) -> list:
        added: list[Event] = []
        if not [e for e in so_far if not isinstance(e, ActiveLoop)]:
            # _validate_if_required: at activation, or right after the user spoke
            if not loop_was_active or latest_action == ACTION_LISTEN:
                added = self.validate()
            else:  # back after another action: nothing to validate, but ask the action
                added = self.validate_slots({})
        if not any(isinstance(e, ActionExecutionRejected) for e in added):
            added += self.request_next_slot([*so_far, *added])
        return added

    def validate(self) -> list[Event]:
        candidates = self._slot_extractions()
        validated = self.validate_slots(candidates)
        some_validated = any(isinstance(e, SlotSet) and e.name != REQUESTED_SLOT for e in validated)
        rejected_itself = any(isinstance(e, ActionExecutionRejected) for e in validated)
        if self.slot_to_fill and not candidates and not some_validated and not rejected_itself:
            raise _Rejected  # the requested slot was not filled: other policies choose
        return validated

    def _slot_extractions(self) -> dict[str, Any]:
        """The slot events since the latest user message, of the form's required slots and the
        requested one (`_get_slot_extractions`): the last value of each."""
        wanted = set(self.domain.forms[self.form]) | {self.slot_to_fill} - {None}
        since: list[Event] = []
        for event in reversed(self.events):
            if isinstance(event, UserUttered):
                break
            since.append(event)
        return {
            e.name: e.value for e in reversed(since) if isinstance(e, SlotSet) and e.name in wanted
        }

    def validate_slots(self, candidates: dict[str, Any]) -> list[Event]:
        """The validation action's events for ``candidates`` (none without one): it runs on
        the conversation, ``requested_slot`` and the form's action, then the candidates."""
        name = self._validation_action()
        if name is None or self.run is None:
            return []
        slot_events = [SlotSet(slot, value) for slot, value in candidates.items()]
        return self.run(name, self._temporary(slot_events))

    def request_next_slot(self, so_far: list[Event]) -> list[Event]:
        if _is_done(so_far):  # the validation action ended the form
            return [SlotSet(REQUESTED_SLOT, None)]
        slot = next((e.value for e in so_far if _sets_requested_slot(e)), None)
        temporary = self._temporary(so_far)
        added: list[Event] = []
        if not slot:
            slots = slot_values(temporary, self.domain.initial_slot_values)
            slot = next((s for s in self.domain.forms[self.form] if slots.get(s) is None), None)
            added.append(SlotSet(REQUESTED_SLOT, slot))
        if not slot:
            return [SlotSet(REQUESTED_SLOT, None)]  # nothing left to ask: the form ends
        self.asked = _question(self.form, slot, self.domain)
        if self.asked is not None and self.run is not None:
            runs = self.asked in self.domain.responses or self.asked in self.actions
            added += self.run(self.asked, temporary) if runs else []
        return added

    def _temporary(self, added: list[Event]) -> list[Event]:
        """Rasa's ``_temporary_tracker``: the conversation, the form's requested slot and its
        action, then ``added``."""
        own = [SlotSet(REQUESTED_SLOT, self.slot_to_fill), ActionExecuted(self.form)]
        return [*self.events, *own, *added]

    def _validation_action(self) -> str | None:
        name = f"validate_{self.form}"
        return name if name in self.actions else None


class _Rejected(Exception):
    """Rasa's ActionExecutionRejection, inside `run_form`."""


def _is_done(events: Sequence[Event]) -> bool:
    """Rasa's ``FormAction.is_done``: not rejected, and the last ``requested_slot`` event
    unsets it or the last ``active_loop`` event ends the loop."""
    if any(isinstance(e, ActionExecutionRejected) for e in events):
        return False
    requested = next((e for e in reversed(events) if _sets_requested_slot(e)), None)
    loop = next((e for e in reversed(events) if isinstance(e, ActiveLoop)), None)
    return (requested is not None and requested.value is None) or (
        loop is not None and loop.name is None
    )


def _sets_requested_slot(event: Event) -> bool:
    return isinstance(event, SlotSet) and event.name == REQUESTED_SLOT


def _question(form: str, slot: str, domain: Domain) -> str | None:
    """The action asking for ``slot``: the first of Rasa's search path the domain has."""
    for name in (
        f"action_ask_{form}_{slot}",
        f"utter_ask_{form}_{slot}",
        f"action_ask_{slot}",
        f"utter_ask_{slot}",
    ):
        if name in domain.actions or name in domain.responses:
            return name
    return None


def _latest_action(events: Sequence[Event]) -> str | None:
    return next((e.name for e in reversed(events) if isinstance(e, ActionExecuted)), None)


def _latest_message(events: Sequence[Event]) -> tuple[str, dict[str, Any]]:
    """The text and parse result of the last user message ("" and an empty parse if none)."""
    user = next((e for e in reversed(events) if isinstance(e, UserUttered)), None)
    if user is None:
        return "", {}
    parse = user.as_json().get("parse_data") or {}
    return user.text or "", parse


def _run_or_nothing(run: ActionRunner, action: str, events: list[Event]) -> list[Event]:
    """``run``, with no events where the action did not run (as Rasa's ActionExtractSlots
    goes on without them; logged)."""
    try:
        return run(action, events)
    except ActionServerError as error:
        logger.warning("%s; slot extraction goes on without its events", error)
        return []


def _intent_suits(mapping: dict, intent: str, ignored: Sequence[str] = ()) -> bool:
    """Rasa's ``SlotMapping.intent_is_desired``: one of the mapping's ``intent`` list, or,
    when it lists none, neither one of its ``not_intent`` list (each a name or a list) nor one
    of ``ignored`` (`_ignored_intents`)."""
    wanted, unwanted = (_as_list(mapping.get(key)) for key in ("intent", "not_intent"))
    return intent in wanted if wanted else intent not in [*unwanted, *ignored]


def _ignored_intents(domain: Domain, mapping: dict, active_loop: str | None) -> tuple[str, ...]:
    """The active form's ``ignored_intents``, unless the mapping has ``conditions`` and none
    names that form (Rasa's ``SlotMapping._get_active_loop_ignored_intents``)."""
    if active_loop is None or (mapping.get("conditions") and active_loop not in _loops(mapping)):
        return ()
    return domain.form_ignored_intents.get(active_loop, ())


def _triggered(mapping: dict, active_loop: str | None) -> bool:
    """Whether a ``from_trigger_intent`` mapping fills its slot: a loop is active and, when the
    mapping has ``conditions``, one of them names it (Rasa's
    ``extract_slot_value_from_predefined_mapping``)."""
    loops = _loops(mapping)
    return active_loop is not None and (not loops or active_loop in loops)


def _loops(mapping: dict) -> list[str | None]:
    """The ``active_loop`` of each of the mapping's ``conditions`` (None where one names none,
    as Rasa lists them)."""
    conditions = mapping.get("conditions") or ()
    return [c.get("active_loop") for c in conditions if isinstance(c, dict)]


def _conditions_hold(mapping: dict, active_loop: str | None, requested_slot: str | None) -> bool:
    conditions = mapping.get("conditions")
    if not conditions:
        return True
    return any(
        isinstance(condition, dict)
        and condition.get("active_loop") == active_loop
        and condition.get("requested_slot") in (None, requested_slot)
        for condition in conditions
    )


def _entity_maps_another_slot(
    domain: Domain, mapping: dict, slot_name: str, required: Sequence[str]
) -> bool:
    key = mapping_entity_key(mapping)
    return any(
        other.get("type") == "from_entity" and mapping_entity_key(other) == key
        for name in required
        if name != slot_name
        for other in domain.slots[name].mappings
    )


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
