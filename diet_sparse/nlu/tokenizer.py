"""Whitespace tokenizer that keeps character offsets, as Rasa 3.6's WhitespaceTokenizer splits.

Version 2 (models saved since it was added) splits exactly as Rasa's ``WhitespaceTokenizer``:
punctuation at the edge of a word is dropped; inside a word it is kept except between two
non-digits, where only URL and e-mail characters (``-`` ``.`` ``@`` ``/`` ...) stay, so ``e-mail``,
``3.5``, ``10'000``, ``me@x.org`` are one token and ``don't`` is ``don`` and ``t``. Combining marks
count as letters (``नमस्ते``, decomposed accents), words that are emoji are dropped, and a text
with no word left is one token. One difference: Rasa drops a word made only of characters of its
emoji ranges, which include CJK, kana, Hangul and full-width letters; here a word with a letter
or digit stays.

Version 1 is the tokenizer of earlier diet-sparse releases (``don't`` one token, no combining
marks); models saved without a tokenizer version keep it, so they parse as they did.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

TOKENIZER_VERSION = 2  # what new models use
LEGACY_TOKENIZER_VERSION = 1  # models saved before the version was recorded
TOKENIZER_VERSIONS = (LEGACY_TOKENIZER_VERSION, TOKENIZER_VERSION)

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


@dataclass(frozen=True)
class Token:
    """A token of a message: its text and its ``[start, end)`` character span."""

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
        >>> tokenize("e-mail me")[0]
        Token(text='e-mail', start=0, end=6)
        >>> tokenize(":)")  # nothing but punctuation: the whole text is one token
        [Token(text=':)', start=0, end=2)]
    """
    if version == LEGACY_TOKENIZER_VERSION:
        return _tokenize_v1(text)
    if version != TOKENIZER_VERSION:
        raise ValueError(f"unknown tokenizer version {version!r}; known: {TOKENIZER_VERSIONS}")
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
