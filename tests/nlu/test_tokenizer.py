"""Tests for the whitespace tokenizer: exact offsets and Rasa-like punctuation handling."""

import pytest

from diet_sparse.nlu.tokenizer import Token, tokenize

VARIED_TEXTS = [
    "Book a table, please!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nmixed",
    "Grüße aus Köln, naïve café!",
    "東京 に行く",
    "привет, мир",
    "😀 smile 😀 please",
    '"quoted" (parenthesised) [bracketed]',
    "e-mail me@x.org about 10,000.00 or 3.5 kg, don't wait...",
    "what?!? really... ok",
    "-5 degrees and .5 kg",
]


def texts(tokens: list[Token]) -> list[str]:
    return [token.text for token in tokens]


@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_offsets_index_the_original_text(text):
    tokens = tokenize(text)
    assert tokens
    for token in tokens:
        assert text[token.start : token.end] == token.text
    starts = [token.start for token in tokens]
    assert starts == sorted(starts)
    assert all(left.end < right.start for left, right in zip(tokens, tokens[1:], strict=False))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Book a table, please!", ["Book", "a", "table", "please"]),
        ('"quoted" (really)', ["quoted", "really"]),
        ("what?!? yes...", ["what", "yes"]),
        ("hello , world", ["hello", "world"]),
        ("Grüße aus Köln!", ["Grüße", "aus", "Köln"]),
        ("東京 に行く。", ["東京", "に行く"]),
    ],
)
def test_punctuation_at_word_edges_is_dropped(text, expected):
    assert texts(tokenize(text)) == expected


@pytest.mark.parametrize(
    "word", ["e-mail", "3.5", "don't", "me@x.org", "10,000.00", "-5", "o'clock"]
)
def test_punctuation_inside_a_word_keeps_it_whole(word):
    text = f"say {word} now"
    assert texts(tokenize(text)) == ["say", word, "now"]


def test_offsets_skip_dropped_punctuation():
    assert tokenize("(hi), you!") == [Token("hi", 1, 3), Token("you", 6, 9)]


@pytest.mark.parametrize("text", ["", " ", "  \t\n ", "!!! ...", "😀"])
def test_text_without_words_has_no_tokens(text):
    assert tokenize(text) == []
