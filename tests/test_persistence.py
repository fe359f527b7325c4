import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from diet_sparse import persistence
from diet_sparse.persistence import ModelLoadError, load, save


def all_texts(example_data):
    return [e.text for e in example_data.examples]


def test_save_load_gives_identical_predictions(trained_nlu, nlu, example_data, tmp_path):
    texts = all_texts(example_data)
    assert nlu.parse_batch(texts) == trained_nlu.parse_batch(texts)
    save(nlu, tmp_path / "copy")  # a loaded model saves again, unchanged
    assert load(tmp_path / "copy").parse_batch(texts) == trained_nlu.parse_batch(texts)


def test_loading_does_not_import_tensorflow(trained_model_dir):
    code = (
        f"import sys; from diet_sparse import load; load({str(trained_model_dir)!r}).parse('hi');"
    )
    code += "sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_model_directory_holds_open_formats_only(trained_model_dir):
    names = sorted(p.name for p in trained_model_dir.iterdir())
    assert names == sorted(persistence.FILES)
    metadata = json.loads((trained_model_dir / "metadata.json").read_text())
    for key in ("diet_sparse_version", "tensorflow_version", "intents", "tag_vocabularies"):
        assert key in metadata
    config = json.loads((trained_model_dir / "config.json").read_text())
    assert config["connection_density"] == 0.2
    with np.load(trained_model_dir / "weights.npz", allow_pickle=False) as weights:
        assert any(name.endswith("#mask") for name in weights.files)


def test_saved_kernels_store_only_connected_weights(trained_nlu, trained_model_dir):
    layers = trained_nlu.keras_model.randomly_connected_layers()
    assert len(layers) == 13
    with np.load(trained_model_dir / "weights.npz", allow_pickle=False) as weights:
        for layer in layers:
            name = layer.kernel.name.removeprefix("diet/").removesuffix(":0")
            stored = weights[name + "#connected"]
            assert stored.size == int(layer.kernel_mask.numpy().sum())
            assert name not in weights.files  # no dense copy besides


def test_loaded_weights_and_masks_equal_trained_ones(trained_nlu, nlu):
    trained, loaded = trained_nlu.network, nlu.network
    assert trained.weights.keys() == loaded.weights.keys()
    for name, value in trained.weights.items():
        np.testing.assert_array_equal(value, loaded.weights[name], err_msg=name)
    assert trained.masks.keys() == loaded.masks.keys() and len(loaded.masks) == 13
    for name, mask in trained.masks.items():
        np.testing.assert_array_equal(mask, loaded.masks[name], err_msg=name)


def test_interrupted_save_keeps_the_existing_model(nlu, tmp_path, monkeypatch):
    target = tmp_path / "model"
    save(nlu, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence.np, "savez_compressed", crash)
    with pytest.raises(KeyboardInterrupt):
        save(nlu, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"], "staging directory left behind"


def test_save_refuses_to_replace_a_foreign_directory(nlu, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a diet-sparse model"):
        save(nlu, tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_missing_file_is_a_clear_error(trained_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained_model_dir, broken)
    (broken / "weights.npz").unlink()
    with pytest.raises(ModelLoadError, match="missing weights.npz"):
        load(broken)


def test_incompatible_format_is_a_clear_error(trained_model_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(trained_model_dir, old)
    metadata = json.loads((old / "metadata.json").read_text())
    metadata["format_version"] = 999
    (old / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelLoadError, match="format 999"):
        load(old)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load(tmp_path / "nothing")


def test_input_projection_is_stored_in_half_precision(trained_nlu, trained_model_dir):
    with np.load(trained_model_dir / "weights.npz", allow_pickle=False) as weights:
        stored = weights["input_projection/kernel"]
    assert stored.dtype == np.float16
    in_memory = trained_nlu.network.weights["input_projection/kernel"]
    np.testing.assert_array_equal(stored.astype(np.float32), in_memory)
    keras_kernel = trained_nlu.keras_model.input_projection.kernel.numpy()
    np.testing.assert_array_equal(keras_kernel, in_memory)
