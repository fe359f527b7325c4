"""Rules and memorized stories: the lookups that Rasa's RulePolicy and MemoizationPolicy make,
which take precedence over TED when they match, as Rasa's policy priorities order them.

A rule (``rules:`` in the data) is turned into one *rule key* per action it predicts: the
states of the rule up to that action, each holding only what the rule mentions (the previous
action, the intent of a user step, the entities it lists, the slots its condition and
``slot_was_set`` steps set and those its entities fill through the domain's slot mappings, the
active loop its condition or ``active_loop`` steps name). A key
matches a conversation when its states, laid over the conversation's newest states, each agree
with the conversation on everything they hold; a ``conversation_start`` rule must cover the
conversation from its start. As Rasa does, a rule does not predict its first action unless it
starts the conversation (anything may come before a rule), and a rule with
``wait_for_user_input: false`` predicts no ``action_listen`` at its end, leaving the next action
to the other policies. Where several keys match, the one that holds the most features wins,
then the one with the most states, then the first written.

Memoization remembers, for each bot action of the training stories (not rules), the newest
``memoization_max_history`` whole states before it; a conversation whose newest states are one
of those predicts that action. States that lead to different actions in different stories are
forgotten.

When neither matches and TED's confidence is below ``core_fallback_threshold``, the rule policy
predicts ``core_fallback_action_name`` instead (Rasa's core fallback).

Forms run in the bot (`forms`, `bot.Bot`): there an active form runs again when the user
speaks, as Rasa's RulePolicy predicts it, and a rejected form is left out of the next
prediction. Not supported (Rasa's RulePolicy has them): predicting the active loop in
`policy.Policy.predict` itself (and so in ``/model/predict``), ``restrict_rules``
checks, contradiction checks of rules against stories (contradicting rules are an error), and
``AugmentedMemoizationPolicy``'s forgetting of old turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from diet_sparse.dialogue.featurization import State, states_and_actions, story_states_and_actions
from diet_sparse.rasa.domain import Domain
from diet_sparse.rasa.nlu_data import TrainingDataError
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    SlotSet,
    Story,
    UserUttered,
    with_entity_slots,
)

RULE_POLICY_NAME = "RulePolicy"
MEMOIZATION_POLICY_NAME = "MemoizationPolicy"
# TED config values for TED alone: what measures the network (benchmarks, density sweeps)
TED_ALONE = {"rules": False, "memoization": False, "enable_fallback_prediction": False}


@dataclass(frozen=True)
class RuleState:
    """A state as a rule writes it: only what the rule mentions (``None``: not mentioned).

    ``slots`` holds ``(name, features)`` pairs, ``features`` ``None`` for a slot the rule says
    must not be set; ``active_loop`` is ``""`` where the rule says no loop may be active.
    """

    prev_action: str | None = None
    intent: str | None = None
    entities: tuple[str, ...] | None = None
    slots: tuple[tuple[str, tuple[float, ...] | None], ...] = ()
    active_loop: str | None = None

    @property
    def size(self) -> int:
        """How many features it holds: the more, the more specific the rule."""
        return (
            (self.prev_action is not None)
            + (self.intent is not None)
            + (self.entities is not None)
            + len(self.slots)
            + (self.active_loop is not None)
        )

    def holds_in(self, state: State, domain: Domain) -> bool:
        """Whether ``state`` agrees with everything this rule state holds."""
        if self.prev_action is not None and state.prev_action != self.prev_action:
            return False
        if self.intent is not None and state.intent != self.intent:
            return False
        if self.entities is not None and tuple(sorted(state.entities)) != self.entities:
            return False
        if self.active_loop is not None and (state.active_loop or "") != self.active_loop:
            return False
        values = dict(state.slots)
        for name, features in self.slots:
            value = values.get(name)
            if features is None:
                if value is not None:
                    return False
            elif value is None or tuple(domain.slots[name].features(value)) != features:
                return False
        return True


@dataclass(frozen=True)
class RuleKey:
    """The states a rule holds before one of its actions, and that action."""

    states: tuple[RuleState, ...]
    action: str
    rule: str  # the rule's name and "file:line", for messages and prediction results
    conversation_start: bool = False

    def matches(self, conversation: Sequence[State], domain: Domain) -> bool:
        if len(conversation) < len(self.states):
            return False
        if self.conversation_start and len(conversation) != len(self.states):
            return False
        newest = conversation[len(conversation) - len(self.states) :]
        return all(rule.holds_in(state, domain) for rule, state in zip(self.states, newest))

    @property
    def specificity(self) -> tuple[int, int]:
        return sum(state.size for state in self.states), len(self.states)


@dataclass(frozen=True)
class Hit:
    """What a lookup predicts: the action, which policy found it, and why."""

    action: str
    policy: str
    reason: str


@dataclass
class DialogueLookup:
    """The rule keys and the memorized states of a policy's training data.

    Build it with `build_lookup`; `predict` finds the action for a conversation's states.
    """

    domain: Domain
    rule_keys: list[RuleKey]
    memory: dict[tuple[State, ...], str]
    memoization_max_history: int | None

    def predict(self, conversation: Sequence[State]) -> Hit | None:
        """The action the rules, else the memorized stories, predict after ``conversation``
        (its states, the current one last); ``None`` where neither matches."""
        matching = [key for key in self.rule_keys if key.matches(conversation, self.domain)]
        if matching:
            best = max(matching, key=lambda key: key.specificity)  # first written among equals
            return Hit(best.action, RULE_POLICY_NAME, f"rule {best.rule}")
        if self.memory:
            newest = _newest(conversation, self.memoization_max_history)
            if newest in self.memory:
                return Hit(self.memory[newest], MEMOIZATION_POLICY_NAME, "a training story")
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [
                {
                    "rule": key.rule,
                    "action": key.action,
                    "conversation_start": key.conversation_start,
                    "states": [_rule_state_json(state) for state in key.states],
                }
                for key in self.rule_keys
            ],
            "memoization_max_history": self.memoization_max_history,
            "memory": [
                [[_state_json(state) for state in states], action]
                for states, action in self.memory.items()
            ],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any], domain: Domain) -> DialogueLookup:
        """The lookup `to_json` wrote. Raises KeyError, TypeError or ValueError on other JSON."""
        keys = [
            RuleKey(
                tuple(_rule_state_from_json(state) for state in key["states"]),
                str(key["action"]),
                str(key["rule"]),
                bool(key["conversation_start"]),
            )
            for key in value["rules"]
        ]
        memory = {
            tuple(_state_from_json(state) for state in states): str(action)
            for states, action in value["memory"]
        }
        return cls(domain, keys, memory, value["memoization_max_history"])


def build_lookup(
    stories: Iterable[Story],
    domain: Domain,
    rules: bool = True,
    memoization: bool = True,
    memoization_max_history: int | None = 5,
) -> DialogueLookup:
    """The rule keys of the rules (with ``rules``) and the memorized states of the stories
    (with ``memoization``) of a policy's training data.

    Raises:
        TrainingDataError: two rules hold the same states and predict different actions; the
            message names both.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> from diet_sparse.rasa.stories import example_stories_file, load_stories
        >>> domain = load_domain(example_domain_file())
        >>> rules = [story for story in load_stories(example_stories_file()) if story.is_rule]
        >>> lookup = build_lookup(rules, domain)
        >>> [(key.action, len(key.states)) for key in lookup.rule_keys]
        [('action_listen', 1), ('utter_greet', 2), ('action_listen', 3)]
    """
    stories = list(stories)
    keys = [key for story in stories if rules and story.is_rule for key in rule_keys(story, domain)]
    _check_contradictions(keys)
    memory: dict[tuple[State, ...], str] = {}
    if memoization:
        forgotten: set[tuple[State, ...]] = set()
        for story in stories:
            if story.is_rule:
                continue
            states, actions = story_states_and_actions(story, domain)
            for i, action in enumerate(actions):
                newest = _newest(states[: i + 1], memoization_max_history)
                if newest in forgotten:
                    continue
                if memory.setdefault(newest, action) != action:
                    del memory[newest]
                    forgotten.add(newest)
    return DialogueLookup(domain, keys, memory, memoization_max_history)


def lookup_for(config: Any, stories: Sequence[Story], domain: Domain) -> DialogueLookup | None:
    """The lookup a TED config asks for (its ``rules``, ``memoization`` and
    ``memoization_max_history``; None when both are off), once its core fallback action is
    checked: what `train_policy` uses, and what the command line checks before training starts.

    Raises:
        TrainingDataError: ``core_fallback_action_name`` is not an action of the domain, or two
            rules contradict each other.
    """
    if config.enable_fallback_prediction and config.core_fallback_action_name not in (
        domain.action_names
    ):
        raise TrainingDataError(
            f"core_fallback_action_name {config.core_fallback_action_name!r} is not an action "
            "of the domain; declare it under actions, or set enable_fallback_prediction: false"
        )
    if not (config.rules or config.memoization):
        return None
    return build_lookup(
        stories, domain, config.rules, config.memoization, config.memoization_max_history
    )


def rule_keys(rule: Story, domain: Domain) -> list[RuleKey]:
    """One `RuleKey` for each action ``rule`` predicts (see the module's docstring)."""
    # the slots that Rasa fills from a user step's entities are the rule's too, where the rule
    # gives the entity's value (``entities: [city]`` says only that there is one)
    written = [*rule.condition, *rule.events]
    ids = {id(event) for event in written}
    events = [
        event
        for event in with_entity_slots(written, domain)
        if id(event) in ids or event.value not in ("", None)
    ]
    states, actions = states_and_actions(events, domain)
    name = f"{rule.name!r} ({rule.source})"
    mentioned_slots: dict[str, None] = {}
    loop_mentioned = False
    listed_entities = False
    rule_states: list[RuleState] = []
    keys = []
    action_index = 0
    for event in events:
        if isinstance(event, SlotSet):
            mentioned_slots.setdefault(event.name, None)
        elif isinstance(event, ActiveLoop):
            loop_mentioned = True
        elif isinstance(event, UserUttered):
            listed_entities = bool(event.entities)
        elif isinstance(event, ActionExecuted):
            state = states[action_index]
            rule_states.append(
                _rule_state(state, domain, mentioned_slots, loop_mentioned, listed_entities)
            )
            # Anything may come before a rule: the state before its first action is not part
            # of its keys, and that action is not predicted by it, unless it starts the
            # conversation.
            if rule.conversation_start or action_index > 0:
                held = rule_states if rule.conversation_start else rule_states[1:]
                keys.append(RuleKey(tuple(held), actions[action_index], name,
                                    rule.conversation_start))  # fmt: skip
            action_index += 1
    return keys


def _rule_state(
    state: State,
    domain: Domain,
    mentioned_slots: Iterable[str],
    loop_mentioned: bool,
    listed_entities: bool,
) -> RuleState:
    user_turn = state.intent is not None
    values = dict(state.slots)
    slots = tuple(
        (name, None if values.get(name) is None else tuple(slot.features(values[name])))
        for name in mentioned_slots
        if (slot := domain.slots[name]).feature_size  # else it does not influence the dialogue
    )
    return RuleState(
        prev_action=state.prev_action,
        intent=state.intent if user_turn else None,
        entities=tuple(sorted(state.entities)) if user_turn and listed_entities else None,
        slots=slots,
        active_loop=(state.active_loop or "") if loop_mentioned else None,
    )


def _check_contradictions(keys: Sequence[RuleKey]) -> None:
    first: dict[tuple[tuple[RuleState, ...], bool], RuleKey] = {}
    for key in keys:
        earlier = first.setdefault((key.states, key.conversation_start), key)
        if earlier.action != key.action:
            raise TrainingDataError(
                f"rules {earlier.rule} and {key.rule} contradict each other: after the same "
                f"steps one predicts {earlier.action!r}, the other {key.action!r}; make one of "
                "them more specific (a condition, or an earlier step)"
            )


def _newest(states: Sequence[State], max_history: int | None) -> tuple[State, ...]:
    return tuple(states[-max_history:] if max_history else states)


# --- JSON ----------------------------------------------------------------------------------


def _state_json(state: State) -> dict[str, Any]:
    return {
        "intent": state.intent,
        "entities": list(state.entities),
        "prev_action": state.prev_action,
        "slots": [[name, value] for name, value in state.slots],
        "active_loop": state.active_loop,
    }


def _state_from_json(value: dict[str, Any]) -> State:
    return State(
        value["intent"],
        tuple(value["entities"]),
        value["prev_action"],
        tuple((name, _hashable(slot_value)) for name, slot_value in value["slots"]),
        value["active_loop"],
    )


def _hashable(value: Any) -> Any:
    """A slot value as stories hold it: JSON made its tuples lists, and dicts cannot be keys."""
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    return value


def _rule_state_json(state: RuleState) -> dict[str, Any]:
    return {
        "prev_action": state.prev_action,
        "intent": state.intent,
        "entities": None if state.entities is None else list(state.entities),
        "slots": [[name, None if f is None else list(f)] for name, f in state.slots],
        "active_loop": state.active_loop,
    }


def _rule_state_from_json(value: dict[str, Any]) -> RuleState:
    return RuleState(
        value["prev_action"],
        value["intent"],
        None if value["entities"] is None else tuple(value["entities"]),
        tuple(
            (name, None if f is None else tuple(float(x) for x in f)) for name, f in value["slots"]
        ),
        value["active_loop"],
    )
