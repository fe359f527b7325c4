"""Interactive learning's save: a conversation with the bot written into its project's
``data/interactive/`` as Rasa 3 training data (`save_conversation`), which ``diet-sparse train``
and ``rasa train`` then read with the rest of ``data/``.

Each save is one new file, ``<UTC time>-<sender>.yml``, holding the conversation's NLU examples
and its stories (`story_writing.training_data_yaml`); ``rasa interactive`` writes a stories file
and an NLU file instead, appending to them. One file per save keeps a save one step that cannot
be half done, the download the page offers (the same text) and the saved file the same, and
lets a user drop one conversation by deleting one file; Rasa's and diet-sparse's readers both
read a file that holds ``nlu`` and ``stories``.

Before anything is written the text is read back with the package's readers and checked against
the domain: every intent, entity (role, group), action, slot (and its value) and form it names
must be declared, and each example must read back as the message it came from (a message holding
something Rasa's entity markup would read as markup cannot be saved). A file is never replaced:
it is written under a temporary name in the folder, then linked to its own name, which fails if
that name exists (the next free name is taken).
"""

from __future__ import annotations

import datetime
import errno
import os
import re
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

from diet_sparse.errors import DietSparseError, InteractiveSaveError, TrainingDataWarning
from diet_sparse.rasa.domain import RETRIEVAL_SEPARATOR, Domain
from diet_sparse.rasa.events import Event
from diet_sparse.rasa.nlu_data import load_training_data
from diet_sparse.rasa.stories import check_no_end_to_end_steps, load_stories, validate_stories
from diet_sparse.rasa.story_writing import (
    NLUExample,
    nlu_examples,
    training_conversations,
    training_data_yaml,
)

# Where a project's saved conversations go, as ``rasa interactive`` suggests data/ for its files.
INTERACTIVE_FOLDER = Path("data") / "interactive"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # what a sender id may not bring into a file name
_MAX_SENDER_IN_NAME = 40
_STAMP_FORMAT = "%Y%m%d-%H%M%S"
# What os.link raises where the file system has no hard links (some network and FUSE ones).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


def save_conversation(
    project: str | os.PathLike,
    sender_id: str,
    events: Iterable[Event],
    domain: Domain,
    now: datetime.datetime | None = None,
) -> list[Path]:
    """Save a conversation into ``project/data/interactive/`` as a new Rasa 3 training data
    file (NLU examples and stories, `story_writing.training_data_yaml`), after checking it
    reads back and fits ``domain``. The folder is made when missing; no file is ever replaced.

    Args:
        project: The project folder (it must exist).
        sender_id: The conversation's sender id: the file and its stories are named after it.
        events: The conversation's events, in order (e.g. its tracker's).
        domain: The domain the conversation must fit (the bot's).
        now: The time the file is named after (default: now, UTC).

    Returns:
        The files written (one), under ``project``.

    Raises:
        InteractiveSaveError: Nothing to save (no user message), the conversation names what
            the domain lacks, a message cannot be written as Rasa markup, or the file cannot be
            written; nothing is written then.

    Example:
        >>> save_conversation("my_bot", "ann", bot.events, bot.policy.domain)  # doctest: +SKIP
        [PosixPath('my_bot/data/interactive/20250101-120000-ann.yml')]
    """
    project = Path(project)
    if not project.is_dir():
        raise InteractiveSaveError(f"project folder {project} does not exist")
    events = list(events)
    examples = nlu_examples(events)
    if not examples and not training_conversations(events, domain):
        raise InteractiveSaveError(
            f"conversation {sender_id!r}: nothing to save; it has no user message"
        )
    moment = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    stem = f"{moment.strftime(_STAMP_FORMAT)}-{safe_file_name(sender_id)}"
    text = training_data_yaml(events, domain, f"{sender_id} ({moment:%Y-%m-%d %H:%M:%S} UTC)")
    check_training_data(text, examples, domain, INTERACTIVE_FOLDER / f"{stem}.yml", sender_id)
    folder = project / INTERACTIVE_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InteractiveSaveError(f"cannot make {folder}: {error.strerror or error}") from None
    return [write_new_file(folder, stem, text)]


def safe_file_name(sender_id: str) -> str:
    """A sender id as part of a file name: letters, digits, ``_`` and ``-``, others ``_``, at
    most 40 characters; ``conversation`` if nothing is left.

    Example:
        >>> safe_file_name("ann@example.org/../x")
        'ann_example_org_x'
    """
    safe = _UNSAFE.sub("_", sender_id).strip("_")[:_MAX_SENDER_IN_NAME].strip("_")
    return safe or "conversation"


def check_training_data(
    text: str, examples: list[NLUExample], domain: Domain, name: Path, sender_id: str
) -> None:
    """Read ``text`` back (from a temporary file named ``name``'s name) with the package's
    readers and check it against ``domain``: the stories with `validate_stories` (intents,
    entities with roles and groups, actions, slots and their values, forms) and no end-to-end
    steps; each NLU example's intent and entities declared, and its text what ``examples`` hold
    (the message it came from).

    Raises:
        InteractiveSaveError: The first problem, in one line naming ``name`` and the step.
    """
    with tempfile.TemporaryDirectory(prefix="diet-sparse-save-") as folder:
        path = Path(folder) / name.name
        path.write_text(text, encoding="utf-8")
        try:
            with warnings.catch_warnings():  # only errors stop a save
                warnings.simplefilter("ignore", TrainingDataWarning)
                if "\nstories:" in text:
                    stories = load_stories(path)
                    check_no_end_to_end_steps(stories)
                    validate_stories(stories, domain)
                read = load_training_data(path).examples if examples else []
        except DietSparseError as error:
            message = str(error).replace(str(path), str(name))
            raise InteractiveSaveError(
                f"cannot save conversation {sender_id!r}: {message}"
            ) from None
    # the file holds the examples grouped by intent, in the order the intents first come
    order = {
        intent: index for index, intent in reversed(list(enumerate(e.intent for e in examples)))
    }
    examples = sorted(examples, key=lambda example: order[example.intent])
    for example, back in zip(examples, read, strict=False):
        problem = _example_problem(example, back.text, domain)
        if problem is not None:
            where = back.source.replace(str(path), str(name))
            raise InteractiveSaveError(
                f"cannot save conversation {sender_id!r}: {where}: message {example.text!r}: "
                f"{problem}"
            )
    if len(read) != len(examples):
        raise InteractiveSaveError(
            f"cannot save conversation {sender_id!r}: {name} would hold {len(read)} NLU "
            f"examples instead of {len(examples)}"
        )


def _example_problem(example: NLUExample, read_text: str, domain: Domain) -> str | None:
    """What is wrong with an NLU example for the domain, or with how it reads back."""
    intent = example.intent.split(RETRIEVAL_SEPARATOR)[0]
    if intent not in domain.intents:
        return f"intent {intent!r} is not in the domain; declare it under 'intents'"
    for entity in example.entities:
        entity_type = entity.get("entity")
        if entity_type not in domain.entities:
            return f"entity {entity_type!r} is not in the domain; declare it under 'entities'"
        for label, declared in (("role", domain.roles), ("group", domain.groups)):
            value = entity.get(label)
            if value is not None and value not in declared.get(entity_type, ()):
                return (
                    f"entity {entity_type!r} has no {label} {value!r} in the domain; add it to "
                    f"the {label}s of {entity_type!r} under 'entities'"
                )
    if read_text != example.text:
        return (
            f"it reads back as {read_text!r}: Rasa's entity markup cannot hold its text; correct "
            "or leave out the message"
        )
    return None


def write_new_file(folder: Path, stem: str, text: str) -> Path:
    """Write ``text`` to ``folder/<stem>.yml``, or ``<stem>-2.yml``, ``-3``... if taken: first
    under a temporary name in ``folder``, then linked to its name (which fails if the name
    exists, so no file is ever replaced; a reader never sees half a file).

    Raises:
        InteractiveSaveError: The file cannot be written.
    """
    try:
        handle, temporary_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise InteractiveSaveError(f"cannot write in {folder}: {error.strerror or error}") from None
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        for number in range(1, 10_000):
            path = folder / (f"{stem}.yml" if number == 1 else f"{stem}-{number}.yml")
            try:
                os.link(temporary, path)
            except FileExistsError:
                continue
            except OSError as error:
                if error.errno not in _NO_HARD_LINKS:
                    raise
                if not _write_exclusively(path, text):
                    continue
            return path
        raise InteractiveSaveError(f"cannot write {folder / stem}.yml: every name is taken")
    except OSError as error:
        raise InteractiveSaveError(f"cannot write in {folder}: {error.strerror or error}") from None
    finally:
        temporary.unlink(missing_ok=True)


def _write_exclusively(path: Path, text: str) -> bool:
    """Write a new file where hard links cannot be made: created only if the name is free
    (False if taken), though a reader may see it half written."""
    try:
        file = open(path, "x", encoding="utf-8")  # noqa: SIM115 (closed below)
    except FileExistsError:
        return False
    try:
        with file:
            file.write(text)
    except BaseException:
        path.unlink(missing_ok=True)  # no half file left behind
        raise
    return True
