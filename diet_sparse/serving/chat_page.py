"""The chat page and the endpoints behind it: talk to the bot in a browser and see why it
answered (docs/serving.md, "The chat page").

``GET /`` is the page (plain HTML, CSS and JavaScript in ``diet_sparse/serving/page/``, served
from the package: nothing is fetched from elsewhere), its files at ``GET /page/<name>``; neither
needs the server's token (the page asks for it, and sends it with each call). The page talks to
the bot through Rasa's REST channel and reads, for the inspector and for interactive learning:

- ``GET /inspector/domain``: the intents, entities, actions, forms and slots to choose from;
- ``GET /conversations/{id}/turns``: the conversation turn by turn (`inspector`);
- ``POST /conversations/{id}/corrections``: correct a turn's intent, entities or action, and
  let the bot go on from there (`conversations.correct`);
- ``GET /conversations/{id}/story``: the conversation as Rasa's test story, as Rasa's own
  endpoint gives it; ``GET /conversations/{id}/training-data``: a Rasa 3 YAML file with the
  conversation's messages as NLU examples and the conversation as a story (the page's download);
- ``POST /conversations/{id}/save``: only with ``serve --interactive`` in a project folder,
  that file written into the project's ``data/interactive/``, validated, never overwriting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from diet_sparse.errors import DietSparseError

PAGE_PATH = "/"
PAGE_FILES_PATH = "/page/"
PAGE_FOLDER = Path(__file__).parent / "page"  # package data (pyproject.toml)
PAGE_FILE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
YAML_TYPE = "text/yaml; charset=utf-8"
DOMAIN_PATH = "/inspector/domain"  # not Rasa's GET /domain, which answers the domain file
CORRECTION_EXAMPLE = '{"turn": 1, "intent": "greet"}'


def is_page_path(method: str, path: str) -> bool:
    """Whether a request is for the page itself, which needs no token (the page has no secrets,
    and asks for the token before it calls anything else)."""
    return method in ("GET", "HEAD") and (path == PAGE_PATH or path.startswith(PAGE_FILES_PATH))


def _page_file(name: str) -> Path | None:
    """The page's file ``name`` (a plain file name of the page folder), or None."""
    if (
        not re.fullmatch(r"[A-Za-z0-9_-]+\.[a-z]+", name)
        or Path(name).suffix not in PAGE_FILE_TYPES
    ):
        return None
    path = PAGE_FOLDER / name
    return path if path.is_file() else None


def add_chat_page_routes(
    app: FastAPI,
    nlu: Any,
    policy: Any,
    store: Any,
    actions: Any,
    max_body_bytes: int,
    project: Path | None,
    interactive: bool,
) -> None:
    """The page and its endpoints (see the module's docstring) on ``app``, for the bot made of
    ``nlu``, ``policy``, the conversations in ``store`` and the action server ``actions``;
    ``POST /conversations/{id}/save`` only when ``interactive`` (then ``project``, the project
    folder whose ``data/interactive/`` it writes into, must be given)."""
    from diet_sparse.serving.app import (
        ApiError,
        checked_sender_id,
        decode_json,
        in_conversation,
        read_body,
    )
    from diet_sparse.serving.conversations import correct
    from diet_sparse.serving.inspector import conversation_turns

    domain = policy.domain

    @app.get(PAGE_PATH, include_in_schema=False)
    async def page() -> FileResponse:
        return _file_response("index.html")

    @app.get(PAGE_FILES_PATH + "{name}", include_in_schema=False)
    async def page_file(name: str) -> FileResponse:
        return _file_response(name)

    @app.get(DOMAIN_PATH)
    async def get_domain() -> dict[str, Any]:
        """What the page's corrections choose from: the domain's intents, entities (with the
        NLU model's roles and groups), every action the policy can predict, forms and slots
        (with their initial values)."""
        labels = {name: v.labels() for name, v in getattr(nlu, "tag_vocabularies", {}).items()}
        return {
            "intents": list(domain.intents),
            "entities": list(domain.entities),
            "roles": labels.get("role", []),
            "groups": labels.get("group", []),
            "actions": list(policy.action_names),
            "forms": list(domain.forms),
            "slots": dict(domain.initial_slot_values),
        }

    async def events_of(sender_id: str) -> tuple[str, list]:
        sender_id = checked_sender_id(sender_id)
        return sender_id, await in_conversation(store.events, sender_id)

    @app.get("/conversations/{sender_id:path}/turns")
    async def get_turns(sender_id: str) -> JSONResponse:
        """The conversation turn by turn: each message with its parse, each bot action with the
        policy that chose it and its top-5 scores, what it said, the slots and the active form
        after the turn, the turn's raw events."""
        sender_id, events = await events_of(sender_id)
        return JSONResponse(conversation_turns(sender_id, events, domain))

    @app.post("/conversations/{sender_id:path}/corrections")
    async def post_correction(request: Request, sender_id: str) -> JSONResponse:
        """Correct a turn's intent and entities (``{"turn", "intent", "entities"?}``) or one of
        its actions (``{"turn", "action_index", "action"}``); the later turns are taken back
        and the bot goes on from the corrected point. Answers ``{"messages"}``, what the bot
        said then (as the REST channel), and ``{"turns"}``, the conversation now."""
        sender_id = checked_sender_id(sender_id)
        body = decode_json(await read_body(request, max_body_bytes), CORRECTION_EXAMPLE)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_correction", "the body must be a JSON object")
        messages = await in_conversation(correct, store, sender_id, body, nlu, policy, actions)
        events = await in_conversation(store.events, sender_id)
        return JSONResponse(
            {"messages": messages, "turns": conversation_turns(sender_id, events, domain)["turns"]}
        )

    @app.get("/conversations/{sender_id:path}/story")
    async def get_story(sender_id: str) -> Response:
        """The conversation as Rasa's test story (YAML), as Rasa's endpoint of this name."""
        from diet_sparse.rasa.story_writing import test_story_yaml

        sender_id, events = await events_of(sender_id)
        return Response(test_story_yaml(events, sender_id), media_type=YAML_TYPE)

    @app.get("/conversations/{sender_id:path}/training-data")
    async def get_training_data(sender_id: str) -> Response:
        """The conversation as Rasa 3 training data: its messages (as corrected) as NLU
        examples and the conversation as a story, in one YAML file to download."""
        from diet_sparse.rasa.story_writing import training_data_yaml

        sender_id, events = await events_of(sender_id)
        filename = re.sub(r"[^A-Za-z0-9_.-]+", "_", sender_id)[:60] or "conversation"
        return Response(
            training_data_yaml(events, domain, sender_id),
            media_type=YAML_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}.yml"'},
        )

    if interactive:
        assert project is not None, "interactive learning writes into a project folder"

        @app.post("/conversations/{sender_id:path}/save")
        async def save(sender_id: str) -> JSONResponse:
            """Write the conversation into the project's ``data/interactive/`` as Rasa 3 YAML
            (new files, validated first); answers ``{"files"}``, relative to the project."""
            from diet_sparse.serving.interactive import save_conversation

            sender_id, events = await events_of(sender_id)
            try:
                written = await in_conversation(
                    save_conversation, project, sender_id, events, domain
                )
            except DietSparseError as error:
                raise ApiError(400, "invalid_conversation", str(error)) from None
            files = [str(Path(path).resolve().relative_to(project.resolve())) for path in written]
            return JSONResponse({"files": files})


def _file_response(name: str) -> FileResponse:
    from diet_sparse.serving.app import ApiError

    path = _page_file(name)
    if path is None:
        raise ApiError(404, "not_found", f"the page has no file {name!r}")
    return FileResponse(
        path, media_type=PAGE_FILE_TYPES[path.suffix], headers={"Cache-Control": "no-cache"}
    )
