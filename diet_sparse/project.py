"""A Rasa project folder as a library: its parts (config.yml, domain.yml or a domain/ folder,
data/, endpoints.yml, credentials.yml), a starter project to begin with
(`create_starter_project`, behind ``diet-sparse init``), training it (`train_project`), testing
it as ``rasa test`` does (`test_project`), and checking a training's inputs before TensorFlow
loads (`check_nlu_training`, `check_policy_training`).

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
from diet_sparse.errors import (
    ModelDirectoryError,
    ModelLoadError,
    ProjectFolderError,
    TrainingDataError,
    TrainingDataWarning,
)
from diet_sparse.nlu.tagging import warn_about_entities_off_token_boundaries
from diet_sparse.persistence import (
    PROJECT_CORE,
    PROJECT_MODELS,
    PROJECT_NLU,
    check_model_directory,
    check_output_directory,
    latest_project_model,
)
from diet_sparse.rasa.domain import Domain, load_domain
from diet_sparse.rasa.nlu_data import NO_NLU_DATA, TrainingData, load_training_data
from diet_sparse.rasa.stories import (
    Story,
    check_no_end_to_end_steps,
    load_stories,
    validate_stories,
)

logger = logging.getLogger(__name__)

# A Rasa project folder's parts, as `rasa train` reads them (rasa/shared/constants.py
# DEFAULT_CONFIG_PATH, DEFAULT_DOMAIN_PATH, DEFAULT_DATA_PATH).
PROJECT_CONFIG, PROJECT_DOMAIN, PROJECT_DATA = "config.yml", "domain.yml", "data"
PROJECT_DOMAIN_FOLDER = "domain"  # a domain split into files, which Rasa reads with --domain
PROJECT_ENDPOINTS = "endpoints.yml"  # read for its tracker_store and action_endpoint
PROJECT_CREDENTIALS = "credentials.yml"  # read for the channels it asks for
# The starter project `create_starter_project` writes: package data of diet_sparse.rasa (a café
# helper: Rasa 3 YAML that `rasa train` reads too, with test stories in tests/).
STARTER_PACKAGE, STARTER_FOLDER = "diet_sparse.rasa", "starter_project"
# Rasa's conversation tests (`rasa test`): YAML files named test_*.yml that hold stories.
TEST_STORIES_PREFIX, YAML_SUFFIXES = "test_", (".yml", ".yaml")
PROJECT_RESULTS = "results"  # where `rasa test` writes its reports (Rasa's DEFAULT_RESULTS_PATH)

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


def project_domain(project: PathLike) -> Path | None:
    """The domain of a project: its ``domain.yml`` (Rasa's default ``--domain``), else its
    ``domain/`` folder (Rasa reads one when ``--domain domain`` says so; here it is found
    without), else None. With both, ``domain.yml`` is read, as ``rasa train`` reads it, and a
    warning says the folder is not.

    Example:
        >>> project_domain("my_bot")  # doctest: +SKIP
        PosixPath('my_bot/domain.yml')
    """
    project = Path(project)
    file, folder = project / PROJECT_DOMAIN, project / PROJECT_DOMAIN_FOLDER
    if file.exists():
        if folder.is_dir():
            warnings.warn(
                f"{project}: both {PROJECT_DOMAIN} and a {PROJECT_DOMAIN_FOLDER}/ folder; "
                f"{PROJECT_DOMAIN} is read, as 'rasa train' reads it, and the folder is not "
                f"(remove one, or train with 'diet-sparse train core --domain {folder}')",
                TrainingDataWarning,
                stacklevel=2,
            )
        return file
    return folder if folder.is_dir() else None


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
    directory, the domain (with the responses and retrieval intents of ``data``, as Rasa
    merges them: `load_domain`), the stories and rules (a data folder's NLU files are skipped)
    against the domain, rules that contradict each other, the fallback action.

    Raises:
        ConfigError, OutputDirectoryError, TrainingDataError (DomainError, StoriesError,
            rules that contradict): what is wrong, in one line.
    """
    resolved = as_config(config, kind=TEDConfig)
    out = check_model_directory(out)
    loaded_domain = load_domain(domain, data=data)
    stories = load_stories(data)
    check_no_end_to_end_steps(stories)
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
    ``config.yml`` (diet-sparse's defaults without one) and, when there is a domain
    (`project_domain`: ``domain.yml``, else a ``domain/`` folder) and ``data/`` holds stories,
    the dialogue policy.

    Everything is checked before TensorFlow loads, the policy's inputs too: a bad domain or
    rules that contradict fail in a second, and nothing is written.

    Args:
        project: the project folder (config.yml, domain.yml or domain/, data/).
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

    domain = project_domain(project)
    try:
        nlu = check_nlu_training(config, data, staging / PROJECT_NLU)
    except TrainingDataError as error:
        if domain is None or NO_NLU_DATA not in str(error):
            raise
        # Rasa's `rasa train` trains the policy alone here ("No NLU data present")
        raise TrainingDataError(
            f"{error}; a project without NLU data: train its dialogue policy alone with "
            f"'diet-sparse train core --domain {domain} --data {data}'"
        ) from None
    policy = None
    if domain is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RasaConfigWarning)  # the same file: shown above
            policy = check_policy_training(config, domain, data, staging / PROJECT_CORE)
    else:
        logger.info(
            "%s: no %s or %s/: the NLU model only", project, PROJECT_DOMAIN, PROJECT_DOMAIN_FOLDER
        )
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


def create_starter_project(folder: PathLike, overwrite: bool = False) -> list[Path]:
    """Write the starter Rasa project into ``folder``, as ``rasa init`` writes its own: a small
    café helper (greetings, opening hours, a drink order taken by a form) with config.yml,
    domain.yml, data/{nlu,stories,rules}.yml, tests/test_stories.yml, endpoints.yml,
    credentials.yml and an actions/ package, ready for `train_project` (and ``rasa train``).

    ``folder`` is created if it does not exist. A folder that is not empty is refused unless
    ``overwrite``: then the starter's files replace those of the same names and the other files
    stay, as ``rasa init`` copies its project over a folder.

    Args:
        folder: the project folder.
        overwrite: write into a folder that is not empty.

    Returns:
        The files written, in ``folder``, sorted.

    Raises:
        ProjectFolderError: ``folder`` is a file, or is not empty and ``overwrite`` is False.

    Example:
        >>> written = create_starter_project("cafe_bot")  # doctest: +SKIP
        >>> [str(path.relative_to("cafe_bot")) for path in written][:3]  # doctest: +SKIP
        ['actions/__init__.py', 'actions/actions.py', 'config.yml']
    """
    from importlib import resources

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ProjectFolderError(f"{folder} is a file; give a folder for the project")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ProjectFolderError(
            f"{folder} is not empty; choose an empty or new folder, or overwrite (--overwrite: "
            "the starter's files replace those of the same names)"
        )
    check_output_directory(folder, "project folder")
    written = []
    for relative, content in _starter_files(resources.files(STARTER_PACKAGE) / STARTER_FOLDER):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return sorted(written)


def _starter_files(root: Any, prefix: str = "") -> list[tuple[str, bytes]]:
    """(relative path, content) of every file below the package folder ``root`` (a
    `importlib.resources` Traversable), Python's caches left out."""
    files = []
    for entry in root.iterdir():
        if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
            continue
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            files += _starter_files(entry, f"{relative}/")
        else:
            files.append((relative, entry.read_bytes()))
    return files


def conversation_test_files(project: PathLike) -> list[Path]:
    """The test stories ``rasa test`` finds in a project: YAML files whose name starts with
    ``test_`` and that hold ``stories``, anywhere in the folder (Rasa looks in ``.``: usually
    they are in ``tests/``); hidden folders and ``models/`` are passed over."""
    import yaml

    found = []
    for folder, subfolders, files in os.walk(project):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and not (folder == str(project) and name == PROJECT_MODELS)
        )
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(TEST_STORIES_PREFIX) or path.suffix not in YAML_SUFFIXES:
                continue
            try:
                content = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                continue  # not a test stories file; Rasa passes over such files too
            if isinstance(content, dict) and "stories" in content:
                found.append(path)
    return found


@dataclass(frozen=True)
class ProjectTest:
    """What `test_project` evaluated: the ``model`` directory, the ``nlu`` evaluation (of
    `diet_sparse.evaluation.nlu.evaluate`), the ``core`` evaluation of the test stories (of
    `diet_sparse.evaluation.dialogue.evaluate_policy`; None without a policy or test stories),
    the ``test_stories`` files and the ``out`` directory of the reports."""

    model: Path
    nlu: dict[str, Any]
    core: dict[str, Any] | None
    test_stories: list[Path]
    out: Path


def test_project(
    project: PathLike, model: PathLike | None = None, out: PathLike | None = None
) -> ProjectTest:
    """Test a Rasa project's model as ``rasa test`` does (without arguments, in the project):

    1. The test stories (`conversation_test_files`: ``tests/test_*.yml``) are replayed end to
       end: each ``user:`` message is parsed by the NLU model and its intent and entities
       checked, and each action predicted by the policy (`evaluate_policy` with ``nlu``);
       ``story_report.json``, ``failed_test_stories.yml`` and ``story_confusion_matrix.png``.
    2. The NLU model is evaluated on the project's NLU data, ``data/`` (Rasa's default for
       ``--nlu``: the training data itself, so the scores show what it learned, not how it
       generalizes; ``diet-sparse test --data`` takes held-out data); ``intent_report.json``,
       ``intent_errors.json``, ``entity_report.json``... (see `diet_sparse.evaluation.nlu`).

    Args:
        project: the project folder (config.yml, data/).
        model: the model directory (default: the newest one ``train_project`` wrote in
            ``project/models``).
        out: the reports' directory (default: ``project/results``).

    Returns:
        A `ProjectTest`.

    Raises:
        TrainingDataError: ``project`` has no data/ folder, or its data or test stories cannot
            be read or use what the model's domain lacks.
        ModelLoadError: no model was given and none was trained in the project.
        OutputDirectoryError, OutputPermissionError: ``out`` cannot be written.

    Example:
        >>> tested = test_project("cafe_bot")  # doctest: +SKIP
        >>> tested.core["conversation_accuracy"]  # doctest: +SKIP
        {'accuracy': 1.0, 'correct': 3, 'total': 3}
    """
    from diet_sparse.evaluation import dialogue, nlu

    project = Path(project)
    data = project / PROJECT_DATA
    if not data.is_dir():
        raise TrainingDataError(f"{project}: a Rasa project needs a {PROJECT_DATA}/ folder")
    if model is None:
        model = latest_project_model(project)
        if model is None:
            raise ModelLoadError(
                f"no model trained in {project / PROJECT_MODELS}: run 'diet-sparse train' in "
                "the project first, or pass the model"
            )
    model = Path(model)
    out = check_output_directory(project / PROJECT_RESULTS if out is None else out)
    stories = conversation_test_files(project)
    core = None
    if not stories:
        logger.info("%s: no test stories (tests/test_*.yml): dialogue not tested", project)
    elif not (model / PROJECT_CORE / "metadata.json").is_file():
        logger.info("%s has no dialogue policy: the test stories are not tested", model)
    else:
        logger.info("Testing the dialogue on %s", ", ".join(str(path) for path in stories))
        core = dialogue.test_core(model, stories, out=out, nlu_dir=model)
    logger.info("Testing the NLU model on %s", data)
    evaluation = nlu.test(model, data, out=out)
    return ProjectTest(model, evaluation, core, stories, out)


test_project.__test__ = False  # not a pytest test, whatever imports it
