"""Whitespace tokenizer that keeps character offsets.

Punctuation is treated as Rasa's WhitespaceTokenizer treats it: punctuation at the edge of a
word is dropped, punctuation inside a word (``e-mail``, ``3.5``, ``don't``, ``me@x.org``) stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Punctuation runs that become whitespace. A run is removed when it
#  1. ends a word (followed by whitespace or the end of the text),
#  2. starts a word that does not begin with a digit (so "-5" and ".5" keep their sign/point),
#  3. sits inside a word between non-digits and is not an apostrophe or a character that
#     URLs and e-mail addresses use.
_PUNCTUATION = re.compile(
    r"[^\w#@&]+(?=\s|$)"
    r"|(?:(?<=\s)|^)[^\w#@&]+(?=[^0-9\s])"
    r"|(?<=[^0-9\s])[^\w'’._~:/?#\[\]()@!$&*+,;=-]+(?=[^0-9\s])"
)


@dataclass(frozen=True)
class Token:
    """A token of a message: its text and its ``[start, end)`` character span."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with exact character offsets into ``text``.

    Example:
        >>> [t.text for t in tokenize("Book a table, please!")]
        ['Book', 'a', 'table', 'please']
        >>> tokenize("e-mail me")[0]
        Token(text='e-mail', start=0, end=6)
    """
    # Replacing punctuation by spaces of the same length keeps every offset unchanged.
    spaced = _PUNCTUATION.sub(lambda match: " " * len(match.group()), text)
    return [
        Token(match.group(), match.start(), match.end()) for match in re.finditer(r"\S+", spaced)
    ]
