"""Shared fixtures: one small model trained on the example data, reused across tests."""

from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLE_DATA = ROOT / "data"
TINY_CONFIG = ROOT / "configs" / "tiny.yml"


@pytest.fixture(scope="session")
def example_data():
    from diet_sparse.data import load_training_data

    return load_training_data(EXAMPLE_DATA)


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models") / "tiny"


@pytest.fixture(scope="session")
def trained_nlu(example_data, trained_model_dir):
    """A model trained on data/ with configs/tiny.yml (it keeps its Keras model), and saved to
    ``trained_model_dir``."""
    from diet_sparse.training import train

    return train(example_data, TINY_CONFIG, out=trained_model_dir, progress=False)


@pytest.fixture(scope="session")
def nlu(trained_nlu, trained_model_dir):
    """The model of ``trained_nlu`` loaded from its directory, as users load models."""
    from diet_sparse.persistence import load

    return load(trained_model_dir)
