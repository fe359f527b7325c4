"""Sparse features for DIET: one row per token (sequence features) and one per message (sentence).

The columns come in four blocks, in this order, as Rasa's default DIET pipeline builds them:
word counts and character n-gram counts (``CountVectorsFeaturizer`` with ``word`` and
``char_wb`` analyzers), one-hot lexical features of a window of tokens
(``LexicalSyntacticFeaturizer``) and regex / lookup-table matches (``RegexFeaturizer``).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse

if TYPE_CHECKING:  # scikit-learn is imported where it is used: a dialogue policy needs none
    from sklearn.feature_extraction.text import CountVectorizer

from diet_sparse.config import (
    DEFAULT_LEXICAL_FEATURES,
    DIETConfig,
    check_featurizer_options,
    check_lexical_features,
)
from diet_sparse.nlu.pretrained import (
    SentenceEncoder,
    check_encoder_packages,
    encoder_dimension,
    load_encoder,
)
from diet_sparse.nlu.tokenizer import (
    LEGACY_TOKENIZER_VERSION,
    NFC_TOKENIZER_VERSION,
    TOKENIZER_VERSION,
    TOKENIZER_VERSIONS,
    Token,
    is_unspaced,
    nfc_with_offsets,
    tokenize,
)
from diet_sparse.rasa.nlu_data import LookupTable, TrainingData

# Messages featurized at a time: the (row, column) pairs of a batch take ~40 bytes each until
# they are summed: 400 MB at once for SNIPS's 13,084 training messages, under 20 MB in chunks
# of this many.
TRANSFORM_CHUNK = 500

# Features of one token's text. Affixes (prefix*/suffix*) see the lower-cased text when the
# featurizer lower-cases, so "Book" and "book" share "prefix2:bo"; casing has its own features.
_TEXT_FEATURES: dict[str, Callable[[str], str]] = {
    "low": lambda text: str(text.islower()),
    "upper": lambda text: str(text.isupper()),
    "title": lambda text: str(text.istitle()),
    "digit": lambda text: str(text.isdigit()),
}
_AFFIX_FEATURES: dict[str, Callable[[str], str]] = {
    "prefix2": lambda text: text[:2],
    "prefix3": lambda text: text[:3],
    "prefix5": lambda text: text[:5],
    "suffix1": lambda text: text[-1:],
    "suffix2": lambda text: text[-2:],
    "suffix3": lambda text: text[-3:],
    "suffix5": lambda text: text[-5:],
}
_POSITION_FEATURES = ("BOS", "EOS")

_JSON_FORMAT = "diet_sparse.featurizer/1"
_NEVER_MATCHES = r"(?!)"


@dataclass
class FeaturizedBatch:
    """Sparse features of a batch of messages.

    Message ``i`` owns rows ``offsets[i]:offsets[i + 1]`` of ``features``: one row per token,
    then its sentence row last. A message without tokens owns just its sentence row.

    Example:
        >>> batch = FeaturizedBatch(
        ...     tokens=[[Token("hi", 0, 2)]],
        ...     features=scipy.sparse.csr_matrix((2, 3), dtype=np.float32),
        ...     offsets=np.array([0, 2]),
        ... )
        >>> batch.message_features(0).shape
        (2, 3)
    """

    tokens: list[list[Token]]  # tokens per message
    features: scipy.sparse.csr_matrix  # float32, (sum_i (len(tokens[i]) + 1), n_features)
    offsets: np.ndarray  # int64, (n_messages + 1,)
    dense: np.ndarray | None = None  # float32, (n_messages, dimension): pretrained sentence vectors

    def __len__(self) -> int:
        return len(self.tokens)

    def message_features(self, i: int) -> scipy.sparse.csr_matrix:
        """Rows of message ``i``: its token rows followed by its sentence row."""
        return self.features[self.offsets[i] : self.offsets[i + 1]]

    @property
    def sentence_rows(self) -> np.ndarray:
        """Row index of each message's sentence row in ``features``."""
        return self.offsets[1:] - 1


@dataclass
class _TokenLayout:
    """Where the flattened tokens of a batch go: the arrays have one entry per token."""

    unique_texts: list  # distinct token texts (char block: or `RunWindow`s), each analysed once
    inverse: np.ndarray  # index of each token's text in unique_texts
    position: np.ndarray  # index of the token inside its message
    length: np.ndarray  # number of tokens of the token's message
    row: np.ndarray  # the token's row in the batch matrix
    sentence_row: np.ndarray  # the row of the sentence features of the token's message
    offsets: np.ndarray  # (n_messages + 1,), as in FeaturizedBatch

    @property
    def n_tokens(self) -> int:
        return len(self.inverse)


def _layout(tokens: list[list[Token]]) -> _TokenLayout:
    counts = np.fromiter((len(ts) for ts in tokens), dtype=np.int64, count=len(tokens))
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(counts + 1, out=offsets[1:])
    message = np.repeat(np.arange(len(tokens), dtype=np.int64), counts)
    first_token = np.cumsum(counts) - counts  # flat index of each message's first token
    position = np.arange(len(message), dtype=np.int64) - first_token[message]
    index: dict[str, int] = {}
    inverse = np.fromiter(
        (index.setdefault(t.text, len(index)) for ts in tokens for t in ts),
        dtype=np.int64,
        count=len(message),
    )
    return _TokenLayout(
        unique_texts=list(index),
        inverse=inverse,
        position=position,
        length=counts[message],
        row=offsets[message] + position,
        sentence_row=offsets[message + 1] - 1,
        offsets=offsets,
    )


def _concatenate(batches: list[FeaturizedBatch]) -> FeaturizedBatch:
    """One batch of the messages of ``batches``, in order."""
    starts = np.cumsum([0] + [batch.offsets[-1] for batch in batches[:-1]])
    offsets = [batches[0].offsets[:1]] + [
        batch.offsets[1:] + start for batch, start in zip(batches, starts)
    ]
    dense = None if batches[0].dense is None else np.vstack([batch.dense for batch in batches])
    return FeaturizedBatch(
        tokens=[message for batch in batches for message in batch.tokens],
        features=scipy.sparse.vstack([batch.features for batch in batches], format="csr"),
        offsets=np.concatenate(offsets),
        dense=dense,
    )


def word_terms(token: str, lowercase: bool = True) -> list[str]:
    """The word block's terms of one token: the token itself (lower-cased), as scikit-learn's
    ``CountVectorizer(token_pattern=r"(?u)\\S+")`` analyses a document without whitespace.

    Example:
        >>> word_terms("Berlin"), word_terms(""), word_terms("Berlin", lowercase=False)
        (['berlin'], [], ['Berlin'])
    """
    if lowercase:
        token = token.lower()
    return token.split()


def char_wb_terms(text: str, min_n: int, max_n: int, lowercase: bool = True) -> list[str]:
    """Character n-grams of each word of ``text`` padded with a space on either side, as
    scikit-learn's ``char_wb`` analyzer makes them (a word shorter than n gives one n-gram,
    itself padded, and no longer ones).

    Example:
        >>> char_wb_terms("Hi", 1, 3)
        [' ', 'h', 'i', ' ', ' h', 'hi', 'i ', ' hi', 'hi ']
        >>> char_wb_terms("a", 4, 5)
        [' a ']
    """
    if lowercase:
        text = text.lower()
    terms: list[str] = []
    for word in text.split():
        padded = f" {word} "
        for n in range(min_n, max_n + 1):
            if n >= len(padded):
                terms.append(padded)
                break
            terms.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return terms


@dataclass(frozen=True)
class RunWindow:
    """What the character n-grams of a token of a script written without spaces (one character,
    see `diet_sparse.nlu.tokenizer`) see: ``text``, the characters of its run from it on, as
    many as the longest n-gram, with a space after the run's last character; and whether it
    starts the run."""

    text: str
    starts_run: bool


def run_char_terms(window: RunWindow, min_n: int, max_n: int, lowercase: bool = True) -> list[str]:
    """Character n-grams of one token of a run of a script written without spaces: the n-grams
    of the run, padded with a space on either side, that start at the token (at the padding
    too for the run's first token). Summed over a run's tokens they are the ``char_wb`` n-grams
    of the run as one word (but the last padding's unigram), so the sentence features see the
    run's character pairs and triples, and each token sees those it begins.

    Example:
        >>> run_char_terms(RunWindow("北京 ", starts_run=True), 1, 2)
        [' ', ' 北', '北', '北京']
        >>> run_char_terms(RunWindow("京 ", starts_run=False), 1, 2)
        ['京', '京 ']
    """
    text = window.text.lower() if lowercase else window.text
    starts = (f" {text}", text) if window.starts_run else (text,)
    return [start[:n] for start in starts for n in range(min_n, max_n + 1) if len(start[:n]) == n]


def _char_terms(key: str | RunWindow, min_n: int, max_n: int, lowercase: bool = True) -> list[str]:
    """The character block's terms of a token text or of a run token's window."""
    if isinstance(key, RunWindow):
        return run_char_terms(key, min_n, max_n, lowercase)
    return char_wb_terms(key, min_n, max_n, lowercase)


def _run_windows(tokens: list[Token], max_n: int) -> list[str | RunWindow]:
    """The character block's key of each token of a message: its text, or for a token of a
    script written without spaces its `RunWindow`."""
    unspaced = [len(t.text) > 0 and is_unspaced(t.text[0]) for t in tokens]
    # A run: unspaced tokens that touch (no space or dropped character between them).
    joined = [
        i > 0 and unspaced[i] and unspaced[i - 1] and tokens[i - 1].end == tokens[i].start
        for i in range(len(tokens))
    ]
    keys: list[str | RunWindow] = []
    for i, token in enumerate(tokens):
        if not unspaced[i]:
            keys.append(token.text)
            continue
        text, j = token.text, i + 1
        while len(text) < max_n and j < len(tokens) and joined[j]:
            text, j = text + tokens[j].text, j + 1
        if len(text) < max_n:  # the run ends within the window
            text += " "
        keys.append(RunWindow(text[:max_n], starts_run=not joined[i]))
    return keys


def _window_sources(layout: _TokenLayout, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """For the tokens that have a neighbour at ``offset`` in their message: the neighbours'
    flat indices and their own."""
    target = np.nonzero(
        (layout.position + offset >= 0) & (layout.position + offset < layout.length)
    )[0]
    return target + offset, target


def _fit_vocabulary(
    vectorizer: CountVectorizer, layout: _TokenLayout, max_features: int | None
) -> dict[str, int]:
    """The vocabulary ``vectorizer`` learns from every token of ``layout``, one token a document.

    Fitting on the distinct token texts gives the same terms as fitting on all tokens, several
    times faster; the token counts restore the corpus frequencies that ``max_features`` ranks by.
    """
    counts = vectorizer.fit_transform(layout.unique_texts)  # (n_unique, n_terms)
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    if max_features is not None and len(terms) > max_features:
        multiplicity = np.bincount(layout.inverse, minlength=len(layout.unique_texts))
        frequency = np.asarray(counts.T @ multiplicity).ravel()  # (n_terms,)
        # Most frequent first; ties go to the alphabetically first term (terms are sorted).
        keep = np.argsort(-frequency, kind="stable")[:max_features]
        terms = sorted(terms[i] for i in keep)
    return {term: i for i, term in enumerate(terms)}


class _TermColumns:
    """The columns of the known terms of a token text, remembered per text.

    A chatbot's messages repeat their words: analysing each word once, rather than once per
    message, takes most of the featurizing time out of a parse. ``capacity`` bounds the memory;
    past it the memory starts afresh.
    """

    def __init__(
        self,
        analyze: Callable[[str], list[str]],
        vocabulary: dict[str, int],
        capacity: int = 200_000,
    ) -> None:
        self.analyze, self.vocabulary, self.capacity = analyze, vocabulary, capacity
        self._known: dict[str, list[int]] = {}

    def __call__(self, text: str) -> list[int]:
        columns = self._known.get(text)
        if columns is None:
            columns = [c for c in map(self.vocabulary.get, self.analyze(text)) if c is not None]
            if len(self._known) >= self.capacity:
                self._known = {}
            self._known[text] = columns
        return columns


def _term_columns(
    columns_of: Callable[[str], list[int]], layout: _TokenLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Columns of the known terms of every token: ``(flat token index, column)`` pairs, a term
    repeated as often as it occurs in the token.

    This is ``CountVectorizer.transform`` (same analyzer, same vocabulary, unknown terms dropped)
    without its fixed cost of ~100 µs a call, which dominates the transform of one message.
    Each distinct token text is analysed once.
    """
    per_text = [columns_of(text) for text in layout.unique_texts]
    per_token = [per_text[u] for u in layout.inverse.tolist()]
    length = np.fromiter(map(len, per_token), dtype=np.int64, count=len(per_token))
    columns = np.fromiter(chain.from_iterable(per_token), dtype=np.int64, count=int(length.sum()))
    return np.repeat(np.arange(len(per_token), dtype=np.int64), length), columns


def _summed_csr(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
) -> scipy.sparse.csr_matrix:
    """A float32 CSR matrix with, at each ``(row, col)``, the number of times the pair occurs.

    Equivalent to ``coo_matrix((ones, (rows, cols))).tocsr()`` at half the fixed cost.
    """
    n_rows, n_cols = shape
    key, counts = np.unique(rows * n_cols + cols, return_counts=True)  # sorted by (row, col)
    row = key // n_cols
    indptr = np.searchsorted(row, np.arange(n_rows + 1))
    matrix = scipy.sparse.csr_matrix(
        (counts.astype(np.float32), key - row * n_cols, indptr), shape=shape
    )
    matrix.has_sorted_indices = True
    return matrix


@dataclass
class _LexicalSlots:
    """The (offset, feature name) pairs of the lexical window, as arrays over slots."""

    names: list[str]
    lookups: list[dict[str, int]]  # per slot: {value: column in the lexical block}
    offset: np.ndarray  # (n_slots,) window offset of each slot
    text_slots: list[int]  # slots whose value depends on the token text only
    is_position: np.ndarray  # (n_slots,) BOS or EOS slot
    is_bos: np.ndarray
    is_eos: np.ndarray
    true_column: np.ndarray  # (n_slots,) column of "True" for a BOS/EOS slot, or -1
    false_column: np.ndarray

    @classmethod
    def build(
        cls,
        window: list[tuple[int, list[str]]],
        lookups: dict[tuple[int, str], dict[str, int]],
    ) -> _LexicalSlots:
        pairs = [(offset, name) for offset, names in window for name in names]
        names = [name for _, name in pairs]
        slot_lookups = [lookups.get(pair, {}) for pair in pairs]
        return cls(
            names=names,
            lookups=slot_lookups,
            offset=np.array([offset for offset, _ in pairs], dtype=np.int64),
            text_slots=[s for s, name in enumerate(names) if name not in _POSITION_FEATURES],
            is_position=np.array([name in _POSITION_FEATURES for name in names], dtype=bool),
            is_bos=np.array([name == "BOS" for name in names], dtype=bool),
            is_eos=np.array([name == "EOS" for name in names], dtype=bool),
            true_column=np.array([lookup.get("True", -1) for lookup in slot_lookups], np.int64),
            false_column=np.array([lookup.get("False", -1) for lookup in slot_lookups], np.int64),
        )


def _at_position(layout: _TokenLayout, name: str) -> np.ndarray:
    """Per token: is it the first (``BOS``) or the last (``EOS``) token of its message."""
    return layout.position == (0 if name == "BOS" else layout.length - 1)


def _lookup_pattern(table: LookupTable) -> str:
    """A case-insensitive regex matching any element as whole words, longest element first."""
    elements = sorted({e.strip() for e in table.elements if e.strip()}, key=lambda e: (-len(e), e))
    if not elements:
        return _NEVER_MATCHES
    return r"(?i)\b(?:" + "|".join(re.escape(e) for e in elements) + r")\b"


class Featurizer:
    """Sparse count features per token and per message, fitted on training examples.

    Parameters:
        use_word_features: one column per word of the training vocabulary.
        use_char_features: one column per character n-gram (``char_wb``) of the training tokens.
        char_ngram_min, char_ngram_max: n-gram lengths of the character features.
        max_word_features, max_char_features: keep only the most frequent words / n-grams;
            ``None`` keeps all.
        lexical_features: a window of token features, an odd-length list; entry ``j`` lists the
            features of the token at offset ``j - len // 2`` (e.g. ``[prev, current, next]``).
            Names: ``LEXICAL_FEATURE_NAMES``. ``None`` uses ``DEFAULT_LEXICAL_FEATURES`` (Rasa's
            default); ``[]`` turns lexical features off.
        use_regex_features: one column per regex and per lookup table of the training data.
        lowercase: lower-case tokens for word, character and affix features.
        pretrained_encoder: also give each message a dense sentence vector from this encoder of
            `diet_sparse.nlu.pretrained` (``FeaturizedBatch.dense``); needs the ``pretrained``
            extra, and is loaded when the featurizer is fitted or read back.
        tokenizer_version: which `diet_sparse.nlu.tokenizer` version splits messages; a saved
            featurizer keeps the version it was fitted with (one saved without it: version 1).

    Fitted attributes: ``word_vocabulary_``, ``char_vocabulary_``, ``lexical_vocabulary_``
    (term -> column inside its block), ``regex_patterns_`` (``(name, pattern)`` per column),
    ``feature_blocks_`` (block name -> width, in column order) and ``n_features_``.

    Example:
        >>> from diet_sparse.rasa.nlu_data import Example, RegexPattern, TrainingData
        >>> data = TrainingData(
        ...     examples=[Example("book a table in Berlin", "book")],
        ...     regexes=[RegexPattern("number", r"\\d+")],
        ... )
        >>> featurizer = Featurizer(char_ngram_max=2).fit(data)
        >>> featurizer.feature_blocks_["word"], featurizer.feature_blocks_["regex"]
        (5, 1)
        >>> batch = featurizer.transform(["book 2 seats", ""])
        >>> batch.features.shape[0], batch.offsets.tolist()
        (5, [0, 4, 5])
    """

    def __init__(
        self,
        *,
        use_word_features: bool = True,
        use_char_features: bool = True,
        char_ngram_min: int = 1,
        char_ngram_max: int = 4,
        max_word_features: int | None = None,
        max_char_features: int | None = None,
        lexical_features: list[list[str]] | None = None,
        use_regex_features: bool = True,
        lowercase: bool = True,
        pretrained_encoder: str | None = None,
        tokenizer_version: int = TOKENIZER_VERSION,
    ) -> None:
        check_featurizer_options(
            {
                "char_ngram_min": char_ngram_min,
                "char_ngram_max": char_ngram_max,
                "max_word_features": max_word_features,
                "max_char_features": max_char_features,
            },
            where="Featurizer",
        )
        window = DEFAULT_LEXICAL_FEATURES if lexical_features is None else lexical_features
        self.lexical_features = check_lexical_features(window, where="Featurizer")
        self.use_word_features = bool(use_word_features)
        self.use_char_features = bool(use_char_features)
        self.char_ngram_min = char_ngram_min
        self.char_ngram_max = char_ngram_max
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.use_regex_features = bool(use_regex_features)
        self.lowercase = bool(lowercase)
        self.pretrained_encoder = pretrained_encoder
        if pretrained_encoder:
            encoder_dimension(pretrained_encoder)  # an unknown name fails here, before fitting
        if tokenizer_version not in TOKENIZER_VERSIONS:
            raise ValueError(
                f"Featurizer: tokenizer_version must be one of {TOKENIZER_VERSIONS}, got "
                f"{tokenizer_version!r}"
            )
        self.tokenizer_version = tokenizer_version
        self._encoder: SentenceEncoder | None = None
        self._fitted = False

    @classmethod
    def from_config(cls, config: DIETConfig) -> Featurizer:
        """An unfitted featurizer with the featurizer options of a model config."""
        return cls(
            use_word_features=config.use_word_features,
            use_char_features=config.use_char_features,
            char_ngram_min=config.char_ngram_min,
            char_ngram_max=config.char_ngram_max,
            max_word_features=config.max_word_features,
            max_char_features=config.max_char_features,
            lexical_features=config.lexical_features,
            use_regex_features=config.use_regex_features,
            pretrained_encoder=config.pretrained_encoder,
        )

    # ----------------------------------------------------------------------------------------
    # configuration and fitted state

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable; ``Featurizer(**config)`` rebuilds it."""
        return {
            "use_word_features": self.use_word_features,
            "use_char_features": self.use_char_features,
            "char_ngram_min": self.char_ngram_min,
            "char_ngram_max": self.char_ngram_max,
            "max_word_features": self.max_word_features,
            "max_char_features": self.max_char_features,
            "lexical_features": [list(names) for names in self.lexical_features],
            "use_regex_features": self.use_regex_features,
            "lowercase": self.lowercase,
            "pretrained_encoder": self.pretrained_encoder,
            "tokenizer_version": self.tokenizer_version,
        }

    def tokenize(self, text: str) -> list[Token]:
        """The tokens of ``text``, as this featurizer splits messages (its tokenizer version)."""
        return tokenize(text, self.tokenizer_version)

    def load_pretrained_encoder(self) -> None:
        """Load the pretrained encoder now (a no-op without one), so that a missing extra
        shows before training or at load time rather than at the first message.

        Raises:
            PretrainedError: the encoder's package is not installed.
        """
        if self.pretrained_encoder and self._encoder is None:
            self._encoder = load_encoder(self.pretrained_encoder)

    @property
    def feature_blocks_(self) -> dict[str, int]:
        """Width of each block, in column order: ``word``, ``char``, ``lexical``, ``regex``."""
        self._check_fitted()
        return {
            "word": len(self.word_vocabulary_),
            "char": len(self.char_vocabulary_),
            "lexical": len(self.lexical_vocabulary_),
            "regex": len(self.regex_patterns_),
        }

    @property
    def n_features_(self) -> int:
        """Number of columns of the feature matrix."""
        self._check_fitted()
        return self._n_features

    def block_slice(self, block: str) -> slice:
        """The columns of one block (``word``, ``char``, ``lexical`` or ``regex``).

        Example:
            >>> from diet_sparse.rasa.nlu_data import Example, TrainingData
            >>> featurizer = Featurizer(lexical_features=[]).fit(TrainingData([Example("hi", "x")]))
            >>> featurizer.block_slice("char")
            slice(1, 10, None)
        """
        start = 0
        for name, width in self.feature_blocks_.items():
            if name == block:
                return slice(start, start + width)
            start += width
        raise ValueError(
            f"unknown feature block {block!r}; expected one of {list(self.feature_blocks_)}"
        )

    def get_feature_names_out(self) -> list[str]:
        """A readable name per column: ``word:<word>``, ``char:<n-gram>``,
        ``lexical:<offset>:<feature>:<value>`` and ``regex:<pattern or lookup name>``.

        Example:
            >>> from diet_sparse.rasa.nlu_data import Example, TrainingData
            >>> featurizer = Featurizer(char_ngram_min=2, char_ngram_max=2,
            ...                         lexical_features=[["title"]])
            >>> featurizer.fit(TrainingData([Example("Hi", "greet")])).get_feature_names_out()
            ['word:hi', 'char: h', 'char:hi', 'char:i ', 'lexical:0:title:True']
        """
        self._check_fitted()
        names: list[str] = []
        for block, vocabulary in [
            ("word", self.word_vocabulary_),
            ("char", self.char_vocabulary_),
            ("lexical", self.lexical_vocabulary_),
        ]:
            by_index = sorted(vocabulary, key=vocabulary.__getitem__)
            names.extend(f"{block}:{term}" for term in by_index)
        names.extend(f"regex:{name}" for name, _ in self.regex_patterns_)
        return names

    def _check_fitted(self) -> None:
        if not self._fitted:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this Featurizer is not fitted yet; call fit(training_data) first")

    # ----------------------------------------------------------------------------------------
    # fit

    def fit(self, data: TrainingData) -> Featurizer:
        """Learn the vocabularies and patterns from ``data``'s examples, regexes and lookups.

        Example:
            >>> from diet_sparse.rasa.nlu_data import Example, TrainingData
            >>> featurizer = Featurizer().fit(TrainingData([Example("hello there", "greet")]))
            >>> sorted(featurizer.word_vocabulary_)
            ['hello', 'there']
        """
        if not isinstance(data, TrainingData):
            raise TypeError(f"fit expects a TrainingData, got {type(data).__name__}")
        self.load_pretrained_encoder()
        tokens = [self.tokenize(example.text) for example in data.examples]
        layout = _layout(tokens)
        if not layout.n_tokens and (self.use_word_features or self.use_char_features):
            raise ValueError(
                f"cannot fit the featurizer: the {len(data.examples)} training examples contain "
                "no tokens; add examples with text"
            )

        word_vocabulary: dict[str, int] = {}
        if self.use_word_features:
            word_vocabulary = _fit_vocabulary(
                self._word_vectorizer(), layout, self.max_word_features
            )
        char_vocabulary: dict[str, int] = {}
        if self.use_char_features:
            char_vocabulary = _fit_vocabulary(
                self._char_vectorizer(), self._char_layout(layout, tokens), self.max_char_features
            )

        keys: set[str] = set()
        unique_values = self._unique_values(layout)
        for offset, names in self._window_offsets():
            source, _ = _window_sources(layout, offset)
            seen_texts = np.unique(layout.inverse[source])
            for name in names:
                if name in _POSITION_FEATURES:
                    values = {str(bool(v)) for v in np.unique(_at_position(layout, name)[source])}
                else:
                    values = {unique_values[name][i] for i in seen_texts}
                keys.update(f"{offset}:{name}:{value}" for value in values)
        lexical_vocabulary = {key: i for i, key in enumerate(sorted(keys))}

        regex_patterns: list[tuple[str, str]] = []
        if self.use_regex_features:
            for regex in data.regexes:
                try:
                    re.compile(regex.pattern)
                except re.error as error:
                    raise ValueError(
                        f"regex {regex.name!r} has an invalid pattern {regex.pattern!r}: {error}"
                    ) from error
                regex_patterns.append((regex.name, regex.pattern))
            regex_patterns.extend((table.name, _lookup_pattern(table)) for table in data.lookups)

        self._set_fitted(word_vocabulary, char_vocabulary, lexical_vocabulary, regex_patterns)
        return self

    def fit_transform(self, data: TrainingData) -> FeaturizedBatch:
        """Fit on ``data`` and return the features of its examples' texts.

        Example:
            >>> from diet_sparse.rasa.nlu_data import Example, TrainingData
            >>> batch = Featurizer().fit_transform(TrainingData([Example("hi there", "greet")]))
            >>> batch.offsets.tolist()
            [0, 3]
        """
        return self.fit(data).transform([example.text for example in data.examples])

    def _set_fitted(
        self,
        word_vocabulary: dict[str, int],
        char_vocabulary: dict[str, int],
        lexical_vocabulary: dict[str, int],
        regex_patterns: list[tuple[str, str]],
    ) -> None:
        self.word_vocabulary_ = word_vocabulary
        self.char_vocabulary_ = char_vocabulary
        self.lexical_vocabulary_ = lexical_vocabulary
        self.regex_patterns_ = regex_patterns
        self._n_features = sum(
            map(len, [word_vocabulary, char_vocabulary, lexical_vocabulary, regex_patterns])
        )
        # Transform-time helpers, rebuilt from the vocabularies (never fitted again): the
        # term columns of each count block. No scikit-learn here: importing it took 0.75 s
        # of a model's cold start.
        self._word_columns = self._char_columns = None
        if word_vocabulary:
            self._word_columns = _TermColumns(self._word_analyzer(), word_vocabulary)
        if char_vocabulary:
            self._char_columns = _TermColumns(self._char_analyzer(), char_vocabulary)
        lookups: dict[tuple[int, str], dict[str, int]] = {}
        for key, index in lexical_vocabulary.items():
            offset, name, value = key.split(":", 2)
            lookups.setdefault((int(offset), name), {})[value] = index
        self._slots = _LexicalSlots.build(self._window_offsets(), lookups)
        self._compiled_patterns = [re.compile(pattern) for _, pattern in regex_patterns]
        self._fitted = True

    def _word_analyzer(self) -> Callable[[str], list[str]]:
        return partial(word_terms, lowercase=self.lowercase)

    def _char_analyzer(self) -> Callable[[str | RunWindow], list[str]]:
        return partial(
            _char_terms,
            min_n=self.char_ngram_min,
            max_n=self.char_ngram_max,
            lowercase=self.lowercase,
        )

    def _word_vectorizer(self) -> CountVectorizer:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(analyzer=self._word_analyzer(), dtype=np.float32)

    def _char_vectorizer(self) -> CountVectorizer:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(analyzer=self._char_analyzer(), dtype=np.float32)

    # ----------------------------------------------------------------------------------------
    # transform

    def transform(self, texts: Iterable[str]) -> FeaturizedBatch:
        """Features of ``texts``: token rows, then a sentence row, per message.

        The sentence row holds the sum of the message's token rows in the word and character
        blocks, zeros in the lexical block and, in the regex block, 1 for every pattern with a
        non-empty match anywhere in the text. Words and n-grams unseen in training get no column.

        Example:
            >>> from diet_sparse.rasa.nlu_data import Example, TrainingData
            >>> featurizer = Featurizer(use_char_features=False, lexical_features=[])
            >>> featurizer = featurizer.fit(TrainingData([Example("hello there", "greet")]))
            >>> featurizer.transform(["hello hello stranger"]).features.toarray()
            array([[1., 0.],
                   [1., 0.],
                   [0., 0.],
                   [2., 0.]], dtype=float32)
        """
        self._check_fitted()
        if isinstance(texts, str | bytes) or not isinstance(texts, Iterable):
            raise TypeError(
                f"transform expects a list of texts, got {type(texts).__name__}; "
                "wrap a single message in a list: transform([text])"
            )
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
        if len(texts) > TRANSFORM_CHUNK:
            return _concatenate(
                [
                    self._transform(texts[start : start + TRANSFORM_CHUNK])
                    for start in range(0, len(texts), TRANSFORM_CHUNK)
                ]
            )
        return self._transform(texts)

    def _transform(self, texts: list[str]) -> FeaturizedBatch:
        tokens = [self.tokenize(text) for text in texts]
        layout = _layout(tokens)
        # Every (row, column) pair below adds 1 to that cell of the matrix.
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []

        start = 0
        for columns_of, block_layout in [
            (self._word_columns, layout),
            (self._char_columns, self._char_layout(layout, tokens) if self._char_columns else None),
        ]:
            if columns_of is None:
                continue
            token, col = _term_columns(columns_of, block_layout)
            rows += [layout.row[token], layout.sentence_row[token]]  # the sentence row is a sum
            cols += [col + start, col + start]
            start += len(columns_of.vocabulary)

        if self.lexical_vocabulary_ and layout.n_tokens:
            token, col = self._lexical_columns(layout)
            rows.append(layout.row[token])
            cols.append(col + start)
        start += len(self.lexical_vocabulary_)

        if self._compiled_patterns:
            token, token_pattern, message, message_pattern = self._regex_matches(texts, tokens)
            rows += [layout.row[token], layout.offsets[message + 1] - 1]
            cols += [token_pattern + start, message_pattern + start]

        shape = (int(layout.offsets[-1]), self._n_features)
        if rows:
            matrix = _summed_csr(np.concatenate(rows), np.concatenate(cols), shape)
        else:
            matrix = scipy.sparse.csr_matrix(shape, dtype=np.float32)
        dense = None
        if self.pretrained_encoder:
            self.load_pretrained_encoder()
            dense = self._encoder.encode(texts)
        return FeaturizedBatch(tokens=tokens, features=matrix, offsets=layout.offsets, dense=dense)

    def _char_layout(self, layout: _TokenLayout, tokens: list[list[Token]]) -> _TokenLayout:
        """``layout`` keyed for the character block: since tokenizer version 3 a token of a
        script written without spaces is keyed by its `RunWindow`, so its n-grams reach into
        the characters after it; other tokens (all, before version 3) by their text."""
        if self.tokenizer_version < NFC_TOKENIZER_VERSION or not any(
            is_unspaced(t.text[0]) for ts in tokens for t in ts if t.text
        ):
            return layout
        index: dict[str | RunWindow, int] = {}
        inverse = np.fromiter(
            (
                index.setdefault(key, len(index))
                for ts in tokens
                for key in _run_windows(ts, self.char_ngram_max)
            ),
            dtype=np.int64,
            count=layout.n_tokens,
        )
        return replace(layout, unique_texts=list(index), inverse=inverse)

    def _window_offsets(self) -> list[tuple[int, list[str]]]:
        half = len(self.lexical_features) // 2
        return [(j - half, names) for j, names in enumerate(self.lexical_features) if names]

    def _unique_values(self, layout: _TokenLayout) -> dict[str, list[str]]:
        """Value of each text-based lexical feature for each distinct token text."""
        texts = layout.unique_texts
        affix_texts = [text.lower() for text in texts] if self.lowercase else texts
        values: dict[str, list[str]] = {}
        for name in {name for names in self.lexical_features for name in names}:
            if name in _TEXT_FEATURES:
                values[name] = list(map(_TEXT_FEATURES[name], texts))
            elif name in _AFFIX_FEATURES:
                values[name] = list(map(_AFFIX_FEATURES[name], affix_texts))
        return values

    def _lexical_columns(self, layout: _TokenLayout) -> tuple[np.ndarray, np.ndarray]:
        """(flat token index, column in the lexical block) of every active lexical feature."""
        slots = self._slots
        # table[u, s]: the column that distinct text u switches on through slot s, or -1
        # (value unseen in training, or a BOS/EOS slot, which depends on position, not text).
        table = np.full((len(layout.unique_texts), len(slots.names)), -1, dtype=np.int64)
        if slots.text_slots:
            unique_values = self._unique_values(layout)
            table[:, slots.text_slots] = np.array(
                [
                    [slots.lookups[s].get(value, -1) for value in unique_values[slots.names[s]]]
                    for s in slots.text_slots
                ],
                dtype=np.int64,
            ).T
        # Slot s of token t reads the token at t + offset[s], when that is in t's message.
        source_position = layout.position[:, None] + slots.offset  # (n_tokens, n_slots)
        valid = (source_position >= 0) & (source_position < layout.length[:, None])
        source = np.where(valid, np.arange(layout.n_tokens)[:, None] + slots.offset, 0)
        columns = table[layout.inverse[source], np.arange(len(slots.names))]
        at = (slots.is_bos & (source_position == 0)) | (
            slots.is_eos & (source_position == layout.length[:, None] - 1)
        )
        position_columns = np.where(at, slots.true_column, slots.false_column)
        columns = np.where(slots.is_position, position_columns, columns)
        keep = valid & (columns >= 0)
        return np.nonzero(keep)[0], columns[keep]

    def _regex_matches(
        self, texts: Sequence[str], tokens: list[list[Token]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pattern matches as (flat token index, pattern) and (message index, pattern) pairs.

        Since tokenizer version 3 the patterns search the text in NFC form, as the tokens are;
        the matches are mapped back to the text's offsets.
        """
        token_hits: list[tuple[int, int]] = []
        message_hits: list[tuple[int, int]] = []
        first_token = 0
        for message, (text, message_tokens) in enumerate(zip(texts, tokens, strict=True)):
            starts = [t.start for t in message_tokens]
            ends = [t.end for t in message_tokens]
            searched, origins = text, None  # origins: the span in text of each searched char
            if self.tokenizer_version >= NFC_TOKENIZER_VERSION and not unicodedata.is_normalized(
                "NFC", text
            ):
                searched, *origins = nfc_with_offsets(text)
            for pattern_index, pattern in enumerate(self._compiled_patterns):
                hit: set[int] = set()
                matched = False
                for match in pattern.finditer(searched):
                    begin, end = match.span()
                    if end == begin:  # an empty match overlaps nothing
                        continue
                    if origins is not None:
                        char_starts, char_ends = origins
                        begin, end = char_starts[begin], char_ends[end - 1]
                    matched = True
                    # Tokens overlapping [begin, end): token.end > begin and token.start < end.
                    hit.update(range(bisect_right(ends, begin), bisect_left(starts, end)))
                if matched:
                    message_hits.append((message, pattern_index))
                token_hits.extend((first_token + j, pattern_index) for j in sorted(hit))
            first_token += len(message_tokens)
        token_array = np.asarray(token_hits, dtype=np.int64).reshape(-1, 2)
        message_array = np.asarray(message_hits, dtype=np.int64).reshape(-1, 2)
        return token_array[:, 0], token_array[:, 1], message_array[:, 0], message_array[:, 1]

    # ----------------------------------------------------------------------------------------
    # serialisation

    def to_json(self) -> dict[str, Any]:
        """The configuration and fitted state as plain JSON types (no pickle).

        Example:
            >>> import json
            >>> from diet_sparse.rasa.nlu_data import Example, TrainingData
            >>> featurizer = Featurizer().fit(TrainingData([Example("hi", "greet")]))
            >>> restored = Featurizer.from_json(json.loads(json.dumps(featurizer.to_json())))
            >>> restored.n_features_ == featurizer.n_features_
            True
        """
        self._check_fitted()
        state = {
            "format": _JSON_FORMAT,
            "config": self.get_config(),
            "word_vocabulary": dict(self.word_vocabulary_),
            "char_vocabulary": dict(self.char_vocabulary_),
            "lexical_vocabulary": dict(self.lexical_vocabulary_),
            "regex_patterns": [
                {"name": name, "pattern": pattern} for name, pattern in self.regex_patterns_
            ],
        }
        if self.pretrained_encoder:
            # the versions of the packages whose files made the vectors the model learnt from
            self.load_pretrained_encoder()
            state["pretrained_encoder_packages"] = dict(self._encoder.packages)
        return state

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Featurizer:
        """Rebuild a fitted featurizer from :meth:`to_json` output (see its example)."""
        if not isinstance(state, dict) or state.get("format") != _JSON_FORMAT:
            found = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"not a saved featurizer: expected format {_JSON_FORMAT!r}, got {found!r}"
            )
        # Featurizers saved before the tokenizer had versions split with version 1.
        featurizer = cls(**{"tokenizer_version": LEGACY_TOKENIZER_VERSION, **state["config"]})
        featurizer._set_fitted(
            word_vocabulary={str(k): int(v) for k, v in state["word_vocabulary"].items()},
            char_vocabulary={str(k): int(v) for k, v in state["char_vocabulary"].items()},
            lexical_vocabulary={str(k): int(v) for k, v in state["lexical_vocabulary"].items()},
            regex_patterns=[(p["name"], p["pattern"]) for p in state["regex_patterns"]],
        )
        featurizer.load_pretrained_encoder()
        if featurizer.pretrained_encoder and "pretrained_encoder_packages" in state:
            # (featurizers saved before versions were recorded are not checked)
            check_encoder_packages(
                featurizer.pretrained_encoder, state["pretrained_encoder_packages"]
            )
        return featurizer
