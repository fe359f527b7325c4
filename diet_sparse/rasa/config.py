"""Rasa 3's config.yml read as diet-sparse configs: the pipeline becomes a DIET config and the
policies a TED config, so a Rasa project's config works unchanged.

Rasa names a component's options after its own implementation. Each key Rasa accepts is either
mapped onto the diet-sparse key that does the same, accepted because diet-sparse already does
what its value asks, or ignored with one warning that names it and says what diet-sparse does
instead (`RasaConfig.ignored`). A key or component Rasa itself would reject is an error with a
did-you-mean, as in diet-sparse's own configs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from diet_sparse.errors import RasaConfigError

# Top-level keys of Rasa 3's config.yml; any of them marks a file as Rasa's. Rasa 3.6's schema
# (rasa/shared/utils/schemas/model_config.yml) lets any other key through too.
TOP_LEVEL_KEYS = ("version", "recipe", "language", "assistant_id", "pipeline", "policies")
# ... keys Rasa reads that diet-sparse does not, and what diet-sparse does instead
# (rasa/shared/importers/importer.py: importers; multi_project.py: imports; the schema: spaces).
TOP_LEVEL_NOT_IMPLEMENTED = {
    "importers": "the project's own files (domain.yml, data/)",
    "imports": "the project's own files (domain.yml, data/); no sub-projects",
    "spaces": "one assistant, no spaces",
}
RECIPE = "default.v1"
# The newest format `version` Rasa 3.6 knows (rasa.shared.constants.
# LATEST_TRAINING_DATA_FORMAT_VERSION); its schema wants the version as a string.
LATEST_FORMAT_VERSION = "3.1"
# rasa.shared.constants.ASSISTANT_ID_DEFAULT_VALUE: the placeholder of Rasa's default config.
ASSISTANT_ID_PLACEHOLDER = "placeholder_default"
# Rasa 3.6's default configuration (rasa/engine/recipes/config_files/default_config.yml): what
# `rasa train` uses for a pipeline or policies section that is missing or empty.
DEFAULT_PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]
DEFAULT_POLICIES = [
    {"name": "MemoizationPolicy"},
    {"name": "RulePolicy"},
    {"name": "UnexpecTEDIntentPolicy", "max_history": 5, "epochs": 100},
    {"name": "TEDPolicy", "max_history": 5, "epochs": 100, "constrain_similarities": True},
]

# Rasa's DIETClassifier keys with a diet-sparse key of the same name and meaning.
DIET_SAME_NAME = (
    "epochs", "batch_size", "learning_rate", "random_seed", "connection_density",
    "weight_sparsity", "number_of_attention_heads", "use_key_relative_attention",
    "use_value_relative_attention", "max_relative_position", "embedding_dimension",
    "number_of_negative_examples", "ranking_length", "scale_loss", "constrain_similarities",
    "regularization_constant", "drop_rate", "drop_rate_attention", "intent_classification",
    "entity_recognition", "use_masked_language_model", "BILOU_flag", "split_entities_by_comma",
    "renormalize_confidences", "use_sparse_input_dropout", "use_dense_input_dropout",
    "hidden_layers_sizes",
)  # fmt: skip
# ... keys whose value is one per attribute in Rasa ({text: 256, label: 20}); DIET's encoder
# reads the text's.
DIET_PER_ATTRIBUTE = dict.fromkeys(
    ("transformer_size", "number_of_transformer_layers", "dense_dimension"), "text"
)
# Rasa keys diet-sparse does not implement: the value that means what diet-sparse does anyway
# (no warning), and what it does.
DIET_NOT_IMPLEMENTED: dict[str, tuple[Any, str]] = {
    "share_hidden_layers": (False, "separate text and label hidden layers"),
    "unidirectional_encoder": (False, "a bidirectional encoder"),
    "batch_strategy": ("balanced", "balanced batches"),
    "similarity_type": ("auto", "inner-product similarities"),
    "loss_type": ("cross_entropy", "the cross-entropy loss"),
    "maximum_positive_similarity": (0.8, "the cross-entropy loss, which does not use it"),
    "maximum_negative_similarity": (-0.4, "the cross-entropy loss, which does not use it"),
    "use_maximum_negative_similarity": (True, "the cross-entropy loss, which does not use it"),
    "negative_margin_scale": (0.8, "the cross-entropy loss, which does not use it"),
    "concat_dimension": ({"text": 128, "label": 20}, "one sentence slot, no concatenation"),
    "evaluate_every_number_of_epochs": (20, "no hold-out evaluation while training"),
    "evaluate_on_number_of_examples": (0, "no hold-out evaluation while training"),
    "tensorboard_log_directory": (None, "training figures in the model's metadata.json"),
    "tensorboard_log_level": ("epoch", "training figures per epoch in metadata.json"),
    "checkpoint_model": (False, "the weights of the last epoch (averaged: ema_momentum)"),
    "featurizers": ([], "every featurizer of the pipeline"),
    "run_eagerly": (False, "compiled training steps"),
    "drop_small_last_batch": (False, "every batch"),
}
# Rasa's TEDPolicy keys with a diet-sparse key of the same name and meaning.
TED_SAME_NAME = (
    "max_history", "epochs", "batch_size", "learning_rate", "random_seed", "connection_density",
    "weight_sparsity", "number_of_attention_heads", "encoding_dimension", "embedding_dimension",
    "number_of_negative_examples", "scale_loss", "constrain_similarities", "ranking_length",
    "drop_rate_dialogue", "drop_rate_attention", "regularization_constant",
)  # fmt: skip
TED_NOT_IMPLEMENTED: dict[str, tuple[Any, str]] = {
    "use_sparse_input_dropout": (True, "dropout of sparse inputs at drop_rate"),
    "use_dense_input_dropout": (True, "no dense inputs but pretrained_encoder's"),
    **{
        key: DIET_NOT_IMPLEMENTED[key]
        for key in (
            "unidirectional_encoder", "similarity_type", "loss_type",
            "maximum_positive_similarity", "maximum_negative_similarity",
            "use_maximum_negative_similarity", "negative_margin_scale",
            "evaluate_every_number_of_epochs", "evaluate_on_number_of_examples",
            "tensorboard_log_directory", "tensorboard_log_level", "checkpoint_model",
            "featurizers", "run_eagerly",
        )
    },
    "hidden_layers_sizes": (None, "no hidden layers before the projections"),
    "concat_dimension": (None, "each attribute projected to dense_dimension"),
    "drop_rate": (0.0, "drop_rate_dialogue in the dialogue transformer"),
    "drop_rate_label": (0.0, "no dropout of the action labels"),
    "entity_recognition": (False, "no entities predicted by the policy (the NLU model's)"),
    "BILOU_flag": (True, "no entities predicted by the policy"),
    "split_entities_by_comma": (True, "no entities predicted by the policy"),
    "model_confidence": ("softmax", "softmax confidences"),
    "renormalize_confidences": (False, "softmax confidences as they are"),
    "e2e_confidence_threshold": (0.5, "no end-to-end (text) predictions"),
    "use_key_relative_attention": (False, "absolute positions"),
    "use_value_relative_attention": (False, "absolute positions"),
    "max_relative_position": (5, "absolute positions"),
    "priority": (None, "rules, then memorized stories, then TED"),
}  # fmt: skip
# (dense_dimension: one width for every attribute here, the intent's)
TED_PER_ATTRIBUTE = {
    "transformer_size": "dialogue",
    "number_of_transformer_layers": "dialogue",
    "dense_dimension": "intent",
}

# Pipeline components Rasa 3 ships that diet-sparse replaces or leaves out, and what it does.
NOT_IMPLEMENTED_COMPONENTS = {
    "SpacyNLP": "no spaCy: whitespace tokens and sparse features",
    "SpacyTokenizer": "whitespace tokenization",
    "SpacyFeaturizer": "no spaCy vectors; pretrained_encoder: minilm-l6 adds sentence vectors",
    "SpacyEntityExtractor": "entities from DIET only",
    "MitieNLP": "no MITIE: whitespace tokens and sparse features",
    "MitieTokenizer": "whitespace tokenization",
    "MitieFeaturizer": "no MITIE vectors",
    "MitieEntityExtractor": "entities from DIET only",
    "MitieIntentClassifier": "intents from DIET only",
    "JiebaTokenizer": "no Jieba words: one token per Chinese character (tokenizer version 3)",
    "ConveRTFeaturizer": "no ConveRT; pretrained_encoder: minilm-l6 adds sentence vectors",
    "LanguageModelFeaturizer": "no download; pretrained_encoder: minilm-l6 adds sentence vectors",
    "CRFEntityExtractor": "entities from DIET's CRF",
    "DucklingEntityExtractor": "no Duckling server; entities from DIET only",
    "RegexEntityExtractor": "regexes and lookups as features of DIET (use_regex_features)",
    "SklearnIntentClassifier": "intents from DIET, whose wide path is a linear classifier",
    "LogisticRegressionClassifier": "intents from DIET, whose wide path is a linear classifier",
    "KeywordIntentClassifier": "intents from DIET only",
    "ResponseSelector": "no response selection: retrieval intents keep their full names",
}
# Options of the pipeline components diet-sparse maps: Rasa's defaults.
WHITESPACE_TOKENIZER = {
    "intent_tokenization_flag": False,
    "intent_split_symbol": "_",
    "token_pattern": None,
    "prefix_separator_symbol": None,
}
REGEX_FEATURIZER = {
    "case_sensitive": True,
    "use_word_boundaries": True,
    "use_lookup_tables": True,
    "use_regexes": True,
    "number_additional_patterns": None,
    "alias": None,
}
COUNT_VECTORS = {
    "analyzer": "word",
    "min_ngram": 1,
    "max_ngram": 1,
    "max_features": None,
    "lowercase": True,
    "strip_accents": None,
    "stop_words": None,
    "min_df": 1,
    "max_df": 1.0,
    "OOV_token": None,
    "OOV_words": [],
    "use_shared_vocab": False,
    "additional_vocabulary_size": None,
    "alias": None,
}
LEXICAL_SYNTACTIC = {"features": None, "alias": None}
FALLBACK_CLASSIFIER = {"threshold": 0.3, "ambiguity_threshold": 0.1}
# Rasa's dialogue policies other than TED: what diet-sparse does with them.
RULE_POLICIES = {
    "MemoizationPolicy": {"max_history": None, "priority": None},
    "AugmentedMemoizationPolicy": {"max_history": None, "priority": None},
    "RulePolicy": {
        "core_fallback_threshold": 0.3,
        "core_fallback_action_name": "action_default_fallback",
        "enable_fallback_prediction": True,
        "restrict_rules": True,
        "check_for_contradictions": True,
        "priority": None,
    },
}
NOT_IMPLEMENTED_POLICIES = {
    "UnexpecTEDIntentPolicy": "no unexpected-intent detection",
}


@dataclass
class RasaConfig:
    """A Rasa config.yml as diet-sparse's configs, with what was mapped and what ignored."""

    diet: dict[str, Any] = field(default_factory=dict)  # DIETConfig values
    ted: dict[str, Any] = field(default_factory=dict)  # TEDConfig values
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # rule policies: options
    mapped: list[str] = field(default_factory=list)  # "DIETClassifier.epochs -> epochs"
    ignored: list[str] = field(default_factory=list)  # one warning each
    auto_configured: list[str] = field(default_factory=list)  # "pipeline": Rasa's default used

    def report(self) -> dict[str, Any]:
        """What a model saves of the translation (its metadata's ``rasa_config``)."""
        return {
            "mapped": self.mapped,
            "ignored": self.ignored,
            "policies": self.policies,
            "auto_configured": self.auto_configured,
        }


def is_rasa_config(values: Any) -> bool:
    """Whether a config file's mapping is Rasa's config.yml rather than a diet-sparse config.

    Example:
        >>> is_rasa_config({"pipeline": []}), is_rasa_config({"epochs": 3})
        (True, False)
    """
    return isinstance(values, dict) and any(key in values for key in TOP_LEVEL_KEYS)


def translate(values: dict[str, Any], where: str = "config.yml") -> RasaConfig:
    """Rasa's config.yml (a parsed mapping) as diet-sparse's DIET and TED config values.

    An empty or absent ``pipeline`` / ``policies`` is Rasa 3.6's default configuration's, as
    ``rasa train`` fills it in, said in one line of ``ignored``.

    Example:
        >>> config = translate({"pipeline": [{"name": "WhitespaceTokenizer"},
        ...     {"name": "CountVectorsFeaturizer"}, {"name": "DIETClassifier", "epochs": 50}]})
        >>> config.diet["epochs"], config.diet["use_char_features"], config.diet["lexical_features"]
        (50, False, [])
    """
    config = RasaConfig()
    for key in values:
        if key in TOP_LEVEL_NOT_IMPLEMENTED:
            config.ignored.append(
                f"{where}: {key} is not implemented and is not read; diet-sparse: "
                f"{TOP_LEVEL_NOT_IMPLEMENTED[key]}"
            )
        elif key not in TOP_LEVEL_KEYS:
            _read_unknown_top_level_key(key, where, config)
    _read_version(values, where, config)
    recipe = values.get("recipe", RECIPE)
    if recipe != RECIPE:
        raise RasaConfigError(f"{where}: recipe {recipe!r} is not Rasa's; expected {RECIPE!r}")
    assistant_id = values.get("assistant_id")
    if assistant_id is None or assistant_id == ASSISTANT_ID_PLACEHOLDER:
        config.ignored.append(  # Rasa's words (rasa.cli.utils.validate_assistant_id_in_config)
            f"{where}: the config file is missing a unique value for the 'assistant_id' "
            "mandatory key; diet-sparse trains anyway and does not write one into the file"
        )
    language = values.get("language")
    if language not in (None, "en"):
        config.ignored.append(
            f"{where}: language {language!r}: diet-sparse's features are language-independent "
            "(Rasa's whitespace tokens, one token per character of Chinese, Japanese and Thai, "
            "words and character n-grams); nothing changes"
        )
    for key, read, default in (
        ("pipeline", _read_pipeline, DEFAULT_PIPELINE),
        ("policies", _read_policies, DEFAULT_POLICIES),
    ):
        entries = _entries(values, key, where)
        if entries:
            read(entries, where, config)
        else:
            _auto_configure(key, read, default, where, config)
    return config


def _read_unknown_top_level_key(key: Any, where: str, config: RasaConfig) -> None:
    """Rasa 3.6 lets any top-level key through and reads none but its own: a key close to one
    of them is surely a misspelling (Rasa would quietly configure the section itself), so it
    is an error; any other is left out with a warning, as Rasa leaves it out."""
    known = (*TOP_LEVEL_KEYS, *TOP_LEVEL_NOT_IMPLEMENTED)
    if difflib.get_close_matches(str(key), known, n=1):
        raise _unknown(where, "top-level key", str(key), known)
    config.ignored.append(f"{where}: top-level key {key!r} is not Rasa's; not read, as by Rasa")


def _read_version(values: dict[str, Any], where: str, config: RasaConfig) -> None:
    """Rasa's schema wants ``version`` as a string; one newer than Rasa 3.6 knows is read as
    its own, with a warning (as Rasa's training data files are)."""
    if "version" not in values:
        return
    version = values["version"]
    if not isinstance(version, str):
        raise RasaConfigError(
            f'{where}: version must be a string, such as version: "{LATEST_FORMAT_VERSION}", '
            f"got {version!r}"
        )
    numbers = version.strip().split(".")
    if not all(number.isascii() and number.isdigit() for number in numbers):
        config.ignored.append(
            f"{where}: version {version!r} is not a version number; read as {LATEST_FORMAT_VERSION}"
        )
    elif [int(n) for n in numbers] > [int(n) for n in LATEST_FORMAT_VERSION.split(".")]:
        config.ignored.append(
            f"{where}: version {version!r} is newer than Rasa 3.6's "
            f"{LATEST_FORMAT_VERSION}; read as {LATEST_FORMAT_VERSION}"
        )


def _auto_configure(
    key: str, read: Any, default: list[dict[str, Any]], where: str, config: RasaConfig
) -> None:
    """A missing or empty ``pipeline`` / ``policies`` as Rasa 3.6 trains it: its default
    configuration's, said in one line (what diet-sparse leaves out of it included)."""
    defaults = RasaConfig()
    read(default, f"Rasa's default {key}", defaults)
    config.diet.update(defaults.diet)
    config.ted.update(defaults.ted)
    config.policies.update(defaults.policies)
    config.mapped.extend(defaults.mapped)
    left_out = [
        entry["name"]
        for entry in default
        if entry["name"] in {**NOT_IMPLEMENTED_COMPONENTS, **NOT_IMPLEMENTED_POLICIES}
    ]
    names = ", ".join(entry["name"] for entry in default if entry["name"] not in left_out)
    config.auto_configured.append(key)
    config.ignored.append(
        f"{where}: no {key} given: the configuration for {key} was chosen automatically, "
        f"Rasa 3.6's default ({names}; {', '.join(left_out)} left out, not implemented)"
    )


def _entries(values: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    entries = values.get(key) or []
    if not isinstance(entries, list):
        raise RasaConfigError(f"{where}: {key} must be a list of components, got {entries!r}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise RasaConfigError(
                f"{where}: {key}[{i}] must be a mapping with a name, such as "
                f"'- name: {'DIETClassifier' if key == 'pipeline' else 'TEDPolicy'}', "
                f"got {entry!r}"
            )
    return entries


def _unknown(where: str, what: str, name: str, known: Any) -> RasaConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return RasaConfigError(f"{where}: unknown {what} {name!r}.{hint}")


def _options(entry: dict[str, Any], defaults: dict[str, Any], where: str) -> dict[str, Any]:
    """The options of a component other than its name, checked against Rasa's; each option
    that differs from its default is returned, the rest are Rasa's defaults."""
    name = entry["name"]
    given = {key: value for key, value in entry.items() if key != "name"}
    for key in given:
        if key not in defaults:
            raise _unknown(where, f"{name} option", key, defaults)
    return {key: value for key, value in given.items() if value != defaults[key]}


def _left_out(
    name: str,
    at: str,
    where: str,
    what: str,
    known: Any,
    not_implemented: dict[str, str],
    config: RasaConfig,
) -> bool:
    """Whether the component or policy ``name`` is left out, with a warning saying why: Rasa
    has it and diet-sparse does not implement it, or it is a custom one. A name Rasa does not
    know is an error."""
    if name in not_implemented:
        config.ignored.append(
            f"{at} is not implemented and is left out; diet-sparse: {not_implemented[name]}"
        )
        return True
    if "." in name:
        plural = "policies" if what == "policy" else f"{what}s"
        config.ignored.append(f"{at}: custom {plural} are not run; left out")
        return True
    if name not in known:
        raise _unknown(where, "pipeline component" if what == "component" else what, name, known)
    return False


def _ignore(config: RasaConfig, where: str, option: str, value: Any, instead: str) -> None:
    config.ignored.append(
        f"{where}: {option}: {value!r} is not implemented; diet-sparse: {instead}"
    )


def _read_pipeline(pipeline: list[dict[str, Any]], where: str, config: RasaConfig) -> None:
    diet = config.diet
    names = [entry["name"] for entry in pipeline]
    diet["use_word_features"] = diet["use_char_features"] = False
    diet["use_regex_features"] = "RegexFeaturizer" in names
    diet["lexical_features"] = []
    known = (
        "WhitespaceTokenizer", "RegexFeaturizer", "LexicalSyntacticFeaturizer",
        "CountVectorsFeaturizer", "DIETClassifier", "EntitySynonymMapper", "FallbackClassifier",
        *NOT_IMPLEMENTED_COMPONENTS,
    )  # fmt: skip
    for i, entry in enumerate(pipeline):
        name, at = entry["name"], f"{where}: pipeline[{i}] {entry['name']}"
        if _left_out(name, at, where, "component", known, NOT_IMPLEMENTED_COMPONENTS, config):
            continue
        if name == "WhitespaceTokenizer":
            for key, value in _options(entry, WHITESPACE_TOKENIZER, where).items():
                _ignore(config, at, key, value, "the default WhitespaceTokenizer")
        elif name == "RegexFeaturizer":
            for key, value in _options(entry, REGEX_FEATURIZER, where).items():
                _ignore(config, at, key, value, "case-sensitive patterns, as written")
        elif name == "LexicalSyntacticFeaturizer":
            _read_lexical(entry, at, where, config)
        elif name == "CountVectorsFeaturizer":
            _read_count_vectors(entry, at, where, config)
        elif name == "DIETClassifier":
            _read_diet(entry, at, where, config)
        elif name == "FallbackClassifier":
            options = {**FALLBACK_CLASSIFIER, **_options(entry, FALLBACK_CLASSIFIER, where)}
            diet["fallback_threshold"] = options["threshold"]
            diet["ambiguity_threshold"] = options["ambiguity_threshold"]
            config.mapped.append("FallbackClassifier.threshold -> fallback_threshold")
            config.mapped.append("FallbackClassifier.ambiguity_threshold -> ambiguity_threshold")
        elif name == "EntitySynonymMapper":
            _options(entry, {}, where)
            config.mapped.append("EntitySynonymMapper -> synonyms of the training data")
    if "EntitySynonymMapper" not in names:
        config.ignored.append(
            f"{where}: no EntitySynonymMapper: diet-sparse maps the training data's synonyms anyway"
        )
    if not (diet["use_word_features"] or diet["use_char_features"]):
        config.ignored.append(
            f"{where}: no CountVectorsFeaturizer: DIET needs sparse features; diet-sparse uses "
            "its word and char_wb counts"
        )
        diet["use_word_features"] = diet["use_char_features"] = True


def _read_lexical(entry: dict[str, Any], at: str, where: str, config: RasaConfig) -> None:
    options = _options(entry, LEXICAL_SYNTACTIC, where)
    config.diet.pop("lexical_features")  # without features: the default window, Rasa's too
    if "features" in options:
        window = options["features"]
        if not isinstance(window, list) or not all(isinstance(n, list) for n in window):
            raise RasaConfigError(f"{at}: features must be a list of lists, got {window!r}")
        spacy_only = sorted({name for names in window for name in names} & {"pos", "pos2"})
        if spacy_only:
            _ignore(config, at, "features", spacy_only, "no part-of-speech tags (no spaCy)")
        config.diet["lexical_features"] = [
            [name for name in names if name not in ("pos", "pos2")] for names in window
        ]
    config.mapped.append("LexicalSyntacticFeaturizer.features -> lexical_features")


def _read_count_vectors(entry: dict[str, Any], at: str, where: str, config: RasaConfig) -> None:
    changed = _options(entry, COUNT_VECTORS, where)
    options = {**COUNT_VECTORS, **changed}
    analyzer = options["analyzer"]
    if analyzer not in ("word", "char", "char_wb"):
        raise RasaConfigError(f"{at}: analyzer must be word, char or char_wb, got {analyzer!r}")
    diet = config.diet
    if analyzer == "word":
        diet["use_word_features"] = True
        if options["max_features"] is not None:
            diet["max_word_features"] = options["max_features"]
        handled = {"analyzer", "max_features"}
        if (options["min_ngram"], options["max_ngram"]) != (1, 1):
            ngrams = [options["min_ngram"], options["max_ngram"]]
            _ignore(config, at, "min_ngram/max_ngram", ngrams, "single words, no word n-grams")
        handled |= {"min_ngram", "max_ngram"}
        config.mapped.append(
            "CountVectorsFeaturizer (word) -> use_word_features, max_word_features"
        )
    else:
        if analyzer == "char":
            _ignore(config, at, "analyzer", "char", "char_wb (n-grams within words)")
        diet["use_char_features"] = True
        diet["char_ngram_min"], diet["char_ngram_max"] = options["min_ngram"], options["max_ngram"]
        if options["max_features"] is not None:
            diet["max_char_features"] = options["max_features"]
        handled = {"analyzer", "max_features", "min_ngram", "max_ngram"}
        config.mapped.append(
            "CountVectorsFeaturizer (char_wb) -> use_char_features, char_ngram_min, "
            "char_ngram_max, max_char_features"
        )
    for key in sorted(changed.keys() - handled):
        _ignore(config, at, key, changed[key], "lower-cased counts of the training vocabulary")


def _per_attribute(value: Any, attribute: str, at: str, key: str) -> Any:
    """A Rasa option that may be given per attribute ({text: 256, label: 20}): the one for
    ``attribute``."""
    if not isinstance(value, dict):
        return value
    if attribute not in value:
        raise RasaConfigError(f"{at}: {key} gives no value for {attribute!r}: {value!r}")
    return value[attribute]


def _read_diet(entry: dict[str, Any], at: str, where: str, config: RasaConfig) -> None:
    entry = dict(entry)
    if "model_confidence" in entry:
        value = entry.pop("model_confidence")
        if value != "softmax":
            raise RasaConfigError(
                f"{at}: model_confidence {value!r}: Rasa 3 accepts only 'softmax'"
            )
        config.mapped.append("DIETClassifier.model_confidence softmax -> softmax (always)")
    _read_keys(entry, at, where, config.diet, config, DIET_SAME_NAME, DIET_PER_ATTRIBUTE,
               DIET_NOT_IMPLEMENTED)  # fmt: skip


def _read_keys(
    entry: dict[str, Any],
    at: str,
    where: str,
    values: dict[str, Any],
    config: RasaConfig,
    same_name: tuple[str, ...],
    per_attribute: dict[str, str],
    not_implemented: dict[str, tuple[Any, str]],
) -> None:
    """A DIETClassifier's or TEDPolicy's options into ``values`` (the DIET or TED config):
    same-named keys as they are (Rasa's ``random_seed: null`` keeps diet-sparse's seed),
    per-attribute values for the attribute diet-sparse reads, the rest warned about unless at
    the value that means what diet-sparse does anyway."""
    name = entry["name"]
    known = {*same_name, *per_attribute, *not_implemented}
    for key, value in entry.items():
        if key == "name":
            continue
        if key not in known:
            raise _unknown(where, f"{name} option", key, known)
        if key in same_name:
            if not (key == "random_seed" and value is None):
                values[key] = value
                config.mapped.append(f"{name}.{key} -> {key}")
        elif key in per_attribute:
            attribute = per_attribute[key]
            values[key] = _per_attribute(value, attribute, at, key)
            config.mapped.append(f"{name}.{key} ({attribute}) -> {key}")
        elif value != not_implemented[key][0]:
            _ignore(config, at, key, value, not_implemented[key][1])


def _read_policies(policies: list[dict[str, Any]], where: str, config: RasaConfig) -> None:
    known = ("TEDPolicy", *RULE_POLICIES, *NOT_IMPLEMENTED_POLICIES)
    for i, entry in enumerate(policies):
        name, at = entry["name"], f"{where}: policies[{i}] {entry['name']}"
        if _left_out(name, at, where, "policy", known, NOT_IMPLEMENTED_POLICIES, config):
            continue
        if name == "TEDPolicy":
            _read_keys(entry, at, where, config.ted, config, TED_SAME_NAME, TED_PER_ATTRIBUTE,
                       TED_NOT_IMPLEMENTED)  # fmt: skip
        else:
            options = _options(entry, RULE_POLICIES[name], where)
            config.policies[name] = {**RULE_POLICIES[name], **options}
            given = {key: value for key, value in entry.items() if key != "name"}
            _read_rule_policy(name, given, at, config)
    # A policy that is not listed does not predict, as in Rasa.
    for name, key in (("RulePolicy", "rules"), ("MemoizationPolicy", "memoization")):
        listed = name in config.policies or (
            name == "MemoizationPolicy" and "AugmentedMemoizationPolicy" in config.policies
        )
        config.ted[key] = listed
        if name == "RulePolicy":
            config.ted["enable_fallback_prediction"] = listed and config.ted.get(
                "enable_fallback_prediction", True
            )
        config.mapped.append(f"{name} {'listed' if listed else 'not listed'} -> {key}: {listed}")


def _read_rule_policy(name: str, options: dict[str, Any], at: str, config: RasaConfig) -> None:
    """RulePolicy's and MemoizationPolicy's options (those ``options`` gives) onto the TED
    config's lookup keys."""
    ted = config.ted
    if name == "RulePolicy":
        for key in ("core_fallback_threshold", "core_fallback_action_name",
                    "enable_fallback_prediction"):  # fmt: skip
            ted[key] = config.policies[name][key]
            config.mapped.append(f"RulePolicy.{key} -> {key}")
        for key, does in (
            ("restrict_rules", "rules are not checked for what they may contain"),
            ("check_for_contradictions", "rules are not checked against stories"),
        ):
            if options.get(key):  # false is what diet-sparse does
                _ignore(config, at, key, options[key], does)
    else:
        if name == "AugmentedMemoizationPolicy":  # forgets old turns to find a match
            ted["augmented_memoization"] = True
            config.mapped.append(f"{name} -> augmented_memoization: true")
        if options.get("max_history") is not None:
            ted["memoization_max_history"] = options["max_history"]
            config.mapped.append(f"{name}.max_history -> memoization_max_history")
    if "priority" in options:
        _ignore(config, at, "priority", options["priority"],
                "rules, then memorized stories, then TED (Rasa's default order)")  # fmt: skip
