"""Saving and loading model directories, in open formats only (JSON and numpy's npz).

A model directory holds:
    metadata.json   format version, package versions, labels, tag maps, synonyms
    config.json     the resolved config the model was trained with
    featurizer.json vocabularies and featurizer options
    weights.npz     every model weight; randomly connected kernels store only their connected
                    entries plus the bit-packed mask that says where they go, and weights that
                    are exactly representable in float16 (the input projection) are stored so

A save is written to a temporary directory and renamed into place, so an interrupted save never
leaves half a model behind an existing name. Loading checks every file, so a truncated, emptied
or hand-edited one is reported in one line naming the file and what is wrong.

Format 2 names the heads' weights after the heads that own them (``intent_head/...``,
``entity_head/...``); format 1 (diet-sparse 0.1) is converted when loaded.

A dialogue policy's directory (`save_policy`, `load_policy`) holds ``metadata.json`` (with
``"kind": "policy"``), ``config.json``, ``domain.json`` (the domain it was trained with),
``weights.npz``, in the same formats, and ``lookup.json`` (its rules and memorized stories) where
its config uses them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from diet_sparse.config import ConfigError, TEDConfig, resolve_config
from diet_sparse.dialogue.policy import Policy
from diet_sparse.dialogue.rules import DialogueLookup
from diet_sparse.errors import (
    DietSparseError,
    ModelDirectoryError,
    ModelLoadError,
    OutputDirectoryError,
    OutputPermissionError,
    OutputWriteError,
)
from diet_sparse.network import weights as names
from diet_sparse.network.weights import (
    TAG_HEADS,
    DIETWeights,
    TEDWeights,
    diet_weight_shapes,
    ted_weight_shapes,
    weight_path,
)
from diet_sparse.nlu.featurizer import Featurizer
from diet_sparse.nlu.parser import NLU
from diet_sparse.nlu.pretrained import PretrainedError
from diet_sparse.nlu.tagging import TagVocabulary
from diet_sparse.rasa.domain import Domain, Slot

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
FILES = ("metadata.json", "config.json", "featurizer.json", "weights.npz")
POLICY_FORMAT_VERSION = 1
POLICY_FILES = ("metadata.json", "config.json", "domain.json", "weights.npz")


# --- writing -------------------------------------------------------------------------------


def write_json(path: str | Path, value: Any) -> Path:
    """Write ``value`` as JSON to ``path`` atomically: a reader sees the old file or the new
    one, never half of one, even if the process is killed while writing."""
    path = Path(path)
    with atomic_file(path) as temporary, temporary.open("w", encoding="utf-8") as file:
        json.dump(value, file, indent=2, ensure_ascii=False, default=_json_default)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    return path


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write, moved onto ``path`` when the block ends: a
    reader sees the old file or the new one, never half of one. Nothing is left behind when
    writing fails.

    Raises:
        OutputWriteError: the file cannot be written (a full disk, a read-only folder).
    """
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise _write_error(path, error) from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _write_error(path, error) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _staged_directory(directory: Path) -> Iterator[Path]:
    """A temporary folder beside ``directory`` to write a model into, moved into place (an old
    model there is replaced) when the block ends; removed if anything fails."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    except OSError as error:
        raise _write_error(directory, error) from None
    try:
        yield staging
        _replace_directory(staging, directory)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError) and not isinstance(error, DietSparseError):
            raise _write_error(directory, error) from None
        raise


def _write_error(path: Path, error: OSError) -> OutputWriteError:
    cause = error.strerror or str(error)
    return OutputWriteError(f"cannot write {path}: {cause}; nothing was written there")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _compact(value: np.ndarray) -> np.ndarray:
    """float16 when that loses nothing (training rounds the input projection to it), else as is."""
    if value.dtype == np.float32:
        half = value.astype(np.float16)
        if np.array_equal(half.astype(np.float32), value):
            return half
    return value


def _weight_arrays(network: DIETWeights | TEDWeights) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in network.weights.items():
        mask = network.masks.get(name)
        if mask is None or mask.all():
            arrays[name] = _compact(value)
            continue
        arrays[name + "#connected"] = value[mask]
        arrays[name + "#mask"] = np.packbits(mask)
        arrays[name + "#shape"] = np.array(mask.shape, dtype=np.int64)
    return arrays


def save(nlu: NLU, directory: str | Path) -> Path:
    """Write ``nlu`` to ``directory``, replacing a model already there only once complete."""
    directory = Path(directory)
    metadata = dict(
        nlu.metadata,
        format_version=FORMAT_VERSION,
        intents=nlu.intents,
        tag_vocabularies={
            name: {"tags": list(v.tags), "bilou": v.bilou}
            for name, v in nlu.tag_vocabularies.items()
        },
        synonyms=nlu.synonyms,
        n_features=nlu.featurizer.n_features_,
    )
    with _staged_directory(directory) as staging:
        write_json(staging / "metadata.json", metadata)
        write_json(staging / "config.json", nlu.config.to_dict())
        write_json(staging / "featurizer.json", nlu.featurizer.to_json())
        np.savez_compressed(staging / "weights.npz", **_weight_arrays(nlu.network))
    return directory


def check_output_directory(out: str | Path, what: str = "output directory") -> Path:
    """``out`` as a `Path`, once sure that it is, or can be made, a directory this process can
    write to; checked before anything expensive, so no training is lost to a bad ``out``.

    Raises:
        OutputDirectoryError: ``out``, or a folder above it, is a file.
        OutputPermissionError: ``out``, or the nearest existing folder above it, is not writable.

    Example:
        >>> check_output_directory("results")  # doctest: +SKIP
        PosixPath('results')
    """
    out = Path(out)
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing == out and not out.is_dir():
        raise OutputDirectoryError(f"{what} {out} is an existing file; choose a directory")
    if not existing.is_dir():
        raise OutputDirectoryError(f"cannot create {what} {out}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == out else f" (to create {out})"
        raise OutputPermissionError(f"cannot write to {what} {existing}{where}: permission denied")
    return out


# The parts of a model directory trained from a Rasa project (see `_project_part`).
PROJECT_NLU, PROJECT_CORE = "nlu", "core"
PROJECT_MODELS = "models"  # where a project's models go, each in a folder named by its time


def latest_project_model(project: str | Path) -> Path | None:
    """The newest complete model ``diet-sparse train`` wrote in a Rasa project: the last, by
    name (its time), of ``project/models/*`` that holds an NLU model and, if it has a ``core``
    folder, a policy there; None if there is none. Hidden folders (a training in progress or
    interrupted: `diet_sparse.train_project` moves a model into place once complete) and
    models left incomplete by versions before that are passed over."""
    models = Path(project) / PROJECT_MODELS
    complete = [
        folder
        for folder in models.glob("*")
        if not folder.name.startswith(".")
        and (folder / PROJECT_NLU / "metadata.json").is_file()
        and (
            not (folder / PROJECT_CORE).exists()
            or (folder / PROJECT_CORE / "metadata.json").is_file()
        )
    ]
    return max(complete, key=lambda folder: folder.name) if complete else None


def _project_part(directory: Path, part: str) -> Path:
    """``directory/part`` when ``directory`` is a project's model (``diet-sparse train`` in a
    Rasa project writes the NLU model to ``nlu/`` and the policy to ``core/``), else
    ``directory``."""
    if not (directory / "metadata.json").exists() and (directory / part / "metadata.json").exists():
        return directory / part
    return directory


def check_model_directory(directory: str | Path) -> Path:
    """Raise now what `save` would raise at the end of a long training: ``directory`` must be
    a model directory, an empty one, or a new one in a folder that can be written to.

    Example:
        >>> check_model_directory("models/new")  # doctest: +SKIP
    """
    directory = check_output_directory(directory, "model directory")
    check_output_directory(directory.absolute().parent, "folder of the model directory")
    if (
        directory.is_dir()
        and not (directory / "metadata.json").exists()
        and any(directory.iterdir())
    ):
        raise ModelDirectoryError(
            f"{directory} exists and is not a diet-sparse model directory; refusing to replace it"
        )
    return directory


def _replace_directory(staging: Path, directory: Path) -> None:
    """Move ``staging`` to ``directory``; an old model there is removed only afterwards."""
    check_model_directory(directory)
    backup = None
    if directory.exists():
        backup = staging.with_name(staging.name + ".old")
        os.rename(directory, backup)
    os.rename(staging, directory)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


# --- reading -------------------------------------------------------------------------------


# Config keys that later versions added, with the behaviour of the versions before them: a saved
# config without one was trained (and is loaded) that way, whatever today's default is.
ABSENT_FROM_OLDER_CONFIGS = {
    "use_sparse_input_dropout": True,
    "use_dense_input_dropout": False,
    "use_wide_path": False,
    "wide_path_weight": 1.0,
    "constrain_entity_transitions": False,
    "pretrained_encoder": None,
    "pretrained_vector_in_network": True,
    "regularize_encoder_layers": True,
    "use_key_relative_attention": False,
    "use_value_relative_attention": False,
    "max_relative_position": 5,
    "split_entities_by_comma": False,
    "connection_structure": "random",
    "fan_in_initialization": False,
    "learning_rate_schedule": "constant",
    "warmup_epochs": 0,
    "hidden_layers_sizes": {"text": [], "label": []},
    "renormalize_confidences": False,
}
# the same for policies
ABSENT_FROM_OLDER_POLICY_CONFIGS = {
    "connection_structure": "random",
    "learning_rate_schedule": "constant",
    "warmup_epochs": 0,
    # before rules.py, a policy was TED alone
    "rules": False,
    "memoization": False,
    "enable_fallback_prediction": False,
}
POLICY_LOOKUP = "lookup.json"  # the rules and memorized stories, where the config uses them


def load(directory: str | Path, threads: int | None = None) -> NLU:
    """Load a model directory written by `save` (or by ``diet-sparse train``).

    Needs no TensorFlow: prediction runs in ONNX Runtime, with ``threads`` threads per message
    (default: ``DIET_SPARSE_THREADS``, else one per CPU core up to 4).

    Raises:
        ModelLoadError: the directory is missing, incomplete, or a file in it is damaged or
            does not fit the others; the message names the file and the problem.

    Example:
        >>> nlu = load("models/default")  # doctest: +SKIP
    """
    directory = _project_part(Path(directory), PROJECT_NLU)
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist")
    if (directory / "domain.json").is_file() and not (directory / "featurizer.json").is_file():
        raise ModelLoadError(
            f"{directory} holds a dialogue policy, not an NLU model: use load_policy, "
            "'diet-sparse predict' or 'diet-sparse test core'"
        )
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{directory} is not a complete diet-sparse model: missing {', '.join(missing)}"
        )
    metadata, vocabularies = _read_metadata(directory / "metadata.json")
    config_path = directory / "config.json"
    try:
        saved = _read_json(config_path, dict)
        # keys added after a model was saved take the value that model was trained with
        saved = {**ABSENT_FROM_OLDER_CONFIGS, **saved}
        config = resolve_config(saved, where=str(config_path))
    except ConfigError as error:
        raise ModelLoadError(str(error)) from None
    if isinstance(config.wide_path_weight, str):
        raise ModelLoadError(
            f"{config_path}: wide_path_weight must be a number in a trained model's config "
            f"(training turns auto into the weight it chose), got {config.wide_path_weight!r}"
        )
    featurizer_path = directory / "featurizer.json"
    try:
        featurizer = Featurizer.from_json(_read_json(featurizer_path, dict))
    except PretrainedError as error:
        raise ModelLoadError(f"{directory}: trained with pretrained features: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelLoadError(f"{featurizer_path}: not a valid featurizer: {error}") from None
    weights, masks = _read_weights(directory / "weights.npz", metadata["format_version"])
    network = DIETWeights(config, weights, masks, [h for h in TAG_HEADS if h in vocabularies])
    _check_weights(network, featurizer, len(metadata["intents"]), vocabularies, directory)
    return NLU(
        config,
        featurizer,
        network,
        metadata["intents"],
        vocabularies,
        metadata["synonyms"],
        metadata,
        threads=threads,
    )


def _read_json(path: Path, expected: type) -> Any:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path} is not a text file (not UTF-8)") from None
    except json.JSONDecodeError as error:
        problem = "is empty" if not path.stat().st_size else f"is not valid JSON: {error}"
        raise ModelLoadError(f"{path} {problem}") from None
    if not isinstance(value, expected):
        raise ModelLoadError(f"{path} must hold a JSON object, found {type(value).__name__}")
    return value


def _read_metadata(path: Path) -> tuple[dict[str, Any], dict[str, TagVocabulary]]:
    """metadata.json, checked (a readable format, labels, tag vocabularies and synonyms), and
    its tag vocabularies."""
    metadata = _read_json(path, dict)
    version = metadata.get("format_version")
    if version not in READABLE_FORMATS:
        raise ModelLoadError(
            f"{path}: model format {version!r} (saved by diet-sparse "
            f"{metadata.get('diet_sparse_version', '?')}); this diet-sparse reads formats "
            f"{', '.join(map(str, READABLE_FORMATS))}. Retrain the model with this version."
        )

    def fail(field: str, expected: str) -> ModelLoadError:
        found = metadata.get(field, "nothing")
        return ModelLoadError(f"{path}: '{field}' must be {expected}, found {found!r:.80}")

    intents = metadata.get("intents")
    if not (isinstance(intents, list) and all(isinstance(i, str | None) for i in intents)):
        raise fail("intents", "a list of intent names")
    synonyms = metadata.get("synonyms")
    if not (isinstance(synonyms, dict) and all(isinstance(v, str) for v in synonyms.values())):
        raise fail("synonyms", "an object mapping texts to their canonical values")
    stored = metadata.get("tag_vocabularies")
    if not (isinstance(stored, dict) and set(stored) <= set(TAG_HEADS)):
        raise fail("tag_vocabularies", f"an object with keys among {', '.join(TAG_HEADS)}")
    vocabularies = {}
    for head, vocabulary in stored.items():
        tags = vocabulary.get("tags") if isinstance(vocabulary, dict) else None
        if not (isinstance(tags, list) and tags and all(isinstance(t, str) for t in tags)):
            raise fail("tag_vocabularies", f"a list of tag names for '{head}'")
        vocabularies[head] = TagVocabulary(tuple(tags), bilou=bool(vocabulary.get("bilou")))
    return metadata, vocabularies


def _read_weights(path: Path, format_version: int, diet: bool = True) -> tuple[dict, dict]:
    """Weights by name (disconnected entries zero) and the masks of randomly connected kernels."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except Exception as error:  # zipfile, zlib, numpy and OS errors of a damaged file alike
        problem = "is empty" if not path.stat().st_size else "is damaged or not an npz file"
        raise ModelLoadError(f"{path} {problem} ({type(error).__name__}: {error})") from None
    weights, masks = {}, {}
    for key, value in arrays.items():
        name, _, part = key.partition("#")
        if diet and format_version == 1:
            name = _format_1_name(name)
        value = value.astype(np.float32) if value.dtype == np.float16 else value
        if not part:
            weights[name] = value
        elif part == "connected":
            try:
                shape = tuple(int(n) for n in arrays[f"{key[: -len(part)]}shape"])
                bits = arrays[f"{key[: -len(part)]}mask"]
                mask = np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)
                kernel = np.zeros(shape, dtype=value.dtype)
                kernel[mask] = value
            except (KeyError, ValueError, TypeError) as error:
                raise ModelLoadError(
                    f"{path}: the randomly connected kernel {name} is damaged ({error})"
                ) from None
            weights[name], masks[name] = kernel, mask
    return weights, masks


def _format_1_name(name: str) -> str:
    """Format 1's weight names, which had no heads: ``entity_logits/kernel`` ->
    ``entity_head/logits/kernel``, ``intent_embeddings`` -> ``intent_head/intent_embeddings``."""
    if name == names.INTENT_EMBEDDINGS or name.startswith(names.SENTENCE_EMBEDDING + "/"):
        return weight_path(names.INTENT_HEAD, name)
    for head in TAG_HEADS:
        if name.startswith(f"{head}_logits/"):
            return weight_path(names.tag_head_name(head), names.LOGITS, name.split("/", 1)[1])
        if name == f"{head}_transitions":
            return weight_path(names.tag_head_name(head), names.TRANSITIONS)
    return name


def _check_weights(
    network: DIETWeights,
    featurizer: Featurizer,
    n_intents: int,
    vocabularies: dict[str, TagVocabulary],
    directory: Path,
) -> None:
    """Every weight the config, featurizer and labels call for is there, in its shape, and
    nothing else is."""
    path = directory / "weights.npz"
    expected = diet_weight_shapes(
        network.config,
        featurizer.n_features_,
        n_intents,
        {head: len(vocabulary) for head, vocabulary in vocabularies.items()},
    )
    _check_weight_shapes(network.weights, expected, path)


def _check_weight_shapes(weights: dict, expected: dict, path: Path) -> None:
    for name, shape in expected.items():
        found = weights.get(name)
        if found is None or found.shape != shape:
            problem = "is missing" if found is None else f"has shape {found.shape}, not {shape}"
            raise ModelLoadError(
                f"{path}: weight {name} {problem}; the model's files do not belong together"
            )
        if not np.all(np.isfinite(found)):
            raise ModelLoadError(f"{path}: weight {name} holds values that are not finite")
    unexpected = sorted(set(weights) - set(expected))
    if unexpected:
        raise ModelLoadError(f"{path}: unexpected weight {unexpected[0]}; is it hand-edited?")


# --- dialogue policies ---------------------------------------------------------------------


def save_policy(policy: Policy, directory: str | Path) -> Path:
    """Write a dialogue ``policy`` to ``directory``, replacing one there only once complete."""
    directory = Path(directory)
    metadata = dict(
        policy.metadata,
        kind="policy",
        format_version=POLICY_FORMAT_VERSION,
        attribute_sizes=policy.network.attribute_sizes,
        action_names=list(policy.domain.action_names),
    )
    with _staged_directory(directory) as staging:
        write_json(staging / "metadata.json", metadata)
        write_json(staging / "config.json", policy.config.to_dict())
        write_json(staging / "domain.json", _domain_to_json(policy.domain))
        if policy.lookup is not None:
            write_json(staging / POLICY_LOOKUP, policy.lookup.to_json())
        np.savez_compressed(staging / "weights.npz", **_weight_arrays(policy.network))
    return directory


def load_policy(directory: str | Path, threads: int = 1) -> Policy:
    """Load a dialogue policy written by `save_policy` (``diet-sparse train core``); needs no
    TensorFlow.

    Raises:
        ModelLoadError: the directory is missing, incomplete, not a policy, or a file in it is
            damaged or does not fit the others; the message names the file and the problem.

    Example:
        >>> policy = load_policy("models/policy")  # doctest: +SKIP
    """
    directory = _project_part(Path(directory), PROJECT_CORE)
    if not directory.is_dir():
        raise ModelLoadError(f"policy directory {directory} does not exist")
    missing = [name for name in POLICY_FILES if not (directory / name).is_file()]
    metadata = (
        _read_json(directory / "metadata.json", dict) if "metadata.json" not in missing else {}
    )
    if missing or metadata.get("kind") != "policy":
        what = f"missing {', '.join(missing)}" if missing else "its metadata.json is not a policy's"
        raise ModelLoadError(f"{directory} is not a diet-sparse dialogue policy: {what}")
    if metadata.get("format_version") != POLICY_FORMAT_VERSION:
        raise ModelLoadError(
            f"{directory / 'metadata.json'}: policy format {metadata.get('format_version')!r}; "
            f"this diet-sparse reads format {POLICY_FORMAT_VERSION}. Retrain the policy."
        )
    config_path = directory / "config.json"
    try:
        saved = {**ABSENT_FROM_OLDER_POLICY_CONFIGS, **_read_json(config_path, dict)}
        config = resolve_config(saved, str(config_path), kind=TEDConfig)
    except ConfigError as error:
        raise ModelLoadError(str(error)) from None
    domain_path = directory / "domain.json"
    try:
        domain = _domain_from_json(_read_json(domain_path, dict))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelLoadError(f"{domain_path}: not a valid domain: {error!r}") from None
    from diet_sparse.dialogue.featurization import TurnFeaturizer

    sizes = TurnFeaturizer(domain).attribute_sizes
    weights, masks = _read_weights(directory / "weights.npz", POLICY_FORMAT_VERSION, diet=False)
    expected = ted_weight_shapes(config, sizes, len(domain.action_names))
    _check_weight_shapes(weights, expected, directory / "weights.npz")
    network = TEDWeights(config, weights, masks, sizes, len(domain.action_names))
    return Policy(config, domain, network, metadata, _read_lookup(directory, config, domain),
                  threads=threads)  # fmt: skip


def _read_lookup(directory: Path, config: TEDConfig, domain: Domain) -> DialogueLookup | None:
    path = directory / POLICY_LOOKUP
    if not (config.rules or config.memoization):
        return None
    if not path.is_file():
        raise ModelLoadError(f"{directory} is incomplete: missing {POLICY_LOOKUP}")
    try:
        return DialogueLookup.from_json(_read_json(path, dict), domain)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{path}: not a valid lookup: {error!r}") from None


def _domain_to_json(domain: Domain) -> dict[str, Any]:
    return dataclasses.asdict(domain)


def _domain_from_json(value: dict[str, Any]) -> Domain:
    """The `Domain` that `_domain_to_json` wrote (JSON made its tuples lists)."""
    tuples = lambda mapping: {key: tuple(items) for key, items in mapping.items()}  # noqa: E731
    slots = {
        name: Slot(**dict(slot, values=tuple(slot["values"]), mappings=tuple(slot["mappings"])))
        for name, slot in value["slots"].items()
    }
    return Domain(
        **dict(
            value,
            intents=tuple(value["intents"]),
            entities=tuple(value["entities"]),
            roles=tuples(value["roles"]),
            groups=tuples(value["groups"]),
            used_entities=tuples(value["used_entities"]),
            slots=slots,
            # policies saved by diet-sparse 0.3 and before kept only the texts of the variations
            responses={
                name: tuple(v if isinstance(v, dict) else {"text": v} for v in variations)
                for name, variations in value["responses"].items()
            },
            actions=tuple(value["actions"]),
            forms=tuples(value["forms"]),
            form_ignored_intents=tuples(value.get("form_ignored_intents", {})),
            action_names=tuple(value["action_names"]),
            action_texts=tuple(value.get("action_texts", ())),
        )
    )
