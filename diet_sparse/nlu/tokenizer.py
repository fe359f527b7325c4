"""Tokenizer that keeps character offsets: Rasa 3.6's WhitespaceTokenizer splits, plus tokens
for the scripts written without spaces.

Version 3 (models saved since it was added) is version 2 with two changes for text in other
languages. The text is put in Unicode NFC form first, so a decomposed ``café`` (``e`` and a
combining accent) gives the same token text, and so the same features, as a composed one; the
offsets still index the text as given, so entities keep their place in the user's text. And a
word holding characters of a script written without spaces between words (Han, Hiragana,
Katakana, Thai) is split into one token per character (with its combining marks), other runs in
it (``iPhone15``, ``2``) staying whole: ``我想去北京`` is five tokens, so an entity can be tagged
inside a Chinese or Japanese sentence. Rasa refuses its WhitespaceTokenizer for ``zh``, ``ja``
and ``th`` and points to Jieba (word segmentation for Chinese) or spaCy; one token per character
needs no dictionary and leaves words to the character n-grams and the network (see
`diet_sparse.nlu.featurizer`). Korean, whose words are separated by spaces, keeps whole words.

Version 2 splits exactly as Rasa's ``WhitespaceTokenizer``:
punctuation at the edge of a word is dropped; inside a word it is kept except between two
non-digits, where only URL and e-mail characters (``-`` ``.`` ``@`` ``/`` ...) stay, so ``e-mail``,
``3.5``, ``10'000``, ``me@x.org`` are one token and ``don't`` is ``don`` and ``t``. Combining marks
count as letters (``नमस्ते``, decomposed accents), words that are emoji are dropped, and a text
with no word left is one token. One difference: Rasa drops a word made only of characters of its
emoji ranges, which include CJK, kana, Hangul and full-width letters; here a word with a letter
or digit stays.

Version 1 is the tokenizer of earlier diet-sparse releases (``don't`` one token, no combining
marks); models saved without a tokenizer version keep it, so they parse as they did. A model
tokenizes with the version it was saved with, so models of versions 1 and 2 parse as before.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

TOKENIZER_VERSION = 3  # what new models use
NFC_TOKENIZER_VERSION = 3  # the first with NFC text and a token per Han, kana or Thai character
WHITESPACE_TOKENIZER_VERSION = 2  # Rasa's WhitespaceTokenizer splits, nothing more
LEGACY_TOKENIZER_VERSION = 1  # models saved before the version was recorded
TOKENIZER_VERSIONS = (LEGACY_TOKENIZER_VERSION, WHITESPACE_TOKENIZER_VERSION, NFC_TOKENIZER_VERSION)

# Version 1: punctuation runs that become whitespace. A run is removed when it
#  1. ends a word (followed by whitespace or the end of the text),
#  2. starts a word that does not begin with a digit (so "-5" and ".5" keep their sign/point),
#  3. sits inside a word between non-digits and is not an apostrophe or a character that
#     URLs and e-mail addresses use.
_PUNCTUATION_V1 = re.compile(
    r"[^\w#@&]+(?=\s|$)"
    r"|(?:(?<=\s)|^)[^\w#@&]+(?=[^0-9\s])"
    r"|(?<=[^0-9\s])[^\w'’._~:/?#\[\]()@!$&*+,;=-]+(?=[^0-9\s])"
)

# Rasa's emoji ranges (rasa.utils.io.get_emoji_regex): a word made only of these is dropped.
_EMOJI_RANGES = (
    "\U0001f600-\U0001f64f"  # emoticons
    "\U0001f300-\U0001f5ff"  # symbols and pictographs
    "\U0001f680-\U0001f6ff"  # transport and map symbols
    "\U0001f1e0-\U0001f1ff"  # flags
    "\u2702-\u27b0"
    "\u24c2-\U0001f251"  # wide: also CJK, kana, Hangul, full-width forms (kept here, see above)
    "\u200d\u200c"  # zero-width joiner and non-joiner
)
_EMOJI_WORD = re.compile(f"[{_EMOJI_RANGES}]+")


# Scripts written without spaces between words: Han (with its radicals, iteration and
# ideographic number marks, compatibility ideographs and the supplementary planes), Hiragana,
# Katakana (with its extensions and half-width forms) and Thai. Each of their characters is a
# token in version 3.
_UNSPACED_RANGES = (
    "\u0e00-\u0e7f"  # Thai
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b"  # CJK radicals and marks
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Hiragana, Katakana, half-width Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
)
_UNSPACED = re.compile(f"[{_UNSPACED_RANGES}]")


@dataclass(frozen=True)
class Token:
    """A token of a message: its text and its ``[start, end)`` character span.

    ``text`` is ``message[start:end]``, except in version 3 for a span not in NFC form, where it
    is the span's NFC form (``message[start:end]`` is what the user wrote).
    """

    text: str
    start: int
    end: int


def tokenize(text: str, version: int = TOKENIZER_VERSION) -> list[Token]:
    """Split ``text`` into tokens with exact character offsets into ``text``.

    Args:
        text: The message.
        version: Which tokenizer (`TOKENIZER_VERSIONS`): a model tokenizes with the version it
            was trained with.

    Returns:
        The tokens in order; none for a text that is empty or only whitespace.

    Example:
        >>> [t.text for t in tokenize("Book a table, please! I don't mind")]
        ['Book', 'a', 'table', 'please', 'I', 'don', 't', 'mind']
        >>> tokenize("e-mail me@x.org")[0]
        Token(text='e-mail', start=0, end=6)
        >>> tokenize(":)")  # nothing but punctuation: the whole text is one token
        [Token(text=':)', start=0, end=2)]
        >>> [t.text for t in tokenize("我想去北京，iPhone15在吗")]
        ['我', '想', '去', '北', '京', 'iPhone15', '在', '吗']
        >>> tokenize("cafe\u0301!")  # decomposed: the NFC text, the offsets of the input
        [Token(text='café', start=0, end=5)]
        >>> [t.text for t in tokenize("我想去北京", version=2)]  # Rasa's split
        ['我想去北京']
    """
    if version == NFC_TOKENIZER_VERSION:
        return _tokenize_v3(text)
    if version == WHITESPACE_TOKENIZER_VERSION:
        return _tokenize_v2(text)
    if version == LEGACY_TOKENIZER_VERSION:
        return _tokenize_v1(text)
    raise ValueError(f"unknown tokenizer version {version!r}; known: {TOKENIZER_VERSIONS}")


def is_unspaced(character: str) -> bool:
    """Whether ``character`` belongs to a script written without spaces between words (Han,
    Hiragana, Katakana, Thai), whose characters version 3 makes tokens of their own.

    Example:
        >>> is_unspaced("京"), is_unspaced("ッ"), is_unspaced("a"), is_unspaced("한")
        (True, True, False, False)
    """
    return _UNSPACED.match(character) is not None


def _tokenize_v3(text: str) -> list[Token]:
    if unicodedata.is_normalized("NFC", text):
        if not _UNSPACED.search(text):
            return _tokenize_v2(text)  # most messages: Rasa's tokens as they are
        normalized, starts, ends = text, None, None
    else:
        normalized, starts, ends = nfc_with_offsets(text)
    tokens = []
    for word in _tokenize_v2(normalized):
        pieces = [(word.start, word.end)]
        if _UNSPACED.search(word.text):
            pieces = _unspaced_pieces(word.text, word.start)
        for start, end in pieces:
            if starts is None:
                tokens.append(Token(normalized[start:end], start, end))
            else:
                tokens.append(Token(normalized[start:end], starts[start], ends[end - 1]))
    return tokens


def nfc_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` in NFC form, with the span in ``text`` of each of its characters: character
    ``i`` of the NFC text comes from ``text[starts[i]:ends[i]]``.

    The text is cut before every character that composes with nothing before it (not a mark,
    not a Hangul vowel or final jamo); each piece is normalised on its own, and its characters
    get the piece's span.

    Example:
        >>> nfc_with_offsets("Ko\u0308ln")
        ('Köln', [0, 1, 3, 4], [1, 3, 4, 5])
    """
    normalized: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    piece_start = 0
    for i in range(1, len(text) + 1):
        if i < len(text) and _composes_with_previous(text[i]):
            continue
        piece = unicodedata.normalize("NFC", text[piece_start:i])
        normalized.append(piece)
        starts.extend([piece_start] * len(piece))
        ends.extend([i] * len(piece))
        piece_start = i
    return "".join(normalized), starts, ends


def _composes_with_previous(character: str) -> bool:
    return (
        unicodedata.category(character)[0] == "M"
        or "\u1160" <= character <= "\u11ff"  # Hangul vowel and final jamo
        or "\ud7b0" <= character <= "\ud7ff"
    )


def _unspaced_pieces(word: str, offset: int) -> list[tuple[int, int]]:
    """Spans (offset by ``offset``) of the pieces of a word: each character of a script written
    without spaces, with the marks that follow it, and each run of other characters."""
    pieces: list[tuple[int, int]] = []
    run_start = None  # start of the current run of other characters
    for i, character in enumerate(word):
        if unicodedata.category(character)[0] == "M" and pieces and run_start is None:
            pieces[-1] = (pieces[-1][0], offset + i + 1)  # a mark stays with its character
        elif is_unspaced(character):
            if run_start is not None:
                pieces.append((offset + run_start, offset + i))
                run_start = None
            pieces.append((offset + i, offset + i + 1))
        elif run_start is None:
            run_start = i
    if run_start is not None:
        pieces.append((offset + run_start, offset + len(word)))
    return pieces


def _tokenize_v2(text: str) -> list[Token]:
    if not text.strip():
        return []
    words = _punctuation(max(text) > "\uffff").sub(" ", text).split()
    words = [word for word in words if not _is_emoji(word)] or [text]
    # Each word is found in the text after the previous one, as Rasa finds its offsets.
    tokens, position = [], 0
    for word in words:
        start = text.index(word, position)
        position = start + len(word)
        tokens.append(Token(word, start, position))
    return tokens


def _is_emoji(word: str) -> bool:
    return _EMOJI_WORD.fullmatch(word) is not None and not any(
        unicodedata.category(character)[0] in "LN" for character in word
    )


def _tokenize_v1(text: str) -> list[Token]:
    # Replacing punctuation by spaces of the same length keeps every offset unchanged.
    spaced = _PUNCTUATION_V1.sub(lambda match: " " * len(match.group()), text)
    return [
        Token(match.group(), match.start(), match.end()) for match in re.finditer(r"\S+", spaced)
    ]


@cache
def _punctuation(astral: bool) -> re.Pattern[str]:
    """Rasa's punctuation pattern, in which a word character is one of the ``regex`` package's
    ``\\w`` (Rasa uses ``regex``; Python's ``re`` leaves out combining marks). A run of
    characters that are not word characters (nor ``#``, ``@``, ``&``) is removed when
      1. whitespace or the end of the text follows it,
      2. whitespace or the start of the text precedes it and no digit or whitespace follows,
      3. it sits between two characters that are neither digits nor whitespace and holds no
         character that URLs and e-mail addresses use (``.`` ``-`` ``/`` ``@`` ...).

    ``re`` tests the characters beyond U+FFFF of a class one range at a time, which triples the
    time per message; ``astral=False`` gives a pattern for texts without such characters.
    """
    word = _word_class(False) + (_word_class(True) if astral else "")
    edge, inside = (
        word + "".join(map(re.escape, kept)) for kept in ("#@&", "._~:/?#[]()@!$&*+,;=-")
    )
    return re.compile(
        rf"[^{edge}]+(?=\s|$)|(?:\s|^)[^{edge}]+(?=[^0-9\s])|(?<=[^0-9\s])[^{inside}]+(?=[^0-9\s])"
    )


# Categories of the `regex` package's \w: Alphabetic (letters, letter numbers and some marks),
# marks, decimal digits and connector punctuation; plus the join controls (ZWNJ, ZWJ) and the
# circled and squared letters (symbols that Unicode counts as Alphabetic).
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Mn", "Mc", "Me", "Nd", "Pc"})
_OTHER_BASIC_WORD_RANGES = "\u200c\u200d\u24b6-\u24e9"
_OTHER_ASTRAL_WORD_RANGES = "\U0001f130-\U0001f149\U0001f150-\U0001f169\U0001f170-\U0001f189"
# Planes 1-3 and 14 hold every assigned astral word character (the rest is unassigned or private).
_ASTRAL_SCANNED = (range(0x10000, 0x40000), range(0xE0000, 0xE1000))


@cache
def _word_class(astral: bool) -> str:
    """The body of a character class (``[...]``) of the word characters of the Basic
    Multilingual Plane, or (``astral``) of the planes beyond it; each made once, when first
    needed (the astral one, about 0.07 s, only for a text with such characters)."""
    if astral:
        return _class_ranges(_ASTRAL_SCANNED) + _OTHER_ASTRAL_WORD_RANGES
    return _class_ranges((range(0x10000),)) + _OTHER_BASIC_WORD_RANGES


def _class_ranges(scanned_ranges: tuple[range, ...]) -> str:
    """The word characters in ``scanned_ranges``, as ranges of a character class."""
    ranges: list[str] = []
    for scanned in scanned_ranges:
        run_start = None
        for code in [*scanned, scanned.stop]:
            inside = code < scanned.stop and unicodedata.category(chr(code)) in _WORD_CATEGORIES
            if inside and run_start is None:
                run_start = code
            elif not inside and run_start is not None:
                ranges.append(_class_range(run_start, code - 1))
                run_start = None
    return "".join(ranges)


def _class_range(first: int, last: int) -> str:
    escape = re.escape
    if first == last:
        return escape(chr(first))
    return f"{escape(chr(first))}-{escape(chr(last))}"
