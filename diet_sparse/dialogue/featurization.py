"""Dialogue featurization, as Rasa 3's TED featurizes a tracker: events -> one state per turn ->
the features of each turn attribute.

After every bot action the dialogue is in a `State`: the last user message's intent and entity
labels (kept until the user speaks again, as Rasa's states keep the latest message), the
previous action, the slots that influence the conversation, and the active form. TED reads the
user's part only in the turn right after the user spoke (Rasa's ``SingleStateFeaturizer``);
the rules and memoization compare all of it, as Rasa's do. A policy predicts the next action
from the states so far, the newest `max_history` of them. `TurnFeaturizer` turns states into
the arrays the TED model reads: per attribute (`network.TURN_ATTRIBUTES`), one-hot intent,
multi-hot entity labels, one-hot previous action, the slots' features, one-hot active form.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from diet_sparse.errors import DialogueError
from diet_sparse.network.weights import TURN_ATTRIBUTES
from diet_sparse.rasa.domain import ACTION_LISTEN, ENTITY_LABEL_SEPARATOR, Domain
from diet_sparse.rasa.stories import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SlotSet,
    Story,
    UserUttered,
    with_entity_slots,
)


@dataclass(frozen=True)
class State:
    """The dialogue after a bot action, as the policy sees it."""

    intent: str | None = None  # of the latest user message (None before the first)
    entities: tuple[str, ...] = ()  # entity labels of that user message: city, city#from, ...
    prev_action: str | None = None
    slots: tuple[tuple[str, Any], ...] = ()  # (name, value) of slots that are set
    active_loop: str | None = None


def states_and_actions(events: Iterable[Event], domain: Domain) -> tuple[list[State], list[str]]:
    """For every bot action in ``events``, the state before it and its name.

    ``states[i]`` is the dialogue right before ``actions[i]``; the state after the last event
    is ``states_and_actions(...)`` of the whole conversation's `current_state`.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> domain = load_domain(example_domain_file())
        >>> events = [ActionExecuted("action_listen"), UserUttered("greet"),
        ...           ActionExecuted("utter_greet")]
        >>> states, actions = states_and_actions(events, domain)
        >>> actions, states[1].intent, states[1].prev_action
        (['action_listen', 'utter_greet'], 'greet', 'action_listen')
    """
    tracker = _Tracker(domain)
    states, actions = [], []
    for index, event in enumerate(events):
        if isinstance(event, ActionExecuted):
            states.append(tracker.state())
            actions.append(tracker.check_action(event, index))
        tracker.apply(event, index)
    return states, actions


def story_states_and_actions(story: Story, domain: Domain) -> tuple[list[State], list[str]]:
    """`states_and_actions` of a training or test story, with the slots that Rasa fills from
    its entities (`stories.with_entity_slots`), which stories leave implicit."""
    return states_and_actions(with_entity_slots(story.events, domain), domain)


def conversation_states(events: Iterable[Event], domain: Domain) -> list[State]:
    """Every state of a conversation: the one before each bot action, then the current one
    (which the next action is predicted from)."""
    tracker = _Tracker(domain)
    states = []
    for index, event in enumerate(events):
        if isinstance(event, ActionExecuted):
            states.append(tracker.state())
            tracker.check_action(event, index)
        tracker.apply(event, index)
    return [*states, tracker.state()]


class _Tracker:
    """The dialogue so far, event by event."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.user: UserUttered | None = None
        self.prev_action: str | None = None
        self.slots = {
            name: slot.initial_value for name, slot in domain.slots.items() if slot.feature_size
        }
        self.active_loop: str | None = None

    def apply(self, event: Event, index: int) -> None:
        if isinstance(event, UserUttered):
            if event.intent is not None and event.intent not in self.domain.intents:
                raise DialogueError(f"event {index}: intent {event.intent!r} is not in the domain")
            self.user = event
        elif isinstance(event, ActionExecuted):
            self.prev_action = event.name
        elif isinstance(event, SlotSet):
            if event.name not in self.domain.slots:
                raise DialogueError(f"event {index}: slot {event.name!r} is not in the domain")
            if event.name in self.slots:
                self.slots[event.name] = event.value
        elif isinstance(event, ActiveLoop):
            if event.name is not None and event.name not in self.domain.loop_names:
                raise DialogueError(
                    f"event {index}: active loop {event.name!r} is not a form of the domain"
                )
            self.active_loop = event.name

    def copy(self) -> _Tracker:
        copied = copy.copy(self)
        copied.slots = dict(self.slots)
        return copied

    def check_action(self, event: ActionExecuted, index: int) -> str:
        if event.name not in self.domain.action_names:
            raise DialogueError(f"event {index}: action {event.name!r} is not in the domain")
        return event.name

    def state(self) -> State:
        intent = self.user.intent if self.user is not None else None
        entities: tuple[str, ...] = ()
        if self.user is not None:
            used = set(self.domain.entities_used_by(intent or ""))
            labels = set()
            for entity in self.user.entities:
                labels.add(entity.type)
                for extra in (entity.role, entity.group):
                    if extra:
                        labels.add(f"{entity.type}{ENTITY_LABEL_SEPARATOR}{extra}")
            entities = tuple(sorted(labels & used))
        slots = tuple((name, value) for name, value in self.slots.items() if value is not None)
        return State(intent, entities, self.prev_action, slots, self.active_loop)


class TurnFeaturizer:
    """States -> the per-attribute arrays of the TED model, newest turn first.

    Args:
        domain: the intents, entity labels, actions, slots and forms that features stand for.
    """

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._intents = {name: i for i, name in enumerate(domain.intents)}
        self._entities = {label: i for i, label in enumerate(domain.entity_states)}
        self._actions = {name: i for i, name in enumerate(domain.action_names)}
        self._loops = {name: i for i, name in enumerate(domain.loop_names)}
        self._slots = [slot for slot in domain.slots.values() if slot.feature_size]
        self.attribute_sizes = {
            "intent": len(self._intents),
            "prev_action": len(self._actions),
            "entities": len(self._entities),
            "slots": sum(slot.feature_size for slot in self._slots),
            "active_loop": len(self._loops) if domain.forms else 0,
        }
        assert tuple(self.attribute_sizes) == TURN_ATTRIBUTES

    def action_id(self, name: str) -> int:
        return self._actions[name]

    def featurize(
        self, dialogues: Sequence[Sequence[State]], max_history: int | None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Each dialogue's newest ``max_history`` states (all for None), newest first, as
        attribute -> (B, T, F) float32 arrays, and the number of turns of each dialogue."""
        cut = [list(states[-max_history:] if max_history else states) for states in dialogues]
        lengths = np.array([len(states) for states in cut], dtype=np.int64)
        longest = max(int(lengths.max(initial=0)), 1)
        arrays = {
            attribute: np.zeros((len(cut), longest, size), np.float32)
            for attribute, size in self.attribute_sizes.items()
            if size
        }
        for b, states in enumerate(cut):
            for t, state in enumerate(reversed(states)):  # newest first
                self._write(state, {a: values[b, t] for a, values in arrays.items()})
        return arrays, lengths

    def _write(self, state: State, rows: dict[str, np.ndarray]) -> None:
        if state.prev_action == ACTION_LISTEN:  # the user's part only right after they spoke
            if state.intent is not None:
                rows["intent"][self._intents[state.intent]] = 1.0
            for label in state.entities:
                if "entities" in rows and label in self._entities:
                    rows["entities"][self._entities[label]] = 1.0
        if state.prev_action is not None:
            rows["prev_action"][self._actions[state.prev_action]] = 1.0
        if "slots" in rows:
            values = dict(state.slots)
            rows["slots"][:] = [
                feature for slot in self._slots for feature in slot.features(values.get(slot.name))
            ]
        if state.active_loop is not None and "active_loop" in rows:
            rows["active_loop"][self._loops[state.active_loop]] = 1.0


def training_examples(
    stories: Iterable[Story],
    domain: Domain,
    max_history: int | None,
    augmentation_factor: int = 0,
    seed: int = 42,
) -> tuple[list[tuple[State, ...]], list[str]]:
    """One example per bot action of the stories (rules are left out, as Rasa's TED leaves
    them) and, with ``augmentation_factor``, of the glued stories `augmented_stories` makes:
    the states before it, the newest ``max_history`` of them, and the action; an example that
    occurs twice is kept once."""
    stories = [story for story in stories if not story.is_rule]
    sequences = [with_entity_slots(story.events, domain) for story in stories]
    sequences += augmented_stories(stories, domain, augmentation_factor, seed)
    seen: dict[tuple[tuple[State, ...], str], None] = {}
    for events in sequences:
        states, actions = states_and_actions(events, domain)
        for i, action in enumerate(actions):
            history = states[: i + 1]
            history = history[-max_history:] if max_history else history
            seen.setdefault((tuple(history), action), None)
    return [history for history, _ in seen], [action for _, action in seen]


AUGMENTATION_ROUNDS = 3  # Rasa's TrainingDataGenerator: min_num_aug_phases


def augmented_stories(
    stories: Sequence[Story], domain: Domain, factor: int, seed: int = 42
) -> list[tuple[Event, ...]]:
    """Stories glued end to start, as Rasa's ``TrainingDataGenerator`` augments TED's data
    (``rasa train --augmentation``, default 50); only the glued ones are returned.

    As Rasa does (``_create_start_trackers_for_augmentation``): in each of 3 rounds, ``factor``
    stories that reached their end (the original ones and those glued in earlier rounds,
    shuffled) have their closing ``action_listen`` undone and every story is played after
    each of them, slots and active loop carried over; equal conversations are kept once; at
    the end ``factor * 10`` of the glued conversations are kept, drawn at random. Rules are
    not augmented, nor do rules and memoization see glued stories. The draws come from a
    ``random.Random(seed)`` (Rasa's is seeded with 42), so the result depends only on the
    stories, ``factor`` and ``seed``. ``factor`` 0 glues nothing.

    Example:
        >>> from diet_sparse.rasa.domain import example_domain_file, load_domain
        >>> from diet_sparse.rasa.stories import example_stories_file, load_stories
        >>> domain = load_domain(example_domain_file())
        >>> stories = [s for s in load_stories(example_stories_file()) if not s.is_rule]
        >>> len(augmented_stories(stories, domain, 0))
        0
    """
    if factor <= 0:
        return []
    rand = random.Random(seed)
    seen: set[tuple[State, ...]] = set()
    ends: list[tuple[tuple[Event, ...], bool]] = []  # reached a story's end; glued?
    played = [with_entity_slots(story.events, domain) for story in stories]
    for events in played:
        pairs, tracker = _play(events, _Tracker(domain))
        key = (*pairs, tracker.state())
        if key not in seen:
            seen.add(key)
            ends.append((events, False))
    for _ in range(AUGMENTATION_ROUNDS):
        rand.shuffle(ends)
        starts = [_last_action_reverted(events) for events, _ in ends[:factor]]
        played_starts = [_play(start, _Tracker(domain)) for start in starts]
        for events in played:
            for start, (start_pairs, start_tracker) in zip(starts, played_starts):
                pairs, tracker = _play(events, start_tracker.copy())
                key = (*start_pairs, *pairs, tracker.state())
                if key not in seen:
                    seen.add(key)
                    ends.append(((*start, *events), True))
    augmented = [events for events, glued in ends if glued]
    rand.shuffle(augmented)
    return augmented[: factor * 10]


def _play(events: Sequence[Event], tracker: _Tracker) -> tuple[tuple[Any, ...], _Tracker]:
    """The (state, action) pairs of ``events`` played on ``tracker``, and the tracker after
    them: what tells two conversations apart (Rasa's ``past_states_for_hashing``)."""
    pairs = []
    for index, event in enumerate(events):
        if isinstance(event, ActionExecuted):
            pairs.append((tracker.state(), event.name))
        tracker.apply(event, index)
    return tuple(pairs), tracker


def _last_action_reverted(events: Sequence[Event]) -> tuple[Event, ...]:
    """Rasa's ``ActionReverted`` on a finished story: its last action (the closing
    ``action_listen``) and what followed it undone, since the story played next opens with
    one."""
    for i in range(len(events) - 1, -1, -1):
        if isinstance(events[i], ActionExecuted):
            return tuple(events[:i])
    return tuple(events)
