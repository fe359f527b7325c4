"""Rules and memorized stories: the lookups that Rasa's RulePolicy and MemoizationPolicy make,
which take precedence over TED when they match, as Rasa's policy priorities order them.

A rule (``rules:`` in the data) is turned into one *rule key* per action it predicts: the
states of the rule up to that action, each holding only what the rule mentions (the previous
action, the intent of the latest user step, the entities it lists, the slots its condition and
``slot_was_set`` steps set and those its entities fill through the domain's slot mappings, the
active loop its condition or ``active_loop`` steps name). A key
matches a conversation when its states, laid over the conversation's newest states, each agree
with the conversation on everything they hold; a ``conversation_start`` rule must cover the
conversation from its start. As Rasa does, a rule does not predict its first action unless it
starts the conversation (anything may come before a rule), and a rule with
``wait_for_user_input: false`` predicts no ``action_listen`` at its end, leaving the next action
to the other policies. Where several keys match, the one that holds the most features wins,
then the one with the most states, then the first written.

Memoization remembers, for each bot action of the training stories (not rules, not glued
stories), the newest ``memoization_max_history`` whole states before it, slots as their
features (Rasa's ``MemoizationPolicy``); a conversation whose newest states are one of those
predicts that action. States that lead to different actions in different stories are
forgotten. ``augmented_memoization`` (Rasa's ``AugmentedMemoizationPolicy``) then forgets the
conversation's oldest turns, one action at a time, the slots and loop they set included, until
the rest is memorized. Slots and loops that only rules mention are hidden from memoization and
TED (Rasa's ``rule_only_data``).

As Rasa's ``RulePolicy`` does before its rules: the intents ``restart``, ``back`` and
``session_start`` run their default actions; an active loop that was not rejected runs, and
after it ran the bot listens (a rejected loop is left to the rules: ``loop_rejected``); inside
a loop, a rule without a loop that predicts ``action_listen`` returns to the loop instead,
unless a rule or story shows another action there (``DO_NOT_PREDICT_LOOP_ACTION`` keys).

When neither matches and TED's confidence is at most ``core_fallback_threshold``, the rule
policy predicts ``core_fallback_action_name`` instead (Rasa's core fallback, which wins ties by
its priority).

Not supported (Rasa's RulePolicy has them): ``restrict_rules`` checks, contradiction checks of
rules against stories (contradicting rules are an error), end-to-end (text) rules, and hiding
the turns of rules that no story holds from TED (``hide_rule_turn``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from diet_sparse.dialogue.featurization import (
    State,
    conversation_states,
    states_and_actions,
    story_states_and_actions,
)
from diet_sparse.rasa.domain import ACTION_LISTEN, Domain
from diet_sparse.rasa.events import ActionExecutionRejected
from diet_sparse.rasa.nlu_data import TrainingDataError
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SlotSet,
    Story,
    UserUttered,
    with_entity_slots,
)

RULE_POLICY_NAME = "RulePolicy"
MEMOIZATION_POLICY_NAME = "MemoizationPolicy"
# Rasa's DEFAULT_ACTION_MAPPINGS: these intents run these actions, whatever the rules say
DEFAULT_ACTION_MAPPINGS = {
    "restart": "action_restart",
    "back": "action_back",
    "session_start": "action_session_start",
}
DO_NOT_PREDICT_LOOP_ACTION = "do_not_predict_loop_action"  # Rasa's name for the marker
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
    ``memory`` maps memorized states (`memo_states`: slots as their features) to actions;
    ``rule_only_slots`` and ``rule_only_loops`` are what only rules mention, which
    memoization and TED do not see (Rasa's ``rule_only_data``); ``loop_unhappy_keys`` are
    the states after which an active loop must not be predicted again (Rasa's
    ``DO_NOT_PREDICT_LOOP_ACTION`` keys); ``rules`` says whether the rule policy is on.
    """

    domain: Domain
    rule_keys: list[RuleKey]
    memory: dict[tuple[State, ...], str]
    memoization_max_history: int | None
    augmented: bool = False
    rules: bool = True
    rule_only_slots: tuple[str, ...] = ()
    rule_only_loops: tuple[str, ...] = ()
    loop_unhappy_keys: list[RuleKey] = field(default_factory=list)

    def predict(
        self,
        conversation: Sequence[State],
        events: Sequence[Event] | None = None,
        loop_rejected: bool = False,
    ) -> Hit | None:
        """The action Rasa's RulePolicy, else its (Augmented)MemoizationPolicy predict after
        ``conversation`` (its states, the current one last); ``None`` where neither does.

        In Rasa's order (``RulePolicy._predict``): a default action for ``restart``,
        ``back`` and ``session_start``; an active loop that was not rejected
        (``loop_rejected``) runs, and after it ran, the bot listens; then the most specific
        matching rule, where a rule without a loop that predicts ``action_listen`` returns
        to the active loop instead; then memorized states. Augmented memoization needs the
        conversation's ``events`` (those `conversation_states` made ``conversation`` of) to
        forget old turns.
        """
        current = conversation[-1] if conversation else State()
        loop = current.active_loop
        if self.rules:
            default = DEFAULT_ACTION_MAPPINGS.get(current.intent or "")
            if current.prev_action == ACTION_LISTEN and default in self.domain.action_names:
                return Hit(default, RULE_POLICY_NAME, f"default action for {current.intent}")
            if loop and not loop_rejected:
                if current.prev_action != loop:
                    return Hit(loop, RULE_POLICY_NAME, f"active loop {loop}")
                return Hit(ACTION_LISTEN, RULE_POLICY_NAME, f"active loop {loop} ran")
            matching = [key for key in self.rule_keys if key.matches(conversation, self.domain)]
            if matching:
                best = max(matching, key=lambda key: key.specificity)  # first among equals
                if loop and best.action == ACTION_LISTEN and not best.states[-1].active_loop:
                    # Rasa: rules need not switch back to the loop; unless a story or rule
                    # shows another action here, the loop runs again
                    unhappy = self.loop_unhappy_keys
                    if not any(key.matches(conversation, self.domain) for key in unhappy):
                        return Hit(loop, RULE_POLICY_NAME, f"rule {best.rule}, back to {loop}")
                else:
                    return Hit(best.action, RULE_POLICY_NAME, f"rule {best.rule}")
        if self.memory:
            newest = self._memo_key(conversation)
            if newest in self.memory:
                return Hit(self.memory[newest], MEMOIZATION_POLICY_NAME, "a training story")
            if self.augmented and events is not None:
                action = self._recall_using_truncation(events, newest)
                if action is not None:
                    why = "a training story, old turns forgotten"
                    return Hit(action, MEMOIZATION_POLICY_NAME, why)
        return None

    def ml_state(self, state: State) -> State:
        """``state`` as memoization and TED see it: without what only rules mention."""
        if not (self.rule_only_slots or self.rule_only_loops):
            return state
        return State(
            state.intent,
            state.entities,
            state.prev_action,
            tuple((n, v) for n, v in state.slots if n not in self.rule_only_slots),
            None if state.active_loop in self.rule_only_loops else state.active_loop,
        )

    def _memo_key(self, states: Sequence[State]) -> tuple[State, ...]:
        return memo_states(
            [self.ml_state(state) for state in _newest(states, self.memoization_max_history)],
            self.domain,
        )

    def _recall_using_truncation(
        self, events: Sequence[Event], old_key: tuple[State, ...]
    ) -> str | None:
        """Rasa's AugmentedMemoizationPolicy: forget the oldest turns (the events before an
        action, slots and active loop included; the rest starts from the domain's initial
        slots), one action at a time, until the states are memorized."""
        events = list(events)
        events = events[_max_history_start(events, self.memoization_max_history) :]
        actions = [i for i, event in enumerate(events) if isinstance(event, ActionExecuted)]
        if not actions:
            return None
        events = events[actions[0] :]
        while True:
            key = self._memo_key(conversation_states(events, self.domain))
            if key != old_key:
                if key in self.memory:
                    return self.memory[key]
                old_key = key
            actions = [i for i, event in enumerate(events) if isinstance(event, ActionExecuted)]
            if len(actions) < 2:
                return None
            events = events[actions[1] :]

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [_rule_key_json(key) for key in self.rule_keys],
            "rule_policy": self.rules,
            "memoization_max_history": self.memoization_max_history,
            "augmented_memoization": self.augmented,
            "memory": [
                [[_state_json(state) for state in states], action]
                for states, action in self.memory.items()
            ],
            "rule_only_slots": list(self.rule_only_slots),
            "rule_only_loops": list(self.rule_only_loops),
            "loop_unhappy": [_rule_key_json(key) for key in self.loop_unhappy_keys],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any], domain: Domain) -> DialogueLookup:
        """The lookup `to_json` wrote. Raises KeyError, TypeError or ValueError on other JSON,
        and on a lookup of an older diet-sparse (memorized states that compare slot values)."""
        if "rule_only_slots" not in value:
            raise ValueError(
                "written by an older diet-sparse, whose memorized states this one reads "
                "differently; retrain the policy"
            )
        memory = {
            tuple(_state_from_json(state) for state in states): str(action)
            for states, action in value["memory"]
        }
        return cls(
            domain,
            [_rule_key_from_json(key) for key in value["rules"]],
            memory,
            value["memoization_max_history"],
            bool(value["augmented_memoization"]),
            bool(value["rule_policy"]),
            tuple(value["rule_only_slots"]),
            tuple(value["rule_only_loops"]),
            [_rule_key_from_json(key) for key in value["loop_unhappy"]],
        )


def memo_states(states: Sequence[State], domain: Domain) -> tuple[State, ...]:
    """States as Rasa's memoization compares them: each slot as its features, slots whose
    features are all zero left out (a text slot's value does not matter, only that it is
    set)."""
    return tuple(
        State(
            state.intent,
            state.entities,
            state.prev_action,
            tuple(
                (name, features)
                for name, value in state.slots
                if any(features := tuple(domain.slots[name].features(value)))
            ),
            state.active_loop,
        )
        for state in states
    )


def loop_rejected(events: Iterable[Event]) -> bool:
    """Whether the active loop was rejected (Rasa's ``is_active_loop_rejected``): an
    ``action_execution_rejected`` of the loop since it last ran or was activated."""
    loop, rejected = None, False
    for event in events:
        if isinstance(event, ActiveLoop):
            loop, rejected = event.name, False
        elif isinstance(event, ActionExecutionRejected) and loop and event.name == loop:
            rejected = True
        elif isinstance(event, ActionExecuted) and loop and event.name == loop:
            rejected = False
    return rejected


def _max_history_start(events: Sequence[Event], max_history: int | None) -> int:
    """Rasa's ``_trim_tracker_by_max_history``: the index of the ``action_listen`` from which
    the newest ``max_history`` actions are kept (0: all events)."""
    if not max_history:
        return 0
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, ActionExecuted):
            seen += 1
            if seen > max_history and event.name == ACTION_LISTEN:
                return index
    return 0


def build_lookup(
    stories: Iterable[Story],
    domain: Domain,
    rules: bool = True,
    memoization: bool = True,
    memoization_max_history: int | None = 5,
    augmented: bool = False,
) -> DialogueLookup:
    """The rule keys of the rules (with ``rules``) and the memorized states of the stories
    (with ``memoization``; ``augmented``: Rasa's AugmentedMemoizationPolicy) of a policy's
    training data.

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
    played = [story_states_and_actions(story, domain) for story in stories if not story.is_rule]
    memory: dict[tuple[State, ...], str] = {}
    if memoization:
        forgotten: set[tuple[State, ...]] = set()
        for states, actions in played:
            for i, action in enumerate(actions):
                newest = memo_states(_newest(states[: i + 1], memoization_max_history), domain)
                if newest in forgotten:
                    continue
                if memory.setdefault(newest, action) != action:
                    del memory[newest]
                    forgotten.add(newest)
    # Rasa's rule_only_data: what rules mention and no story state holds
    story_slots = {
        name for states, _ in played for state in memo_states(states, domain)
        for name, _ in state.slots
    }  # fmt: skip
    story_loops = {state.active_loop for states, _ in played for state in states}
    rule_slots = {name for key in keys for state in key.states for name, _ in state.slots}
    rule_loops = {state.active_loop for key in keys for state in key.states}
    return DialogueLookup(
        domain,
        keys,
        memory,
        memoization_max_history,
        augmented,
        rules,
        tuple(sorted(rule_slots - story_slots)),
        tuple(sorted(name for name in rule_loops - story_loops if name)),
        _loop_unhappy_keys(keys, played, domain) if rules else [],
    )


def _loop_unhappy_keys(
    keys: Sequence[RuleKey], played: Sequence[tuple[list[State], list[str]]], domain: Domain
) -> list[RuleKey]:
    """Rasa's ``DO_NOT_PREDICT_LOOP_ACTION`` keys (``_create_loop_unhappy_lookup_from_states``):
    the previous action before, and the state in which, a rule or story with an active loop
    takes another action than the loop, not right after the user spoke."""
    found: dict[tuple[RuleState, ...], RuleKey] = {}

    def add(states: Sequence[RuleState], action: str, source: str) -> None:
        last = states[-1]
        if not last.active_loop or last.prev_action == ACTION_LISTEN or action == last.active_loop:
            return
        before = states[-2].prev_action if len(states) > 1 else None
        held = (RuleState(prev_action=before), last) if before else (last,)
        found.setdefault(held, RuleKey(held, DO_NOT_PREDICT_LOOP_ACTION, source))

    for key in keys:
        add(key.states, key.action, key.rule)
    for states, actions in played:
        whole = [_whole_rule_state(state, domain) for state in states]
        for i, action in enumerate(actions):
            add(whole[: i + 1], action, "a story")
    return list(found.values())


def _whole_rule_state(state: State, domain: Domain) -> RuleState:
    """A story's state as a rule state that holds all of it (Rasa's story states)."""
    (memo,) = memo_states([state], domain)
    return RuleState(
        prev_action=state.prev_action,
        intent=state.intent,
        entities=tuple(sorted(state.entities)) or None,
        slots=memo.slots,
        active_loop=state.active_loop,
    )


def lookup_for(config: Any, stories: Sequence[Story], domain: Domain) -> DialogueLookup | None:
    """The lookup a TED config asks for (its ``rules``, ``memoization``,
    ``memoization_max_history`` and ``augmented_memoization``; None when both are off), once
    its core fallback action is checked: what `train_policy` uses, and what the command line
    checks before training starts.

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
        stories,
        domain,
        config.rules,
        config.memoization,
        config.memoization_max_history,
        config.augmented_memoization,
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


def _rule_key_json(key: RuleKey) -> dict[str, Any]:
    return {
        "rule": key.rule,
        "action": key.action,
        "conversation_start": key.conversation_start,
        "states": [_rule_state_json(state) for state in key.states],
    }


def _rule_key_from_json(value: dict[str, Any]) -> RuleKey:
    return RuleKey(
        tuple(_rule_state_from_json(state) for state in value["states"]),
        str(value["action"]),
        str(value["rule"]),
        bool(value["conversation_start"]),
    )


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
