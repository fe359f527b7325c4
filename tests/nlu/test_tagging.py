"""Tests for diet_sparse.nlu.tagging: entity spans to BILOU or plain tags and back."""

import warnings

import numpy as np
import pytest

from diet_sparse.config import DIETConfig
from diet_sparse.nlu.tagging import (
    TaggedSpan,
    TagVocabulary,
    attribute_tag_ids,
    comma_breaks,
    decode_entity_tags,
    entity_tag_ids,
    span_attribute,
    tag_vocabularies,
    warn_about_entities_off_token_boundaries,
)
from diet_sparse.nlu.tokenizer import tokenize
from diet_sparse.rasa.nlu_data import Example, TrainingData, TrainingDataWarning, parse_markup

ENTITY_TYPES = ["city", "date"]


def tag_names(markup: str, bilou: bool) -> list[str]:
    """The tag of every token of an example written in entity markup."""
    text, entities = parse_markup(markup)
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou)
    return [vocabulary.tags[i] for i in entity_tag_ids(tokenize(text), entities, vocabulary)]


def round_trip(markup: str, bilou: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(text, entity)`` of the annotated entities, and of the entities decoded from their tags.

    Decoded spans are turned back into text as `NLU` does: from the first token's start to the
    last token's end.
    """
    text, entities = parse_markup(markup)
    tokens = tokenize(text)
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou)
    tag_ids = entity_tag_ids(tokens, entities, vocabulary)
    spans = decode_entity_tags(tag_ids, np.ones(len(tokens)), vocabulary)
    annotated = [(text[e.start : e.end], e.entity) for e in entities]
    decoded = [(text[tokens[s.first].start : tokens[s.last].end], s.entity) for s in spans]
    return annotated, decoded


def decode(tags: list[str], bilou: bool = True) -> list[tuple[str, int, int]]:
    """``(entity, first, last)`` of the spans decoded from a sequence of tag names."""
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou)
    tag_ids = np.array([vocabulary.index(tag) for tag in tags], dtype=np.int32)
    spans = decode_entity_tags(tag_ids, np.ones(len(tags)), vocabulary)
    return [(span.entity, span.first, span.last) for span in spans]


# --- round trips: spans -> tags -> spans ---------------------------------------------------------

ROUND_TRIPS = {
    "single token": "I live in [Berlin](city) now",
    "two tokens": "fly to [New York](city) today",
    "three tokens": "fly to [New York City](city) today",
    "four tokens": "fly to [Rio de Janeiro City](city) today",
    "whole message": "[Berlin](city)",
    "whole message, several tokens": "[San Francisco](city)",
    "at the start": "[Berlin](city) is nice",
    "at the end": "I love [New York](city)",
    "at both ends": "[Berlin](city) on [next friday](date)",
    "adjacent, different types": "book [Berlin](city) [tomorrow](date) please",
    "adjacent, different types, several tokens": "go [New York](city) [next friday](date)",
    "comma after": "I live in [Berlin](city), Germany",
    "in parentheses": "fly to ([Paris](city)) now",
    "full stop at the end": "fly from [Berlin](city) to [Paris](city).",
    "punctuation all around": '"[New York](city)!" on [monday](date), ok?',
    "inside a Chinese sentence": "我想[明天](date)去[北京](city)玩",
    "inside a Japanese sentence": "[東京](city)に[来週](date)行きたい",
    "inside a Thai sentence": "ไป[กรุงเทพ](city)",
    "decomposed accents": "nach [Ko\u0308ln](city) am [Montag](date)",
    "Cyrillic": "в [Москву](city) [завтра](date)",
    "Arabic": "إلى [القاهرة](city) [غدا](date)",
}


@pytest.mark.parametrize("bilou", [True, False], ids=["bilou", "plain"])
@pytest.mark.parametrize("markup", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_entity_spans_survive_tagging_and_decoding(markup, bilou):
    annotated, decoded = round_trip(markup, bilou)
    assert decoded == annotated


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("in [Berlin](city) now", ["O", "U-city", "O"]),
        ("to [New York](city) now", ["O", "B-city", "L-city", "O"]),
        ("to [New York City](city)", ["O", "B-city", "I-city", "L-city"]),
        ("[Rio de Janeiro City](city)", ["B-city", "I-city", "I-city", "L-city"]),
        ("[Berlin](city) [Paris](city)", ["U-city", "U-city"]),
        ("[Berlin](city) [next friday](date)", ["U-city", "B-date", "L-date"]),
        ("in ([Paris](city)), ok", ["O", "U-city", "O"]),
        ("去[北京](city)玩", ["O", "B-city", "L-city", "O"]),
        ("[上海浦东](city)", ["B-city", "I-city", "I-city", "L-city"]),
        ("[京](city)", ["U-city"]),
    ],
)
def test_bilou_tags_mark_where_each_entity_begins_and_ends(markup, expected):
    assert tag_names(markup, bilou=True) == expected


def test_plain_tags_name_the_entity_type_only():
    tags = tag_names("to [New York City](city) on [friday](date)", bilou=False)
    assert tags == ["O", "city", "city", "city", "O", "date"]


@pytest.mark.parametrize(
    "markup",
    [
        "from [Berlin](city) [Paris](city) to",
        "[Berlin](city) [Paris](city)",
        "[New York](city) [Los Angeles](city)",
        "[Berlin](city) [New York](city) [Paris](city)",
    ],
)
def test_bilou_keeps_adjacent_entities_of_the_same_type_apart(markup):
    annotated, decoded = round_trip(markup, bilou=True)
    assert decoded == annotated


def test_plain_tags_merge_adjacent_entities_of_the_same_type():
    # Known limit of plain tags (BILOU_flag: false): nothing marks where one entity ends and the
    # next of the same type begins, so two adjacent cities come back as one.
    annotated, decoded = round_trip("from [New York](city) [Paris](city) on", bilou=False)
    assert annotated == [("New York", "city"), ("Paris", "city")]
    assert decoded == [("New York Paris", "city")]


def test_punctuation_inside_an_annotation_is_not_part_of_the_decoded_entity():
    # The tokenizer drops punctuation at word edges, so the decoded span ends at the word.
    annotated, decoded = round_trip("fly to [(Paris)](city) now", bilou=True)
    assert annotated == [("(Paris)", "city")]
    assert decoded == [("Paris", "city")]


def test_annotation_of_part_of_a_token_decodes_to_the_whole_token():
    annotated, decoded = round_trip("[Berlin](city)-based firm", bilou=True)
    assert annotated == [("Berlin", "city")]
    assert decoded == [("Berlin-based", "city")]


def test_whitespace_inside_an_annotation_does_not_pull_in_the_neighbouring_words():
    annotated, decoded = round_trip("fly to[ Paris ](city)now", bilou=True)
    assert annotated == [(" Paris ", "city")]  # "fly to Paris now": touches "to" and "now"
    assert decoded == [("Paris", "city")]


def test_annotation_that_covers_no_token_gets_no_tag():
    text, entities = parse_markup("well [...](city) ok")
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou=True)
    assert entity_tag_ids(tokenize(text), entities, vocabulary).tolist() == [0, 0]


def test_dotted_abbreviation_is_tagged_on_its_letters():
    # Rasa 3.6.21's WhitespaceTokenizer gives "u. s. d." the tokens u, s, d
    text, entities = parse_markup("pay in [u. s. d.](currency) now")
    vocabulary = TagVocabulary.for_entities(["currency"], bilou=True)
    tags = entity_tag_ids(tokenize(text), entities, vocabulary)
    assert [vocabulary.tags[i] for i in tags] == [
        "O", "O", "B-currency", "I-currency", "L-currency", "O",
    ]  # fmt: skip


def misalignment_warnings(markup: str) -> list[str]:
    text, entities = parse_markup(markup)
    data = TrainingData([Example(text, "pay", entities, source="nlu.yml:4")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_about_entities_off_token_boundaries(data)
    assert all(issubclass(w.category, TrainingDataWarning) for w in caught)
    return [str(w.message) for w in caught]


def test_a_span_ending_in_dropped_punctuation_warns_what_is_dropped_and_the_tokens_tagged():
    # Rasa warns here too ("Misaligned entity annotation"): the span ends after the token "d"
    (message,) = misalignment_warnings("pay in [u. s. d.](currency) now")
    assert message == (
        "nlu.yml:4: entity 'currency' in example 'pay in u. s. d. now': the span 'u. s. d.' "
        "ends in '.', which the tokenizer drops; the entity is tagged on the tokens 'u' 's' 'd'; "
        "to silence this, leave the '.' outside the brackets"
    )
    assert "whole words" not in message


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("to [(Rome)](city) now", "starts with '(' and ends in ')', which the tokenizer drops"),
        ("to [Ber](city)lin", "the span 'Ber' ends inside the token 'Berlin'; the entity is "),
        ("to [(Ber](city)lin", "starts with '(' (dropped by the tokenizer) and ends inside"),
        ("a [!?](x) b", "the span '!?' holds no token"),
    ],
)
def test_misaligned_spans_warn_what_is_off(markup, expected):
    (message,) = misalignment_warnings(markup)
    assert expected in message


@pytest.mark.parametrize(
    "markup",
    [
        "pay in [u. s. d](currency).",
        "in [don](w)'t",
        "[e-mail](w) me",
        "[:)](smiley)",
        "我想去[北京](city)玩",
        "[東京](city)に行く",
    ],
)
def test_spans_on_token_boundaries_do_not_warn(markup):
    assert misalignment_warnings(markup) == []


def test_a_message_without_tokens_has_no_tags_and_no_entities():
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou=True)
    tag_ids = entity_tag_ids([], [], vocabulary)
    assert tag_ids.shape == (0,)
    assert decode_entity_tags(tag_ids, np.ones(0), vocabulary) == []


def test_entity_types_with_hyphens_survive_bilou_prefixes():
    vocabulary = TagVocabulary.for_entities(["post-code"], bilou=True)
    assert vocabulary.labels() == ["post-code"]
    text, entities = parse_markup("send to [AB1 2CD](post-code) today")
    tokens = tokenize(text)
    tag_ids = entity_tag_ids(tokens, entities, vocabulary)
    assert [vocabulary.tags[i] for i in tag_ids] == ["O", "O", "B-post-code", "L-post-code", "O"]
    assert decode_entity_tags(tag_ids, np.ones(len(tokens)), vocabulary) == [
        TaggedSpan("post-code", 2, 3, 1.0)
    ]


# --- confidences ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bilou", [True, False], ids=["bilou", "plain"])
def test_an_entity_is_as_confident_as_its_least_confident_token(bilou):
    tags = ["B-city", "I-city", "L-city", "O", "U-date"] if bilou else ["city"] * 3 + ["O", "date"]
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou)
    tag_ids = np.array([vocabulary.index(tag) for tag in tags])
    confidences = np.array([0.9, 0.4, 0.8, 0.1, 0.7])
    spans = decode_entity_tags(tag_ids, confidences, vocabulary)
    assert spans == [TaggedSpan("city", 0, 2, pytest.approx(0.4)), TaggedSpan("date", 4, 4, 0.7)]


# --- lenient decoding of sequences BILOU does not allow ------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # I- or L- without B-: the span starts at the first tag of the type
        (["O", "I-city", "L-city", "O"], [("city", 1, 2)]),
        (["I-city", "I-city"], [("city", 0, 1)]),
        (["O", "L-city", "O"], [("city", 1, 1)]),
        (["L-city"], [("city", 0, 0)]),
        # B- without L-: the span ends at O or at the end of the message
        (["B-city", "O", "O"], [("city", 0, 0)]),
        (["B-city", "I-city", "O"], [("city", 0, 1)]),
        (["O", "B-city", "I-city"], [("city", 1, 2)]),
        # a change of entity type starts a new span whatever the prefix
        (["B-city", "I-date", "L-date"], [("city", 0, 0), ("date", 1, 2)]),
        (["B-city", "I-city", "L-date"], [("city", 0, 1), ("date", 2, 2)]),
        (["B-city", "L-date"], [("city", 0, 0), ("date", 1, 1)]),
        # B- and U- always start a new span; L- and U- always end one
        (["B-city", "U-city", "L-city"], [("city", 0, 0), ("city", 1, 1), ("city", 2, 2)]),
        (["B-city", "B-city", "L-city"], [("city", 0, 0), ("city", 1, 2)]),
        (["U-city", "I-city", "L-city"], [("city", 0, 0), ("city", 1, 2)]),
        (["B-city", "L-city", "I-city", "L-city"], [("city", 0, 1), ("city", 2, 3)]),
        (["B-city", "L-city", "L-city"], [("city", 0, 1), ("city", 2, 2)]),
        # O always ends a span, even between tags that would belong together
        (["B-city", "O", "L-city"], [("city", 0, 0), ("city", 2, 2)]),
    ],
)
def test_invalid_bilou_sequences_are_decoded_leniently(tags, expected):
    assert decode(tags) == expected


def test_a_lenient_span_is_as_confident_as_its_least_confident_token():
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou=True)
    tags = ["I-city", "I-city", "I-city"]  # no B- or L-, still one span
    tag_ids = np.array([vocabulary.index(tag) for tag in tags])
    spans = decode_entity_tags(tag_ids, np.array([0.6, 0.9, 0.3]), vocabulary)
    assert spans == [TaggedSpan("city", 0, 2, pytest.approx(0.3))]


def test_plain_tags_start_a_new_span_where_the_entity_type_changes():
    assert decode(["city", "date", "date", "O", "city"], bilou=False) == [
        ("city", 0, 0),
        ("date", 1, 2),
        ("city", 4, 4),
    ]


# --- split_entities_by_comma ----------------------------------------------------------------------


def split_decode(text: str, tags: list[str], setting) -> list[str]:
    """The entity values decoded from ``tags`` (one per token) with ``split_entities_by_comma``."""
    tokens = tokenize(text)
    vocabulary = TagVocabulary.for_entities(ENTITY_TYPES, bilou=True)
    tag_ids = np.array([vocabulary.index(tag) for tag in tags], dtype=np.int32)
    breaks = comma_breaks(text, tokens, setting)
    spans = decode_entity_tags(tag_ids, np.ones(len(tags)), vocabulary, breaks)
    return [text[tokens[s.first].start : tokens[s.last].end] for s in spans]


LIST = "from Berlin, Lisbon, New York"
LIST_TAGS = ["O", "B-city", "I-city", "I-city", "L-city"]


def test_an_entity_is_split_where_a_comma_separates_its_tokens():
    assert split_decode(LIST, LIST_TAGS, True) == ["Berlin", "Lisbon", "New York"]


@pytest.mark.parametrize("setting", [False, {"city": False}])
def test_an_entity_runs_on_across_commas_where_splitting_is_off(setting):
    assert split_decode(LIST, LIST_TAGS, setting) == ["Berlin, Lisbon, New York"]


def test_splitting_follows_the_setting_of_each_entity_type():
    text = "Berlin, Lisbon on Monday, Tuesday"
    tags = ["B-city", "L-city", "O", "B-date", "L-date"]
    assert split_decode(text, tags, {"city": False}) == ["Berlin, Lisbon", "Monday", "Tuesday"]
    assert split_decode(text, tags, {"date": False}) == ["Berlin", "Lisbon", "Monday, Tuesday"]


def test_other_punctuation_between_tokens_does_not_split_an_entity():
    assert split_decode("to St. Louis", ["O", "B-city", "L-city"], True) == ["St. Louis"]


def test_without_a_comma_nothing_can_break():
    assert comma_breaks("to New York", tokenize("to New York"), True) is None


# --- roles and groups ----------------------------------------------------------------------------

TRIP = (
    'fly from [New York]{"entity": "city", "role": "departure", "group": "1"} '
    'to [Rome]{"entity": "city", "role": "destination", "group": "1"} '
    "on [next friday](date), then "
    '[Paris]{"entity": "city", "role": "destination", "group": "2"}'
)


@pytest.mark.parametrize("bilou", [True, False], ids=["bilou", "plain"])
def test_roles_and_groups_survive_tagging_and_decoding(bilou):
    text, entities = parse_markup(TRIP)
    tokens = tokenize(text)
    vocabularies = {
        "entity": TagVocabulary.for_entities(ENTITY_TYPES, bilou),
        "role": TagVocabulary.for_labels(["departure", "destination"]),
        "group": TagVocabulary.for_labels(["1", "2"]),
    }
    ones = np.ones(len(tokens))
    entity_ids = entity_tag_ids(tokens, entities, vocabularies["entity"])
    spans = decode_entity_tags(entity_ids, ones, vocabularies["entity"])
    decoded = []
    for span in spans:
        attributes = {}
        for attribute in ("role", "group"):
            ids = attribute_tag_ids(tokens, entities, vocabularies[attribute], attribute)
            attributes[attribute] = span_attribute(ids, ones, span, vocabularies[attribute])[0]
        value = text[tokens[span.first].start : tokens[span.last].end]
        decoded.append((value, span.entity, attributes["role"], attributes["group"]))
    assert decoded == [(e.value, e.entity, e.role, e.group) for e in entities]
    assert decoded[2] == ("next friday", "date", None, None)


def test_attribute_tags_mark_every_token_of_the_entity_with_the_label():
    text, entities = parse_markup(TRIP)
    roles = TagVocabulary.for_labels(["departure", "destination"])
    ids = attribute_tag_ids(tokenize(text), entities, roles, "role")
    # fly from New York to Rome on next friday then Paris
    assert [roles.tags[i] for i in ids] == [
        *["O", "O", "departure", "departure", "O", "destination"],
        *["O", "O", "O", "O", "destination"],
    ]


def test_span_attribute_is_the_most_frequent_label_with_its_lowest_confidence():
    roles = TagVocabulary.for_labels(["departure", "destination"])
    departure, destination = roles.index("departure"), roles.index("destination")
    tag_ids = np.array([departure, destination, departure, 0, 0, destination])
    confidences = np.array([0.9, 0.2, 0.6, 0.1, 0.1, 0.5])
    span = TaggedSpan("city", 0, 2, 1.0)
    assert span_attribute(tag_ids, confidences, span, roles) == ("departure", 0.6)
    # O does not count, even where most tokens have it; tokens outside the span do not count
    outside_heavy = TaggedSpan("city", 2, 5, 1.0)
    assert span_attribute(tag_ids, confidences, outside_heavy, roles) == ("departure", 0.6)
    last_token = TaggedSpan("city", 5, 5, 1.0)
    assert span_attribute(tag_ids, confidences, last_token, roles) == ("destination", 0.5)


def test_span_without_an_attribute_label_has_none():
    roles = TagVocabulary.for_labels(["departure"])
    span = TaggedSpan("city", 1, 2, 1.0)
    tag_ids = np.array([roles.index("departure"), 0, 0, roles.index("departure")])
    assert span_attribute(tag_ids, np.full(4, 0.9), span, roles) == (None, 0.0)


# --- TagVocabulary -------------------------------------------------------------------------------


def test_bilou_vocabulary_has_o_then_four_tags_per_entity_type():
    vocabulary = TagVocabulary.for_entities(["city", "date"], bilou=True)
    assert vocabulary.tags == (
        *("O", "B-city", "I-city", "L-city", "U-city"),
        *("B-date", "I-date", "L-date", "U-date"),
    )
    assert vocabulary.bilou
    assert len(vocabulary) == 9


def test_plain_vocabulary_has_o_then_one_tag_per_entity_type():
    vocabulary = TagVocabulary.for_entities(["city", "date"], bilou=False)
    assert vocabulary.tags == ("O", "city", "date")
    assert not vocabulary.bilou
    assert len(vocabulary) == 3


def test_label_vocabulary_has_o_then_the_labels():
    vocabulary = TagVocabulary.for_labels(["departure", "destination"])
    assert vocabulary.tags == ("O", "departure", "destination")
    assert not vocabulary.bilou


@pytest.mark.parametrize(
    "vocabulary",
    [
        TagVocabulary.for_entities(["date", "city", "post-code"], bilou=True),
        TagVocabulary.for_entities(["date", "city", "post-code"], bilou=False),
        TagVocabulary.for_labels(["date", "city", "post-code"]),
    ],
    ids=["bilou", "plain", "labels"],
)
def test_labels_are_the_names_without_prefixes_or_o_in_tag_order(vocabulary):
    assert vocabulary.labels() == ["date", "city", "post-code"]


def test_vocabulary_without_entity_types_has_only_o():
    vocabulary = TagVocabulary.for_entities([], bilou=True)
    assert vocabulary.tags == ("O",)
    assert vocabulary.labels() == []


@pytest.mark.parametrize("bilou", [True, False], ids=["bilou", "plain"])
def test_index_is_the_position_of_the_tag(bilou):
    vocabulary = TagVocabulary.for_entities(["city", "date"], bilou)
    assert vocabulary.index("O") == 0
    assert [vocabulary.index(tag) for tag in vocabulary.tags] == list(range(len(vocabulary)))
    assert vocabulary.index("U-date" if bilou else "date") == len(vocabulary) - 1


def test_index_of_an_unknown_tag_raises():
    vocabulary = TagVocabulary.for_entities(["city"], bilou=True)
    with pytest.raises(KeyError):
        vocabulary.index("U-date")
    with pytest.raises(KeyError):
        vocabulary.index("city")  # a plain tag is not in a BILOU vocabulary


def test_vocabularies_with_the_same_tags_are_equal_after_use():
    used = TagVocabulary.for_entities(["city"], bilou=True)
    used.index("U-city")  # caches the ids; must not change equality or hashing
    fresh = TagVocabulary.for_entities(["city"], bilou=True)
    assert used == fresh
    assert hash(used) == hash(fresh)


# --- tag_vocabularies ----------------------------------------------------------------------------


def training_data(*markups: str) -> TrainingData:
    examples = []
    for markup in markups:
        text, entities = parse_markup(markup)
        examples.append(Example(text, intent="inform", entities=entities))
    return TrainingData(examples=examples)


def test_tag_vocabularies_has_one_vocabulary_per_head_the_data_needs():
    data = training_data(
        TRIP,
        "[Lisbon](city) in [May](date)",
        'to [Oslo]{"entity": "airport", "role": "stopover"}',
    )
    vocabularies = tag_vocabularies(data, DIETConfig())
    assert set(vocabularies) == {"entity", "role", "group"}
    assert vocabularies["entity"] == TagVocabulary.for_entities(
        ["airport", "city", "date"], bilou=True
    )
    assert vocabularies["role"].tags == ("O", "departure", "destination", "stopover")
    assert vocabularies["group"].tags == ("O", "1", "2")


def test_tag_vocabularies_follow_the_bilou_flag():
    data = training_data("[Lisbon](city) in [May](date)")
    vocabularies = tag_vocabularies(data, DIETConfig(BILOU_flag=False))
    assert vocabularies == {"entity": TagVocabulary.for_entities(["city", "date"], bilou=False)}


def test_tag_vocabularies_leave_out_roles_and_groups_the_data_lacks():
    only_roles = training_data('to [Oslo]{"entity": "city", "role": "destination"}')
    assert set(tag_vocabularies(only_roles, DIETConfig())) == {"entity", "role"}
    only_groups = training_data('to [Oslo]{"entity": "city", "group": "1"}')
    assert set(tag_vocabularies(only_groups, DIETConfig())) == {"entity", "group"}


def test_no_tag_vocabularies_without_entities_or_entity_recognition():
    assert tag_vocabularies(training_data("hello there", "bye"), DIETConfig()) == {}
    with_entities = training_data(TRIP)
    assert tag_vocabularies(with_entities, DIETConfig(entity_recognition=False)) == {}
