"""What a Rasa project's ``credentials.yml`` asks for: the channels users reach the bot through.

diet-sparse offers one of Rasa's channels, the REST channel (``POST /webhooks/rest/webhook``),
which Rasa's file lists as ``rest:``. Any other channel the file names (``socketio``,
``facebook``, ``slack``, a custom channel's class path, ...) is not offered; ``serve`` says so
once, naming them, and goes on with the REST channel.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "credentials.yml"
    >>> _ = path.write_text("rest:\\nsocketio:\\n  user_message_evt: user_uttered\\n")
    >>> channels = read_credentials(path)
    >>> channels.rest, channels.unsupported
    (True, ('socketio',))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from diet_sparse.errors import EndpointsError

REST_CHANNEL = "rest"  # the name of Rasa's REST channel in credentials.yml
REST_WEBHOOK = "/webhooks/rest/webhook"


@dataclass(frozen=True)
class Channels:
    """The channels a credentials.yml lists: whether the REST channel is among them, and the
    others, which diet-sparse does not offer."""

    rest: bool
    unsupported: tuple[str, ...]

    def warning(self, path: str | Path) -> str | None:
        """One line on what ``serve`` does differently from what the file asks; None when it
        asks only for the REST channel."""
        parts = []
        if self.unsupported:
            parts.append(
                f"channels not offered by diet-sparse, ignored: {', '.join(self.unsupported)}"
            )
        if not self.rest:
            parts.append(f"no '{REST_CHANNEL}' channel listed")
        if not parts:
            return None
        offered = f"diet-sparse offers Rasa's REST channel, POST {REST_WEBHOOK}"
        return f"{path}: {'; '.join(parts)} ({offered})"


def read_credentials(path: str | Path) -> Channels:
    """The channels of a Rasa ``credentials.yml`` (a mapping of channel name to its settings;
    an empty file lists none).

    Raises:
        EndpointsError: the file cannot be read, is not YAML, or is not such a mapping.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise EndpointsError(f"{path}: cannot read it: {error}") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise EndpointsError(f"{path}{line}: invalid YAML: {problem}") from None
    if values is None:
        return Channels(rest=False, unsupported=())
    if not isinstance(values, dict):
        raise EndpointsError(
            f"{path}: expected a mapping of channel names to their settings "
            f"(such as 'rest:'), got {type(values).__name__}"
        )
    names = [str(name) for name in values]
    return Channels(
        rest=REST_CHANNEL in names,
        unsupported=tuple(name for name in names if name != REST_CHANNEL),
    )
