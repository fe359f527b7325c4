"""Rasa 3's config.yml read as diet-sparse's DIET and TED configs (issue 13, first part)."""

from __future__ import annotations

import warnings

import pytest

from diet_sparse.config import (
    ConfigError,
    DIETConfig,
    RasaConfigWarning,
    TEDConfig,
    load_config,
    rasa_config_report,
)
from diet_sparse.rasa.config import translate

# The config `rasa init` suggests (Rasa 3.6), as a Rasa user's project holds it.
RASA_INIT_CONFIG = """\
recipe: default.v1
assistant_id: 20230601-101112-brisk-dome
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    constrain_similarities: true
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100
    constrain_similarities: true
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: UnexpecTEDIntentPolicy
    max_history: 5
    epochs: 100
  - name: TEDPolicy
    max_history: 5
    epochs: 100
    constrain_similarities: true
"""


def write(tmp_path, text: str):
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def load_quietly(path, kind=DIETConfig):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = load_config(path, kind=kind)
    return config, [str(w.message) for w in caught if issubclass(w.category, RasaConfigWarning)]


def test_rasa_init_config_trains_both_models_with_its_values(tmp_path):
    path = write(tmp_path, RASA_INIT_CONFIG)
    diet, messages = load_quietly(path)
    assert diet.epochs == 100 and diet.constrain_similarities
    assert diet.fallback_threshold == 0.3 and diet.ambiguity_threshold == 0.1
    assert diet.use_word_features and diet.use_char_features and diet.use_regex_features
    assert (diet.char_ngram_min, diet.char_ngram_max) == (1, 4)
    assert diet.lexical_features == DIETConfig().lexical_features  # Rasa's default window
    ted, _ = load_quietly(path, TEDConfig)
    assert (ted.max_history, ted.epochs, ted.constrain_similarities) == (5, 100, True)
    # what diet-sparse leaves out is said once each, naming it
    assert any("ResponseSelector" in m and "not implemented" in m for m in messages)
    assert any("UnexpecTEDIntentPolicy" in m for m in messages)
    # MemoizationPolicy and RulePolicy with Rasa's defaults, before TED
    assert (ted.rules, ted.memoization, ted.enable_fallback_prediction) == (True, True, True)
    assert (ted.core_fallback_threshold, ted.core_fallback_action_name) == (
        0.3,
        "action_default_fallback",
    )
    assert not any("RulePolicy" in m or "MemoizationPolicy" in m for m in messages)


def test_rule_and_memoization_options_and_policies_left_out(tmp_path):
    path = write(
        tmp_path,
        "policies:\n  - name: AugmentedMemoizationPolicy\n    max_history: 3\n"
        "  - name: TEDPolicy\n    epochs: 3\n",
    )
    ted, messages = load_quietly(path, TEDConfig)
    assert (ted.memoization, ted.memoization_max_history) == (True, 3)
    assert ted.augmented_memoization
    assert not ted.rules and not ted.enable_fallback_prediction  # no RulePolicy listed
    assert not any("read as MemoizationPolicy" in m for m in messages)
    path = write(
        tmp_path,
        "policies:\n  - name: RulePolicy\n    core_fallback_threshold: 0.4\n"
        "    core_fallback_action_name: action_my_fallback\n    check_for_contradictions: true\n"
        "  - name: TEDPolicy\n",
    )
    ted, messages = load_quietly(path, TEDConfig)
    assert (ted.rules, ted.memoization) == (True, False)
    assert (ted.core_fallback_threshold, ted.core_fallback_action_name) == (
        0.4,
        "action_my_fallback",
    )
    assert [m for m in messages if "check_for_contradictions" in m] == [
        f"{path}: policies[0] RulePolicy: check_for_contradictions: True is not implemented; "
        "diet-sparse: rules are not checked against stories"
    ]


def test_the_pipeline_decides_which_features_diet_uses(tmp_path):
    path = write(
        tmp_path,
        "pipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
        "    analyzer: char_wb\n    min_ngram: 2\n    max_ngram: 5\n    max_features: 500\n"
        "  - name: DIETClassifier\n    epochs: 7\n    transformer_size: {text: 128, label: 20}\n"
        "    number_of_transformer_layers: 1\n    random_seed: 3\n"
        "    renormalize_confidences: true\n",
    )
    config, _ = load_quietly(path)
    assert not config.use_word_features and config.use_char_features
    assert (config.char_ngram_min, config.char_ngram_max, config.max_char_features) == (2, 5, 500)
    assert not config.use_regex_features and config.lexical_features == []
    assert (config.epochs, config.transformer_size, config.number_of_transformer_layers) == (
        7,
        128,
        1,
    )
    assert config.random_seed == 3 and config.renormalize_confidences
    assert config.fallback_threshold is None  # no FallbackClassifier: no fallback


def test_diet_s_hidden_layers_sizes_is_read_under_its_rasa_name(tmp_path):
    path = write(
        tmp_path,
        "pipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
        "  - name: DIETClassifier\n    hidden_layers_sizes: {text: [256, 128]}\n",
    )
    config, messages = load_quietly(path)
    assert config.hidden_layers_sizes == {"text": [256, 128], "label": []}
    assert not any("hidden_layers_sizes" in m for m in messages)


def test_keys_rasa_has_but_diet_sparse_does_not_implement_warn_once_each(tmp_path):
    path = write(
        tmp_path,
        "pipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
        "  - name: DIETClassifier\n    share_hidden_layers: true\n"
        "    tensorboard_log_directory: ./tb\n    loss_type: cross_entropy\n"
        "  - name: SpacyNLP\n",
    )
    _, messages = load_quietly(path)
    for name in ("share_hidden_layers", "tensorboard_log_directory", "SpacyNLP"):
        assert sum(name in m for m in messages) == 1, (name, messages)
    assert not any("loss_type" in m for m in messages)  # Rasa's default = what diet-sparse does
    assert all(str(path) in m for m in messages)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pipeline:\n  - name: DIETClasifier\n", "Did you mean 'DIETClassifier'"),
        ("pipeline:\n  - name: DIETClassifier\n    epocs: 3\n", "Did you mean 'epochs'"),
        ("pipeline:\n  - name: CountVectorsFeaturizer\n    anlyzer: char\n", "'analyzer'"),
        ("policies:\n  - name: TEDPolcy\n", "Did you mean 'TEDPolicy'"),
        ("recipe: graph.v2\n", "recipe 'graph.v2'"),
        ("pipelines: []\nlanguage: en\n", "Did you mean 'pipeline'"),
        ("polices: []\nversion: '3.1'\n", "Did you mean 'policies'"),
        ("version: 3.1\n", 'version must be a string, such as version: "3.1"'),
        ("pipeline: WhitespaceTokenizer\n", "must be a list"),
        ("pipeline:\n  - WhitespaceTokenizer\n", "pipeline[0] must be a mapping with a name"),
        ("pipeline:\n  - name: DIETClassifier\n    model_confidence: cosine\n", "softmax"),
        ("pipeline:\n  - name: DIETClassifier\n    epochs: -1\n", "epochs"),
    ],
)
def test_what_rasa_would_reject_is_a_one_line_error(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_quietly(path)
    message = str(error.value)
    assert expected in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("empty", ["pipeline:\npolicies:\n", "pipeline: []\npolicies: []\n", ""])
def test_empty_pipeline_and_policies_are_rasa_s_default_configuration(tmp_path, empty):
    # `rasa train` fills a missing or empty section from its default_config.yml, which is
    # what `rasa init` writes (RASA_INIT_CONFIG): the same configs, said once per section.
    path = write(tmp_path, f'version: "3.1"\nrecipe: default.v1\nlanguage: en\n{empty}')
    diet, messages = load_quietly(path)
    ted, _ = load_quietly(path, TEDConfig)
    assert (diet.fallback_threshold, diet.ambiguity_threshold) == (0.3, 0.1)  # nlu_fallback
    assert ted.max_history == 5 and ted.constrain_similarities
    assert (ted.rules, ted.memoization) == (True, True)
    (tmp_path / "init").mkdir()
    explicit = write(tmp_path / "init", RASA_INIT_CONFIG)
    assert diet == load_quietly(explicit)[0] and ted == load_quietly(explicit, TEDConfig)[0]
    for section in ("pipeline", "policies"):
        said = [m for m in messages if f"configuration for {section} was chosen automatically" in m]
        assert len(said) == 1, messages
    assert "ResponseSelector left out" in " ".join(messages)
    assert "UnexpecTEDIntentPolicy left out" in " ".join(messages)
    assert rasa_config_report(path)["auto_configured"] == ["pipeline", "policies"]


def test_a_given_section_is_not_auto_configured(tmp_path):
    path = write(
        tmp_path, "pipeline:\n  - name: CountVectorsFeaturizer\n  - name: DIETClassifier\n"
    )
    diet, messages = load_quietly(path)
    assert diet.fallback_threshold is None  # no FallbackClassifier listed: none, as in Rasa
    assert not any("configuration for pipeline" in m for m in messages)
    assert rasa_config_report(path)["auto_configured"] == ["policies"]


def test_rasa_s_top_level_keys_are_accepted(tmp_path):
    path = write(tmp_path, 'version: "3.1"\n' + RASA_INIT_CONFIG)
    diet, messages = load_quietly(path)
    assert diet.fallback_threshold == 0.3
    assert not any("version" in m or "assistant_id" in m for m in messages)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('version: "4.0"\npipeline:\n', "newer than Rasa 3.6's 3.1"),
        ("assistant_id: placeholder_default\n", "unique value for the 'assistant_id'"),
        ("language: en\n", "unique value for the 'assistant_id'"),
        ("importers:\n  - name: RasaFileImporter\npipeline:\n", "importers is not implemented"),
        ("my_team_notes: see wiki\npipeline:\n", "top-level key 'my_team_notes' is not Rasa's"),
        ("language: zh\n", "language 'zh': diet-sparse's features are language-independent"),
        (
            "language: zh\npipeline:\n  - name: JiebaTokenizer\n  - name: DIETClassifier\n",
            "JiebaTokenizer is not implemented and is left out; diet-sparse: no Jieba words: "
            "one token per Chinese character",
        ),
    ],
)
def test_what_rasa_accepts_and_diet_sparse_reads_differently_warns(tmp_path, text, expected):
    path = write(tmp_path, text)
    _, messages = load_quietly(path)
    assert sum(expected in m for m in messages) == 1, messages


def test_the_report_records_what_was_mapped_and_ignored(tmp_path):
    path = write(tmp_path, RASA_INIT_CONFIG)
    report = rasa_config_report(path)
    assert "DIETClassifier.constrain_similarities -> constrain_similarities" in report["mapped"]
    assert any("ResponseSelector" in line for line in report["ignored"])
    assert set(report["policies"]) == {"MemoizationPolicy", "RulePolicy"}
    assert rasa_config_report(write(tmp_path, "epochs: 3\n")) is None  # diet-sparse's own


def test_part_of_speech_features_are_dropped_with_a_warning():
    config = translate(
        {
            "pipeline": [
                {"name": "CountVectorsFeaturizer"},
                {"name": "LexicalSyntacticFeaturizer", "features": [["low", "pos"], ["BOS"]]},
            ]
        }
    )
    assert config.diet["lexical_features"] == [["low"], ["BOS"]]
    assert any("part-of-speech" in line for line in config.ignored)


def test_a_model_trained_from_a_rasa_config_records_the_translation(tmp_path, example_data):
    from diet_sparse.training import train

    path = write(
        tmp_path,
        "recipe: default.v1\nlanguage: en\npipeline:\n  - name: WhitespaceTokenizer\n"
        "  - name: CountVectorsFeaturizer\n  - name: DIETClassifier\n    epochs: 2\n"
        "    transformer_size: 16\n    number_of_transformer_layers: 1\n"
        "    number_of_attention_heads: 2\n    dense_dimension: {text: 16, label: 20}\n"
        "    tensorboard_log_directory: ./tb\n",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RasaConfigWarning)
        nlu = train(example_data, path, progress=False)
    assert nlu.config.transformer_size == 16 and nlu.config.dense_dimension == 16
    recorded = nlu.metadata["rasa_config"]
    assert "DIETClassifier.epochs -> epochs" in recorded["mapped"]
    assert any("tensorboard_log_directory" in line for line in recorded["ignored"])
