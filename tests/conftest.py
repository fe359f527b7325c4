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
def trained_model_dir(tmp_path_factory, example_data):
    """A model trained on data/ with configs/tiny.yml, saved to a temporary directory."""
    from diet_sparse.training import train

    directory = tmp_path_factory.mktemp("models") / "tiny"
    train(example_data, TINY_CONFIG, out=directory, progress=False)
    return directory


@pytest.fixture(scope="session")
def nlu(trained_model_dir):
    from diet_sparse.persistence import load

    return load(trained_model_dir)
