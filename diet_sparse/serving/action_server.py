"""Custom actions run on a Rasa action server (Rasa SDK's protocol), as Rasa's RemoteAction does.

The bot POSTs ``{"next_action", "sender_id", "tracker", "domain", "version"}`` to the action
endpoint (``endpoints.yml``'s ``action_endpoint: url:``, such as
``http://localhost:5055/webhook``) and gets back ``{"events": [...], "responses": [...]}``:
the events (``slot`` events above all) join the conversation, and each response is a message
the bot says (`bot.Bot` turns them into text: their ``text``, or the domain response they
name, ``response`` or Rasa 2's ``template``, filled in from the slots). As in Rasa, an action
server that cannot be reached or answers with an error loses that action's events, and the
bot goes on (a warning is logged); so does a rejection (HTTP 400 with ``action_name``).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diet_sparse.errors import ActionServerError, TrackerError
from diet_sparse.rasa.domain import Domain
from diet_sparse.rasa.events import Event, events_from_json
from diet_sparse.serving.conversations import tracker_json

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.0"  # the Rasa version the action server is told it talks to
DEFAULT_TIMEOUT = 10.0  # seconds one action may take


@dataclass(frozen=True)
class ActionServer:
    """The action endpoint ``url`` (Rasa's ``action_endpoint``), asked with a ``timeout``.

    Example:
        >>> server = ActionServer("http://localhost:5055/webhook")  # doctest: +SKIP
        >>> server.run("action_check_weather", "ann", bot.events, bot.domain)  # doctest: +SKIP
        ([SlotSet(name='temperature', value=21)], [{'text': 'It is 21 °C.'}])
    """

    url: str
    timeout: float = DEFAULT_TIMEOUT

    def run(
        self, action: str, sender_id: str, events: Sequence[Event], domain: Domain
    ) -> tuple[list[Event], list[dict[str, Any]]]:
        """Run ``action`` in ``sender_id``'s conversation (its ``events``, sent as Rasa's
        tracker JSON): the events it returns (read from their JSON) and the responses it asks
        the bot to say, as the action server sent them.
        An action that did not run (see `ActionServerError`) is logged as a warning and
        returns neither, as Rasa goes on without its events.
        """
        try:
            return self.call(action, sender_id, events, domain)
        except ActionServerError as error:
            logger.warning("%s; the bot goes on without its events", error)
            return [], []

    def call(
        self, action: str, sender_id: str, events: Sequence[Event], domain: Domain
    ) -> tuple[list[Event], list[dict[str, Any]]]:
        """`run`, raising where the action did not run.

        Raises:
            ActionServerError: the action did not run (see the class).
        """
        payload = {
            "next_action": action,
            "sender_id": sender_id,
            "tracker": tracker_json(sender_id, events, domain),
            "domain": domain_as_rasa_json(domain),
            "version": RASA_VERSION,
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        where = f"custom action {action!r} at {self.url}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = _error_detail(error)
            raise ActionServerError(f"{where}: HTTP {error.code}{detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ActionServerError(f"{where}: cannot reach it: {reason}") from None
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            raise ActionServerError(f"{where}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ActionServerError(f"{where}: expected a JSON object, got {answer!r:.80}")
        returned, responses = answer.get("events"), answer.get("responses")
        returned = [] if returned is None else returned  # Rasa SDK sends both; null = none
        responses = [] if responses is None else responses
        if not isinstance(returned, list) or not isinstance(responses, list):
            raise ActionServerError(f"{where}: 'events' and 'responses' must be lists")
        try:
            read = events_from_json(returned)
        except TrackerError as error:
            raise ActionServerError(f"{where}: returned {error}") from None
        if not all(isinstance(item, dict) for item in responses):
            raise ActionServerError(f"{where}: every response must be a JSON object")
        return read, list(responses)


def _error_detail(error: urllib.error.HTTPError) -> str:
    """What an action server says with its error status: Rasa SDK sends ``{"action_name",
    "error"}`` when an action rejects its run."""
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return ""
    message = body.get("error") if isinstance(body, dict) else None
    return f": {message}" if message else ""


def domain_as_rasa_json(domain: Domain) -> dict[str, Any]:
    """The domain as Rasa sends it to an action server: intents, entities, slots (with their
    type, initial value and mappings), responses (their texts), actions and forms (with their
    required slots)."""
    return {
        "version": domain.version or "3.1",
        "intents": list(domain.intents),
        "entities": list(domain.entities),
        "slots": {
            name: {
                "type": slot.type,
                "initial_value": slot.initial_value,
                "influence_conversation": slot.influence_conversation,
                "mappings": list(slot.mappings),
                **({"values": [v for v in slot.values if v != "__other__"]} if slot.values else {}),
            }
            for name, slot in domain.slots.items()
        },
        "responses": {
            name: [{"text": text} for text in texts] for name, texts in domain.responses.items()
        },
        "actions": list(domain.actions),
        "forms": {name: {"required_slots": list(slots)} for name, slots in domain.forms.items()},
        "session_config": dict(domain.session_config),
    }
