"""diet-sparse: intent classification and entity extraction with a randomly connected DIET model.

``train``, ``load``, ``train_project`` (a whole Rasa project folder) and the others are
imported on first use, so ``import diet_sparse`` stays fast and
loading a model never imports TensorFlow (only ``train`` does).

>>> from diet_sparse import train, load  # doctest: +SKIP
>>> nlu = load("models/default")  # doctest: +SKIP
>>> nlu.parse("book a table for two in Berlin")["intent"]["name"]  # doctest: +SKIP
"""

import os
from importlib import import_module, metadata

# TensorFlow's C++ start-up chatter (CUDA probing on CPU-only machines, oneDNN notices) is
# noise users cannot act on; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

try:
    __version__ = metadata.version("diet-sparse")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

# public name -> module that defines it; imported when first asked for (PEP 562)
_LAZY = {
    "train": "diet_sparse.training",
    "load": "diet_sparse.persistence",
    "train_policy": "diet_sparse.training",
    "load_policy": "diet_sparse.persistence",
    "train_project": "diet_sparse.project",
}

__all__ = ["train", "load", "train_policy", "load_policy", "train_project", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'diet_sparse' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
