"""Model configs: defaults, YAML loading, validation of every key (one rule each), did-you-mean."""

import re
from pathlib import Path

import pytest

from diet_sparse.config import ConfigError, DIETConfig, load_config, resolve_config

CONFIGS = Path(__file__).parent.parent / "configs"


def write(tmp_path, text):
    path = tmp_path / "config.yml"
    path.write_text(text)
    return path


def test_defaults_follow_rasa_diet():
    config = DIETConfig()
    assert config.number_of_transformer_layers == 2
    assert config.transformer_size == 256
    assert config.number_of_attention_heads == 4
    assert config.connection_density == 0.2
    assert config.embedding_dimension == 20
    assert config.batch_size == [64, 256]


def test_shipped_configs_load_and_document_every_key():
    default = load_config(CONFIGS / "default.yml")
    assert default == DIETConfig()
    assert load_config(CONFIGS / "dense.yml").connection_density == 1.0
    text = (CONFIGS / "default.yml").read_text()
    for key in DIETConfig().to_dict():
        assert f"\n{key}:" in text, f"configs/default.yml does not document {key}"


def test_unknown_key_lists_valid_keys_and_suggests(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "epoch: 5\n"))
    message = str(error.value)
    assert "unknown key 'epoch'" in message
    assert "Did you mean 'epochs'?" in message
    assert "connection_density" in message
    assert "config.yml" in message


@pytest.mark.parametrize(
    "text, key, shown",
    [
        ("epochs: 0", "epochs", "got 0"),
        ("epochs: ten", "epochs", "'ten'"),
        ("connection_density: 1.5", "connection_density", "1.5"),
        ("connection_density: true", "connection_density", "True"),
        ("drop_rate: 1.0", "drop_rate", "1.0"),
        ("batch_size: [64, 0]", "batch_size", "[64, 0]"),
        ("BILOU_flag: 1", "BILOU_flag", "got 1"),
        ("lexical_features: [[low], [nope], [low]]", "lexical_features", "'nope'"),
        ("max_relative_position: 0", "max_relative_position", "got 0"),
        ("max_relative_position: 2.5", "max_relative_position", "got 2.5"),
        ("max_relative_position: true", "max_relative_position", "got True"),
        ("use_key_relative_attention: 1", "use_key_relative_attention", "got 1"),
        ("split_entities_by_comma: yes please", "split_entities_by_comma", "'yes please'"),
        ("split_entities_by_comma: {address: 0}", "split_entities_by_comma", "{'address': 0}"),
        ("hidden_layers_sizes: [256]", "hidden_layers_sizes", "[256]"),
        ("hidden_layers_sizes: {txt: [256]}", "hidden_layers_sizes", "'txt'"),
        ("hidden_layers_sizes: {text: 256}", "hidden_layers_sizes.text", "got 256"),
        ("hidden_layers_sizes: {label: [0]}", "hidden_layers_sizes.label", "got [0]"),
        ("hidden_layers_sizes: {text: [true]}", "hidden_layers_sizes.text", "got [True]"),
    ],
)
def test_bad_values_name_key_and_value(tmp_path, text, key, shown):
    with pytest.raises(ConfigError, match=key) as error:
        load_config(write(tmp_path, text + "\n"))
    assert shown in str(error.value)


def test_hidden_layers_sizes_default_to_none_and_a_missing_attribute_has_none():
    assert DIETConfig().hidden_layers_sizes == {"text": [], "label": []}
    config = resolve_config({"hidden_layers_sizes": {"label": [64]}})
    assert config.hidden_layers_sizes == {"text": [], "label": [64]}


def test_relative_attention_has_rasas_keys_and_a_misspelling_is_pointed_to_them():
    config = DIETConfig()
    assert not config.use_key_relative_attention and not config.use_value_relative_attention
    assert config.max_relative_position == 5
    values = {"use_value_relative_attention": True, "max_relative_position": 3}
    assert resolve_config(values).max_relative_position == 3
    with pytest.raises(ConfigError, match="Did you mean 'max_relative_position'"):
        resolve_config({"max_relative_positions": 3})


def test_weight_sparsity_is_a_deprecated_alias():
    with pytest.warns(FutureWarning, match="weight_sparsity is deprecated"):
        config = resolve_config({"weight_sparsity": 0.9})
    assert config.connection_density == pytest.approx(0.1)


def test_weight_sparsity_with_connection_density_is_an_error():
    with pytest.raises(ConfigError, match="not both"):
        resolve_config({"weight_sparsity": 0.8, "connection_density": 0.2})


def test_yaml_syntax_error_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match="line 2"):
        load_config(write(tmp_path, "epochs: 5\nbatch_size: [64\n"))


def test_batch_size_integer_becomes_constant_range():
    assert resolve_config({"batch_size": 32}).batch_size == [32, 32]


def test_a_vector_for_the_wide_path_only_needs_a_wide_path():
    only_wide = {"pretrained_encoder": "use-m3", "pretrained_vector_in_network": False}
    assert resolve_config(only_wide).pretrained_vector_in_network is False
    for off in ({"use_wide_path": False}, {"intent_classification": False}):
        with pytest.raises(ConfigError, match="pretrained_vector_in_network: false.*wide path"):
            resolve_config({**only_wide, **off}, where="config.yml")
    assert resolve_config({"use_wide_path": False, "pretrained_vector_in_network": False})


def test_heads_must_divide_size():
    with pytest.raises(ConfigError, match="divisible"):
        resolve_config({"transformer_size": 30, "number_of_attention_heads": 4})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")


def test_lexical_feature_names_are_the_features_the_featurizer_computes():
    from diet_sparse.config import LEXICAL_FEATURE_NAMES
    from diet_sparse.nlu import featurizer

    computed = featurizer._POSITION_FEATURES, featurizer._TEXT_FEATURES, featurizer._AFFIX_FEATURES
    assert sorted(LEXICAL_FEATURE_NAMES) == sorted(name for group in computed for name in group)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"char_ngram_min": 3, "char_ngram_max": 2}, "char_ngram_min (3) must not exceed"),
        ({"max_word_features": 0}, "max_word_features must be null or >= 1"),
        ({"lexical_features": [["low"], ["nope"], ["low"]]}, "unknown feature 'nope'"),
    ],
)
def test_config_and_featurizer_check_options_with_one_rule(values, message):
    from diet_sparse.nlu.featurizer import Featurizer

    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(values)
    with pytest.raises(ConfigError, match=re.escape(message)):
        Featurizer(**values)


def test_ted_config_has_rasa_defaults_and_the_same_validation():
    from diet_sparse.config import TEDConfig, as_config

    config = as_config(None, kind=TEDConfig)
    assert (config.transformer_size, config.number_of_transformer_layers) == (128, 1)
    assert (config.encoding_dimension, config.dense_dimension, config.embedding_dimension) == (
        50,
        20,
        20,
    )
    assert config.connection_density == 0.2 and config.drop_rate_dialogue == 0.1
    with pytest.raises(ConfigError, match="unknown key 'max_histroy'. Did you mean 'max_history'"):
        as_config({"max_histroy": 5}, kind=TEDConfig)
    with pytest.raises(ConfigError, match="max_history must be null or an integer >= 1, got 0"):
        as_config({"max_history": 0}, kind=TEDConfig)
    with pytest.raises(ConfigError, match="unknown key 'drop_rate_dialogue'"):
        as_config({"drop_rate_dialogue": 0.1})  # a TED key is not a DIET key
    with pytest.raises(ConfigError, match="expected a TEDConfig, got a DIETConfig"):
        as_config(as_config(None), kind=TEDConfig)
