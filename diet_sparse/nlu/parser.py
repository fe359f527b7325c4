"""A trained model ready to parse messages into Rasa's parse result.

Parsing featurizes the texts, runs the network in ONNX Runtime (`onnx_graph.OnnxDIET`, built
from the weights when the model is loaded), decodes the tag heads' CRFs and assembles Rasa's
parse result. No TensorFlow is needed to load a model directory and parse with it.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

from diet_sparse.config import DIETConfig
from diet_sparse.network.onnx_graph import OnnxDIET
from diet_sparse.network.weights import DIETWeights
from diet_sparse.nlu.crf_decoding import CRFDecoder
from diet_sparse.nlu.featurizer import Featurizer
from diet_sparse.nlu.tagging import TagVocabulary, comma_breaks, decode_entity_tags, span_attribute
from diet_sparse.rasa.intent_message import shortcut_parse

EXTRACTOR = "DIETClassifier"
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier's intent
MAX_THREADS = 4  # a message's matrices are too small to share among more


def fallback_confidence(
    top: list[float], threshold: float | None, ambiguity_threshold: float | None
) -> float | None:
    """The confidence of ``nlu_fallback`` for a message whose best intents have the
    confidences ``top`` (highest first), or None when the message does not fall back: as
    Rasa's FallbackClassifier, when the best is below ``threshold`` or the best two are
    closer than ``ambiguity_threshold``. The fallback's confidence is the threshold (the top
    confidence when only the ambiguity threshold is set).

    Example:
        >>> fallback_confidence([0.4, 0.3], 0.5, None), fallback_confidence([0.9, 0.05], 0.5, 0.1)
        (0.5, None)
        >>> fallback_confidence([0.5, 0.45], None, 0.1)
        0.5
    """
    if not top:
        return None
    below = threshold is not None and top[0] < threshold
    ambiguous = (
        ambiguity_threshold is not None and len(top) > 1 and top[0] - top[1] < ambiguity_threshold
    )
    if not (below or ambiguous):
        return None
    return float(threshold if threshold is not None else top[0])


def limit_blas_threads() -> None:
    """Limit numpy's BLAS to one thread for good, in a process that only predicts (the server,
    the CLI): see `ONE_BLAS_THREAD`, which parsing uses in a user's own process."""
    threadpool_limits(limits=1, user_api="blas")


class _OneBlasThread:
    """While any parse runs, numpy's BLAS uses one thread; afterwards it has the threads it had.

    numpy's matrices in CRF decoding are small: extra BLAS threads only add hand-over costs,
    and on a busy machine their spinning costs several times the work itself. Changing the
    limit costs a few microseconds, but it is process-wide: with parses running in several
    threads at once, the first to start sets it and the last to finish restores it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._controller: ThreadpoolController | None = None
        self._limiter: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                if self._controller is None:  # finding the BLAS libraries takes milliseconds
                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._running += 1

    def __exit__(self, *exception: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self._limiter.restore_original_limits()


ONE_BLAS_THREAD = _OneBlasThread()


@dataclass
class NLU:
    """Featurizer, network and label maps of a trained model; `parse` turns text into a result.

    ``network`` holds the weights; ``predictor`` runs the forward pass on them in ONNX Runtime
    for `parse`. ``keras_model`` is the TensorFlow model when this NLU was just trained, else
    None.
    """

    config: DIETConfig
    featurizer: Featurizer
    network: DIETWeights
    intents: list[str]
    tag_vocabularies: dict[str, TagVocabulary]
    synonyms: dict[str, str]
    metadata: dict[str, Any] = field(default_factory=dict)
    keras_model: Any = field(default=None, repr=False)
    threads: int | None = None
    predictor: Any = field(init=False, repr=False)
    decoders: dict[str, CRFDecoder] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.threads is None:
            default = min(os.cpu_count() or 1, MAX_THREADS)
            self.threads = int(os.environ.get("DIET_SPARSE_THREADS", default))
        self.predictor = OnnxDIET(self.network, threads=self.threads)
        self.decoders = {}
        for head in self.network.tag_heads:
            constraints = {}
            if self.config.constrain_entity_transitions:
                allowed, start, end = self.tag_vocabularies[head].valid_transitions()
                constraints = dict(allowed=allowed, start=start, end=end)
            self.decoders[head] = CRFDecoder(self.network.transitions(head), **constraints)

    def parse(self, text: str, domain: Any = None) -> dict[str, Any]:
        """Intent, intent ranking and entities of one message, in Rasa's format.

        A message that names its intent (``/greet``, ``/inform{"city": "Rome"}``, as buttons
        send them) is answered without the network, as Rasa's RegexMessageHandler answers it
        (`intent_message.shortcut_parse`): any intent and entity type, as Rasa's NLU-only
        models; with a ``domain`` (a `Domain`: anything with ``intents`` and ``entities``) only
        its intents and entity types, as Rasa's models with a domain, and a message naming
        another intent is parsed as text.

        Example:
            >>> nlu.parse("hello there")["intent"]  # doctest: +SKIP
            {'name': 'greet', 'confidence': 0.998}
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}: {text!r}")
        shortcut = _shortcut(text, domain)
        if shortcut is not None:
            return shortcut
        with ONE_BLAS_THREAD:
            return self._parse_chunk([text])[0]

    def parse_batch(
        self,
        texts: list[str],
        batch_size: int = 64,
        workers: int | None = None,
        domain: Any = None,
    ) -> list[dict[str, Any]]:
        """`parse` for many messages at once; much faster per message than one by one.

        Messages are grouped by length so that little time goes into padding, and the groups
        are parsed by ``workers`` threads (default: one per CPU core). The network and the
        decoders release Python's lock while they compute, so the threads run side by side.
        """
        if isinstance(texts, str):
            raise TypeError("parse_batch takes a list of texts; use parse() for one text")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}: {text!r}")
        shortcuts = {i: found for i, text in enumerate(texts) if (found := _shortcut(text, domain))}
        if shortcuts:  # the others go through the network
            rest = [i for i in range(len(texts)) if i not in shortcuts]
            parsed = self.parse_batch([texts[i] for i in rest], batch_size, workers, domain)
            results = dict(shortcuts) | dict(zip(rest, parsed))
            return [results[i] for i in range(len(texts))]
        order = np.argsort([len(text) for text in texts], kind="stable")
        chunks = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        workers = min(workers or os.cpu_count() or 1, len(chunks))
        # several workers: one thread each for the network, else they crowd each other out
        threads = 1 if workers > 1 else None
        parse = lambda chunk: self._parse_chunk([texts[i] for i in chunk], threads)  # noqa: E731
        with ONE_BLAS_THREAD:
            if workers > 1:
                with ThreadPoolExecutor(workers) as pool:
                    parsed = list(pool.map(parse, chunks))
            else:
                parsed = [parse(chunk) for chunk in chunks]
        results: list[dict[str, Any]] = [{}] * len(texts)
        for chunk, chunk_results in zip(chunks, parsed):
            for i, result in zip(chunk, chunk_results):
                results[i] = result
        return results

    def _parse_chunk(self, texts: list[str], threads: int | None = None) -> list[dict[str, Any]]:
        featurized = self.featurizer.transform(texts)
        outputs = self.predictor(
            featurized.features, featurized.offsets, threads, dense=featurized.dense
        )
        token_counts = np.diff(featurized.offsets) - 1
        decoded = {}
        if "entity" in self.decoders:
            decoder = self.decoders["entity"]
            tags = decoder.viterbi(outputs["entity"], token_counts)
            # Confidences, roles and groups only describe entities: messages without any
            # (many, in a typical assistant) need no forward-backward pass and no more decoding.
            rows = np.flatnonzero((tags != 0).any(axis=1))  # tag 0 is O
            confidences = np.zeros(tags.shape, dtype=np.float32)
            if len(rows):
                confidences[rows] = decoder.confidences(
                    outputs["entity"][rows], token_counts[rows], tags[rows]
                )
            decoded["entity"] = (tags, confidences)
        for head in ("role", "group"):
            if head not in self.decoders:
                continue
            tags = np.zeros(outputs[head].shape[:2], dtype=np.int64)
            confidences = np.zeros(tags.shape, dtype=np.float32)
            if len(rows):
                tags[rows], confidences[rows] = self.decoders[head].decode(
                    outputs[head][rows], token_counts[rows]
                )
            decoded[head] = (tags, confidences)
        results = []
        for i, text in enumerate(texts):
            result: dict[str, Any] = {"text": text}
            if "intent" in outputs:
                result.update(self._intent_result(outputs["intent"][i]))
            else:
                only = self.intents[0] if self.intents else None
                result["intent"] = {"name": only, "confidence": 1.0 if only else 0.0}
                result["intent_ranking"] = [dict(result["intent"])] if only else []
            tags = {head: (ids[i], confidences[i]) for head, (ids, confidences) in decoded.items()}
            result["entities"] = self._entities(text, featurized.tokens[i], tags)
            results.append(result)
        return results

    def _intent_result(self, probabilities: np.ndarray) -> dict[str, Any]:
        order = np.argsort(-probabilities, kind="stable")
        ranking_length = self.config.ranking_length or len(order)
        top = order[:ranking_length]
        if self.config.renormalize_confidences:  # as Rasa: the ranked confidences sum to 1
            probabilities = probabilities.copy()
            probabilities[top] /= max(float(probabilities[top].sum()), 1e-12)
        ranking = [{"name": self.intents[j], "confidence": float(probabilities[j])} for j in top]
        fallback = fallback_confidence(
            [float(probabilities[j]) for j in order[:2]],
            self.config.fallback_threshold,
            self.config.ambiguity_threshold,
        )
        if fallback is not None:
            ranking = [{"name": FALLBACK_INTENT, "confidence": fallback}, *ranking]
        return {"intent": dict(ranking[0]), "intent_ranking": ranking}

    def _entities(
        self, text: str, tokens: list, decoded: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> list[dict[str, Any]]:
        """Entities from the decoded tags and confidences of each tag head."""
        if "entity" not in decoded or not tokens:
            return []
        entities = []
        tag_ids, confidences = decoded["entity"]
        breaks = comma_breaks(text, tokens, self.config.split_entities_by_comma)
        vocabulary = self.tag_vocabularies["entity"]
        for span in decode_entity_tags(tag_ids, confidences, vocabulary, breaks):
            start, end = tokens[span.first].start, tokens[span.last].end
            value = text[start:end]
            entity = {
                "entity": span.entity,
                "start": start,
                "end": end,
                "confidence_entity": span.confidence,
                "value": self.synonyms.get(value.lower(), value),
                "extractor": EXTRACTOR,
            }
            for attribute in ("role", "group"):
                if attribute in decoded:
                    label, confidence = span_attribute(
                        *decoded[attribute], span, self.tag_vocabularies[attribute]
                    )
                    if label is not None:
                        entity[attribute] = label
                        entity[f"confidence_{attribute}"] = confidence
            if entity["value"] != value:
                entity["processors"] = ["EntitySynonymMapper"]
            entities.append(entity)
        return entities


def _shortcut(text: str, domain: Any) -> dict[str, Any] | None:
    """The parse result of a message naming its intent (None: the network parses it), against
    the ``domain``'s intents and entity types if there is one."""
    if domain is None:
        return shortcut_parse(text)
    return shortcut_parse(text, domain.intents, domain.entities)
