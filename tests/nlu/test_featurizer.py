"""Tests for diet_sparse.nlu.featurizer: the sparse token and sentence features."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer

from diet_sparse.nlu import featurizer as featurizer_module
from diet_sparse.nlu.featurizer import Featurizer
from diet_sparse.nlu.tokenizer import TOKENIZER_VERSION, WHITESPACE_TOKENIZER_VERSION
from diet_sparse.rasa.nlu_data import Example, LookupTable, RegexPattern, TrainingData


def make_data(*texts: str, regexes=(), lookups=()) -> TrainingData:
    return TrainingData(
        examples=[Example(text, "intent") for text in texts],
        regexes=list(regexes),
        lookups=list(lookups),
    )


def active(featurizer: Featurizer, row) -> set[str]:
    """Names of the non-zero columns of a one-row sparse matrix."""
    names = featurizer.get_feature_names_out()
    return {names[column] for column in row.indices}


def block(featurizer: Featurizer, matrix, name: str) -> np.ndarray:
    return matrix[:, featurizer.block_slice(name)].toarray()


TRAIN = make_data("Book a table in Berlin", "play some jazz", "book 2 tables for tonight")


def test_known_token_gets_its_word_column():
    featurizer = Featurizer().fit(TRAIN)
    batch = featurizer.transform(["please book jazz"])
    words = block(featurizer, batch.features, "word")
    book, jazz = featurizer.word_vocabulary_["book"], featurizer.word_vocabulary_["jazz"]
    assert words[1].nonzero()[0].tolist() == [book]
    assert words[2].nonzero()[0].tolist() == [jazz]
    assert words[0].sum() == 0  # "please" is not in the training data


def test_word_features_lowercase_by_default_and_not_when_disabled():
    assert "book" in Featurizer().fit(TRAIN).word_vocabulary_
    assert "Book" not in Featurizer().fit(TRAIN).word_vocabulary_
    assert "Book" in Featurizer(lowercase=False).fit(TRAIN).word_vocabulary_


def test_char_ngram_counts_match_hand_count():
    featurizer = Featurizer(
        use_word_features=False, char_ngram_min=1, char_ngram_max=2, lexical_features=[]
    ).fit(make_data("book"))
    token_row = featurizer.transform(["book"]).features[0]
    names = featurizer.get_feature_names_out()
    counts = {
        names[c][len("char:") :]: v for c, v in zip(token_row.indices, token_row.data, strict=True)
    }
    # char_wb pads the word with a space on each side: " book "
    expected = {" ": 2, "b": 1, "o": 2, "k": 1, " b": 1, "bo": 1, "oo": 1, "ok": 1, "k ": 1}
    assert counts == expected


def test_count_blocks_equal_count_vectorizer_transform_of_each_token():
    featurizer = Featurizer(lexical_features=[]).fit(TRAIN)
    texts = ["Book tables in Berlin tonight", "jazz jazz unknownword"]
    batch = featurizer.transform(texts)
    tokens = [t.text for message in batch.tokens for t in message]
    token_rows = np.delete(np.arange(batch.features.shape[0]), batch.sentence_rows)
    for name, vocabulary, analyzer in [
        ("word", featurizer.word_vocabulary_, {"token_pattern": r"(?u)\S+"}),
        ("char", featurizer.char_vocabulary_, {"analyzer": "char_wb", "ngram_range": (1, 4)}),
    ]:
        reference = CountVectorizer(vocabulary=vocabulary, **analyzer).transform(tokens)
        ours = batch.features[token_rows][:, featurizer.block_slice(name)]
        assert (ours != reference).nnz == 0, name


WORDS = [
    "",
    "a",
    "I",
    "hi",
    "Book",
    "ÉCOLE",
    "straße",
    "İstanbul",
    "naïve",
    "3pm",
    "x-ray",
    "日本語",
    "🙂ok",
    "ab\u0301c",
    "loooooooong",
    "a b",
    "  two  spaces ",
    "tab\tand\nnewline",
]


@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize("ngram_range", [(1, 4), (2, 3), (3, 5), (1, 1)])
def test_our_analyzers_give_scikit_learns_terms(lowercase, ngram_range):
    """Parsing analyses words without scikit-learn (its import was most of a cold start); the
    terms must be those of the CountVectorizer analyzers the vocabularies were fitted with."""
    char = CountVectorizer(analyzer="char_wb", ngram_range=ngram_range, lowercase=lowercase)
    word = CountVectorizer(token_pattern=r"(?u)\S+", lowercase=lowercase)
    char_analyzer, word_analyzer = char.build_analyzer(), word.build_analyzer()
    for text in WORDS:
        assert featurizer_module.char_wb_terms(text, *ngram_range, lowercase) == char_analyzer(
            text
        ), text
        if not any(c.isspace() for c in text):  # a token never holds whitespace
            assert featurizer_module.word_terms(text, lowercase) == word_analyzer(text), text


def test_loading_and_parsing_import_no_scikit_learn(trained_nlu, tmp_path):
    import subprocess
    import sys

    from diet_sparse.persistence import save

    save(trained_nlu, tmp_path / "model")
    code = (
        "import sys; from diet_sparse.persistence import load; "
        f"load({str(tmp_path / 'model')!r}).parse('book a table in Berlin'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_remembered_term_columns_give_the_same_features_as_fresh_ones():
    texts = ["Book tables in Berlin tonight", "book a table", "jazz jazz unknownword", "Berlin"]
    fresh = [Featurizer().fit(TRAIN).transform([text]).features for text in texts]
    featurizer = Featurizer().fit(TRAIN)
    for block in (featurizer._word_columns, featurizer._char_columns):
        block.capacity = 3  # forgets everything every few words
    for _ in range(2):  # the second round reads what the first remembered
        for text, expected in zip(texts, fresh):
            assert (featurizer.transform([text]).features != expected).nnz == 0


def test_lexical_features_of_token_and_neighbours():
    window = [
        ["low", "title", "upper"],
        ["BOS", "EOS", "low", "title", "prefix3", "suffix2"],
        ["low", "title", "upper"],
    ]
    featurizer = Featurizer(
        use_word_features=False, use_char_features=False, lexical_features=window
    )
    featurizer.fit(make_data("visit Berlin today", "go home"))
    features = featurizer.transform(["visit Berlin today"]).features
    first, berlin, last = (active(featurizer, features[i]) for i in range(3))

    assert "lexical:0:title:True" in berlin
    assert {"lexical:0:prefix3:ber", "lexical:0:suffix2:in"} <= berlin  # lower-cased affixes
    assert {"lexical:-1:low:True", "lexical:1:low:True"} <= berlin
    assert {"lexical:0:BOS:True", "lexical:0:EOS:False", "lexical:1:title:True"} <= first
    assert {"lexical:0:EOS:True", "lexical:-1:title:True"} <= last
    # No neighbour before the first token or after the last one.
    assert not any(name.startswith("lexical:-1:") for name in first)
    assert not any(name.startswith("lexical:1:") for name in last)


def test_lexical_values_unseen_in_training_are_dropped():
    featurizer = Featurizer(use_word_features=False, use_char_features=False)
    featurizer.fit(make_data("all lower case"))
    names = active(featurizer, featurizer.transform(["ALL"]).features[0])
    assert "lexical:0:upper:False" not in names  # the token is upper-case
    assert "lexical:0:upper:True" not in names  # never seen in training
    assert "lexical:0:BOS:True" in names


def test_regex_and_lookup_features_on_matching_tokens_and_sentence():
    data = make_data(
        "send it to Berlin 10115",
        regexes=[RegexPattern("zipcode", r"\d{5}")],
        lookups=[LookupTable("city", ("berlin", "new york"))],
    )
    featurizer = Featurizer().fit(data)
    assert [name for name, _ in featurizer.regex_patterns_] == ["zipcode", "city"]

    batch = featurizer.transform(["ship to New York 10001", "no berliner or xberlin 123456"])
    regex = block(featurizer, batch.features, "regex")
    # columns: zipcode, city
    assert regex.tolist() == [
        [0, 0],  # ship
        [0, 0],  # to
        [0, 1],  # New
        [0, 1],  # York
        [1, 0],  # 10001
        [1, 1],  # sentence
        [0, 0],  # no
        [0, 0],  # berliner: lookup elements match whole words only
        [0, 0],  # or
        [0, 0],  # xberlin
        [1, 0],  # 123456: regexes match anywhere, as written
        [1, 0],  # sentence
    ]


def test_regex_that_matches_the_empty_string_only_counts_non_empty_matches():
    data = make_data("call 911", regexes=[RegexPattern("digits", r"\d*")])
    featurizer = Featurizer().fit(data)
    batch = featurizer.transform(["no digits", "call 112"])
    assert block(featurizer, batch.features, "regex").ravel().tolist() == [0, 0, 0, 0, 1, 1]


def test_regex_sentence_feature_needs_no_token():
    data = make_data("hello", regexes=[RegexPattern("question", r"\?")])
    featurizer = Featurizer().fit(data)
    batch = featurizer.transform(["hello?"])  # the tokenizer drops the "?"
    assert block(featurizer, batch.features, "regex").tolist() == [[0], [1]]


def test_sentence_row_sums_count_blocks_and_has_no_lexical_features():
    featurizer = Featurizer().fit(TRAIN)
    batch = featurizer.transform(["book book a table", "jazz"])
    for i in range(len(batch)):
        rows = batch.message_features(i)
        tokens, sentence = rows[:-1], rows[-1]
        for name in ("word", "char"):
            assert np.array_equal(
                block(featurizer, sentence, name)[0], block(featurizer, tokens, name).sum(axis=0)
            )
        assert block(featurizer, sentence, "lexical").sum() == 0
    assert block(featurizer, batch.features, "word")[4, featurizer.word_vocabulary_["book"]] == 2


def test_shape_offsets_and_blocks_agree():
    featurizer = Featurizer().fit(TRAIN)
    texts = ["book a table", "", "jazz", "  "]
    batch = featurizer.transform(texts)
    lengths = [len(tokens) for tokens in batch.tokens]
    assert lengths == [3, 0, 1, 0]
    assert batch.offsets.dtype == np.int64
    assert batch.offsets.tolist() == [0, 4, 5, 7, 8]
    assert batch.features.shape == (8, featurizer.n_features_)
    assert batch.features.dtype == np.float32
    assert featurizer.n_features_ == sum(featurizer.feature_blocks_.values())
    assert list(featurizer.feature_blocks_) == ["word", "char", "lexical", "regex"]
    assert len(featurizer.get_feature_names_out()) == featurizer.n_features_
    assert batch.message_features(0).shape == (4, featurizer.n_features_)


def test_empty_and_whitespace_texts_get_one_zero_sentence_row():
    featurizer = Featurizer().fit(TRAIN)
    batch = featurizer.transform(["", " \t\n"])
    assert batch.tokens == [[], []]
    assert batch.features.shape == (2, featurizer.n_features_)
    assert batch.features.nnz == 0
    assert featurizer.transform([]).features.shape == (0, featurizer.n_features_)


def test_unknown_words_have_no_word_feature_and_only_known_ngrams():
    featurizer = Featurizer(lexical_features=[]).fit(TRAIN)
    features = featurizer.transform(["qqqxxx"]).features
    assert block(featurizer, features, "word").sum() == 0
    chars = {name[len("char:") :] for name in active(featurizer, features[0])}
    assert chars == {" "}  # the padding space is the only n-gram seen in training


def test_json_round_trip_gives_identical_features():
    data = make_data(
        "Book a table in Berlin at 10115",
        regexes=[RegexPattern("zipcode", r"\d{5}")],
        lookups=[LookupTable("city", ("berlin",))],
    )
    featurizer = Featurizer(char_ngram_max=3, max_char_features=20).fit(data)
    restored = Featurizer.from_json(json.loads(json.dumps(featurizer.to_json())))
    texts = ["book in berlin 12345", "", "Unknown Words"]
    expected, actual = featurizer.transform(texts), restored.transform(texts)
    assert (expected.features != actual.features).nnz == 0
    assert np.array_equal(expected.offsets, actual.offsets)
    assert restored.get_config() == featurizer.get_config()
    assert restored.feature_blocks_ == featurizer.feature_blocks_


def test_a_saved_featurizer_keeps_its_tokenizer_and_one_saved_without_it_uses_version_1():
    featurizer = Featurizer().fit(make_data("don't stop", "hello there"))
    state = json.loads(json.dumps(featurizer.to_json()))
    assert state["config"]["tokenizer_version"] == TOKENIZER_VERSION
    assert [t.text for t in Featurizer.from_json(state).transform(["don't"]).tokens[0]] == [
        "don",
        "t",
    ]
    del state["config"]["tokenizer_version"]  # as saved before tokenizers had versions
    old = Featurizer.from_json(state)
    assert old.tokenizer_version == 1
    assert [t.text for t in old.transform(["don't"]).tokens[0]] == ["don't"]


def char_counts(featurizer: Featurizer, row) -> dict[str, float]:
    names = featurizer.get_feature_names_out()
    chars = featurizer.block_slice("char")
    return {
        names[c][len("char:") :]: v
        for c, v in zip(row.indices, row.data, strict=True)
        if chars.start <= c < chars.stop
    }


def test_char_ngrams_of_a_chinese_sentence_are_those_of_the_whole_run():
    text = "我想去北京"
    featurizer = Featurizer(lexical_features=[]).fit(make_data(text))
    batch = featurizer.transform([text])
    assert [t.text for t in batch.tokens[0]] == list(text)
    reference = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4)).fit([text])
    expected = dict(zip(reference.get_feature_names_out(), reference.transform([text]).data))
    expected[" "] -= 1  # the padding after the run is no token's n-gram
    assert char_counts(featurizer, batch.features[batch.sentence_rows[0]]) == expected
    # each character's row holds the n-grams that start at it: "北" sees "北京"
    assert char_counts(featurizer, batch.features[3]) == {"北": 1, "北京": 1, "北京 ": 1}


def test_decomposed_and_composed_text_get_the_same_features():
    featurizer = Featurizer().fit(make_data("Grüße aus Köln", "café crème"))
    nfc, nfd = "Grüße aus Köln, café", "Gru\u0308ße aus Ko\u0308ln, cafe\u0301"
    batch = featurizer.transform([nfc, nfd])
    assert (batch.message_features(0) != batch.message_features(1)).nnz == 0
    assert "word:köln" in active(featurizer, batch.features[batch.sentence_rows[1]])
    assert [(t.start, t.end) for t in batch.tokens[1]] == [(0, 6), (7, 10), (11, 16), (18, 23)]


def test_lookup_tables_and_regexes_match_decomposed_text_on_its_tokens():
    lookups = [LookupTable("city", ["Köln", "Zürich"])]
    regexes = [RegexPattern("umlaut_word", r"\b\w*ü\w*\b")]
    featurizer = Featurizer().fit(make_data("nach Köln", lookups=lookups, regexes=regexes))
    nfd = "nach Ko\u0308ln und Zu\u0308rich"
    batch = featurizer.transform([nfd])
    regex_block = block(featurizer, batch.features, "regex")  # columns: umlaut_word, city
    assert regex_block[:, 1].tolist() == [0, 1, 0, 1, 1]  # the tokens Köln and Zürich, sentence
    assert regex_block[:, 0].tolist() == [0, 0, 0, 1, 1]


def test_a_version_2_featurizer_splits_and_featurizes_as_before():
    data = make_data("我想去北京", "cafe\u0301 crème")
    featurizer = Featurizer(tokenizer_version=WHITESPACE_TOKENIZER_VERSION).fit(data)
    restored = Featurizer.from_json(json.loads(json.dumps(featurizer.to_json())))
    assert restored.tokenizer_version == WHITESPACE_TOKENIZER_VERSION
    batch = restored.transform(["我想去北京", "cafe\u0301"])
    assert [t.text for t in batch.tokens[0]] == ["我想去北京"]
    assert [t.text for t in batch.tokens[1]] == ["cafe\u0301"]  # not normalised
    reference = CountVectorizer(vocabulary=restored.char_vocabulary_, analyzer="char_wb")
    reference.set_params(ngram_range=(1, 4))
    assert (
        block(restored, batch.features[[0]], "char")
        != reference.transform(["我想去北京"]).toarray()
    ).sum() == 0


def test_an_unknown_tokenizer_version_is_refused():
    with pytest.raises(ValueError, match="tokenizer_version must be one of"):
        Featurizer(tokenizer_version=7)


def test_from_json_rejects_other_objects():
    with pytest.raises(ValueError, match="not a saved featurizer"):
        Featurizer.from_json({"vocabulary": {}})


def test_invalid_lexical_feature_name_is_named_in_the_error():
    with pytest.raises(ValueError, match="'pos'.*valid features.*prefix5"):
        Featurizer(lexical_features=[["low"], ["pos", "title"], ["low"]])


def test_lexical_window_must_have_odd_length():
    with pytest.raises(ValueError, match="odd number"):
        Featurizer(lexical_features=[["low"], ["title"]])


@pytest.mark.parametrize(
    ("argument", "value"),
    [("char_ngram_min", 0), ("max_char_features", 0), ("max_word_features", 2.5)],
)
def test_invalid_numbers_name_the_argument(argument, value):
    with pytest.raises(ValueError, match=argument):
        Featurizer(**{argument: value})


def test_max_features_keep_the_most_frequent_terms():
    data = make_data("aaa ab aaa", "ab c")
    featurizer = Featurizer(
        char_ngram_min=1, char_ngram_max=1, max_char_features=2, max_word_features=2
    ).fit(data)
    # n-grams of " aaa ", " ab ", ...: " " x8, "a" x8, "b" x2, "c" x1; words: aaa x2, ab x2, c x1
    assert featurizer.char_vocabulary_ == {" ": 0, "a": 1}
    assert featurizer.word_vocabulary_ == {"aaa": 0, "ab": 1}
    assert Featurizer(char_ngram_max=1).fit(data).feature_blocks_["char"] == 4


def test_invalid_regex_is_reported_by_name():
    data = make_data("hi", regexes=[RegexPattern("broken", "(unclosed")])
    with pytest.raises(ValueError, match="regex 'broken'"):
        Featurizer().fit(data)


def test_fit_needs_tokens():
    with pytest.raises(ValueError, match="no tokens"):
        Featurizer().fit(make_data("", "  "))


def test_transform_needs_fit_and_a_list_of_texts():
    with pytest.raises(NotFittedError):
        Featurizer().transform(["hi"])
    featurizer = Featurizer().fit(TRAIN)
    with pytest.raises(TypeError, match=r"transform\(\[text\]\)"):
        featurizer.transform("book a table")


def test_fit_transform_featurizes_the_training_examples():
    featurizer = Featurizer()
    batch = featurizer.fit_transform(TRAIN)
    assert len(batch) == len(TRAIN.examples)
    assert (
        batch.features != featurizer.transform([e.text for e in TRAIN.examples]).features
    ).nnz == 0


def test_docstring_examples_run():
    result = doctest.testmod(featurizer_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_featurizing_in_chunks_gives_the_batch_of_one_piece(monkeypatch):
    texts = ["Book tables in Berlin tonight", "", "jazz jazz unknownword", "hi", "book it"] * 3
    featurizer = Featurizer().fit(TRAIN)
    whole = featurizer.transform(texts)
    monkeypatch.setattr(featurizer_module, "TRANSFORM_CHUNK", 4)
    chunked = featurizer.transform(texts)
    assert chunked.tokens == whole.tokens
    np.testing.assert_array_equal(chunked.offsets, whole.offsets)
    assert chunked.features.shape == whole.features.shape
    assert (chunked.features != whole.features).nnz == 0
