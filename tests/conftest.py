"""Shared fixtures: one small model trained on the example data, reused across tests."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLE_DATA = ROOT / "data"
TINY_CONFIG = ROOT / "configs" / "tiny.yml"


@pytest.fixture(scope="session")
def example_data():
    from diet_sparse.rasa.nlu_data import load_training_data

    return load_training_data(EXAMPLE_DATA)


@pytest.fixture(scope="session")
def model_dir_to_train(tmp_path_factory):
    """Where ``trained_nlu`` saves its model; tests ask for ``trained_model_dir`` instead."""
    return tmp_path_factory.mktemp("models") / "tiny"


@pytest.fixture(scope="session")
def trained_nlu(example_data, model_dir_to_train):
    """A model trained on data/ with configs/tiny.yml (it keeps its Keras model), and saved to
    ``trained_model_dir``."""
    from diet_sparse.training import train

    return train(example_data, TINY_CONFIG, out=model_dir_to_train, progress=False)


@pytest.fixture(scope="session")
def trained_model_dir(trained_nlu, model_dir_to_train):
    """The directory ``trained_nlu`` is saved in: the model is there whichever test runs first."""
    return model_dir_to_train


@pytest.fixture(scope="session")
def nlu(trained_nlu, trained_model_dir):
    """The model of ``trained_nlu`` loaded from its directory, as users load models."""
    from diet_sparse.persistence import load

    return load(trained_model_dir)


def example_project(folder: Path, config: str) -> Path:
    """A Rasa project folder made of the example assistant (data/) and ``config`` (config.yml),
    as a Rasa user's project lays it out."""
    (folder / "data").mkdir()
    for name in ("nlu.yml", "stories.yml", "rules.yml", "extras.yml"):
        shutil.copy(EXAMPLE_DATA / name, folder / "data" / name)
    shutil.copy(EXAMPLE_DATA / "domain.yml", folder / "domain.yml")
    (folder / "config.yml").write_text(config, encoding="utf-8")
    return folder


def stored_trainable_values(model_dir: Path, fitted_apart: tuple[str, ...] = ()) -> int:
    """The trainable values a model directory's weights.npz holds, counted as the training logs
    and metadata's ``trainable_weights.total`` count them: every stored array but the connection
    masks and shapes (``#mask``, ``#shape``: not trained), a randomly connected kernel by its
    connected entries (``#connected``: the kernel with its mask applied), and none of the
    arrays named under ``fitted_apart`` (e.g. the wide path, fitted beside the network and
    counted as ``trainable_weights.wide_path``)."""
    import numpy as np

    with np.load(model_dir / "weights.npz") as stored:
        return sum(
            stored[name].size
            for name in stored.files
            if not name.endswith(("#mask", "#shape"))
            and not any(name.startswith(prefix) for prefix in fitted_apart)
        )


def split_domain(domain_file: Path, folder: Path, parts: dict[str, tuple[str, ...]]) -> None:
    """Write ``domain_file`` as the files of a ``domain/`` folder, as Rasa users split one: each
    file of ``parts`` (a name below ``folder``) gets the named top-level keys, as written."""
    blocks: dict[str, str] = {}
    key = None
    for line in domain_file.read_text(encoding="utf-8").splitlines(keepends=True):
        if line[:1].isalpha():
            key = line.split(":", 1)[0]
        if key is not None:
            blocks[key] = blocks.get(key, "") + line
    assert {k for keys in parts.values() for k in keys} >= set(blocks) - {"version"}
    for name, keys in parts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("".join(blocks.get(k, "") for k in keys), encoding="utf-8")
