"""HTTP server speaking Rasa's NLU protocol, so a chatbot can use a diet-sparse model over HTTP.

A Rasa assistant with ``nlu: url: "http://host:port"`` in its ``endpoints.yml`` POSTs
``{"text": ..., "message_id": ..., "token": ...}`` to ``/model/parse`` and reads back the parse
result; this server answers exactly that, plus ``/health``, ``/status`` and ``/version``.
Started with a dialogue policy as well (``policy_dir``, ``--policy``), it also answers
``POST /model/predict``: a body ``{"events": [...]}`` holding the events of a Rasa tracker gets
back the policy's scores of the next action (`Policy.predict`), each prediction made in a worker
thread.

Requests that arrive together are parsed as one batch: a single worker takes the first queued
request, waits up to ``batch_window_ms`` for more (at most ``max_batch_size``), and runs
``nlu.parse_batch`` once in a worker thread so the event loop keeps accepting requests. Up to
``concurrent_batches`` batches (one per CPU core by default) are parsed at the same time: while
one is parsed, the next is collected and started on another core.

`serve` prints nothing: it logs its start-up and shutdown lines to the ``diet_sparse.serving.app``
logger (``diet-sparse serve`` shows them on stderr) and raises `ServerStartError` (or
`ConfigError`, for an option out of range) when it cannot start.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import json
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from diet_sparse import __version__
from diet_sparse.dialogue.featurization import DialogueError
from diet_sparse.errors import (
    ConfigError,
    CorrectionError,
    EventBrokerError,
    ServerStartError,
    TrackerError,
)
from diet_sparse.nlu.parser import NLU
from diet_sparse.rasa.events import check_sender_id, events_from_json
from diet_sparse.serving.chat_page import add_chat_page_routes, is_page_path
from diet_sparse.serving.event_broker import EventBroker
from diet_sparse.serving.options import (
    DEFAULT_BATCH_WINDOW_MS,
    DEFAULT_CONCURRENT_BATCHES,
    DEFAULT_HOST,
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_TEXT_LENGTH,
    DEFAULT_PORT,
    DEFAULT_WORKERS,
    check_option,
)
from diet_sparse.serving.tracker_store import DEFAULT_FILE as DEFAULT_TRACKER_FILE
from diet_sparse.serving.tracker_store import TrackerStore, TrackerStoreError

logger = logging.getLogger(__name__)

PARSE_PATH = "/model/parse"
PREDICT_PATH = "/model/predict"
BODY_TOKEN_PATHS = (PARSE_PATH, PREDICT_PATH)  # POSTs that may carry the token in their body
GRACEFUL_SHUTDOWN_SECONDS = 10  # in-flight requests get this long to finish after SIGTERM

ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    422: "invalid_request",
    500: "internal_error",
}


class ApiError(Exception):
    """A request the server refuses; becomes ``{"error": name, "detail": detail}``."""

    def __init__(self, status: int, error: str, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


# --- request and response schemas (the OpenAPI document; bodies are checked by hand) ---------


class ParseRequest(BaseModel):
    """What Rasa's ``RasaNLUHttpInterpreter`` sends; ``token`` and ``message_id`` may be null."""

    text: str
    message_id: str | None = None
    token: str | None = None


class IntentResult(BaseModel):
    name: str | None
    confidence: float


class EntityResult(BaseModel):
    model_config = ConfigDict(extra="allow")  # role, group and their confidences, processors

    entity: str
    start: int
    end: int
    value: Any  # text; a message naming its intent may give numbers and booleans too
    confidence_entity: float | None = None  # None: from a message naming its intent
    extractor: str


class ParseResponse(BaseModel):
    text: str
    intent: IntentResult
    intent_ranking: list[IntentResult]
    entities: list[EntityResult]
    message_id: str | None = None


class TrackerEvent(BaseModel):
    """One event of a Rasa tracker; ``user``, ``action``, ``slot`` and ``active_loop`` events
    shape the prediction, ``restart``, ``session_started``, ``undo``, ``rewind`` and
    ``reset_slots`` are applied as Rasa applies them, and the other kinds are skipped."""

    model_config = ConfigDict(extra="allow")  # name, parse_data, value, timestamp, ...

    event: str


class PredictRequest(BaseModel):
    """The conversation so far, oldest event first; ``token`` as in `ParseRequest`."""

    events: list[TrackerEvent]
    token: str | None = None


class ActionScore(BaseModel):
    action: str
    score: float


class PredictResponse(BaseModel):
    scores: list[ActionScore]  # highest first
    policy: str
    confidence: float  # the first score


class WebhookRequest(BaseModel):
    """Rasa's REST channel: who sends (a non-empty string of at most 255 characters; absent or
    null: ``"default"``) and the message."""

    sender: str | None = "default"
    message: str


class WebhookMessage(BaseModel):
    """One message of Rasa's REST channel (its CollectingOutputChannel); absent fields are left
    out."""

    recipient_id: str
    text: str | None = None
    image: str | None = None
    buttons: list[dict[str, Any]] | None = None
    attachment: Any = None
    custom: Any = None


class ErrorResponse(BaseModel):
    error: str
    detail: Any


class StatusResponse(BaseModel):
    model_directory: str | None
    diet_sparse_version: str
    model_trained_with: str | None
    trained_at: str | None
    intents: list[str]
    entity_types: list[str]
    roles: list[str]
    groups: list[str]
    connection_density: float
    batch_window_ms: float
    max_text_length: int
    policy_directory: str | None
    policy_action_count: int | None  # None: started without a policy
    project_directory: str | None  # the Rasa project folder served, if any
    interactive: bool  # POST /conversations/{id}/save writes into its data/interactive/


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 413, 500)
}
PARSE_EXAMPLE = '{"text": "hello"}'
PREDICT_EXAMPLE = '{"events": [{"event": "action", "name": "action_listen"}]}'
WEBHOOK_PATH = "/webhooks/rest/webhook"  # Rasa's REST channel
DEFAULT_SENDER_ID = "default"  # Rasa's UserMessage.DEFAULT_SENDER_ID: a message without sender
WEBHOOK_EXAMPLE = '{"sender": "ann", "message": "hello"}'
EVENTS_EXAMPLE = '[{"event": "action", "name": "action_listen"}]'


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an endpoint that reads ``model``'s JSON by hand, with the
    models it nests written out in place: OpenAPI's document has no ``$defs`` to refer to."""
    schema = model.model_json_schema()
    nested = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(nested[node["$ref"].rpartition("/")[2]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


# --- micro-batching --------------------------------------------------------------------------


@dataclass
class _Pending:
    text: str
    future: asyncio.Future
    arrived: float  # time.monotonic() when queued


class MicroBatcher:
    """Parses texts that arrive within ``window_ms`` of each other with one ``parse_batch`` call.

    ``window_ms = 0`` parses every request on its own, concurrently in worker threads.

    Example:
        >>> batcher = MicroBatcher(nlu.parse_batch, window_ms=2)  # doctest: +SKIP
        >>> batcher.start(); result = await batcher.parse("hello")  # doctest: +SKIP
    """

    def __init__(
        self,
        parse_batch: Callable[[list[str]], list[dict[str, Any]]],
        window_ms: float = DEFAULT_BATCH_WINDOW_MS,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        concurrent_batches: int = DEFAULT_CONCURRENT_BATCHES,
    ) -> None:
        check_option("batch_window_ms", window_ms)
        check_option("max_batch_size", max_batch_size)
        check_option("concurrent_batches", concurrent_batches)
        self.parse_batch = parse_batch
        self.window = window_ms / 1000
        self.max_batch_size = max_batch_size
        self.concurrent_batches = concurrent_batches
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task | None = None
        self._in_flight: set[asyncio.Task] = set()

    def start(self) -> None:
        """Start the batching worker on the running event loop (no-op without a window)."""
        if self.window > 0 and self._worker is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker; requests still queued fail (the server has stopped accepting)."""
        if self._worker is None:
            return
        self._worker.cancel()
        try:
            await self._worker
        except asyncio.CancelledError:
            pass
        self._worker = None
        await asyncio.gather(*self._in_flight, return_exceptions=True)  # let started ones finish
        while self._queue is not None and not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("server shutting down"))

    async def parse(self, text: str) -> dict[str, Any]:
        """The parse result of ``text``, batched with requests arriving at the same time."""
        if self._worker is None:
            return (await asyncio.to_thread(self.parse_batch, [text]))[0]
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(text, future, time.monotonic()))
        return await future

    async def _run(self) -> None:
        free = asyncio.Semaphore(self.concurrent_batches)
        while True:
            await free.acquire()  # collect only once a batch can start: it grows meanwhile
            task = asyncio.create_task(self._parse_and_resolve(await self._collect()))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            task.add_done_callback(lambda _: free.release())

    async def _collect(self) -> list[_Pending]:
        """The first queued request and those arriving within the window after it."""
        batch = [await self._queue.get()]
        deadline = batch[0].arrived + self.window
        while len(batch) < self.max_batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _parse_and_resolve(self, batch: list[_Pending]) -> None:
        try:
            results = await self._parse_texts([pending.text for pending in batch])
        except Exception as error:
            if len(batch) > 1:  # one bad text must not fail the others: isolate it
                for pending in batch:
                    await self._parse_and_resolve([pending])
                return
            results = [error]
        for pending, result in zip(batch, results):
            if pending.future.done():  # the client went away
                continue
            if isinstance(result, Exception):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)

    async def _parse_texts(self, texts: list[str]) -> list[dict[str, Any]]:
        results = await asyncio.to_thread(self.parse_batch, texts)
        if len(results) != len(texts):
            raise RuntimeError(f"parse_batch returned {len(results)} results for {len(texts)}")
        return results


# --- authentication ----------------------------------------------------------------------------


def _same_token(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _token_outside_body(request: Request) -> str | None:
    """The token from ``?token=`` or ``Authorization: Bearer``, if either is there."""
    token = request.query_params.get("token")
    if token is not None:
        return token
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _unauthorized(body_token: bool) -> JSONResponse:
    """The 401, naming the ways this request may carry the token: in its JSON body only for
    `BODY_TOKEN_PATHS` (``body_token``), as Rasa's NLU client sends it."""
    ways = "as ?token= or as 'Authorization: Bearer <token>'"
    if body_token:
        ways = f"in the JSON body as 'token', {ways}"
    return _error_response(
        401,
        "unauthorized",
        f"this server needs a token: {ways}",
        headers={"WWW-Authenticate": "Bearer"},
    )


class TokenGuard:
    """ASGI middleware: every request needs the token, as ``?token=`` (Rasa's ``--auth-token``)
    or ``Authorization: Bearer``, except that POST /model/parse and /model/predict
    (`BODY_TOKEN_PATHS`) may carry it in their JSON body instead (as Rasa's NLU client sends it),
    which those endpoints check themselves. The REST channel and the tracker endpoints take it
    only as ``?token=`` or the header, as Rasa's do; the 401 says which ways a path takes. With
    ``page``, the chat page's own files (`chat_page.is_page_path`) need none: the page asks for
    the token and sends it with its calls."""

    def __init__(self, app: ASGIApp, token: str, page: bool = False) -> None:
        self.app = app
        self.token = token
        self.page = page  # the chat page is served: its paths need no token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.page and is_page_path(scope["method"], scope["path"]):  # it asks for the token
            await self.app(scope, receive, send)
            return
        authorized = _same_token(_token_outside_body(request), self.token)
        scope.setdefault("state", {})["token_checked"] = authorized
        if authorized or (scope["path"] in BODY_TOKEN_PATHS and scope["method"] == "POST"):
            await self.app(scope, receive, send)
        else:
            await _unauthorized(body_token=False)(scope, receive, send)


# --- request validation ------------------------------------------------------------------------


async def read_body(request: Request, max_body_bytes: int) -> bytes:
    """The request body, refused with 413 past ``max_body_bytes`` (declared or actually sent)."""
    too_large = ApiError(
        413, "payload_too_large", f"the request body is over the limit of {max_body_bytes} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body_bytes:
            raise too_large
    return bytes(body)


async def _authorized_json(
    request: Request, max_body_bytes: int, auth_token: str | None, example: str
) -> Any:
    """The decoded JSON body of a POST to a `BODY_TOKEN_PATHS` path, once its token is checked
    (outside the body by `TokenGuard`, else here as the body's ``token``), or the `JSONResponse`
    to send instead: 401 without the token, saying nothing about the body, or an empty one when
    the client went away. ``example`` is a body to show when it is empty."""
    try:
        body = await read_body(request, max_body_bytes)
    except ClientDisconnect:
        return JSONResponse({}, status_code=400)  # nobody is listening any more
    needs_body_token = auth_token is not None and not request.state.token_checked
    try:
        decoded = decode_json(body, example)
    except ApiError:
        if needs_body_token:
            return _unauthorized(body_token=True)  # say nothing about the body: no token
        raise
    if needs_body_token and not (
        isinstance(decoded, dict) and _same_token(decoded.get("token"), auth_token)
    ):
        return _unauthorized(body_token=True)
    return decoded


def decode_json(body: bytes, example: str) -> Any:
    """A request body's JSON, or a 400 that shows ``example``, a body to send instead."""
    if not body.strip():
        raise ApiError(400, "invalid_json", f"the body is empty; send JSON like {example}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and bad UTF-8 are ValueError
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {error}") from None


JSON_TYPES = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def _describe(value: Any) -> str:
    """The JSON type of a decoded value, for error messages."""
    return JSON_TYPES.get(type(value), type(value).__name__)


def _checked_string(body: dict, key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            missing = key not in body
            detail = f"missing '{key}'" if missing else f"'{key}' must be a string, got null"
            raise ApiError(400, "invalid_request", detail)
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_request", f"'{key}' must be a string, got {_describe(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "invalid_request", f"'{key}' is not valid Unicode (lone surrogate)"
        ) from None
    return value


def _check_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_request", f"the body must be a JSON object, got {_describe(body)}"
        )


def _parse_request(body: Any, max_text_length: int) -> ParseRequest:
    """Check the decoded body the way a user can act on; unknown keys are ignored."""
    _check_object(body)
    text = _checked_string(body, "text", required=True)
    if len(text) > max_text_length:
        raise ApiError(
            413,
            "text_too_long",
            f"'text' has {len(text)} characters; the limit is {max_text_length} "
            "(--max-text-length)",
        )
    return ParseRequest.model_construct(
        text=text,
        message_id=_checked_string(body, "message_id", required=False),
        token=_checked_string(body, "token", required=False),
    )


def _predict_events(body: Any, max_events: int) -> list[Any]:
    """The ``events`` of a decoded /model/predict body, checked as a whole; the events themselves
    are read by `_predict`. Unknown keys are ignored."""
    _check_object(body)
    _checked_string(body, "token", required=False)
    if "events" not in body:
        raise ApiError(
            400,
            "invalid_request",
            f"missing 'events', the tracker's events: send {PREDICT_EXAMPLE}",
        )
    events = body["events"]
    if not isinstance(events, list):
        raise ApiError(
            400,
            "invalid_request",
            f"'events' must be an array of tracker events, got {_describe(events)}",
        )
    if len(events) > max_events:
        raise ApiError(
            413,
            "too_many_events",
            f"'events' has {len(events)} events; the limit is {max_events}",
        )
    return events


def _predict(policy, events: list[Any]) -> dict[str, Any]:
    """``policy``'s prediction from tracker ``events`` (run in a worker thread).

    Raises:
        ApiError: 400 for an event that cannot be read or names what the policy's domain lacks;
            the detail names the event by its index in ``events``.
    """
    try:
        read = events_from_json(events)
    except TrackerError as error:  # "tracker event <index>: ...", the index in ``events``
        raise ApiError(400, "invalid_event", str(error)) from None
    try:
        return policy.predict(read)
    except DialogueError as error:  # its index counts the events read, not those sent
        raise _locate_unknown_name(policy, events, error) from None


def _locate_unknown_name(policy, events: list[Any], error: DialogueError) -> ApiError:
    """The 400 for the first of ``events`` that names what the domain lacks. An event's names
    are checked without the events around it, so the event can be found on its own."""
    for index, event in enumerate(events):
        try:
            policy.states([event])
        except DialogueError as alone:
            problem = str(alone).removeprefix("event 0: ")
            return ApiError(400, "not_in_domain", f"tracker event {index}: {problem}")
    return ApiError(400, "not_in_domain", str(error))


def checked_sender_id(sender_id: Any) -> str:
    """``sender_id`` if it can name a conversation (`check_sender_id`), else a 400."""
    try:
        return check_sender_id(sender_id)
    except TrackerError as error:
        raise ApiError(400, "invalid_sender_id", str(error)) from None


def _webhook_request(body: Any, max_text_length: int) -> tuple[str, str]:
    """The sender and message of a decoded REST channel body; no ``sender`` (or null) is
    Rasa's ``"default"``, an empty one is refused like any other that cannot name a
    conversation."""
    _check_object(body)
    sender = _checked_string(body, "sender", required=False)
    sender = checked_sender_id(DEFAULT_SENDER_ID if sender is None else sender)
    message = _checked_string(body, "message", required=True)
    if len(message) > max_text_length:
        raise ApiError(413, "text_too_long", f"'message' has {len(message)} characters; the "
                       f"limit is {max_text_length} (--max-text-length)")  # fmt: skip
    return sender, message


async def in_conversation(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a worker thread, its errors as the API's."""
    try:
        return await asyncio.to_thread(function, *args)
    except TrackerStoreError as error:
        raise ApiError(503, "tracker_store_unavailable", str(error)) from None
    except TrackerError as error:
        raise ApiError(400, "invalid_event", str(error)) from None
    except CorrectionError as error:
        raise ApiError(400, "invalid_correction", str(error)) from None
    except DialogueError as error:
        raise ApiError(400, "not_in_domain", str(error)) from None


def _add_conversation_routes(
    app: FastAPI, nlu, policy, store: TrackerStore, max_body_bytes: int, max_text_length: int,
    max_events: int, actions: Any,
) -> None:  # fmt: skip
    """Rasa's REST channel and its tracker endpoints, over the conversations in ``store``;
    custom actions run on the action server ``actions`` (None: not run). The chat page and its
    endpoints are added beside them (`chat_page`)."""
    from diet_sparse.serving.conversations import replace_events, respond, tracker_json

    @app.post(
        WEBHOOK_PATH,
        response_model=list[WebhookMessage],
        responses=ERROR_RESPONSES,
        openapi_extra=_request_body(WebhookRequest),
    )
    async def webhook(request: Request) -> JSONResponse:
        """The bot's answer to ``message`` from ``sender``, as Rasa's REST channel gives it:
        ``[{"recipient_id", "text", "buttons", "image", "attachment", "custom"}]`` (absent
        fields left out), one or more per message said; the conversation is kept in the
        tracker store."""
        body = decode_json(await read_body(request, max_body_bytes), WEBHOOK_EXAMPLE)
        sender, message = _webhook_request(body, max_text_length)
        answer = await in_conversation(respond, store, sender, message, nlu, policy, actions)
        return JSONResponse(answer)

    # ``:path``: a sender id may hold "/", sent URL-encoded (%2F), which Starlette decodes
    # before routing
    @app.get("/conversations/{sender_id:path}/tracker")
    async def get_tracker(sender_id: str) -> JSONResponse:
        """The conversation with ``sender_id`` (URL-encoded) as Rasa's tracker JSON (no events:
        a new one)."""
        sender_id = checked_sender_id(sender_id)
        events = await in_conversation(store.events, sender_id)
        return JSONResponse(tracker_json(sender_id, events, policy.domain))

    @app.put("/conversations/{sender_id:path}/tracker/events")
    async def put_events(request: Request, sender_id: str) -> JSONResponse:
        """Replace the conversation's events with the body's array of tracker events (as
        Rasa's API does); answers the tracker. Nothing is stored from a refused request."""
        sender_id = checked_sender_id(sender_id)
        events = decode_json(await read_body(request, max_body_bytes), EVENTS_EXAMPLE)
        if not isinstance(events, list):
            detail = f"the body must be an array of tracker events, got {_describe(events)}"
            raise ApiError(400, "invalid_request", detail)
        if len(events) > max_events:
            detail = f"{len(events)} events; the limit is {max_events}"
            raise ApiError(413, "too_many_events", detail)
        events = await in_conversation(replace_events, store, sender_id, events, policy)
        return JSONResponse(tracker_json(sender_id, events, policy.domain))


# --- the application ---------------------------------------------------------------------------


def _check_options(**options: Any) -> None:
    for name, value in options.items():
        check_option(name, value)


def _error_response(
    status: int, error: str, detail: Any, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _status(
    nlu,
    model_dir: str | None,
    batch_window_ms: float,
    max_text_length: int,
    policy,
    policy_dir: str | None,
) -> dict:
    labels = {name: vocabulary.labels() for name, vocabulary in nlu.tag_vocabularies.items()}
    return {
        "model_directory": model_dir,
        "diet_sparse_version": __version__,
        "model_trained_with": nlu.metadata.get("diet_sparse_version"),
        "trained_at": nlu.metadata.get("trained_at"),
        "intents": list(nlu.intents),
        "entity_types": labels.get("entity", []),
        "roles": labels.get("role", []),
        "groups": labels.get("group", []),
        "connection_density": nlu.config.connection_density,
        "batch_window_ms": batch_window_ms,
        "max_text_length": max_text_length,
        "policy_directory": policy_dir,
        "policy_action_count": len(policy.action_names) if policy is not None else None,
    }


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return _error_response(error.status, error.error, error.detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        name = ERROR_NAMES.get(error.status_code, "http_error")
        return _error_response(error.status_code, name, error.detail, error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        return _error_response(422, "invalid_request", _validation_details(error))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error_response(500, "internal_error", f"{type(error).__name__}: {error}")


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's error list without the parts that may not serialise (input, ctx)."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in error.errors()]


def create_app(
    nlu,
    *,
    model_dir: str | Path | None = None,
    policy=None,
    policy_dir: str | Path | None = None,
    auth_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH,
    max_events: int = DEFAULT_MAX_EVENTS,
    batch_window_ms: float = DEFAULT_BATCH_WINDOW_MS,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    tracker_store: TrackerStore | None = None,
    action_endpoint: str | None = None,
    project: str | Path | None = None,
    interactive: bool = False,
) -> FastAPI:
    """The FastAPI application serving ``nlu`` (anything with `NLU`'s attributes and methods)
    and, if given, the dialogue ``policy`` (a `Policy`) at POST /model/predict; without one,
    that path answers 404. With a policy and a ``tracker_store``, it is also the bot: Rasa's
    REST channel (POST /webhooks/rest/webhook) and GET /conversations/{id}/tracker and PUT
    /conversations/{id}/tracker/events, over the conversations in the store, running custom
    actions on the Rasa action server at ``action_endpoint`` (a URL; None: custom actions are
    not run). The bot also serves the chat page at ``/`` and the endpoints behind it
    (`chat_page`); with ``interactive``, POST /conversations/{id}/save writes a conversation
    into the ``data/interactive/`` folder of the Rasa project folder ``project``. ``model_dir``
    and ``policy_dir`` are only shown by /status.

    Raises:
        ConfigError: an option is out of range (see `check_option`).

    Example:
        >>> from fastapi.testclient import TestClient  # doctest: +SKIP
        >>> with TestClient(create_app(load("models/default"))) as client:  # doctest: +SKIP
        ...     client.post("/model/parse", json={"text": "hi"}).json()["intent"]
    """
    _check_options(
        auth_token=auth_token,
        max_body_bytes=max_body_bytes,
        max_text_length=max_text_length,
        max_events=max_events,
        batch_window_ms=batch_window_ms,
        max_batch_size=max_batch_size,
    )
    if interactive and (project is None or policy is None or tracker_store is None):
        raise ConfigError(
            "interactive learning needs the bot (a policy and a tracker store) of a Rasa project "
            "folder: run 'diet-sparse serve --interactive' in the project folder"
        )
    parse_batch = nlu.parse_batch
    if policy is not None and isinstance(nlu, NLU):
        # /intent messages are read against the domain, as Rasa's models with one read them
        parse_batch = functools.partial(nlu.parse_batch, domain=policy.domain)
    batcher = MicroBatcher(parse_batch, batch_window_ms, max_batch_size)
    status = _status(
        nlu,
        str(model_dir) if model_dir is not None else None,
        batch_window_ms,
        max_text_length,
        policy,
        str(policy_dir) if policy_dir is not None else None,
    )
    status["project_directory"] = str(Path(project).resolve()) if project is not None else None
    status["interactive"] = interactive

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="diet-sparse NLU server",
        version=__version__,
        description="Rasa's NLU HTTP protocol: POST /model/parse returns the parse result. "
        "Started with a dialogue policy, POST /model/predict returns the next action's scores.",
        lifespan=lifespan,
    )
    _add_error_handlers(app)
    if auth_token is not None:
        page = policy is not None and tracker_store is not None  # the bot serves its chat page
        app.add_middleware(TokenGuard, token=auth_token, page=page)

    @app.post(
        PARSE_PATH,
        response_model=None,
        responses={200: {"model": ParseResponse}, **ERROR_RESPONSES},
        openapi_extra=_request_body(ParseRequest),
    )
    async def parse(request: Request) -> JSONResponse:
        """Intent, intent ranking and entities of ``text``, as Rasa's parse result."""
        decoded = await _authorized_json(request, max_body_bytes, auth_token, PARSE_EXAMPLE)
        if isinstance(decoded, JSONResponse):
            return decoded
        parse_request = _parse_request(decoded, max_text_length)
        try:
            result = await batcher.parse(parse_request.text)
        except Exception as error:
            logger.exception("parsing %r failed", parse_request.text[:100])
            raise ApiError(500, "internal_error", f"parsing failed: {error}") from None
        if parse_request.message_id is not None:
            result = {**result, "message_id": parse_request.message_id}
        return JSONResponse(result)

    @app.post(
        PREDICT_PATH,
        response_model=None,
        responses={
            200: {"model": PredictResponse},
            404: {"model": ErrorResponse},
            **ERROR_RESPONSES,
        },
        openapi_extra=_request_body(PredictRequest),
    )
    async def predict(request: Request) -> JSONResponse:
        """The policy's scores of the next action after ``events``, a Rasa tracker's events;
        404 when the server was started without a policy."""
        no_policy = ApiError(
            404,
            "not_found",
            "this server was started without --policy: it has no dialogue policy to predict with",
        )
        token_checked = auth_token is None or request.state.token_checked
        if policy is None and token_checked:
            raise no_policy
        decoded = await _authorized_json(request, max_body_bytes, auth_token, PREDICT_EXAMPLE)
        if isinstance(decoded, JSONResponse):
            return decoded
        if policy is None:  # the token was in the body
            raise no_policy
        events = _predict_events(decoded, max_events)
        try:
            result = await asyncio.to_thread(_predict, policy, events)
        except ApiError:
            raise
        except Exception as error:
            logger.exception("predicting from %d events failed", len(events))
            raise ApiError(500, "internal_error", f"prediction failed: {error}") from None
        return JSONResponse(result)

    if policy is not None and tracker_store is not None:
        from diet_sparse.serving.action_server import ActionServer

        actions = ActionServer(action_endpoint) if action_endpoint else None
        _add_conversation_routes(app, nlu, policy, tracker_store, max_body_bytes,
                                 max_text_length, max_events, actions)  # fmt: skip
        project = Path(project) if project is not None else None
        add_chat_page_routes(app, nlu, policy, tracker_store, actions, max_body_bytes,
                             project, interactive)  # fmt: skip

    @app.get("/health")
    async def health() -> dict[str, str]:
        """200 while the server is up: the model is loaded before it starts listening."""
        return {"status": "ok"}

    @app.get("/status", response_model=StatusResponse)
    async def get_status() -> dict[str, Any]:
        """The model served: directory, intents, entity types, density, when it was trained;
        the policy's directory and number of actions (null without a policy)."""
        return status

    @app.get("/version")
    async def version() -> dict[str, str]:
        """The diet-sparse version serving the model."""
        return {"version": __version__}

    return app


# --- start-up ----------------------------------------------------------------------------------


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` before the (slow) model load, so a taken port fails fast."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise ServerStartError(f"cannot listen on {host}:{port}: {error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _load_model(model_dir: str | Path):
    from diet_sparse.nlu.parser import limit_blas_threads
    from diet_sparse.persistence import ModelLoadError, load

    limit_blas_threads()  # this process only predicts
    try:
        # one thread per parse: the server's parallelism is its concurrent batches and workers
        nlu = load(model_dir, threads=1)
    except ModelLoadError as error:
        raise ServerStartError(str(error)) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ServerStartError(
            f"cannot load the model in {model_dir}: {type(error).__name__}: {error}"
        ) from None
    nlu.parse("warm up")  # traces the model now rather than during the first request
    return nlu


def _load_policy(policy_dir: str | Path):
    from diet_sparse.persistence import ModelLoadError, load_policy

    try:
        policy = load_policy(policy_dir, threads=1)  # one thread per prediction, as for parses
        policy.predict([])  # makes its ONNX Runtime session now rather than on a request
    except ModelLoadError as error:
        raise ServerStartError(str(error)) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ServerStartError(
            f"cannot load the policy in {policy_dir}: {type(error).__name__}: {error}"
        ) from None
    return policy


def _announce(url: str, host: str, auth_token: str | None, with_policy: bool = False) -> None:
    paths = (
        f"POST {PARSE_PATH}, {PREDICT_PATH} and {WEBHOOK_PATH}"
        if with_policy
        else f"POST {PARSE_PATH}"
    )
    logger.info(
        "diet-sparse %s listening on %s  (%s, docs at %s/docs)", __version__, url, paths, url
    )
    if auth_token is not None:
        logger.info(
            "Requests must carry the token (?token= or Authorization: Bearer; POST %s and %s "
            "also take it as the JSON body's 'token').",
            PARSE_PATH,
            PREDICT_PATH,
        )
    elif _is_loopback(host):
        logger.info("No --auth-token: only accepting connections from this machine (%s).", host)
    else:
        logger.warning(
            "WARNING: listening on %s without --auth-token: anyone who can reach this port can "
            "use the model. Pass --auth-token TOKEN, or --host 127.0.0.1.",
            host,
        )


def _ignore_signal(signum: int, frame: Any) -> None:
    """Stands in for SIGTERM/SIGINT's default after uvicorn's graceful shutdown re-raises them."""


def serve(
    model_dir: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    auth_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH,
    max_events: int = DEFAULT_MAX_EVENTS,
    batch_window_ms: float = DEFAULT_BATCH_WINDOW_MS,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    workers: int = DEFAULT_WORKERS,
    policy_dir: str | Path | None = None,
    tracker_store: str | None = None,
    action_endpoint: str | None = None,
    event_broker: str | None = None,
    project: str | Path | None = None,
    interactive: bool = False,
) -> None:
    """Serve the model in ``model_dir`` (and the dialogue policy in ``policy_dir``, at POST
    /model/predict) over HTTP until SIGTERM or Ctrl-C.

    With a policy, the server is also the bot, at Rasa's REST channel, keeping conversations
    in the database ``tracker_store`` (a SQLAlchemy URL; default: ``tracker.db``, a SQLite
    file in the current folder), which several servers may share (`tracker_store`), and
    running custom actions on the Rasa action server at ``action_endpoint`` (a URL), if given;
    with ``event_broker`` (a SQLAlchemy URL, another database), each turn's events are published
    there once saved, as Rasa's SQL event broker publishes them (`event_broker.EventBroker`).
    The bot serves the chat page at ``/`` (`chat_page`); with ``interactive``, its saves go to
    the ``data/interactive/`` folder of the Rasa project folder ``project``.

    The options are checked, the address bound, and the policy and the model loaded (each
    making a first prediction, to warm up) before the server starts listening. Start-up and
    shutdown are logged at INFO (a warning when listening beyond this machine without a token)
    to the ``diet_sparse.serving.app`` logger; nothing is printed. With ``workers`` > 1, that many
    processes, each with its own copy of the model and policy, share the port: Python runs one
    thread at a time per process, so more processes use more cores.

    Raises:
        ConfigError: an option is out of range (see `check_option`).
        ServerStartError: the address cannot be bound, the model or the policy cannot be
            loaded, or the tracker store cannot be opened; the message is one line to show.

    Example:
        >>> serve("models/default", port=5005, policy_dir="models/policy")  # doctest: +SKIP
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _check_options(
        port=port,
        auth_token=auth_token,
        max_body_bytes=max_body_bytes,
        max_text_length=max_text_length,
        max_events=max_events,
        batch_window_ms=batch_window_ms,
        max_batch_size=max_batch_size,
        workers=workers,
    )
    sock = _bind(host, port)
    store = None
    try:
        policy = None
        if policy_dir is not None:  # first: it loads in a moment, the model takes longer
            logger.info("Loading the policy in %s ...", policy_dir)
            policy = _load_policy(policy_dir)
            tracker_store = tracker_store or f"sqlite:///{Path.cwd() / DEFAULT_TRACKER_FILE}"
            store = _open_store(tracker_store, event_broker)
        logger.info("Loading the model in %s ...", model_dir)
        nlu = _load_model(model_dir)
    except BaseException:
        sock.close()
        raise
    app_options = dict(
        model_dir=Path(model_dir).resolve(),
        policy_dir=Path(policy_dir).resolve() if policy_dir is not None else None,
        auth_token=auth_token,
        max_body_bytes=max_body_bytes,
        max_text_length=max_text_length,
        max_events=max_events,
        batch_window_ms=batch_window_ms,
        max_batch_size=max_batch_size,
        action_endpoint=action_endpoint,
        project=Path(project).resolve() if project is not None else None,
        interactive=interactive,
    )
    if workers == 1:
        app: Any = create_app(nlu, policy=policy, tracker_store=store, **app_options)
    else:  # each worker process loads model and policy itself; this one checked that they load
        del nlu, policy
        if policy_dir is not None:
            store.close()
        app_options["tracker_store"] = tracker_store
        app_options["event_broker"] = event_broker
        app = functools.partial(_worker_app, app_options)
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    _announce(f"http://{shown_host}:{bound_port}", host, auth_token, policy_dir is not None)
    config = uvicorn.Config(
        app,
        factory=workers > 1,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    previous = {sig: signal.signal(sig, _ignore_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if workers == 1:
            uvicorn.Server(config).run(sockets=[sock])
        else:
            Multiprocess(config, sockets=[sock]).run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    logger.info("Server stopped.")


def _worker_app(options: dict[str, Any]) -> FastAPI:
    """The application of one worker process of `serve` (module level, so it can be pickled)."""
    options = dict(options)
    policy_dir, url = options["policy_dir"], options.pop("tracker_store")
    broker = options.pop("event_broker")
    policy = _load_policy(policy_dir) if policy_dir is not None else None
    store = _open_store(url, broker) if policy_dir is not None else None
    nlu = _load_model(options["model_dir"])
    return create_app(nlu, policy=policy, tracker_store=store, **options)


def _open_store(url: str, event_broker: str | None = None) -> TrackerStore:
    """The tracker store at ``url``, publishing to the SQL event broker at ``event_broker`` (a
    database of its own: both have Rasa's ``events`` table, with other columns)."""
    broker = None
    try:
        if event_broker is not None:
            broker = EventBroker(event_broker)
        store = TrackerStore(url, event_broker=broker)
    except (TrackerStoreError, EventBrokerError) as error:
        if broker is not None:
            broker.close()
        raise ServerStartError(str(error)) from None
    if broker is not None and _same_database(store.engine.url, broker.engine.url):
        store.close()
        raise ServerStartError(
            f"event broker {broker.url}: the tracker store's database; Rasa's event broker and "
            "tracker store both have an 'events' table, so give the event_broker another db"
        )
    logger.info("Conversations are kept in %s", store.url)
    if broker is not None:
        logger.info("Their events are published to %s", broker.url)
    return store


def _same_database(first: Any, second: Any) -> bool:
    """Whether two SQLAlchemy URLs name one database (a SQLite file by its resolved path)."""
    if first.get_backend_name() == second.get_backend_name() == "sqlite":
        files = [url.database for url in (first, second)]
        return all(files) and Path(files[0]).resolve() == Path(files[1]).resolve()
    keys = ("host", "port", "database")
    return first.get_backend_name() == second.get_backend_name() and all(
        getattr(first, key) == getattr(second, key) for key in keys
    )
