"""Tests for the training data reader: entity markup, Rasa 3 YAML files, errors and warnings."""

import doctest
import textwrap
import warnings
from pathlib import Path

import pytest

import diet_sparse.rasa.nlu_data
from diet_sparse.nlu.tagging import warn_about_entities_off_token_boundaries
from diet_sparse.rasa.nlu_data import (
    EntityAnnotation,
    LookupTable,
    RegexPattern,
    TrainingDataError,
    TrainingDataWarning,
    load_training_data,
    parse_markup,
)

REPO_DATA = Path(__file__).parents[2] / "data"
SHARED_DATASETS = Path(__file__).parents[3] / "shared" / "datasets"


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return path


def intent_file(directory: Path, name: str, intent: str, *examples: str) -> Path:
    lines = "".join(f"    - {example}\n" for example in examples)
    return write(
        directory, name, f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}'
    )


def load_without_warnings(paths):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDataWarning)
        return load_training_data(paths)


def test_docstring_examples_run():
    result = doctest.testmod(diet_sparse.rasa.nlu_data)
    assert result.attempted > 0
    assert result.failed == 0


# --- parse_markup --------------------------------------------------------------------------------


def test_markup_is_removed_and_offsets_index_the_plain_text():
    plain, entities = parse_markup("fly to [Berlin](city) now")
    assert plain == "fly to Berlin now"
    assert entities == [EntityAnnotation(start=7, end=13, value="Berlin", entity="city")]


def test_json_markup_keeps_value_role_and_group():
    markup = '[NYC]{"entity": "city", "value": "New York", "role": "destination", "group": "1"}'
    plain, entities = parse_markup(f"fly to {markup} please")
    assert plain == "fly to NYC please"
    assert entities == [
        EntityAnnotation(7, 10, "New York", "city", role="destination", group="1"),
    ]


def test_json_value_defaults_to_the_span_text():
    _, entities = parse_markup('from [Rome]{"entity": "city", "role": "departure"}')
    assert entities[0].value == "Rome"
    assert entities[0].group is None


def test_several_entities_in_one_example():
    plain, entities = parse_markup(
        'from [Berlin]{"entity": "city", "role": "departure"} to [Rome](city) at [7pm](time)'
    )
    assert plain == "from Berlin to Rome at 7pm"
    assert [(plain[e.start : e.end], e.entity, e.role) for e in entities] == [
        ("Berlin", "city", "departure"),
        ("Rome", "city", None),
        ("7pm", "time", None),
    ]


@pytest.mark.parametrize(
    ("markup", "plain", "spans"),
    [
        ("😀 fahr nach [Köln](city) 🚗", "😀 fahr nach Köln 🚗", ["Köln"]),
        ("[東京](city)に[行く](verb)", "東京に行く", ["東京", "行く"]),
        ('[Zürich]{"entity": "city", "value": "Zürich 🇨🇭"}', "Zürich", ["Zürich"]),
    ],
)
def test_unicode_offsets_are_exact(markup, plain, spans):
    parsed_plain, entities = parse_markup(markup)
    assert parsed_plain == plain
    assert [parsed_plain[e.start : e.end] for e in entities] == spans


def test_brackets_that_are_not_markup_stay_text():
    text = "play (loud) music {now} :) or (not"
    assert parse_markup(text) == (text, [])


# Reference data: what Rasa 3.6.21's reader gives (rasa.shared.nlu.training_data.entities_parser,
# find_entities_in_training_example and replace_entities, run on each example): the plain text
# and each entity as (span, entity, value, role, group).
RASA_3_6_21_MARKUP = [
    ("hello]", "hello]", []),
    ("[hello", "[hello", []),
    ("[Berlin]", "[Berlin]", []),
    ("[Berlin] (city)", "[Berlin] (city)", []),
    ("[](city)", "[](city)", []),
    ("[a]()", "[a]()", []),
    ("[a]{}", "[a]{}", []),
    ("[a](city:)", "[a](city:)", []),
    ("[a](:v)", "[a](:v)", []),
    ("[[a]](b)", "[[a]](b)", []),
    ('[x]{"entity": "n"', '[x]{"entity": "n"', []),
    ("[a](b) ]", "a ]", [("a", "b", "a", None, None)]),
    ("[a] [b](c)", "[a] b", [("b", "c", "b", None, None)]),
    ("[a [b](x)", "a [b", [("a [b", "x", "a [b", None, None)]),
    ("[a]((b))", "a)", [("a", "(b", "a", None, None)]),
    ("[a](my city)", "a", [("a", "my city", "a", None, None)]),
    ("[ ](city)", " ", [(" ", "city", " ", None, None)]),
    ("[NYC](city:New York)", "NYC", [("NYC", "city", "New York", None, None)]),
    ("[NYC](city:a:b)", "NYC", [("NYC", "city", "a:b", None, None)]),
    ('[x]{"entity": "n", "value": 5}', "x", [("x", "n", "5", None, None)]),
    ('[x]{"entity": "n", "foo": 1}', "x", [("x", "n", "x", None, None)]),
    ('[x]{"entity": "n", "role": ""}', "x", [("x", "n", "x", None, None)]),
    (
        '[x][{"entity": "a"}, {"entity": "b", "role": "r"}]',
        "x",
        [("x", "a", "x", None, None), ("x", "b", "x", "r", None)],
    ),
    ("[x][]", "x", []),
    ("[x][junk]", "x", []),
    (
        'a [b]{"entity": "c", "group": "1"} d [e](f:g) h',
        "a b d e h",
        [("b", "c", "b", None, "1"), ("e", "f", "g", None, None)],
    ),
]


@pytest.mark.parametrize(("markup", "plain", "entities"), RASA_3_6_21_MARKUP)
def test_markup_is_read_as_rasa_3_6_reads_it(markup, plain, entities):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDataWarning)
        parsed_plain, parsed = parse_markup(markup)
    assert parsed_plain == plain
    assert [
        (plain[e.start : e.end], e.entity, e.value, e.role, e.group) for e in parsed
    ] == entities


def test_an_empty_entity_name_is_kept_as_rasa_keeps_it_but_warns():
    with pytest.warns(TrainingDataWarning, match=r"^nlu.yml:3: entity 'x' .* empty entity name"):
        plain, entities = parse_markup('[x]{"entity": ""}', source="nlu.yml:3")
    assert (plain, entities[0].entity) == ("x", "")


@pytest.mark.parametrize(
    ("markup", "problem"),
    [
        # Rasa 3.6.21 raises InvalidEntityFormatException or SchemaValidationError for each
        ("fly to [Berlin]{'entity': 'city'}", "invalid JSON {'entity': 'city'} at column 16"),
        ('fly to [Berlin]{"value": "Berlin"}', 'has no "entity" key'),
        ('fly to [Berlin]{"entity": 3}', '"entity" in {"entity": 3} must be a string, got 3'),
        ('fly to [Berlin]{"entity": "city", "role": 3}', '"role"'),
        ('to [X]{"entity": "c", "value": true}', '"value" in {"entity": "c", "value": true}'),
        ('to [X]{"entity": "c", "value": null}', "must be a string or a number, got null"),
        # the annotation ends at the first "}", as in Rasa: no braces inside its strings
        ('say [hi]{"entity": "word", "value": "}{"} ok', 'invalid JSON {"entity"'),
        ('to [X]{"entity": "c", "value": {"k": 1}}', "invalid JSON"),
        ('to [X][{"entity": "a"}, {bad}]', "invalid JSON {bad} at column 25"),
    ],
)
def test_malformed_markup_is_an_error_naming_source_example_and_problem(markup, problem):
    with pytest.raises(TrainingDataError) as error:
        parse_markup(markup, source="nlu.yml:7")
    message = str(error.value)
    assert message.startswith("nlu.yml:7: invalid entity markup")
    assert repr(markup) in message
    assert problem in message
    assert "\n" not in message


def test_markup_error_without_source_has_no_location_prefix():
    with pytest.raises(TrainingDataError, match=r"^invalid entity markup in example '\[b\]\{x\}'"):
        parse_markup("[b]{x}")


# --- load_training_data: reading ------------------------------------------------------------------


def test_intents_examples_entities_and_sources(tmp_path):
    path = write(
        tmp_path,
        "nlu.yml",
        """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello
            - hi there

        - intent: book_flight
          examples: |
            - fly to [Berlin](city)

            - fly from [Rome]{"entity": "city", "role": "departure"} to [Paris](city)
        """,
    )
    data = load_without_warnings(path)
    assert [(e.text, e.intent, e.source) for e in data.examples] == [
        ("hello", "greet", f"{path}:5"),
        ("hi there", "greet", f"{path}:6"),
        ("fly to Berlin", "book_flight", f"{path}:10"),
        ("fly from Rome to Paris", "book_flight", f"{path}:12"),
    ]
    assert data.examples[3].entities == [
        EntityAnnotation(9, 13, "Rome", "city", role="departure"),
        EntityAnnotation(17, 22, "Paris", "city"),
    ]
    assert data.intents == ["book_flight", "greet"]
    assert data.roles == ["departure"]


def test_listed_examples_keep_their_metadata(tmp_path):
    path = write(
        tmp_path,
        "nlu.yml",
        """
        version: "3.1"
        nlu:
        - intent: greet
          metadata:
            sentiment: neutral
          examples:
          - text: |
              hi [Anna](name)
            metadata:
              sentiment: happy
              language: en
          - text: good morning
        """,
    )
    data = load_without_warnings(path)
    first, second = data.examples
    assert (first.text, first.source) == ("hi Anna", f"{path}:8")
    assert first.entities == [EntityAnnotation(3, 7, "Anna", "name")]
    assert first.metadata == {"sentiment": "happy", "language": "en"}
    assert (second.text, second.metadata, second.source) == (
        "good morning",
        {"sentiment": "neutral"},
        f"{path}:12",
    )


def test_block_examples_have_no_metadata(tmp_path):
    path = intent_file(tmp_path, "nlu.yml", "greet", "hi", "hello")
    assert [e.metadata for e in load_training_data(path).examples] == [None, None]


def test_intent_names_are_read_as_written(tmp_path):
    # YAML 1.1 would read an unquoted `yes` as True and `1.0` as a float.
    path = intent_file(tmp_path, "nlu.yml", "yes", "sure", "yes please")
    assert load_training_data(path).intents == ["yes"]


def test_regexes_and_lookups(tmp_path):
    path = write(
        tmp_path,
        "extras.yml",
        r"""
        version: "3.1"
        nlu:
        - regex: zipcode
          examples: |
            - \b[0-9]{5}\b
        - lookup: city
          examples: |
            - Berlin
            - New York
        """,
    )
    data = load_training_data(path)
    assert data.regexes == [RegexPattern("zipcode", r"\b[0-9]{5}\b")]
    assert data.lookups == [LookupTable("city", ("Berlin", "New York"))]
    assert data.examples == []


def test_several_files_merge_into_one(tmp_path):
    first = write(
        tmp_path,
        "a.yml",
        """
        nlu:
        - intent: greet
          examples: |
            - hi
        - lookup: city
          examples: |
            - Berlin
            - Rome
        - regex: zipcode
          examples: |
            - [0-9]{5}
        """,
    )
    second = write(
        tmp_path,
        "b.yml",
        """
        nlu:
        - intent: greet
          examples: |
            - hello
        - lookup: city
          examples: |
            - Rome
            - Paris
        - regex: zipcode
          examples: |
            - [0-9]{5}
            - [0-9]{4}
        """,
    )
    data = load_without_warnings([first, second])
    assert [e.text for e in data.examples] == ["hi", "hello"]
    assert data.lookups == [LookupTable("city", ("Berlin", "Rome", "Paris"))]
    assert data.regexes == [
        RegexPattern("zipcode", "[0-9]{5}"),
        RegexPattern("zipcode", "[0-9]{4}"),
    ]


def test_directory_means_all_yaml_files_below_it_in_sorted_order(tmp_path):
    intent_file(tmp_path, "b.yml", "greet", "hi", "hey")
    intent_file(tmp_path, "a/z.yaml", "goodbye", "bye", "ciao")
    intent_file(tmp_path, "a.yml", "affirm", "yes", "yep")
    write(tmp_path, "notes.txt", "not training data")
    data = load_without_warnings(tmp_path)
    # sorted by path components: a/z.yaml, a.yml, b.yml
    assert [e.intent for e in data.examples] == ["goodbye"] * 2 + ["affirm"] * 2 + ["greet"] * 2
    assert data.examples[1].source == f"{tmp_path / 'a' / 'z.yaml'}:6"


def test_a_file_named_twice_is_read_once(tmp_path):
    path = intent_file(tmp_path, "nlu.yml", "greet", "hi", "hello")
    data = load_without_warnings([str(tmp_path), path])
    assert [e.text for e in data.examples] == ["hi", "hello"]


# --- synonyms ------------------------------------------------------------------------------------


def test_synonyms_from_items_and_from_annotated_values(tmp_path):
    path = write(
        tmp_path,
        "nlu.yml",
        """
        nlu:
        - synonym: New York
          examples: |
            - NYC
            - the Big Apple
        - intent: book_flight
          examples: |
            - fly to [SF]{"entity": "city", "value": "San Francisco"}
            - fly to [NY]{"entity": "city", "value": "New York"}
            - fly to [Berlin]{"entity": "city", "value": "Berlin"}
        """,
    )
    assert load_without_warnings(path).synonyms == {
        "nyc": "New York",
        "the big apple": "New York",
        "sf": "San Francisco",
        "ny": "New York",
    }


def test_a_variant_of_two_values_warns_naming_both_and_keeps_the_later_as_rasa(tmp_path):
    synonyms = write(
        tmp_path,
        "synonyms.yml",
        """
        nlu:
        - synonym: New York
          examples: |
            - NYC
        """,
    )
    examples = intent_file(
        tmp_path,
        "nlu.yml",
        "book_flight",
        'to [nyc]{"entity": "city", "value": "New York City"}',
        "to [Rome](city)",
    )
    with pytest.warns(TrainingDataWarning) as record:
        data = load_training_data([synonyms, examples])
    (message,) = [str(w.message) for w in record if "synonym" in str(w.message)]
    assert message.startswith(f"{examples}:5: 'nyc' is a synonym of 'New York City' here")
    assert f"but of 'New York' at {synonyms}:4" in message
    assert data.synonyms["nyc"] == "New York City"


# --- errors --------------------------------------------------------------------------------------

ERROR_CASES = {
    "unknown top-level key": (
        """
        version: "3.1"
        rulez:
        - rule: greet
        nlu:
        - intent: greet
          examples: |
            - hi
        """,
        [
            "unknown top-level key 'rulez' in {path} (line 2) (did you mean 'rules'?)",
            "expected one of: version, nlu, stories, rules, intents",
        ],
    ),
    "no nlu": ('version: "3.1"\n', ["no 'nlu' key in {path}; a training data file is"]),
    "not a mapping": ("- hi\n- hello\n", ["{path}:1: the top level", "must be a mapping"]),
    "empty file": ("\n", ["{path} is empty"]),
    "nlu not a list": ("nlu:\n  intent: greet\n", ["{path}:2: 'nlu' must be a list"]),
    "unknown item key": (
        """
        nlu:
        - intent: greet
          exmaples: |
            - hi
        """,
        [
            "{path}:3: intent 'greet': unknown key 'exmaples'",
            "allowed keys: examples, intent, metadata",
        ],
    ),
    "unknown synonym key": (
        """
        nlu:
        - synonym: New York
          metadata: {}
          examples: |
            - NYC
        """,
        ["{path}:3: synonym 'New York': unknown key 'metadata'", "allowed keys: examples, synonym"],
    ),
    "two kinds in one item": (
        """
        nlu:
        - intent: greet
          synonym: hello
          examples: |
            - hi
        """,
        ["{path}:2: an nlu item needs exactly one of the keys intent, synonym, regex, lookup"],
    ),
    "item of no known kind": (
        "nlu:\n- story: greet\n",
        ["{path}:2: an nlu item needs exactly one", "found none of them"],
    ),
    "empty intent name": ("nlu:\n- intent:\n  examples: '- hi'\n", ["{path}:2: the intent name"]),
    "no examples key": ("nlu:\n- intent: greet\n", ["{path}:2: intent 'greet': no 'examples'"]),
    "empty examples": (
        "nlu:\n- intent: greet\n  examples: |\n\n- intent: bye\n  examples: '- bye'\n",
        ["{path}:2: intent 'greet': has no examples"],
    ),
    "line without dash": (
        """
        nlu:
        - intent: greet
          examples: |
            - hi
            hello there
        """,
        ["{path}:5: intent 'greet': example line 'hello there' does not start with '- '"],
    ),
    "empty example": (
        """
        nlu:
        - intent: greet
          examples: |
            - hi
            -
        """,
        ["{path}:5: intent 'greet': empty example"],
    ),
    "markup error": (
        """
        nlu:
        - intent: book_flight
          examples: |
            - fly to [Berlin]{'entity': 'city'}
        """,
        ["{path}:4: intent 'book_flight': invalid entity markup", "invalid JSON {{'entity'"],
    ),
    "listed example without text": (
        """
        nlu:
        - intent: greet
          examples:
          - metadata: {a: 1}
        """,
        ["{path}:4: intent 'greet': example has no 'text'"],
    ),
    "listed example with empty text": (
        "nlu:\n- intent: greet\n  examples:\n  - text: ''\n",
        ["{path}:4: intent 'greet': empty example text"],
    ),
    "listed example with unknown key": (
        "nlu:\n- intent: greet\n  examples:\n  - text: hi\n    intent: x\n",
        ["{path}:5: intent 'greet': example has unknown key 'intent'"],
    ),
    "metadata not a mapping": (
        "nlu:\n- intent: greet\n  metadata: [a, b]\n  examples: '- hi'\n",
        ["{path}:2: intent 'greet': 'metadata' must be a mapping"],
    ),
    "invalid regex": (
        """
        nlu:
        - regex: zipcode
          examples: |
            - [0-9]{5}
            - [0-9
        """,
        ["{path}:5: regex 'zipcode': '[0-9' is not a valid regular expression"],
    ),
    "lookup as a list": (
        "nlu:\n- lookup: city\n  examples:\n  - Berlin\n",
        ["{path}:4: lookup 'city': 'examples' must be a block string"],
    ),
    "duplicate key": (
        "nlu:\n- intent: greet\n  examples: '- hi'\n  examples: '- yo'\n",
        ["{path}:4: an nlu item has the key 'examples' twice"],
    ),
}


@pytest.mark.parametrize("content, expected", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_unusable_files_raise_errors_naming_file_item_and_problem(tmp_path, content, expected):
    path = write(tmp_path, "nlu.yml", content)
    with pytest.raises(TrainingDataError) as error:
        load_training_data(path)
    for fragment in expected:
        assert fragment.format(path=path) in str(error.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "nlu.yml",
        """
        nlu:
        - intent: greet
          examples: |
            - hi
         - intent: bye
        """,
    )
    with pytest.raises(TrainingDataError) as error:
        load_training_data(path)
    message = str(error.value)
    assert message.startswith(f"{path}:5: invalid YAML at line 5, column 2")


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(TrainingDataError, match="missing.yml does not exist"):
        load_training_data(tmp_path / "missing.yml")


def test_rasa_2_markdown_files_in_a_directory_are_skipped_with_one_line_each(tmp_path):
    intent_file(tmp_path, "nlu.yml", "greet", "hi", "hello")
    nlu_md = tmp_path / "nlu.md"
    nlu_md.write_text("## intent:greet\n- hey\n- hi there\n", encoding="utf-8")
    stories_md = tmp_path / "stories.md"
    stories_md.write_text("## happy path\n* greet\n  - utter_greet\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# Notes\n* a list\n* of things\n", encoding="utf-8")
    with pytest.warns(TrainingDataWarning) as record:
        data = load_training_data(tmp_path)
    messages = sorted(str(warning.message) for warning in record)
    assert len(messages) == 2  # the README is not training data
    assert messages[0].startswith(f"{nlu_md}: a Rasa 2 Markdown file")
    assert messages[1].startswith(f"{stories_md}: a Rasa 2 Markdown file")
    assert all("rasa data convert" in message and "skipped" in message for message in messages)
    assert [e.text for e in data.examples] == ["hi", "hello"]


def test_a_rasa_2_markdown_file_named_on_its_own_is_an_error(tmp_path):
    nlu_md = tmp_path / "nlu.md"
    nlu_md.write_text("## intent:greet\n- hey\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"nlu.md: a Rasa 2 Markdown file.*convert"):
        load_training_data(nlu_md)


def test_an_example_too_long_to_train_on_is_an_error_naming_its_line(tmp_path):
    long_text = "word " * 60_000  # 300,000 characters
    path = intent_file(tmp_path, "nlu.yml", "greet", "hi", long_text.strip(), "hello")
    with pytest.raises(TrainingDataError) as error:
        load_training_data(path)
    message = str(error.value)
    assert message.startswith(f"{path}:6: intent 'greet': an example of 299,999 characters")
    assert "at most 10,000" in message and "\n" not in message


def test_more_training_data_than_featurizing_can_hold_is_refused_before_reading(
    tmp_path, monkeypatch
):
    path = intent_file(tmp_path, "nlu.yml", "greet", "hi", "hello")
    monkeypatch.setattr(diet_sparse.rasa.nlu_data, "MAX_TRAINING_DATA_BYTES", 10)
    never_read = []
    monkeypatch.setattr(diet_sparse.rasa.nlu_data, "compose", never_read.append)
    with pytest.raises(TrainingDataError, match=r"the training data is 0\.0 MB in 1 file\(s\)"):
        load_training_data(path)
    assert never_read == []


def test_directory_without_yaml_files_is_an_error(tmp_path):
    write(tmp_path, "readme.txt", "no data here")
    with pytest.raises(TrainingDataError, match="contains no .yml or .yaml files"):
        load_training_data(tmp_path)


def test_no_paths_is_an_error():
    with pytest.raises(TrainingDataError, match="no training data paths given"):
        load_training_data([])


def test_non_utf8_file_is_an_error(tmp_path):
    path = tmp_path / "nlu.yml"
    path.write_bytes("nlu:\n- intent: caf\xe9\n".encode("latin-1"))
    with pytest.raises(TrainingDataError, match="is not UTF-8 text"):
        load_training_data(path)


# --- warnings ------------------------------------------------------------------------------------


def test_same_text_under_two_intents_warns(tmp_path):
    path = write(
        tmp_path,
        "nlu.yml",
        """
        nlu:
        - intent: greet
          examples: |
            - hi
            - hello
        - intent: goodbye
          examples: |
            - bye
            - [hello](word)
        """,
    )
    with pytest.warns(TrainingDataWarning) as record:
        load_training_data(path)
    messages = [str(warning.message) for warning in record]
    assert len(messages) == 1
    assert "'hello'" in messages[0]
    assert f"intent 'greet' ({path}:5)" in messages[0]
    assert f"intent 'goodbye' ({path}:9)" in messages[0]


def test_intent_with_one_example_warns(tmp_path):
    path = intent_file(tmp_path, "nlu.yml", "greet", "hi")
    with pytest.warns(TrainingDataWarning, match="intent 'greet' has only 1 example"):
        load_training_data(path)


def test_entity_off_token_boundaries_warns(tmp_path):
    path = intent_file(tmp_path, "nlu.yml", "book_flight", "fly to [Ber](city)lin", "fly to Rome")
    data = load_training_data(path)  # the reader knows no tokens: NLU checks spans against them
    with pytest.warns(TrainingDataWarning) as record:
        warn_about_entities_off_token_boundaries(data)
    (message,) = [str(warning.message) for warning in record]
    assert message.startswith(f"{path}:5: entity 'city' in example 'fly to Berlin': ")
    assert "the span 'Ber' ends inside the token 'Berlin'" in message


def test_entity_including_edge_punctuation_warns(tmp_path):
    path = intent_file(tmp_path, "nlu.yml", "book_flight", "fly to [Rome!](city)", "fly to Oslo")
    with pytest.warns(TrainingDataWarning, match="the span 'Rome!' ends in '!', which the"):
        warn_about_entities_off_token_boundaries(load_training_data(path))


# --- files of a whole Rasa project ---------------------------------------------------------------

PROJECT = Path(__file__).parents[1] / "fixtures" / "dialogue"


def test_stories_rules_and_domain_keys_next_to_nlu_are_skipped(tmp_path):
    path = write(
        tmp_path,
        "mixed.yml",
        """
        version: "3.1"
        intents: [greet]
        entities: [city]
        slots:
          city: {type: text}
        responses:
          utter_greet: [{text: Hi}]
        actions: [action_x]
        forms: {}
        e2e_actions: []
        session_config: {session_expiration_time: 60}
        config: {store_entities_as_slots: true}
        stories:
        - story: greet
          steps: [{intent: greet}]
        rules:
        - rule: greet
          steps: [{intent: greet}]
        nlu:
        - intent: greet
          examples: |
            - hi
            - hello
        """,
    )
    data = load_without_warnings(path)
    assert [e.text for e in data.examples] == ["hi", "hello"]


def test_a_rasa_project_folder_reads_the_nlu_of_its_files_and_skips_the_rest():
    data = load_without_warnings(PROJECT)  # domain.yml, data/nlu.yml, stories.yml, rules.yml
    assert data.intents == ["affirm", "book_flight", "chitchat", "deny", "greet", "inform"]
    assert len(data.examples) == 12
    assert data.roles == ["departure", "destination"]


def test_files_without_nlu_add_nothing_but_one_file_must_have_it(tmp_path):
    write(tmp_path, "domain.yml", "intents: [greet]\n")
    write(tmp_path, "data/stories.yml", "stories:\n- story: a\n  steps: [{intent: greet}]\n")
    with pytest.raises(TrainingDataError, match="no 'nlu' key in any of the 2 files"):
        load_training_data(tmp_path)
    intent_file(tmp_path, "data/nlu.yml", "greet", "hi", "hello")
    assert load_without_warnings(tmp_path).intents == ["greet"]


# --- the project's example data and the shared benchmark datasets ---------------------------------


def test_example_data_is_rich_enough_and_loads_without_warnings():
    data = load_without_warnings(REPO_DATA)
    assert len(data.intents) >= 8
    assert len(data.entity_types) >= 4
    for intent in data.intents:
        assert sum(e.intent == intent for e in data.examples) >= 15, intent
    assert {"departure", "destination"} <= set(data.roles)
    assert data.groups
    assert data.synonyms["nyc"] == "New York"
    assert data.regexes
    assert data.lookups
    texts = [e.text.lower() for e in data.examples]
    assert len(texts) == len(set(texts))


def shared_dataset(*parts: str) -> Path:
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def test_snips_train_loads():
    data = load_training_data(shared_dataset("snips", "train.yml"))
    assert len(data.examples) == 13084
    assert len(data.intents) == 7
    # A few snips spans end in punctuation or replacement characters the tokenizer drops.
    with pytest.warns(TrainingDataWarning) as record:
        warn_about_entities_off_token_boundaries(data)
    assert all("which the tokenizer drops; the entity is tagged" in str(w.message) for w in record)


def test_sara_train_with_extras_loads():
    train = shared_dataset("sara", "train.yml")
    extras = shared_dataset("sara", "train_extras.yml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingDataWarning)
        data = load_training_data([train, extras])
    assert len(data.examples) == 3998
    assert len(data.intents) == 67
    assert [lookup.name for lookup in data.lookups] == ["products"]
    assert {regex.name for regex in data.regexes} == {"greet", "zipcode"}
    assert data.synonyms["rasa x"] == "x"
