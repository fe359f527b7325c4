"""A trained dialogue policy ready to predict the next action of a conversation, without
TensorFlow: events -> states (`dialogue_features`) -> the rules and memorized stories
(`rules.DialogueLookup`), else ONNX Runtime (`onnx_graph.OnnxTED`) and the core fallback ->
Rasa's prediction result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diet_sparse.config import TEDConfig
from diet_sparse.dialogue.featurization import (
    DialogueError,
    State,
    TurnFeaturizer,
    conversation_states,
)
from diet_sparse.dialogue.rules import RULE_POLICY_NAME, DialogueLookup, loop_rejected
from diet_sparse.network.onnx_graph import OnnxTED
from diet_sparse.network.weights import TEDWeights
from diet_sparse.rasa.domain import Domain
from diet_sparse.rasa.events import (
    ActionExecuted,
    ActionExecutionRejected,
    Event,
    applied_events,
    events_from_json,
)

POLICY_NAME = "TEDPolicy"  # what Rasa calls the policy in its prediction results


@dataclass
class Policy:
    """Domain, featurizer and network of a trained TED policy, and the rules and memorized
    stories that go before it; `predict` scores every action.

    ``lookup`` holds the rules and memorized stories (None: TED alone). ``keras_model`` is the
    TensorFlow model when the policy was just trained, else None.
    """

    config: TEDConfig
    domain: Domain
    network: TEDWeights
    metadata: dict[str, Any] = field(default_factory=dict)
    lookup: DialogueLookup | None = None
    keras_model: Any = field(default=None, repr=False)
    threads: int = 1
    featurizer: TurnFeaturizer = field(init=False, repr=False)
    predictor: OnnxTED = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.featurizer = TurnFeaturizer(self.domain)
        self.predictor = OnnxTED(self.network, threads=self.threads)

    @property
    def action_names(self) -> tuple[str, ...]:
        return self.domain.action_names

    def predict(
        self, events: Sequence[dict[str, Any] | Event], excluded: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The next action's scores for a conversation given as Rasa tracker events (the
        ``events`` of Rasa's tracker JSON) or as `stories` events; ``excluded`` actions (a
        rejected form's) are not predicted, as Rasa's policy ensemble leaves them out (so is
        an action whose ``action_execution_rejected`` is the last action event).

        Returns ``{"scores": [{"action", "score"}, ...], "policy", "confidence"}`` with the
        scores sorted, highest first (``ranking_length`` of them; 0 = all). ``policy`` says
        which policy predicted, as Rasa names them: ``RulePolicy`` where a rule matches (the
        action scores 1, and ``rule`` names the rule), else ``MemoizationPolicy`` where the
        newest states are a training story's (score 1), else ``TEDPolicy``, unless TED's
        confidence is at most ``core_fallback_threshold``: then ``RulePolicy`` predicts
        ``core_fallback_action_name`` with that threshold as its score. An empty conversation
        is predicted from the empty state (usually ``action_listen``).

        Raises:
            DialogueError: an event names an intent, action, slot or form the domain does not
                declare, or an event cannot be read; the message names the event's index.

        Example:
            >>> policy.predict([{"event": "action", "name": "action_listen"},
            ...                 {"event": "user", "parse_data": {"intent": {"name": "greet"}}}])
            ... # doctest: +SKIP
            {'scores': [{'action': 'utter_greet', 'score': 0.97}, ...], 'policy': 'TEDPolicy',
             'confidence': 0.97}
        """
        applied = self.applied(events)
        states = conversation_states(applied, self.domain)
        # Rasa's ensemble: an action whose execution was rejected last is not predicted again
        last = next(
            (
                e
                for e in reversed(applied)
                if isinstance(e, ActionExecuted | ActionExecutionRejected)
            ),
            None,
        )
        if isinstance(last, ActionExecutionRejected) and last.name not in excluded:
            excluded = (*excluded, last.name)
        return self.predict_states([states], excluded, [applied], [loop_rejected(applied)])[0]

    def states(self, events: Sequence[dict[str, Any] | Event]) -> list[State]:
        """The states of a conversation (`events`' events, or Rasa tracker JSON events), the
        current one last; only the events that still count (`events.applied_events`)."""
        return conversation_states(self.applied(events), self.domain)

    def applied(self, events: Sequence[dict[str, Any] | Event]) -> list[Event]:
        """The events of a conversation that still count (`events.applied_events`), read from
        Rasa tracker JSON events where they are."""
        events = list(events)
        if any(isinstance(event, dict) for event in events):
            for index, event in enumerate(events):
                if not isinstance(event, dict):
                    raise DialogueError(
                        f"event {index}: expected a Rasa tracker event (a JSON object), got "
                        f"{type(event).__name__}"
                    )
            events = events_from_json(events)
        return applied_events(events, self.domain.initial_slot_values)

    def predict_states(
        self,
        dialogues: Sequence[Sequence[State]],
        excluded: Sequence[str] = (),
        events: Sequence[Sequence[Event]] | None = None,
        rejected: Sequence[bool] | None = None,
    ) -> list[dict[str, Any]]:
        """`predict` for many conversations given as their states (current state last) and,
        optionally, their applied ``events`` (augmented memoization needs them) and whether
        their active loop was ``rejected`` (then it is not run again by itself)."""
        hits = [
            self.lookup.predict(
                states,
                events[i] if events is not None else None,
                rejected[i] if rejected is not None else False,
            )
            if self.lookup
            else None
            for i, states in enumerate(dialogues)
        ]
        hits = [None if hit is not None and hit.action in excluded else hit for hit in hits]
        for_ted = [states for states, hit in zip(dialogues, hits) if hit is None]
        if self.lookup is not None:  # TED does not see what only rules mention, as in Rasa
            for_ted = [[self.lookup.ml_state(state) for state in states] for states in for_ted]
        probabilities = iter(self.probabilities(for_ted) if for_ted else ())
        results = []
        for hit in hits:
            if hit is not None:
                result = self._certain(hit.action, hit.policy)
                if hit.policy == RULE_POLICY_NAME:
                    result["rule"] = hit.reason
                results.append(result)
                continue
            row = next(probabilities)
            if excluded:
                row = row.copy()
                row[[self.action_names.index(name) for name in excluded]] = 0.0
            config = self.config
            # Rasa's RulePolicy predicts the fallback with the threshold as its confidence, and
            # wins ties by its priority
            if config.enable_fallback_prediction and row.max() <= config.core_fallback_threshold:
                results.append(self._core_fallback(float(row.max())))
                continue
            order = np.argsort(-row, kind="stable")[: self._ranking_length]
            scores = [{"action": self.action_names[j], "score": float(row[j])} for j in order]
            results.append(
                {"scores": scores, "policy": POLICY_NAME, "confidence": scores[0]["score"]}
            )
        return results

    @property
    def _ranking_length(self) -> int:
        return self.config.ranking_length or len(self.action_names)

    def _core_fallback(self, confidence: float) -> dict[str, Any]:
        """Rasa's RulePolicy below ``core_fallback_threshold``: the fallback action, scored
        with the threshold."""
        threshold = self.config.core_fallback_threshold
        result = self._certain(self.config.core_fallback_action_name, RULE_POLICY_NAME)
        result["scores"][0]["score"] = result["confidence"] = threshold
        result["rule"] = f"core fallback: TED's confidence {confidence:.3f} is at most {threshold}"
        return result

    def _certain(self, action: str, policy: str) -> dict[str, Any]:
        """A prediction of ``action`` with score 1 (the others 0), as Rasa's rule and
        memoization policies predict."""
        others = [name for name in self.action_names if name != action]
        scores = [{"action": action, "score": 1.0}]
        scores += [{"action": name, "score": 0.0} for name in others]
        return {"scores": scores[: self._ranking_length], "policy": policy, "confidence": 1.0}

    def probabilities(self, dialogues: Sequence[Sequence[State]]) -> np.ndarray:
        """Each conversation's probability of every action (B, A), in `action_names` order."""
        features, lengths = self.featurizer.featurize(dialogues, self.config.max_history)
        mask = np.arange(max(int(lengths.max(initial=0)), 1))[None, :] < lengths[:, None]
        return self.predictor(features, mask)
