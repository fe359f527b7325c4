"""Forms and slot mappings in a live conversation, as Rasa runs them.

After each user message Rasa's ``action_extract_slots`` fills slots through the domain's slot
mappings (`slots_from_message`); a form that the policies predict (or that is active when the
user speaks) asks for its required slots one at a time, `run_form` says what it does:

- Not active: it becomes the active loop (``active_loop`` event).
- Active, right after a user message: the message must have filled one of its required
  slots, else the form is *rejected* (Rasa's ``ActionExecutionRejection``) and the policies
  choose another action (a chitchat rule, say), after which a rule may bring the form back.
- Then it asks for the first required slot still unset: ``requested_slot`` is set to it and
  the question is the first of ``action_ask_<form>_<slot>``, ``action_ask_<slot>`` (custom
  actions), ``utter_ask_<form>_<slot>``, ``utter_ask_<slot>`` (responses) that the domain has;
  the bot then listens. With every required slot set, the form ends (active loop ``null``,
  ``requested_slot`` unset) and the policies go on.

Not done (Rasa has them): validation actions (``validate_<form>``), a form's
``ignored_intents``, ``from_trigger_intent`` mappings, and required slots chosen by a custom
action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from diet_sparse.rasa.domain import REQUESTED_SLOT, Domain, mapping_entity_key, values_for_mapping
from diet_sparse.rasa.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered


@dataclass(frozen=True)
class FormStep:
    """What a form action does: the events it adds, the question it asks (an action or a
    response name, or None when it asks nothing), and whether it was rejected."""

    events: list[Event] = field(default_factory=list)
    ask: str | None = None
    rejected: bool = False


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


def slots_from_message(
    domain: Domain,
    text: str,
    parse: dict[str, Any],
    active_loop: str | None = None,
    requested_slot: str | None = None,
) -> list[tuple[str, Any]]:
    """The slots a user message fills, as Rasa's ``action_extract_slots`` fills them.

    Each slot's ``from_entity`` (entity, role and group match; the last value, or all of them
    for a list slot), ``from_text`` (the message's text) and ``from_intent`` (the mapping's
    ``value``) mappings apply when the message's intent suits the mapping's ``intent`` and
    ``not_intent`` and, for a mapping with ``conditions``, when one of them names the active
    loop (and, if it names one, the requested slot). While a form is active, a ``from_entity``
    mapping fills a slot the form did not ask for only when no other required slot of the
    form maps that entity too (Rasa's unique entity mapping). The domain's
    ``store_entities_as_slots: false`` turns off the ``from_entity`` mappings only.

    Returns:
        ``(slot, value)`` pairs, in the order the slots are declared.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> domain = load_domain(example_domain_file())
        >>> parse = {"intent": {"name": "book"}, "entities": [{"entity": "seat", "value": "aisle"}]}
        >>> slots_from_message(domain, "an aisle seat", parse)
        [('seat', 'aisle')]
    """
    intent = (parse.get("intent") or {}).get("name") or ""
    entities = [
        (e.get("entity"), e.get("value"), e.get("role"), e.get("group"))
        for e in parse.get("entities", [])
    ]
    required = domain.forms.get(active_loop or "", ())
    filled = []
    for slot in domain.slots.values():
        values = []
        for mapping in slot.mappings:
            kind = mapping.get("type")
            if not _intent_suits(mapping, intent) or not _conditions_hold(
                mapping, active_loop, requested_slot
            ):
                continue
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
        if values:
            filled.append((slot.name, values if slot.type == "list" else values[-1]))
    return filled


def run_form(
    form: str,
    domain: Domain,
    events: Sequence[Event],
    slots: dict[str, Any],
    actions: Sequence[str] = (),
) -> FormStep:
    """What the form action ``form`` does now (see the module's description).

    Args:
        form: A form of the domain.
        domain: Its domain.
        events: The conversation's applied events (`events.applied_events`), the form's own
            ``action`` event not yet among them.
        slots: Every slot's value now.
        actions: The custom actions that can run (an action server's), for ``action_ask_*``.
    """
    loop, requested = active_form(events)
    added: list[Event] = []
    if loop != form:
        added.append(ActiveLoop(form))
    elif _after_user_message(events) and requested is not None:
        if not _filled_since_user_message(events, domain.forms[form]):
            return FormStep(rejected=True)
    missing = [name for name in domain.forms[form] if slots.get(name) is None]
    if not missing:
        added.append(ActiveLoop(None))
        added.append(SlotSet(REQUESTED_SLOT, None))
        return FormStep(added)
    added.append(SlotSet(REQUESTED_SLOT, missing[0]))
    return FormStep(added, _question(form, missing[0], domain, actions))


def _question(form: str, slot: str, domain: Domain, actions: Sequence[str]) -> str | None:
    for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
        if name in actions:
            return name
    for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
        if name in domain.responses:
            return name
    return None


def _after_user_message(events: Sequence[Event]) -> bool:
    """Whether the last action was ``action_listen`` and the user spoke after it."""
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, ActionExecuted):
            return False
    return False


def _filled_since_user_message(events: Sequence[Event], required: Sequence[str]) -> bool:
    for event in reversed(events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, SlotSet) and event.name in required and event.value is not None:
            return True
    return False


def _intent_suits(mapping: dict, intent: str) -> bool:
    """Rasa's ``SlotMapping.intent_is_desired``: one of the mapping's ``intent`` list, or,
    when it lists none, not one of its ``not_intent`` list (each a name or a list)."""
    wanted, unwanted = (_as_list(mapping.get(key)) for key in ("intent", "not_intent"))
    return intent in wanted if wanted else intent not in unwanted


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
