"""A trained dialogue policy ready to predict the next action of a conversation, without
TensorFlow: events -> states (`dialogue_features`) -> ONNX Runtime (`onnx_graph.OnnxTED`) ->
Rasa's prediction result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diet_sparse.config import TEDConfig
from diet_sparse.dialogue_features import (
    DialogueError,
    State,
    TurnFeaturizer,
    conversation_states,
)
from diet_sparse.domain import Domain
from diet_sparse.network import TEDWeights
from diet_sparse.onnx_graph import OnnxTED
from diet_sparse.stories import Event, events_from_tracker_json

POLICY_NAME = "TEDPolicy"  # what Rasa calls the policy in its prediction results


@dataclass
class Policy:
    """Domain, featurizer and network of a trained TED policy; `predict` scores every action.

    ``keras_model`` is the TensorFlow model when the policy was just trained, else None.
    """

    config: TEDConfig
    domain: Domain
    network: TEDWeights
    metadata: dict[str, Any] = field(default_factory=dict)
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

    def predict(self, events: Sequence[dict[str, Any] | Event]) -> dict[str, Any]:
        """The next action's scores for a conversation given as Rasa tracker events (the
        ``events`` of Rasa's tracker JSON) or as `stories` events.

        Returns ``{"scores": [{"action", "score"}, ...], "policy": "TEDPolicy", "confidence"}``
        with the scores sorted, highest first (``ranking_length`` of them; 0 = all). An empty
        conversation is predicted from the empty state (usually ``action_listen``).

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
        return self.predict_states([self.states(events)])[0]

    def states(self, events: Sequence[dict[str, Any] | Event]) -> list[State]:
        """The states of a conversation, the current one last."""
        events = list(events)
        if any(isinstance(event, dict) for event in events):
            for index, event in enumerate(events):
                if not isinstance(event, dict):
                    raise DialogueError(
                        f"event {index}: expected a Rasa tracker event (a JSON object), got "
                        f"{type(event).__name__}"
                    )
            events = events_from_tracker_json(events)
        return conversation_states(events, self.domain)

    def predict_states(self, dialogues: Sequence[Sequence[State]]) -> list[dict[str, Any]]:
        """`predict` for many conversations given as their states (current state last)."""
        probabilities = self.probabilities(dialogues)
        ranking_length = self.config.ranking_length or probabilities.shape[1]
        results = []
        for row in probabilities:
            order = np.argsort(-row, kind="stable")[:ranking_length]
            scores = [{"action": self.action_names[j], "score": float(row[j])} for j in order]
            results.append(
                {"scores": scores, "policy": POLICY_NAME, "confidence": scores[0]["score"]}
            )
        return results

    def probabilities(self, dialogues: Sequence[Sequence[State]]) -> np.ndarray:
        """Each conversation's probability of every action (B, A), in `action_names` order."""
        features, lengths = self.featurizer.featurize(dialogues, self.config.max_history)
        mask = np.arange(max(int(lengths.max(initial=0)), 1))[None, :] < lengths[:, None]
        return self.predictor(features, mask)
