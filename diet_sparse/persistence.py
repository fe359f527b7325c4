"""Saving and loading model directories, in open formats only (JSON and numpy's npz).

A model directory holds:
    metadata.json   format version, package versions, labels, tag maps, synonyms
    config.json     the resolved config the model was trained with
    featurizer.json vocabularies and featurizer options
    weights.npz     every model weight; randomly connected kernels store only their connected
                    entries plus the bit-packed mask that says where they go, and weights that
                    are exactly representable in float16 (the input projection) are stored so

A save is written to a temporary directory and renamed into place, so an interrupted save never
leaves half a model behind an existing name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from diet_sparse.config import ConfigError, resolve_config
from diet_sparse.featurizer import Featurizer
from diet_sparse.inference import NumpyDIET
from diet_sparse.nlu import NLU
from diet_sparse.tagging import TAG_HEADS, TagVocabulary

FORMAT_VERSION = 1
FILES = ("metadata.json", "config.json", "featurizer.json", "weights.npz")


class ModelLoadError(RuntimeError):
    """A model directory that cannot be loaded; the message says which file and why."""


def _compact(value: np.ndarray) -> np.ndarray:
    """float16 when that loses nothing (training rounds the input projection to it), else as is."""
    if value.dtype == np.float32:
        half = value.astype(np.float16)
        if np.array_equal(half.astype(np.float32), value):
            return half
    return value


def _weight_arrays(network: NumpyDIET) -> dict[str, np.ndarray]:
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


def _read_weight_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Weights by name (disconnected entries zero) and the masks of randomly connected kernels."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path} is not a readable weights file: {error}") from None
    weights, masks = {}, {}
    for key, value in arrays.items():
        name, _, part = key.partition("#")
        value = value.astype(np.float32) if value.dtype == np.float16 else value
        if not part:
            weights[name] = value
        elif part == "connected":
            shape = tuple(arrays[f"{name}#shape"])
            mask = np.unpackbits(arrays[f"{name}#mask"], count=int(np.prod(shape)))
            mask = mask.reshape(shape).astype(bool)
            kernel = np.zeros(shape, dtype=value.dtype)
            kernel[mask] = value
            weights[name], masks[name] = kernel, mask
    return weights, masks


def save(nlu: NLU, directory: str | Path) -> Path:
    """Write ``nlu`` to ``directory``, replacing a model already there only once complete."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
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
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        _write_json(staging / "metadata.json", metadata)
        _write_json(staging / "config.json", nlu.config.to_dict())
        _write_json(staging / "featurizer.json", nlu.featurizer.to_json())
        np.savez_compressed(staging / "weights.npz", **_weight_arrays(nlu.network))
        _replace_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _write_json(path: Path, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=2, ensure_ascii=False)
        file.flush()
        os.fsync(file.fileno())


def _replace_directory(staging: Path, directory: Path) -> None:
    """Move ``staging`` to ``directory``; an old model there is removed only afterwards."""
    if (
        directory.exists()
        and not (directory / "metadata.json").exists()
        and any(directory.iterdir())
    ):
        raise FileExistsError(
            f"{directory} exists and is not a diet-sparse model directory; refusing to replace it"
        )
    backup = None
    if directory.exists():
        backup = staging.with_name(staging.name + ".old")
        os.rename(directory, backup)
    os.rename(staging, directory)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _read_json(directory: Path, name: str) -> Any:
    try:
        return json.loads((directory / name).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelLoadError(f"{directory / name} is not valid JSON: {error}") from None


def load(directory: str | Path, threads: int | None = None) -> NLU:
    """Load a model directory written by `save` (or by ``diet-sparse train``).

    Needs no TensorFlow: prediction runs in ONNX Runtime, with ``threads`` threads per message
    (default: ``DIET_SPARSE_THREADS``, else one per CPU core up to 4).

    Example:
        >>> nlu = load("models/default")  # doctest: +SKIP
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist")
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{directory} is not a complete diet-sparse model: missing {', '.join(missing)}"
        )
    metadata = _read_json(directory, "metadata.json")
    version = metadata.get("format_version") if isinstance(metadata, dict) else None
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"{directory} was saved in model format {version!r} by diet-sparse "
            f"{metadata.get('diet_sparse_version', '?') if isinstance(metadata, dict) else '?'}; "
            f"this diet-sparse reads format {FORMAT_VERSION}. Retrain the model with this version."
        )
    try:
        config = resolve_config(_read_json(directory, "config.json"), where="config.json")
        featurizer = Featurizer.from_json(_read_json(directory, "featurizer.json"))
        vocabularies = {
            name: TagVocabulary(tuple(v["tags"]), bilou=v["bilou"])
            for name, v in metadata["tag_vocabularies"].items()
        }
        intents, synonyms = metadata["intents"], metadata["synonyms"]
    except (ConfigError, KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{directory} holds an invalid model: {error}") from None
    weights, masks = _read_weight_arrays(directory / "weights.npz")
    network = NumpyDIET(config, weights, masks, [h for h in TAG_HEADS if h in vocabularies])
    _check_weights(network, featurizer, len(intents), vocabularies, directory)
    return NLU(
        config, featurizer, network, intents, vocabularies, synonyms, metadata, threads=threads
    )


def _check_weights(network, featurizer, n_intents, vocabularies, directory: Path) -> None:
    """The weights must fit the featurizer, labels and config saved beside them."""
    size = network.config.transformer_size
    expected = {
        "input_projection/kernel": (featurizer.n_features_, network.config.dense_dimension),
        "encoder/embedding/kernel": (network.config.dense_dimension, size),
        **{f"{head}_transitions": (len(v), len(v)) for head, v in vocabularies.items()},
    }
    if n_intents > 1 and network.config.intent_classification:
        expected["intent_embeddings"] = (n_intents, network.config.embedding_dimension)
    for layer in range(network.config.number_of_transformer_layers):
        expected[f"encoder/layer_{layer}/feed_forward_in/kernel"] = (size, 4 * size)
    for name, shape in expected.items():
        found = network.weights.get(name)
        if found is None or found.shape != shape:
            problem = "is missing" if found is None else f"has shape {found.shape}, not {shape}"
            raise ModelLoadError(
                f"{directory / 'weights.npz'}: weight {name} {problem}; the model files do not "
                "belong together"
            )
