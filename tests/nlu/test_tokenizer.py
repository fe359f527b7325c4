"""Tests for the tokenizer: exact offsets, Rasa 3.6's WhitespaceTokenizer splits (version 2) and
version 3's NFC text and one token per character of Han, kana and Thai."""

import unicodedata

import pytest

from diet_sparse.nlu.tokenizer import (
    LEGACY_TOKENIZER_VERSION,
    TOKENIZER_VERSION,
    TOKENIZER_VERSIONS,
    WHITESPACE_TOKENIZER_VERSION,
    Token,
    tokenize,
)

RASA = WHITESPACE_TOKENIZER_VERSION  # the version that splits as Rasa's WhitespaceTokenizer

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
    "नमस्ते दोस्त, cafe\u0301",
    "我想去北京，iPhone15在吗？",
    "ฉันอยากไปกรุงเทพ ครับ",
    "مرحبا، أريد حجز طاولة",
    "서울에 가고 싶어요",
]


def texts(tokens: list[Token]) -> list[str]:
    return [token.text for token in tokens]


@pytest.mark.parametrize("version", TOKENIZER_VERSIONS)
@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_offsets_index_the_original_text(text, version):
    tokens = tokenize(text, version)
    assert tokens
    for token in tokens:
        span = text[token.start : token.end]
        # version 3 gives the span in NFC form
        assert (unicodedata.normalize("NFC", span) if version == 3 else span) == token.text
    starts = [token.start for token in tokens]
    assert starts == sorted(starts)
    # tokens never overlap; only version 3's characters of unspaced scripts touch
    assert all(left.end <= right.start for left, right in zip(tokens, tokens[1:], strict=False))


# Reference data, not our output: these tokens (text, start, end) were produced by Rasa 3.6.21's
# WhitespaceTokenizer (rasa.nlu.tokenizers.whitespace_tokenizer, default config) on each text.
RASA_3_6_21_TOKENS = [
    ("u. s. d.", [("u", 0, 1), ("s", 3, 4), ("d", 6, 7)]),
    ("don't stop", [("don", 0, 3), ("t", 4, 5), ("stop", 6, 10)]),
    ("I’m here", [("I", 0, 1), ("m", 2, 3), ("here", 4, 8)]),
    ("e-mail me@x.org now", [("e-mail", 0, 6), ("me@x.org", 7, 15), ("now", 16, 19)]),
    ("3.5 -5 .5 10'000.00", [("3.5", 0, 3), ("-5", 4, 6), (".5", 7, 9), ("10'000.00", 10, 19)]),
    ("Book a table, please!", [("Book", 0, 4), ("a", 5, 6), ("table", 7, 12), ("please", 14, 20)]),
    (":)", [(":)", 0, 2)]),
    ("  :) ", [("  :) ", 0, 5)]),
    ("hello 😀 world", [("hello", 0, 5), ("world", 8, 13)]),
    ("😀😀", [("😀😀", 0, 2)]),
    ("café naïve Müller", [("café", 0, 4), ("naïve", 5, 10), ("Müller", 11, 17)]),
    ("cafe\u0301 ok", [("cafe\u0301", 0, 5), ("ok", 6, 8)]),
    ("नमस्ते दोस्त", [("नमस्ते", 0, 6), ("दोस्त", 7, 12)]),
    ("สวัสดี ครับ", [("สวัสดี", 0, 6), ("ครับ", 7, 11)]),
    ("Привет, мир!", [("Привет", 0, 6), ("мир", 8, 11)]),
    ("http://x.com/a?b=c#d ok", [("http://x.com/a?b=c#d", 0, 20), ("ok", 21, 23)]),
    ("#hashtag @user &co", [("#hashtag", 0, 8), ("@user", 9, 14), ("&co", 15, 18)]),
    ("a--b a..b", [("a--b", 0, 4), ("a..b", 5, 9)]),
    ("(hi) [there] {x}", [("hi", 1, 3), ("there", 6, 11), ("x", 14, 15)]),
    ("it's 5 o'clock", [("it", 0, 2), ("s", 3, 4), ("5", 5, 6), ("o", 7, 8), ("clock", 9, 14)]),
    ("x² ½", [("x", 0, 1)]),
    ("❤\ufe0f love", [("love", 3, 7)]),
    ("👍🏽 thanks", [("thanks", 3, 9)]),
    ("1😀2", [("1😀2", 0, 3)]),
    ("hello...", [("hello", 0, 5)]),
    ("...hello", [("hello", 3, 8)]),
    ("rock'n'roll", [("rock", 0, 4), ("n", 5, 6), ("roll", 7, 11)]),
    ("a_b c_", [("a_b", 0, 3), ("c_", 4, 6)]),
    ("ⓐⓑ test", [("test", 3, 7)]),
    ("\u200dzwj", [("\u200dzwj", 0, 4)]),
    ("tab\there\nnew", [("tab", 0, 3), ("here", 4, 8), ("new", 9, 12)]),
    ("$100 €50 50%", [("$100", 0, 4), ("€50", 5, 8), ("50", 9, 11)]),
    ("U.S.A. u.s.a", [("U.S.A", 0, 5), ("u.s.a", 7, 12)]),
    ("1,000 people", [("1,000", 0, 5), ("people", 6, 12)]),
    ("ok?!", [("ok", 0, 2)]),
    ("wait—what", [("wait", 0, 4), ("what", 5, 9)]),
    ("«quoted» „text“", [("quoted", 1, 7), ("text", 10, 14)]),
    ("a🙂b c", [("a", 0, 1), ("b", 2, 3), ("c", 4, 5)]),
    ("𠀀𠀁 ok", [("𠀀𠀁", 0, 2), ("ok", 3, 5)]),
    ("hi 👋, how are you?", [("hi", 0, 2), ("how", 6, 9), ("are", 10, 13), ("you", 14, 17)]),
    ("x 🇩🇪! y", [("x", 0, 1), ("y", 6, 7)]),
]


@pytest.mark.parametrize(("text", "rasa_tokens"), RASA_3_6_21_TOKENS)
def test_tokens_and_offsets_are_rasa_3_6s(text, rasa_tokens):
    assert [(t.text, t.start, t.end) for t in tokenize(text, RASA)] == rasa_tokens


@pytest.mark.parametrize(("text", "rasa_tokens"), RASA_3_6_21_TOKENS)
def test_version_3_splits_as_rasa_but_for_nfd_and_unspaced_scripts(text, rasa_tokens):
    unspaced = any("\u0e00" <= c <= "\u0e7f" or "\u3400" <= c for c in text if c.isalpha())
    if unicodedata.is_normalized("NFC", text) and not unspaced:
        assert [(t.text, t.start, t.end) for t in tokenize(text)] == rasa_tokens
    else:
        assert tokenize(text) != tokenize(text, RASA)


@pytest.mark.parametrize(
    ("text", "expected", "rasa_3_6_21"),
    [
        # Rasa drops words made only of characters of its emoji ranges, CJK and Hangul included
        ("hello 你好", ["hello", "你好"], ["hello"]),
        ("안녕하세요 friend", ["안녕하세요", "friend"], ["friend"]),
        ("你好 世界", ["你好", "世界"], ["你好 世界"]),
        ("ｆｕｌｌ width", ["ｆｕｌｌ", "width"], ["width"]),
        ("𝐇𝐞𝐥𝐥𝐨, 𝐰𝐨𝐫𝐥𝐝!", ["𝐇𝐞𝐥𝐥𝐨", "𝐰𝐨𝐫𝐥𝐝"], ["𝐇𝐞𝐥𝐥𝐨, 𝐰𝐨𝐫𝐥𝐝!"]),
        # Rasa makes a whitespace-only text one token of whitespace
        ("  \t", [], ["  \t"]),
    ],
)
def test_words_with_letters_in_rasas_emoji_ranges_stay(text, expected, rasa_3_6_21):
    assert texts(tokenize(text, RASA)) == expected != rasa_3_6_21


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Book a table, please!", ["Book", "a", "table", "please"]),
        ('"quoted" (really)', ["quoted", "really"]),
        ("what?!? yes...", ["what", "yes"]),
        ("hello , world", ["hello", "world"]),
        ("Grüße aus Köln!", ["Grüße", "aus", "Köln"]),
    ],
)
def test_punctuation_at_word_edges_is_dropped(text, expected):
    assert texts(tokenize(text)) == texts(tokenize(text, RASA)) == expected


@pytest.mark.parametrize("word", ["e-mail", "3.5", "me@x.org", "10,000.00", "-5", "10'000"])
def test_punctuation_inside_a_word_keeps_it_whole(word):
    text = f"say {word} now"
    assert texts(tokenize(text)) == ["say", word, "now"]


def test_offsets_skip_dropped_punctuation():
    assert tokenize("(hi), you!") == [Token("hi", 1, 3), Token("you", 6, 9)]


@pytest.mark.parametrize("text", ["", " ", "  \t\n "])
def test_text_without_words_has_no_tokens(text):
    assert tokenize(text) == []


@pytest.mark.parametrize("text", ["!!! ...", "😀", ":-)"])
def test_text_of_punctuation_or_emoji_only_is_one_token(text):
    assert tokenize(text) == [Token(text, 0, len(text))]


# --- version 1, the tokenizer of models saved before tokenizer versions ----------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("don't stop rock'n'roll", ["don't", "stop", "rock'n'roll"]),
        ("say ok!", ["say", "ok"]),
        ("!!! 😀", []),
        ("cafe\u0301", ["cafe"]),  # version 1 drops combining marks at a word's end
    ],
)
def test_version_1_splits_as_before(text, expected):
    assert texts(tokenize(text, LEGACY_TOKENIZER_VERSION)) == expected


def test_an_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unknown tokenizer version 4"):
        tokenize("hi", 4)


def test_version_2_keeps_chinese_and_japanese_sentences_whole():
    assert texts(tokenize("東京 に行く。", RASA)) == ["東京", "に行く"]
    assert texts(tokenize("我想去北京", RASA)) == ["我想去北京"]


# --- version 3: NFC text, one token per character of scripts written without spaces ----------


def spans(text: str, version: int = TOKENIZER_VERSION) -> list[tuple[str, int, int]]:
    return [(t.text, t.start, t.end) for t in tokenize(text, version)]


def test_new_models_use_version_3():
    assert TOKENIZER_VERSION == 3 == max(TOKENIZER_VERSIONS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我想去北京", [("我", 0, 1), ("想", 1, 2), ("去", 2, 3), ("北", 3, 4), ("京", 4, 5)]),
        ("東京 に行く。", [("東", 0, 1), ("京", 1, 2), ("に", 3, 4), ("行", 4, 5), ("く", 5, 6)]),
        # Latin letters and digits inside stay one token; punctuation between goes
        ("订2张去上海，iPhone15", [("订", 0, 1), ("2", 1, 2), ("张", 2, 3), ("去", 3, 4),
                                  ("上", 4, 5), ("海", 5, 6), ("iPhone15", 7, 15)]),
        ("コーヒー", [("コ", 0, 1), ("ー", 1, 2), ("ヒ", 2, 3), ("ー", 3, 4)]),
        ("ｶﾀｶﾅ", [("ｶ", 0, 1), ("ﾀ", 1, 2), ("ｶ", 2, 3), ("ﾅ", 3, 4)]),  # half-width
        # a Thai character keeps its combining vowel and tone marks
        ("ไปกรุงเทพ", [("ไ", 0, 1), ("ป", 1, 2), ("ก", 2, 3), ("รุ", 3, 5), ("ง", 5, 6),
                       ("เ", 6, 7), ("ท", 7, 8), ("พ", 8, 9)]),
        ("𠀀𠀁 ok", [("𠀀", 0, 1), ("𠀁", 1, 2), ("ok", 3, 5)]),  # Han beyond U+FFFF
        # spaced scripts keep Rasa's words, Korean too (a word with its particles)
        ("Привет, мир!", [("Привет", 0, 6), ("мир", 8, 11)]),
        ("مرحبا، أريد", [("مرحبا", 0, 5), ("أريد", 7, 11)]),
        ("서울에 가요", [("서울에", 0, 3), ("가요", 4, 6)]),
    ],
)  # fmt: skip
def test_unspaced_scripts_give_a_token_per_character(text, expected):
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("好吃😀！", [("好", 0, 1), ("吃", 1, 2)]),
        ("👍🏽 东京", [("东", 3, 4), ("京", 4, 5)]),
        ("北京🙂上海", [("北", 0, 1), ("京", 1, 2), ("上", 3, 4), ("海", 4, 5)]),
        ("😀", [("😀", 0, 1)]),  # nothing else: the whole text, as in version 2
    ],
)
def test_emoji_among_chinese_are_dropped_and_offsets_skip_them(text, expected):
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("nfc", "nfd_spans"),
    [
        ("café", [(0, 5)]),
        ("Grüße aus Köln", [(0, 6), (7, 10), (11, 16)]),
        ("Ёлка й", [(0, 5), (6, 8)]),  # Cyrillic with a diaeresis and a breve
        ("ガイド", [(0, 2), (2, 3), (3, 5)]),  # kana with a voicing mark
        ("서울 가요", [(0, 5), (6, 10)]),  # Hangul syllables from their jamo; whole words
    ],
)
def test_decomposed_text_gives_the_composed_tokens_at_the_original_offsets(nfc, nfd_spans):
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    tokens = tokenize(nfd)
    assert texts(tokens) == texts(tokenize(nfc))
    assert [(t.start, t.end) for t in tokens] == nfd_spans
    for token in tokens:
        assert unicodedata.normalize("NFC", nfd[token.start : token.end]) == token.text


def test_mixed_composed_and_decomposed_scripts_in_one_message():
    text = "Cafe\u0301 в Москве\u0301 和 東京のカ\u3099イド"
    tokens = tokenize(text)
    # no composed Cyrillic e with an acute exists: NFC keeps the mark, in the word
    assert texts(tokens) == ["Café", "в", "Москве\u0301", "和", "東", "京", "の", "ガ", "イ", "ド"]
    assert text[tokens[0].start : tokens[0].end] == "Cafe\u0301"
    assert text[tokens[7].start : tokens[7].end] == "カ\u3099"
    for token in tokens:
        assert unicodedata.normalize("NFC", text[token.start : token.end]) == token.text
