"""The evaluation commands' defaults, file names and argument rules, shared by the library
(`nlu`, `dialogue`, `sweep`) and ``diet-sparse test | sweep``. Light to import (no model, no
plotting), so that the command line can show them without loading the evaluation.
"""

from __future__ import annotations

import math
from typing import Any

from diet_sparse.config import ConfigError, resolve_config

# test and test core write their reports here (Rasa's default for ``rasa test`` too)
DEFAULT_OUT = "results"
DEFAULT_FOLDS = 5

# test core's reports
REPORT_FILE = "story_report.json"
FAILED_STORIES_FILE = "failed_test_stories.yml"
SUCCESSFUL_STORIES_FILE = "successful_test_stories.yml"
CONFUSION_MATRIX_FILE = "story_confusion_matrix.png"
# every file a run may write in ``out``: those this run does not write are an earlier run's
CORE_REPORT_FILES = (
    REPORT_FILE,
    FAILED_STORIES_FILE,
    SUCCESSFUL_STORIES_FILE,
    CONFUSION_MATRIX_FILE,
)

# sweep and sweep core
DEFAULT_DENSITIES = (1.0, 0.2, 0.05, 0.01)
DEFAULT_SIZES = (8, 16, 32, 64, 128, 256)
DEFAULT_POLICY_SIZES = (4, 8, 16, 32, 64, 128)
DEFAULT_REPEATS = 1
DEFAULT_SWEEP_OUT = "sweep"  # where `sweep` writes sweep.csv and its plots
# arguments that set a config key: checked by the config's rule for that key
CONFIG_ARGUMENTS = {
    "densities": "connection_density",
    "sizes": "transformer_size",
    "epochs": "epochs",
}


def check_argument(name: str, value: Any) -> None:
    """Raise `ConfigError` if ``value`` is not allowed for the `sweep` argument ``name``.

    ``name`` is ``densities`` or ``sizes`` (``value`` is one of them), ``epochs``, ``repeats``
    or ``subsample``. The one rule for `sweep`, `stratified_subsample` and ``diet-sparse sweep``.

    Example:
        >>> check_argument("sizes", 0)
        Traceback (most recent call last):
        ...
        diet_sparse.errors.ConfigError: sweep: transformer_size must be an integer >= 1, got 0
    """
    if name in CONFIG_ARGUMENTS:
        # one attention head: `attention_heads` chooses the heads of each size
        resolve_config({CONFIG_ARGUMENTS[name]: value, "number_of_attention_heads": 1}, "sweep")
    elif name == "repeats":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"repeats must be an integer >= 1, got {value!r}")
    elif name == "subsample":
        number = not isinstance(value, bool) and isinstance(value, int | float)
        if not number or not (0 < value < math.inf) or (value > 1 and value != int(value)):
            raise ConfigError(
                f"subsample must be a fraction in (0, 1] or a whole number of examples >= 1, "
                f"got {value!r}"
            )
    else:
        raise ValueError(f"sweep has no argument {name!r}")


def check_folds(folds: Any) -> int:
    """``folds`` checked: an integer >= 2 (the rule of `cross_validate` and of ``--folds``).

    Example:
        >>> check_folds(1)
        Traceback (most recent call last):
        ...
        diet_sparse.errors.ConfigError: folds must be an integer >= 2, got 1
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"folds must be an integer >= 2, got {folds!r}")
    return folds
