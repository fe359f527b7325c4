"""Reading Rasa 3's YAML files, shared by the NLU data, domain and stories readers: the files a
path names, parsing into nodes that keep their line numbers, Rasa's YAML 1.2 booleans, the
top-level keys any Rasa file may have, and errors that name the file, line and item.
"""

from __future__ import annotations

import difflib
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from diet_sparse.errors import TrainingDataError, TrainingDataWarning

# --- YAML files ----------------------------------------------------------------------------------

# Every top-level key of a Rasa 3 project's YAML files: NLU data, stories and rules, and the
# domain. A project's data/ folder mixes them in any way, so each reader (``nlu_data.py`` for
# ``nlu``, ``domain.py`` and ``stories.py`` for theirs) skips the others' keys and rejects only
# unknown ones.
RASA_TOP_LEVEL_KEYS = (
    "version",
    "nlu",
    "stories",
    "rules",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "e2e_actions",
    "session_config",
    "config",
)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is much faster
_SCALAR_CONSTRUCTOR = yaml.SafeLoader("")  # turns one composed scalar node into its value
# "## intent:greet" (NLU data), or a user step followed by a bot action (stories: "* greet" then
# "  - utter_greet")
_RASA_MARKDOWN_LINE = re.compile(
    r"^(##\s*(intent|synonym|regex|lookup)\s*:|\*\s*[\w/]+[^\n]*\n[ \t]+-\s*\w)", re.M
)
# Rasa 3 reads no Markdown training data; Rasa 2's `rasa data convert` wrote YAML from it.
_MARKDOWN = (
    "a Rasa 2 Markdown file, which Rasa 3 and diet-sparse do not read; convert it to YAML with "
    "Rasa 2's 'rasa data convert nlu -f yaml' (NLU data) or 'rasa data convert core -f yaml' "
    "(stories)"
)


def yaml_files(paths: str | Path | Sequence[str | Path], what: str = "training data") -> list[Path]:
    """The files that ``paths`` names, directories expanded (their ``*.yml`` and ``*.yaml``
    files), each file once. A Rasa 2 Markdown file (``*.md``) in a directory is skipped with a
    warning that says how to convert it; one named on its own is an error."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise TrainingDataError(f"no {what} paths given; pass a YAML file or a directory")
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file())
            found = [p for p in inside if p.suffix in (".yml", ".yaml")]
            for file in filter(_is_rasa_markdown, inside):
                warnings.warn(f"{file}: {_MARKDOWN}; skipped", TrainingDataWarning, stacklevel=1)
            if not found:
                raise TrainingDataError(f"directory {path} contains no .yml or .yaml files")
            files += found
        elif path.is_file():
            if path.suffix == ".md":
                raise TrainingDataError(f"{path}: {_MARKDOWN}")
            files.append(path)
        else:
            raise TrainingDataError(f"{what} path {path} does not exist")
    unique = {file.resolve(): file for file in reversed(files)}  # first mention wins
    return list(reversed(unique.values()))


def _is_rasa_markdown(path: Path) -> bool:
    """A Markdown file that holds Rasa 2 NLU data (``## intent:greet``) or stories (``* greet``
    steps), not a README or other notes."""
    if path.suffix != ".md":
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return _RASA_MARKDOWN_LINE.search(text) is not None


def compose(path: Path) -> yaml.Node | None:
    """Parse a file into YAML nodes, which keep the line each value was written on."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise TrainingDataError(
            f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    try:
        return yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = f" ({error.context})" if error.context else ""
        raise TrainingDataError(
            f"{where}: invalid YAML{position}: {error.problem}{context}"
        ) from None
    except yaml.YAMLError as error:
        raise TrainingDataError(f"{path}: invalid YAML: {error}") from None


def check_top_level_keys(root: yaml.MappingNode, path: Path) -> None:
    """Reject a top-level key that no Rasa file has; each reader then takes its own keys."""
    for key_node, _ in root.value:
        key = key_node.value
        if key not in RASA_TOP_LEVEL_KEYS:
            raise TrainingDataError(
                f"unknown top-level key {key!r} in {path} (line {line_of(key_node)})"
                f"{did_you_mean(key, RASA_TOP_LEVEL_KEYS)}; expected one of: "
                f"{', '.join(RASA_TOP_LEVEL_KEYS)}"
            )


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing if none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def mapping_fields(node: yaml.Node, path: Path, what: str) -> dict[str, yaml.Node]:
    """The keys and value nodes of a mapping node; ``what`` names it in errors."""
    if not isinstance(node, yaml.MappingNode):
        raise TrainingDataError(
            f"{path}:{line_of(node)}: {what} must be a mapping, got {describe(node)}"
        )
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise TrainingDataError(
                f"{path}:{line_of(key_node)}: {what} has a key that is {describe(key_node)}"
            )
        if key_node.value in fields:
            raise TrainingDataError(
                f"{path}:{line_of(key_node)}: {what} has the key {key_node.value!r} twice"
            )
        fields[key_node.value] = value_node
    return fields


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def yaml_value(node: yaml.Node) -> Any:
    """The Python value of a node, with booleans as Rasa's YAML 1.2 reader sees them: only
    ``true`` and ``false`` (any case) are booleans, ``yes``, ``no``, ``on``, ``off`` are text."""
    if isinstance(node, yaml.SequenceNode):
        return [yaml_value(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {yaml_value(key): yaml_value(value) for key, value in node.value}
    if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
        return node.value
    return _SCALAR_CONSTRUCTOR.construct_document(node)


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "nothing" if node.tag.endswith(":null") else f"the value {node.value!r}"


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


@dataclass(frozen=True)
class Item:
    """An item of a file's ``nlu`` list, for error messages: "file:line: intent 'greet': ..."."""

    path: Path
    kind: str
    name: str
    line: int

    def source(self, line: int) -> str:
        return f"{self.path}:{line}"

    error_type: type[TrainingDataError] = TrainingDataError  # DomainError in a domain, ...

    def error(self, problem: str, line: int | None = None) -> TrainingDataError:
        return self.error_type(
            f"{self.path}:{line or self.line}: {self.kind} {self.name!r}: {problem}"
        )
