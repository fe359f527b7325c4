"""Model configuration: the hyper-parameters, their defaults, and validation of YAML configs.

Names follow Rasa's DIETClassifier where Rasa has one, so a Rasa user can carry values over.
Every value is checked before any training starts; errors name the key, the value and what is
allowed.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from diet_sparse.errors import ConfigError, RasaConfigWarning
from diet_sparse.rasa import config as rasa_config

# The featurizer's options are checked here, once, for the YAML config and for direct use of
# `Featurizer`: the lexical features it knows and Rasa's default window of them.
LEXICAL_FEATURE_NAMES: tuple[str, ...] = (
    "BOS",
    "EOS",
    "low",
    "upper",
    "title",
    "digit",
    "prefix2",
    "prefix3",
    "prefix5",
    "suffix1",
    "suffix2",
    "suffix3",
    "suffix5",
)
# Rasa's default window for LexicalSyntacticFeaturizer: previous, current and next token.
DEFAULT_LEXICAL_FEATURES: list[list[str]] = [
    ["low", "title", "upper"],
    ["BOS", "EOS", "low", "upper", "title", "digit"],
    ["low", "title", "upper"],
]


@dataclass
class DIETConfig:
    """Hyper-parameters of a diet-sparse model, named as in the YAML config."""

    # training
    epochs: int = 100  # passes over the training data
    batch_size: list[int] = field(default_factory=lambda: [64, 256])  # grows linearly per epoch
    learning_rate: float = 0.001  # Adam
    learning_rate_schedule: str = "constant"  # per epoch: constant, linear or cosine decay
    warmup_epochs: int = 0  # the learning rate rises linearly over this many first epochs
    ema_momentum: float | None = 0.99  # predict with a moving average of the weights; None: off
    random_seed: int = 42  # same seed + same data + same config = same predictions
    # architecture
    connection_density: float = 0.2  # fraction of connected weights in randomly connected layers
    connection_structure: str = "block"  # block (see connectivity.py) or random (Rasa's mask)
    fan_in_initialization: bool = True  # initial weights scaled for the connected inputs
    transformer_size: int = 256  # width of the encoder
    number_of_transformer_layers: int = 2
    number_of_attention_heads: int = 4
    use_key_relative_attention: bool = False  # relative position embeddings of keys (Shaw)
    use_value_relative_attention: bool = False  # ... and of values
    max_relative_position: int = 5  # relative positions are clipped to [-this, this]
    dense_dimension: int = 128  # sparse input features are projected to this many dimensions
    embedding_dimension: int = 20  # shared space of sentence and intent embeddings
    # feed-forward layers (widths) before the encoder (text) and before the intent embeddings
    # (label), as Rasa's; text layers are randomly connected at connection_density
    hidden_layers_sizes: dict[str, list[int]] = field(
        default_factory=lambda: {"text": [], "label": []}
    )
    number_of_negative_examples: int = 20  # intents contrasted with the true one per example
    scale_loss: bool = False  # weigh examples by how badly they are predicted (Rasa's)
    constrain_similarities: bool = False  # add a sigmoid loss on each similarity (Rasa's)
    contrast_inputs: bool = False  # also contrast the true label with other inputs (Rasa does)
    use_wide_path: bool = True  # add a logistic regression's intent scores (wide_path.py)
    wide_path_weight: float | str = "auto"  # ... times this; auto: by examples per intent
    ranking_length: int = 10  # intents listed in intent_ranking
    fallback_threshold: float | None = None  # below this top confidence: nlu_fallback; None: off
    ambiguity_threshold: float | None = None  # top two closer than this: nlu_fallback; None: off
    renormalize_confidences: bool = False  # the ranked intents' confidences rescaled to sum to 1
    # regularisation
    drop_rate: float = 0.2  # dropout in the encoder and of sparse input values
    use_sparse_input_dropout: bool = True  # drop_rate also on the sparse input values (Rasa's)
    use_dense_input_dropout: bool = False  # and on the pretrained sentence vector (Rasa: true)
    drop_rate_attention: float = 0.0  # dropout of attention weights
    regularization_constant: float = 0.002  # L2 weight of the kernels (see the next key)
    regularize_encoder_layers: bool = False  # ... the encoder blocks' too (Rasa: embedding only)
    # tasks
    intent_classification: bool = True
    entity_recognition: bool = True
    BILOU_flag: bool = True  # BILOU entity tags; False uses one tag per entity type
    constrain_entity_transitions: bool = True  # decode only well-formed BILOU spans
    use_masked_language_model: bool = False  # also predict masked input tokens (training only)
    split_entities_by_comma: bool | dict[str, bool] = True  # per type, or for all types
    # featurizers
    use_word_features: bool = True  # word counts
    use_char_features: bool = True  # char_wb n-gram counts
    char_ngram_min: int = 1
    char_ngram_max: int = 4
    max_word_features: int | None = 3000  # vocabulary cap (most frequent); None = no cap
    max_char_features: int | None = 7000
    lexical_features: list[list[str]] = field(
        default_factory=lambda: [list(window) for window in DEFAULT_LEXICAL_FEATURES]
    )  # features of the previous, current and next token
    use_regex_features: bool = True  # regex and lookup-table matches
    pretrained_encoder: str | None = None  # dense sentence features (the pretrained extra)
    pretrained_vector_in_network: bool = False  # the vector into the encoder too, not only wide

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TEDConfig:
    """Hyper-parameters of the dialogue policy, named (and, where noted, valued) as Rasa's
    TEDPolicy names them."""

    # featurization
    max_history: int | None = 5  # turns a prediction sees; None: all (Rasa's default: None)
    # training
    epochs: int = 100  # (Rasa's default is 1; its docs and suggested config use 100)
    batch_size: list[int] = field(default_factory=lambda: [64, 256])  # grows linearly per epoch
    learning_rate: float = 0.002  # Adam (Rasa: 0.001; see configs/ted.yml)
    learning_rate_schedule: str = "constant"  # per epoch: constant, linear or cosine decay
    warmup_epochs: int = 0  # the learning rate rises linearly over this many first epochs
    ema_momentum: float | None = None  # predict with a moving average of the weights; None: off
    random_seed: int = 42
    # architecture
    connection_density: float = 0.2  # of every randomly connected layer
    connection_structure: str = "random"  # random (Bernoulli mask) or block (see connectivity.py)
    fan_in_initialization: bool = True  # initial weights scaled for the connected inputs
    transformer_size: int = 128  # width of the dialogue transformer
    number_of_transformer_layers: int = 1
    number_of_attention_heads: int = 4
    encoding_dimension: int = 50  # intent, previous action and action labels are encoded to this
    dense_dimension: int = 20  # every turn attribute is first projected to this
    embedding_dimension: int = 20  # shared space of dialogue and action embeddings
    number_of_negative_examples: int = 20  # actions contrasted with the true one per example
    scale_loss: bool = False  # weigh examples by how badly they are predicted (Rasa's)
    constrain_similarities: bool = False  # add a sigmoid loss on each similarity (Rasa's)
    contrast_inputs: bool = True  # also contrast the true label with other inputs (Rasa does)
    ranking_length: int = 0  # actions listed in the scores; 0 = all
    # the policies that go before TED (Rasa's RulePolicy and MemoizationPolicy; see rules.py)
    rules: bool = True  # the training data's rules predict where they match
    memoization: bool = True  # so do the training stories' states (not the rules')
    memoization_max_history: int | None = 5  # newest states memoization compares; None: all
    augmented_memoization: bool = False  # forget old turns until a match (Rasa's Augmented...)
    augmentation_factor: int = 50  # TED also trains on glued stories (rasa train --augmentation)
    enable_fallback_prediction: bool = True  # below core_fallback_threshold, predict...
    core_fallback_threshold: float = 0.3  # ...core_fallback_action_name instead of TED's action
    core_fallback_action_name: str = "action_default_fallback"
    # regularisation
    drop_rate_dialogue: float = 0.1  # dropout in the dialogue transformer
    drop_rate_attention: float = 0.0
    regularization_constant: float = 0.0  # L2 weight of all kernels (Rasa's: 0.001, see ted.yml)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# How the learning rate changes from epoch to epoch (see training/batching.py).
LEARNING_RATE_SCHEDULES: tuple[str, ...] = ("constant", "linear", "cosine")
# How randomly connected weights are laid out (see connectivity.py).
CONNECTION_STRUCTURES: tuple[str, ...] = ("random", "block")

# key -> (allowed types, check of the value, description of what is allowed)
_INT, _FLOAT, _BOOL = (int,), (int, float), (bool,)
_RULES: dict[str, tuple[tuple[type, ...], Any, str]] = {
    "epochs": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "learning_rate": (_FLOAT, lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "learning_rate_schedule": (
        (str,),
        lambda v: v in LEARNING_RATE_SCHEDULES,
        "one of " + ", ".join(LEARNING_RATE_SCHEDULES),
    ),
    "warmup_epochs": (_INT, lambda v: v >= 0, "an integer >= 0"),
    "random_seed": (_INT, lambda v: v >= 0, "an integer >= 0"),
    "ema_momentum": (
        _FLOAT + (type(None),),
        lambda v: v is None or 0 < v < 1,
        "null or a number in (0, 1)",
    ),
    "connection_density": (_FLOAT, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "connection_structure": (
        (str,),
        lambda v: v in CONNECTION_STRUCTURES,
        "one of " + ", ".join(CONNECTION_STRUCTURES),
    ),
    "transformer_size": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "number_of_transformer_layers": (_INT, lambda v: v >= 0, "an integer >= 0"),
    "number_of_attention_heads": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "use_key_relative_attention": (_BOOL, lambda v: True, "true or false"),
    "use_value_relative_attention": (_BOOL, lambda v: True, "true or false"),
    "max_relative_position": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "dense_dimension": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "embedding_dimension": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "number_of_negative_examples": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "scale_loss": (_BOOL, lambda v: True, "true or false"),
    "constrain_similarities": (_BOOL, lambda v: True, "true or false"),
    "contrast_inputs": (_BOOL, lambda v: True, "true or false"),
    "ranking_length": (_INT, lambda v: v >= 0, "an integer >= 0 (0 lists all intents)"),
    "fallback_threshold": (
        _FLOAT + (type(None),),
        lambda v: v is None or 0 <= v <= 1,
        "null or a number in [0, 1]",
    ),
    "ambiguity_threshold": (
        _FLOAT + (type(None),),
        lambda v: v is None or 0 <= v <= 1,
        "null or a number in [0, 1]",
    ),
    "renormalize_confidences": (_BOOL, lambda v: True, "true or false"),
    "use_sparse_input_dropout": (_BOOL, lambda v: True, "true or false"),
    "use_dense_input_dropout": (_BOOL, lambda v: True, "true or false"),
    "drop_rate": (_FLOAT, lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "drop_rate_attention": (_FLOAT, lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "regularization_constant": (_FLOAT, lambda v: v >= 0, "a number >= 0"),
    "regularize_encoder_layers": (_BOOL, lambda v: True, "true or false"),
    "intent_classification": (_BOOL, lambda v: True, "true or false"),
    "entity_recognition": (_BOOL, lambda v: True, "true or false"),
    "BILOU_flag": (_BOOL, lambda v: True, "true or false"),
    "constrain_entity_transitions": (_BOOL, lambda v: True, "true or false"),
    "use_masked_language_model": (_BOOL, lambda v: True, "true or false"),
    "use_wide_path": (_BOOL, lambda v: True, "true or false"),
    "wide_path_weight": (
        _FLOAT + (str,),
        lambda v: v == "auto" if isinstance(v, str) else v >= 0,
        "a number >= 0 or auto",
    ),
    "use_word_features": (_BOOL, lambda v: True, "true or false"),
    "use_char_features": (_BOOL, lambda v: True, "true or false"),
    "char_ngram_min": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "char_ngram_max": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "max_word_features": (_INT + (type(None),), lambda v: v is None or v >= 1, "null or >= 1"),
    "max_char_features": (_INT + (type(None),), lambda v: v is None or v >= 1, "null or >= 1"),
    "use_regex_features": (_BOOL, lambda v: True, "true or false"),
    "pretrained_encoder": (
        (str, type(None)),
        lambda v: v is None or bool(v),
        "null or the name of a pretrained encoder (minilm-l6, use-m3)",
    ),
    "pretrained_vector_in_network": (_BOOL, lambda v: True, "true or false"),
    "max_history": (_INT + (type(None),), lambda v: v is None or v >= 1, "null or an integer >= 1"),
    "encoding_dimension": (_INT, lambda v: v >= 1, "an integer >= 1"),
    "rules": (_BOOL, lambda v: True, "true or false"),
    "memoization": (_BOOL, lambda v: True, "true or false"),
    "memoization_max_history": (
        _INT + (type(None),),
        lambda v: v is None or v >= 1,
        "null or an integer >= 1",
    ),
    "augmented_memoization": (_BOOL, lambda v: True, "true or false"),
    "augmentation_factor": (_INT, lambda v: v >= 0, "an integer >= 0"),
    "enable_fallback_prediction": (_BOOL, lambda v: True, "true or false"),
    "core_fallback_threshold": (_FLOAT, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "core_fallback_action_name": ((str,), lambda v: bool(v), "the name of an action"),
    "fan_in_initialization": (_BOOL, lambda v: True, "true or false"),
    "drop_rate_dialogue": (_FLOAT, lambda v: 0 <= v < 1, "a number in [0, 1)"),
}
_VALID_KEYS = {kind: [f.name for f in fields(kind)] for kind in (DIETConfig, TEDConfig)}
_DEPRECATED_WEIGHT_SPARSITY = "weight_sparsity"


def _check_value(key: str, value: Any, where: str) -> None:
    if key == "batch_size":
        sizes = value if isinstance(value, list) else [value]
        if not (
            1 <= len(sizes) <= 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)
        ):
            raise ConfigError(
                f"{where}: batch_size must be an integer >= 1 or a list [start, end] of two "
                f"such integers, got {value!r}"
            )
        return
    if key == "lexical_features":
        check_lexical_features(value, where)
        return
    if key == "hidden_layers_sizes":
        check_hidden_layers_sizes(value, where)
        return
    if key == "split_entities_by_comma":
        if not isinstance(value, bool) and not (
            isinstance(value, dict)
            and all(isinstance(k, str) and isinstance(v, bool) for k, v in value.items())
        ):
            raise ConfigError(
                f"{where}: split_entities_by_comma must be true, false or a mapping of entity "
                f"type to true/false (e.g. {{address: false}}), got {value!r}"
            )
        return
    types, is_allowed, allowed = _RULES[key]
    type_ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not type_ok or not is_allowed(value):
        raise ConfigError(f"{where}: {key} must be {allowed}, got {value!r}")


HIDDEN_LAYER_ATTRIBUTES = ("text", "label")


def check_hidden_layers_sizes(value: Any, where: str = "hidden_layers_sizes") -> dict:
    """``hidden_layers_sizes`` checked and completed: a mapping of ``text`` and/or ``label`` to
    a list of layer widths (integers >= 1); a missing attribute gets no layers.

    Example:
        >>> check_hidden_layers_sizes({"text": [256, 128]})
        {'text': [256, 128], 'label': []}
    """
    expected = (
        "a mapping of text and/or label to a list of layer widths (integers >= 1), "
        "e.g. {text: [256, 128], label: []}"
    )
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: hidden_layers_sizes must be {expected}, got {value!r}")
    for attribute, sizes in value.items():
        if attribute not in HIDDEN_LAYER_ATTRIBUTES:
            raise ConfigError(
                f"{where}: hidden_layers_sizes has unknown attribute {attribute!r}; expected "
                f"{' or '.join(HIDDEN_LAYER_ATTRIBUTES)}"
            )
        if not isinstance(sizes, list) or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in sizes
        ):
            raise ConfigError(
                f"{where}: hidden_layers_sizes.{attribute} must be a list of layer widths "
                f"(integers >= 1), got {sizes!r}"
            )
    return {attribute: list(value.get(attribute, [])) for attribute in HIDDEN_LAYER_ATTRIBUTES}


def check_connection_density(value: Any, where: str = "RandomlyConnectedDense") -> float:
    """``connection_density`` checked: a number in [0, 1]."""
    _check_value("connection_density", value, where)
    return float(value)


def check_heads_divide_size(size: int, heads: int, where: str = "TransformerEncoder") -> None:
    """Attention heads split the transformer's width evenly, or not at all."""
    if size % heads:
        raise ConfigError(
            f"{where}: transformer_size ({size}) must be divisible by "
            f"number_of_attention_heads ({heads})"
        )


def check_lexical_features(value: Any, where: str = "lexical_features") -> list[list[str]]:
    """The lexical feature window, checked: an odd number of lists of known feature names (the
    middle list is the current token), or [] for none. Names listed twice at one position are
    kept once.

    Example:
        >>> check_lexical_features([["low"], ["BOS", "title", "BOS"], ["low"]])
        [['low'], ['BOS', 'title'], ['low']]
    """
    if not isinstance(value, list | tuple) or any(
        not isinstance(window, list | tuple) for window in value
    ):
        raise ConfigError(
            f"{where}: lexical_features must be a list of lists of feature names, one list per "
            f"window position, e.g. [[low], [BOS, title], [low]], or [] for none; got {value!r}"
        )
    if len(value) % 2 == 0 and value:
        raise ConfigError(
            f"{where}: lexical_features must have an odd number of window positions (the "
            f"middle one is the current token), got {len(value)}"
        )
    for window in value:
        unknown = [name for name in window if name not in LEXICAL_FEATURE_NAMES]
        if unknown:
            raise ConfigError(
                f"{where}: lexical_features has unknown feature {unknown[0]!r}; valid "
                f"features are: {', '.join(LEXICAL_FEATURE_NAMES)}"
            )
    return [list(dict.fromkeys(window)) for window in value]


def check_featurizer_options(values: dict[str, Any], where: str = "featurizer") -> None:
    """Check featurizer options (keys of `DIETConfig`): each value, and min <= max n-gram."""
    for key, value in values.items():
        _check_value(key, value, where)
    low, high = values.get("char_ngram_min", 1), values.get("char_ngram_max", 4)
    if low > high:
        raise ConfigError(
            f"{where}: char_ngram_min ({low}) must not exceed char_ngram_max ({high})"
        )


def resolve_config(
    values: dict[str, Any] | None = None, where: str = "config", kind: type = DIETConfig
) -> Any:
    """Check user values against the known keys and ranges of a config ``kind`` (`DIETConfig`
    or `TEDConfig`) and fill in the defaults.

    Example:
        >>> resolve_config({"epochs": 5}).epochs
        5
        >>> resolve_config({"max_history": None}, kind=TEDConfig).transformer_size
        128
        >>> resolve_config({"weight_sparsity": 0.9}).connection_density  # doctest: +SKIP
        0.1
    """
    values = dict(values or {})
    if not all(isinstance(k, str) for k in values):
        raise ConfigError(f"{where}: keys must be strings, got {list(values)!r}")
    if _DEPRECATED_WEIGHT_SPARSITY in values:
        if "connection_density" in values:
            raise ConfigError(
                f"{where}: give connection_density or the deprecated weight_sparsity, not both"
            )
        sparsity = values.pop(_DEPRECATED_WEIGHT_SPARSITY)
        _check_value("connection_density", sparsity, where)
        warnings.warn(
            f"{where}: weight_sparsity is deprecated (Rasa <= 2.5); use "
            f"connection_density: {1 - sparsity:g} (= 1 - weight_sparsity) instead",
            FutureWarning,
            stacklevel=2,
        )
        values["connection_density"] = 1.0 - sparsity
    valid_keys = _VALID_KEYS[kind]
    for key, value in values.items():
        if key not in valid_keys:
            close = difflib.get_close_matches(key, valid_keys, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{where}: unknown key {key!r}.{hint} Valid keys: {', '.join(valid_keys)}"
            )
        _check_value(key, value, where)
    config = kind(**values)
    if isinstance(config.batch_size, int):
        config.batch_size = [config.batch_size, config.batch_size]
    elif len(config.batch_size) == 1:
        config.batch_size = config.batch_size * 2
    check_heads_divide_size(config.transformer_size, config.number_of_attention_heads, where)
    if kind is TEDConfig:
        return config
    config.hidden_layers_sizes = check_hidden_layers_sizes(config.hidden_layers_sizes, where)
    check_featurizer_options(
        {"char_ngram_min": config.char_ngram_min, "char_ngram_max": config.char_ngram_max}, where
    )
    if not (config.intent_classification or config.entity_recognition):
        raise ConfigError(f"{where}: intent_classification and entity_recognition are both off")
    if not (config.use_word_features or config.use_char_features):
        raise ConfigError(f"{where}: use_word_features and use_char_features are both off")
    if config.pretrained_encoder and not (
        config.pretrained_vector_in_network
        or (config.use_wide_path and config.intent_classification)
    ):
        raise ConfigError(
            f"{where}: pretrained_vector_in_network: false sends {config.pretrained_encoder}'s "
            "vector only to the wide path, which is off here (use_wide_path or "
            "intent_classification false): set pretrained_vector_in_network: true"
        )
    return config


def load_config(path: str | Path | None, kind: type = DIETConfig) -> Any:
    """Read a YAML config file (a mapping of the keys of ``kind``); None gives defaults."""
    if path is None:
        return kind()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {error}") from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config must be a mapping of key: value, got {values!r}")
    if rasa_config.is_rasa_config(values):
        try:
            translated = rasa_config.translate(values, where=str(path))
        except rasa_config.RasaConfigError as error:
            raise ConfigError(str(error)) from None
        for message in translated.ignored:
            warnings.warn(message, RasaConfigWarning, stacklevel=2)
        values = translated.ted if kind is TEDConfig else translated.diet
        return resolve_config(values, where=f"{path} (Rasa's config, as diet-sparse's)", kind=kind)
    return resolve_config(values, where=str(path), kind=kind)


def rasa_config_report(path: str | Path) -> dict[str, Any] | None:
    """What `load_config` mapped and ignored of a Rasa config.yml at ``path``, for a model's
    metadata; None for a diet-sparse config (or no file)."""
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not rasa_config.is_rasa_config(values):
        return None
    return rasa_config.translate(values, where=str(path)).report()


ConfigLike = DIETConfig | TEDConfig | dict[str, Any] | str | Path | None


def as_config(config: ConfigLike, kind: type = DIETConfig) -> Any:
    """A validated config of ``kind`` (`DIETConfig` or `TEDConfig`) from a config object, a
    dict of values, a YAML path or None (the defaults).

    Example:
        >>> as_config({"epochs": 3}).epochs, as_config(None).epochs
        (3, 100)
        >>> as_config({"max_history": 10}, kind=TEDConfig).max_history
        10
    """
    if isinstance(config, DIETConfig | TEDConfig):
        if not isinstance(config, kind):
            raise ConfigError(f"expected a {kind.__name__}, got a {type(config).__name__}")
        return resolve_config(config.to_dict(), kind=kind)
    if isinstance(config, dict):
        return resolve_config(config, kind=kind)
    return load_config(config, kind=kind)
