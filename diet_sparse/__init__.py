"""diet-sparse: intent classification and entity extraction with a randomly connected DIET model.

>>> from diet_sparse import train, load
>>> nlu = load("models/default")
>>> nlu.parse("book a table for two in Berlin")["intent"]["name"]
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU-only machines, oneDNN notices) is
# noise users cannot act on; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"


def train(*args, **kwargs):
    """Train a model; see `diet_sparse.training.train`."""
    from diet_sparse.training import train as _train

    return _train(*args, **kwargs)


def load(directory):
    """Load a saved model directory; see `diet_sparse.persistence.load`."""
    from diet_sparse.persistence import load as _load

    return _load(directory)


__all__ = ["train", "load", "__version__"]
