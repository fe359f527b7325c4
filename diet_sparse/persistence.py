"""Saving and loading model directories, in open formats only (JSON and numpy's npz).

A model directory holds:
    metadata.json   format version, package versions, labels, tag maps, synonyms
    config.json     the resolved config the model was trained with
    featurizer.json vocabularies and featurizer options
    weights.npz     every model weight; randomly connected kernels store only their connected
                    entries plus the bit-packed mask that says where they go

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

FORMAT_VERSION = 1
FILES = ("metadata.json", "config.json", "featurizer.json", "weights.npz")


class ModelLoadError(RuntimeError):
    """A model directory that cannot be loaded; the message says which file and why."""


def _weight_arrays(nlu) -> dict[str, np.ndarray]:
    masked = {id(layer.kernel): layer for layer in nlu.model.randomly_connected_layers()}
    arrays = {}
    for variable in nlu.model.weights:
        name = variable.name
        if name.endswith("kernel_mask:0"):
            continue  # stored packed with its kernel below
        value = variable.numpy()
        layer = masked.get(id(variable))
        if layer is None or layer.connection_density >= 1.0:
            arrays[name] = value
            continue
        mask = layer.kernel_mask.numpy().astype(bool)
        arrays[name + "#connected"] = value[mask]
        arrays[name + "#mask"] = np.packbits(mask)
        arrays[name + "#shape"] = np.array(mask.shape, dtype=np.int64)
    return arrays


def save(nlu, directory: str | Path) -> Path:
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
        np.savez_compressed(staging / "weights.npz", **_weight_arrays(nlu))
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


def load(directory: str | Path):
    """Load a model directory written by `save` (or by ``diet-sparse train``).

    Example:
        >>> nlu = load("models/default")  # doctest: +SKIP
    """
    from diet_sparse.config import ConfigError, resolve_config
    from diet_sparse.featurizer import Featurizer
    from diet_sparse.model import DIET
    from diet_sparse.nlu import NLU
    from diet_sparse.tagging import TagVocabulary
    from diet_sparse.training import _dummy_inputs

    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist")
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{directory} is not a complete diet-sparse model: missing {', '.join(missing)}"
        )
    metadata = _read_json(directory, "metadata.json")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"{directory} was saved in model format {version!r} by diet-sparse "
            f"{metadata.get('diet_sparse_version', '?')}; this diet-sparse reads format "
            f"{FORMAT_VERSION}. Retrain the model with this version."
        )
    try:
        config = resolve_config(_read_json(directory, "config.json"), where="config.json")
    except ConfigError as error:
        raise ModelLoadError(f"{directory}: {error}") from None
    featurizer = Featurizer.from_json(_read_json(directory, "featurizer.json"))
    vocabularies = {
        name: TagVocabulary(tuple(v["tags"]), bilou=v["bilou"])
        for name, v in metadata["tag_vocabularies"].items()
    }
    model = DIET(
        config,
        n_features=featurizer.n_features_,
        n_intents=len(metadata["intents"]),
        tag_counts={name: len(v) for name, v in vocabularies.items()},
    )
    model(*_dummy_inputs(featurizer.n_features_))
    _assign_weights(model, directory / "weights.npz")
    return NLU(
        config,
        featurizer,
        model,
        metadata["intents"],
        vocabularies,
        metadata["synonyms"],
        metadata,
    )


def _assign_weights(model, path: Path) -> None:
    with np.load(path, allow_pickle=False) as stored:
        arrays = dict(stored)
    masks = {id(layer.kernel_mask): layer for layer in model.randomly_connected_layers()}
    for variable in model.weights:
        name = variable.name
        if id(variable) in masks:
            continue  # restored with its kernel
        if name in arrays:
            value = arrays[name]
        elif name + "#connected" in arrays:
            shape = tuple(arrays[name + "#shape"])
            mask = np.unpackbits(arrays[name + "#mask"], count=int(np.prod(shape)))
            mask = mask.reshape(shape).astype(bool)
            value = np.zeros(shape, dtype=np.float32)
            value[mask] = arrays[name + "#connected"]
            owner = next(layer for layer in masks.values() if layer.kernel is variable)
            owner.kernel_mask.assign(mask.astype(np.float32))
        else:
            raise ModelLoadError(f"{path} has no weight {name}; the model files do not match")
        if tuple(value.shape) != tuple(variable.shape):
            raise ModelLoadError(
                f"{path}: weight {name} has shape {value.shape}, the model expects "
                f"{tuple(variable.shape)}"
            )
        variable.assign(value)
