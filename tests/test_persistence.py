"""Model directories: atomic, pickle-free saves; loads that check every file; format 1."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from comparing import assert_same_parse

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


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_committed_format_1_model_loads_and_parses_as_when_it_was_saved(tmp_path):
    """tests/fixtures/format1_model was saved by diet-sparse 0.1 (format 1, weights without
    heads in their names); format1_parses.json holds what that version parsed with it."""
    nlu = load(FIXTURES / "format1_model")
    assert nlu.metadata["format_version"] == 1
    assert nlu.config.split_entities_by_comma is False  # older models decode as they did
    assert nlu.config.connection_structure == "random"  # and run the structure they had
    assert "entity_head/transitions" in nlu.network.weights
    expected = json.loads((FIXTURES / "format1_parses.json").read_text())
    assert any(result["entities"] for result in expected)
    assert any(entity.get("role") for result in expected for entity in result["entities"])
    for result in expected:
        assert_same_parse(nlu.parse(result["text"]), result, tolerance=1e-5)
    save(nlu, tmp_path / "converted")  # saved again, it is a format-2 model
    again = load(tmp_path / "converted")
    assert json.loads((tmp_path / "converted" / "metadata.json").read_text())["format_version"] == 2
    for result in expected:
        assert_same_parse(again.parse(result["text"]), result, tolerance=1e-5)


def damaged_copy(trained_model_dir, tmp_path, name: str, change) -> Path:
    copy = tmp_path / "damaged"
    shutil.copytree(trained_model_dir, copy)
    change(copy / name)
    return copy


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def edit_json(change):
    def edit(path: Path) -> None:
        value = json.loads(path.read_text())
        change(value)
        path.write_text(json.dumps(value))

    return edit


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("weights.npz", truncate, "weights.npz is damaged"),
        ("weights.npz", empty, "weights.npz is empty"),
        ("metadata.json", truncate, "metadata.json is not valid JSON"),
        ("metadata.json", empty, "metadata.json is empty"),
        ("config.json", empty, "config.json is empty"),
        ("featurizer.json", truncate, "featurizer.json is not valid JSON"),
        ("config.json", edit_json(lambda c: c.update(epochs=-1)), "config.json: epochs must be"),
        ("config.json", edit_json(lambda c: c.update(transformer_size=128)), "weights.npz: weight"),
        ("metadata.json", edit_json(lambda m: m.update(intents="greet")), "'intents' must be"),
        ("metadata.json", edit_json(lambda m: m["intents"].pop()), "intent_head/intent_embeddings"),
        ("metadata.json", edit_json(lambda m: m.pop("tag_vocabularies")), "'tag_vocabularies'"),
        ("featurizer.json", edit_json(lambda f: f.clear()), "featurizer.json: not a valid"),
        ("metadata.json", lambda p: p.write_text("[1, 2]"), "must hold a JSON object"),
    ],
)
def test_a_damaged_file_is_named_in_one_line(trained_model_dir, tmp_path, name, change, message):
    damaged = damaged_copy(trained_model_dir, tmp_path, name, change)
    with pytest.raises(ModelLoadError) as error:
        load(damaged)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_hand_edited_weights_file_is_refused(trained_model_dir, tmp_path):
    def add_weight(path: Path) -> None:
        with np.load(path) as stored:
            arrays = dict(stored)
        arrays["encoder/extra/kernel"] = np.ones((2, 2), np.float32)
        arrays["entity_head/transitions"] = np.full_like(arrays["entity_head/transitions"], np.nan)
        np.savez(path, **arrays)

    damaged = damaged_copy(trained_model_dir, tmp_path, "weights.npz", add_weight)
    with pytest.raises(ModelLoadError, match="entity_head/transitions holds values that are not"):
        load(damaged)


def test_write_json_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    persistence.write_json(path, {"a": np.int64(1), "b": np.float32(0.5)})
    assert json.loads(path.read_text()) == {"a": 1, "b": 0.5}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        persistence.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1, "b": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_an_unusable_model_directory_is_refused_before_training(tmp_path, example_data):
    from diet_sparse.training import train

    file = tmp_path / "model"
    file.write_text("not a directory")
    with pytest.raises(FileExistsError, match="is an existing file"):
        train(example_data, {"epochs": 1}, out=file, progress=False)
    with pytest.raises(FileExistsError, match="cannot create model directory .*model is a file"):
        train(example_data, {"epochs": 1}, out=file / "inner", progress=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(persistence.ModelDirectoryError, match="not a diet-sparse model"):
        train(example_data, {"epochs": 1}, out=tmp_path / "notes", progress=False)


def test_report_files_are_replaced_whole_or_not_at_all(tmp_path):
    path = tmp_path / "report.json"
    persistence.write_json(path, {"accuracy": np.float64(0.5), "support": np.int64(2)})
    assert json.loads(path.read_text()) == {"accuracy": 0.5, "support": 2}
    with pytest.raises(TypeError, match="cannot write object"):
        persistence.write_json(path, {"accuracy": object()})
    assert json.loads(path.read_text()) == {"accuracy": 0.5, "support": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_output_directory_is_checked_before_anything_is_written(tmp_path):
    (tmp_path / "file").write_text("")
    assert persistence.check_output_directory(tmp_path / "new" / "deeper") == (
        tmp_path / "new" / "deeper"
    )
    with pytest.raises(FileExistsError, match="is an existing file"):
        persistence.check_output_directory(tmp_path / "file")
    with pytest.raises(FileExistsError, match=r"cannot create output directory .*: .*file is a"):
        persistence.check_output_directory(tmp_path / "file" / "results")
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_directory_that_cannot_be_written_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(PermissionError, match="permission denied"):
            persistence.check_output_directory(locked / "results")
    finally:
        locked.chmod(0o700)


def test_loading_a_model_leaves_the_process_blas_threads_alone(trained_model_dir):
    """A user's notebook numpy keeps its threads: parsing limits BLAS to one thread only while
    it runs (also with parses in several threads at once); the server and the CLI limit them
    for good."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    nlu = load(trained_model_dir)
    during = []
    viterbi = nlu.decoders["entity"].viterbi

    def watched(*args):
        during.append(blas_threads())
        return viterbi(*args)

    nlu.decoders["entity"].viterbi = watched
    nlu.parse("book a flight to Paris")
    nlu.parse_batch(["hello", "book a flight to Paris"] * 70, batch_size=16, workers=2)
    assert blas_threads() == before
    assert during and all(threads == [1] * len(before) for threads in during)


def test_a_model_saved_before_a_config_key_existed_loads_with_the_value_it_was_trained_with(
    nlu, trained_model_dir, tmp_path, example_data
):
    """Keys a newer diet-sparse adds take, for an older model, what models did before them,
    whatever the default becomes (`persistence.ABSENT_FROM_OLDER_CONFIGS`). For this round's
    keys that is always a model that parses as it did: the structure only changes how the
    saved kernels are multiplied, the others only training."""
    added = ["connection_structure", "fan_in_initialization", "learning_rate_schedule"]
    copy = tmp_path / "model"
    shutil.copytree(trained_model_dir, copy)
    saved = json.loads((copy / "config.json").read_text())
    for key in [*added, "warmup_epochs", "hidden_layers_sizes"]:
        del saved[key]
    (copy / "config.json").write_text(json.dumps(saved))
    older = load(copy)
    for key in [*added, "warmup_epochs", "hidden_layers_sizes"]:
        assert getattr(older.config, key) == persistence.ABSENT_FROM_OLDER_CONFIGS[key], key
    texts = [e.text for e in example_data.examples[::7]]
    for mine, theirs in zip(older.parse_batch(texts), nlu.parse_batch(texts)):
        assert_same_parse(mine, theirs, tolerance=1e-5)
