"""The server's options: their defaults and the one rule each follows, shared by `app.serve`,
`app.create_app` and ``diet-sparse serve``. Light to import (no FastAPI), so that the command
line can show them without loading the server.
"""

from __future__ import annotations

import math
import os
from typing import Any

from diet_sparse.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"  # this machine only; another host needs an auth token to be safe
DEFAULT_PORT = 5005  # Rasa's
DEFAULT_WORKERS = 1
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_TEXT_LENGTH = 2000
DEFAULT_MAX_EVENTS = 5000  # tracker events in one /model/predict request
DEFAULT_BATCH_WINDOW_MS = 2.0
DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_CONCURRENT_BATCHES = os.cpu_count() or 1

# numeric options: (integer only?, smallest, largest or None) -- `check_option` applies them
OPTION_RANGES: dict[str, tuple[bool, float, float | None]] = {
    "port": (True, 0, 65535),  # 0: any free port
    "workers": (True, 1, None),
    "max_body_bytes": (True, 1, None),
    "max_text_length": (True, 1, None),
    "max_events": (True, 1, None),
    "max_batch_size": (True, 1, None),
    "concurrent_batches": (True, 1, None),
    "batch_window_ms": (False, 0, None),  # 0: no batching
}


def check_option(name: str, value: Any) -> None:
    """Raise `ConfigError` if ``value`` is not allowed for the server option ``name``.

    The one rule for `serve`, `create_app`, `MicroBatcher` and ``diet-sparse serve``: the
    numeric options of `OPTION_RANGES`, and ``auth_token`` (None or a non-empty string).

    Example:
        >>> check_option("port", 70000)
        Traceback (most recent call last):
        ...
        diet_sparse.errors.ConfigError: port must be an integer in [0, 65535], got 70000
    """
    if name == "auth_token":
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"auth_token must be a non-empty string, got {value!r}")
        return
    integer, low, high = OPTION_RANGES[name]
    allowed = ("an integer" if integer else "a number") + (
        f" >= {low:g}" if high is None else f" in [{low:g}, {high:g}]"
    )
    if integer:
        number = isinstance(value, int) and not isinstance(value, bool)
    else:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        number = number and math.isfinite(value)
    if not number or value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be {allowed}, got {value!r}")
