"""A Rasa project folder as a library: its parts (config.yml, domain.yml, data/, endpoints.yml,
credentials.yml), training it (`train_project`), and checking a training's inputs before
TensorFlow loads (`check_nlu_training`, `check_policy_training`).

Everything that could fail once a long training is over (the config, the data, the domain, the
stories, rules that contradict, the output directories) is checked first, without TensorFlow:
a mistake costs a second, not a training. Nothing here prints; progress and what the project
lacks (no config.yml, no domain.yml, no stories) are INFO records of the ``diet_sparse.project``
logger, and warnings about the data are `warnings`.

Example:
    >>> from diet_sparse import train_project  # doctest: +SKIP
    >>> trained = train_project("my_bot")  # doctest: +SKIP
    >>> trained.path, trained.core  # doctest: +SKIP
    (PosixPath('my_bot/models/20250101-120000'), PosixPath('my_bot/models/20250101-120000/core'))
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diet_sparse.config import DIETConfig, RasaConfigWarning, TEDConfig, as_config
from diet_sparse.dialogue.rules import lookup_for
from diet_sparse.errors import ModelDirectoryError, TrainingDataError, TrainingDataWarning
from diet_sparse.nlu.tagging import warn_about_entities_off_token_boundaries
from diet_sparse.persistence import (
    PROJECT_CORE,
    PROJECT_MODELS,
    PROJECT_NLU,
    check_model_directory,
    check_output_directory,
)
from diet_sparse.rasa.domain import Domain, load_domain
from diet_sparse.rasa.nlu_data import TrainingData, load_training_data
from diet_sparse.rasa.stories import Story, load_stories, validate_stories

logger = logging.getLogger(__name__)

# A Rasa project folder's parts, as `rasa train` reads them.
PROJECT_CONFIG, PROJECT_DOMAIN, PROJECT_DATA = "config.yml", "domain.yml", "data"
PROJECT_ENDPOINTS = "endpoints.yml"  # read for its tracker_store and action_endpoint
PROJECT_CREDENTIALS = "credentials.yml"  # read for the channels it asks for

PathLike = str | Path


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename the trained ``staging`` folder to ``out``; a model already there is replaced,
    and removed only once the new one is in place."""
    backup = None
    if out.exists():
        backup = out.with_name(f".{out.name}.replaced")
        shutil.rmtree(backup, ignore_errors=True)
        os.rename(out, backup)
    os.rename(staging, out)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def is_project(folder: PathLike) -> bool:
    """Whether ``folder`` is a Rasa project: a config.yml and a data/ folder."""
    folder = Path(folder)
    return (folder / PROJECT_CONFIG).is_file() and (folder / PROJECT_DATA).is_dir()


@dataclass(frozen=True)
class NLUTraining:
    """An NLU model's training whose inputs were checked (`check_nlu_training`): `run` trains.

    ``config_source`` is the config file when there is one, so that the model records what
    of a Rasa config.yml it used; else the resolved config.
    """

    config: DIETConfig
    config_source: PathLike | DIETConfig
    data: TrainingData
    out: Path

    def run(self, progress: bool = True) -> Any:
        """Train and save the model in ``out`` (TensorFlow loads here); returns the `NLU`."""
        from diet_sparse.training import train

        with warnings.catch_warnings():  # shown when the inputs were checked
            warnings.simplefilter("ignore", RasaConfigWarning)
            warnings.simplefilter("ignore", TrainingDataWarning)
            return train(self.data, self.config_source, out=self.out, progress=progress)


@dataclass(frozen=True)
class PolicyTraining:
    """A dialogue policy's training whose inputs were checked (`check_policy_training`): `run`
    trains."""

    config: TEDConfig
    config_source: PathLike | TEDConfig
    domain: Domain
    stories: list[Story]
    out: Path

    @property
    def has_stories(self) -> bool:
        """Whether there is a story to train on (rules alone train no policy)."""
        return any(not story.is_rule for story in self.stories)

    def run(self, progress: bool = True, augmentation_factor: int | None = None) -> Any:
        """Train and save the policy in ``out`` (TensorFlow loads here); returns the `Policy`.
        ``augmentation_factor`` (``--augmentation``) replaces the config's."""
        from diet_sparse.training import train_policy

        with warnings.catch_warnings():  # shown when the inputs were checked
            warnings.simplefilter("ignore", RasaConfigWarning)
            warnings.simplefilter("ignore", TrainingDataWarning)
            return train_policy(
                self.domain,
                self.stories,
                self.config_source,
                out=self.out,
                progress=progress,
                augmentation_factor=augmentation_factor,
            )


def check_nlu_training(
    config: PathLike | dict | DIETConfig | None, data: PathLike | Sequence[PathLike], out: PathLike
) -> NLUTraining:
    """Check an NLU model's training before TensorFlow loads: the config, the output
    directory, the training data (with its warnings, entity spans off token boundaries too).

    Raises:
        ConfigError, OutputDirectoryError, TrainingDataError: what is wrong, in one line.
    """
    resolved = as_config(config)
    out = check_model_directory(out)
    nlu_data = load_training_data(data)
    warn_about_entities_off_token_boundaries(nlu_data)  # `run` trains with these warnings shown
    source = config if isinstance(config, str | Path) else resolved
    return NLUTraining(resolved, source, nlu_data, out)


def check_policy_training(
    config: PathLike | dict | TEDConfig | None,
    domain: PathLike | Sequence[PathLike],
    data: PathLike | Sequence[PathLike],
    out: PathLike,
) -> PolicyTraining:
    """Check a dialogue policy's training before TensorFlow loads: the config, the output
    directory, the domain, the stories and rules (a data folder's NLU files are skipped)
    against the domain, rules that contradict each other, the fallback action.

    Raises:
        ConfigError, OutputDirectoryError, TrainingDataError (DomainError, StoriesError,
            rules that contradict): what is wrong, in one line.
    """
    resolved = as_config(config, kind=TEDConfig)
    out = check_model_directory(out)
    loaded_domain = load_domain(domain)
    stories = load_stories(data)
    validate_stories(stories, loaded_domain)
    lookup_for(resolved, stories, loaded_domain)  # rules that contradict, a fallback action
    source = config if isinstance(config, str | Path) else resolved
    return PolicyTraining(resolved, source, loaded_domain, stories, out)


@dataclass(frozen=True)
class TrainedProject:
    """Where `train_project` saved a project's model: ``path`` (``models/<time>``, or ``out``)
    holds the NLU model in ``nlu`` and, when the project has stories, the policy in ``core``
    (else None). `diet_sparse.load` and `diet_sparse.load_policy` read ``path`` itself."""

    path: Path
    nlu: Path
    core: Path | None


def train_project(
    project: PathLike, out: PathLike | None = None, progress: bool = True
) -> TrainedProject:
    """Train a whole Rasa project, as ``rasa train`` does: the NLU model from ``data/`` with
    ``config.yml`` (diet-sparse's defaults without one) and, when there is a ``domain.yml``
    and ``data/`` holds stories, the dialogue policy.

    Everything is checked before TensorFlow loads, the policy's inputs too: a bad domain or
    rules that contradict fail in a second, and nothing is written.

    Args:
        project: the project folder (config.yml, domain.yml, data/).
        out: the model directory to write (default: ``project/models/<time>``).
        progress: show a progress bar per training, as `diet_sparse.train` does.

    Returns:
        A `TrainedProject`: the model directory and its NLU and policy parts.

    Raises:
        TrainingDataError: ``project`` is not a folder, or has no data/ folder; any error of
            `check_nlu_training` and `check_policy_training`.

    Example:
        >>> train_project("my_bot").path  # doctest: +SKIP
        PosixPath('my_bot/models/20250101-120000')
    """
    project = Path(project)
    if not project.is_dir():
        raise TrainingDataError(f"project {project}: not a folder")
    data = project / PROJECT_DATA
    if not data.is_dir():
        raise TrainingDataError(f"{project}: a Rasa project needs a {PROJECT_DATA}/ folder")
    config = project / PROJECT_CONFIG if (project / PROJECT_CONFIG).is_file() else None
    if config is None:
        logger.info("%s: no %s: diet-sparse's defaults", project, PROJECT_CONFIG)
    out = (
        Path(out) if out is not None else project / PROJECT_MODELS / time.strftime("%Y%m%d-%H%M%S")
    )
    check_output_directory(out, "model directory")
    if out.is_dir() and any(out.iterdir()) and not (out / PROJECT_NLU / "metadata.json").is_file():
        raise ModelDirectoryError(
            f"{out} exists and is not a project's model directory; refusing to replace it"
        )
    # Trained into a hidden folder beside ``out`` and moved into place when both parts are
    # saved: an interrupted training leaves no half model for `serve` and `shell` to pick.
    staging = out.with_name(f".{out.name}.training")
    shutil.rmtree(staging, ignore_errors=True)  # from a run that was killed

    nlu = check_nlu_training(config, data, staging / PROJECT_NLU)
    policy = None
    domain = project / PROJECT_DOMAIN
    if domain.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RasaConfigWarning)  # the same file: shown above
            policy = check_policy_training(config, domain, data, staging / PROJECT_CORE)
    else:
        logger.info("%s: no %s: the NLU model only", project, PROJECT_DOMAIN)
    if policy is not None and not policy.has_stories:
        logger.info("%s: no stories in %s: no policy trained", project, data)
        policy = None

    try:
        nlu.run(progress=progress)
        if policy is not None:
            policy.run(progress=progress)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TrainedProject(out, out / PROJECT_NLU, out / PROJECT_CORE if policy else None)
