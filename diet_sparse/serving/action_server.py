"""Custom actions run on a Rasa action server (Rasa SDK's protocol), as Rasa's RemoteAction does.

The bot POSTs ``{"next_action", "sender_id", "tracker", "domain", "version"}`` to the action
endpoint (``endpoints.yml``'s ``action_endpoint: url:``, such as
``http://localhost:5055/webhook``) and gets back ``{"events": [...], "responses": [...]}``:
the events (``slot`` events above all) join the conversation, and each response is a message
the bot says (`bot.Bot` turns them into text: their ``text``, or the domain response they
name, ``response`` or Rasa 2's ``template``, filled in from the slots). As in Rasa, an action
server that cannot be reached or answers with an error loses that action's events, and the
bot goes on (a warning is logged); so does a rejection (HTTP 400 with ``action_name``), an
answer not complete within the timeout (a deadline for the whole call, however slowly the
server trickles its bytes), and an answer over `MAX_ANSWER_BYTES`.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import socket
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diet_sparse.errors import ActionRejectedError, ActionServerError, TrackerError
from diet_sparse.rasa.domain import Domain
from diet_sparse.rasa.events import Event, events_from_json
from diet_sparse.serving.conversations import tracker_json

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.0"  # the Rasa version the action server is told it talks to
DEFAULT_TIMEOUT = 10.0  # seconds one action may take, from connecting to its answer's last byte
# The largest answer read: a Rasa SDK answer is a few events and responses, kilobytes; 1 MB is
# far above any real one, and bounds what one message can make this server hold and store.
MAX_ANSWER_BYTES = 1_000_000


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
            ActionServerError: the action did not run (see the class); `ActionRejectedError`
                where the server rejected it (HTTP 400).
        """
        payload = {
            "next_action": action,
            "sender_id": sender_id,
            "tracker": tracker_json(sender_id, events, domain),
            "domain": domain_as_rasa_json(domain),
            "version": RASA_VERSION,
        }
        where = f"custom action {action!r} at {self.url}"
        status, body = _post(self.url, json.dumps(payload).encode("utf-8"), self.timeout, where)
        if status == 400:
            raise ActionRejectedError(f"{where}: HTTP {status}{_error_detail(body)}")
        if status >= 300:
            raise ActionServerError(f"{where}: HTTP {status}{_error_detail(body)}")
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


def _post(url: str, data: bytes, timeout: float, where: str) -> tuple[int, bytes]:
    """POST ``data`` as JSON to ``url``: the answer's status and body, all within ``timeout``
    seconds from connecting to the body's last byte, and at most `MAX_ANSWER_BYTES` of it.

    Raises:
        ActionServerError: the server cannot be reached, is too slow, or answers too much.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActionServerError(f"{where}: cannot reach it: not an http(s) URL")
    deadline = time.monotonic() + timeout
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    path, sock = parts.path or "/", None
    try:
        connection.connect()
        sock = connection.sock
        connection.sock = _DeadlineSocket(sock, deadline)
        connection.request(
            "POST", f"{path}?{parts.query}" if parts.query else path, body=data,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        response = connection.getresponse()
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > MAX_ANSWER_BYTES:
            raise ActionServerError(f"{where}: its answer is over {MAX_ANSWER_BYTES} bytes")
        body = response.read(MAX_ANSWER_BYTES + 1)
        if len(body) > MAX_ANSWER_BYTES:
            raise ActionServerError(f"{where}: its answer is over {MAX_ANSWER_BYTES} bytes")
        return response.status, body
    except TimeoutError:
        raise ActionServerError(f"{where}: no complete answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() >= deadline:
            raise ActionServerError(f"{where}: no complete answer within {timeout:g} s") from None
        raise ActionServerError(f"{where}: cannot reach it: {error}") from None
    finally:
        connection.close()
        if sock is not None:
            sock.close()


class _DeadlineSocket:
    """A connected socket whose every send and receive waits at most until ``deadline`` (a
    `time.monotonic` time): a socket's own timeout bounds each wait, not their sum. `_post`
    closes the socket itself once the answer is read (`http.client` may close its connection
    before it reads the answer)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)
        return left

    def sendall(self, data: bytes) -> None:
        self._left()
        self._sock.sendall(data)  # the timeout bounds the whole of sendall

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._left()
        return self._sock.recv_into(buffer, nbytes)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        pass


class _Reader(io.RawIOBase):
    """The raw stream `http.client` reads an answer from, each read bounded by the deadline."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)


def _error_detail(body: bytes) -> str:
    """What an action server says with its error status: Rasa SDK sends ``{"action_name",
    "error"}`` when an action rejects its run."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return ""
    message = answer.get("error") if isinstance(answer, dict) else None
    return f": {message}" if message else ""


def domain_as_rasa_json(domain: Domain) -> dict[str, Any]:
    """The domain as Rasa sends it to an action server: intents, entities, slots (with their
    type, initial value and mappings), responses (their variations), actions and forms (with their
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
            name: [dict(variation) for variation in variations]
            for name, variations in domain.responses.items()
        },
        "actions": list(domain.actions),
        "forms": {name: {"required_slots": list(slots)} for name, slots in domain.forms.items()},
        "session_config": dict(domain.session_config),
    }
