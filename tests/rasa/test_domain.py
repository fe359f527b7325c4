"""Tests for the domain reader: keys, merging, action order, slot features, errors, real data."""

import doctest
import re
import textwrap
import warnings
from pathlib import Path

import pytest
from conftest import split_domain

import diet_sparse.rasa.domain
from diet_sparse.errors import DomainError
from diet_sparse.rasa.domain import DEFAULT_ACTION_NAMES, DEFAULT_INTENTS, Slot, load_domain
from diet_sparse.rasa.nlu_data import TrainingDataError, TrainingDataWarning

PROJECT = Path(__file__).parents[1] / "fixtures" / "dialogue"
SHARED_DATASETS = Path(__file__).parents[3] / "shared" / "datasets"


def write(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return path


def load_without_warnings(paths, data=None):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDataWarning)
        return load_domain(paths, data=data)


def shared_dataset(*parts: str) -> Path:
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared datasets are not checked out here)")
    return path


def test_docstring_examples_run():
    result = doctest.testmod(diet_sparse.rasa.domain, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --- keys ----------------------------------------------------------------------------------------


def test_intents_entities_roles_groups_and_the_entities_each_intent_uses(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        intents:
        - greet:
            use_entities: []
        - book:
            use_entities: [city]
        - inform:
            ignore_entities: [date]
        - chitchat:
            use_entities: false
        - affirm
        entities:
        - city:
            roles: [from, to]
            groups: [trip]
        - date
        - debug:
            influence_conversation: false
        """,
    )
    domain = load_without_warnings(path)
    assert domain.intents == ("greet", "book", "inform", "chitchat", "affirm") + DEFAULT_INTENTS
    assert domain.entities == ("city", "date", "debug")
    assert domain.roles == {"city": ("from", "to")}
    assert domain.groups == {"city": ("trip",)}
    assert domain.entity_states == ["city", "date", "debug", "city#from", "city#to", "city#trip"]
    city = ("city", "city#from", "city#to", "city#trip")
    assert domain.entities_used_by("greet") == ()
    assert domain.entities_used_by("chitchat") == ()
    assert domain.entities_used_by("book") == city
    assert domain.entities_used_by("inform") == city  # date ignored, debug never influences
    assert domain.entities_used_by("affirm") == (*city, "date")
    assert domain.entities_used_by("not_declared") == tuple(sorted(domain.entity_states))


def test_an_intent_that_uses_and_ignores_an_entity_warns(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        intents:
        - book:
            use_entities: [city]
            ignore_entities: [city]
        entities: [city]
        """,
    )
    with pytest.warns(TrainingDataWarning, match="intent 'book' both uses and ignores"):
        domain = load_domain(path)
    assert domain.entities_used_by("book") == ()


def test_slots_keep_their_definition_initial_value_and_mappings(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          name:
            type: text
            initial_value: Ann
            mappings:
            - type: from_entity
              entity: person
          temperature:
            type: float
            min_value: -10
            max_value: 30.5
            mappings: [{type: custom}]
          debug:
            type: text
            influence_conversation: false
          notes:
            type: any
        """,
    )
    slots = load_without_warnings(path).slots
    assert list(slots) == ["name", "temperature", "debug", "notes"]  # no forms: no requested_slot
    assert slots["name"] == Slot(
        "name", "text", initial_value="Ann", mappings=({"type": "from_entity", "entity": "person"},)
    )
    assert (slots["temperature"].min_value, slots["temperature"].max_value) == (-10.0, 30.5)
    assert slots["temperature"].mappings == ({"type": "custom"},)
    assert not slots["debug"].influence_conversation
    assert not slots["notes"].influence_conversation  # the default of 'any'
    assert (slots["name"].min_value, slots["name"].max_value) == (0.0, 1.0)  # float defaults


def test_values_are_read_as_yaml_1_2_like_rasa(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          answer:
            type: categorical
            values: [yes, no, "on", 3]
        """,
    )
    assert load_domain(path).slots["answer"].values == ("yes", "no", "on", "3", "__other__")


def test_initial_values_rasa_featurizes_differently_warn(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          size:
            type: categorical
            values: [small]
            initial_value: huge
          speed:
            type: float
            max_value: 10
            initial_value: 11
        """,
    )
    with pytest.warns(TrainingDataWarning) as record:
        load_domain(path)
    messages = [str(w.message) for w in record]
    assert any(f"{path}:5: initial_value: 'huge' is not one of the values" in m for m in messages)
    assert any(f"{path}:9: initial_value: 11 is outside [0.0, 10.0]" in m for m in messages)


def test_responses_keep_their_texts_and_forms_their_required_slots(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          a: {type: text}
          b: {type: text}
        responses:
          utter_hi:
          - text: Hi!
          - text: Hello!
            channel: slack
          utter_menu:
          - custom: {kind: menu}
        forms:
          list_form:
            required_slots: [a, b]
          rasa2_form:
            required_slots:
              b:
              - type: from_text
          empty_form:
        """,
    )
    domain = load_without_warnings(path)
    assert domain.responses == {  # each variation as written
        "utter_hi": ({"text": "Hi!"}, {"text": "Hello!", "channel": "slack"}),
        "utter_menu": ({"custom": {"kind": "menu"}},),
    }
    assert domain.forms == {"list_form": ("a", "b"), "rasa2_form": ("b",), "empty_form": ()}
    assert domain.slots["requested_slot"] == Slot(
        "requested_slot", "text", influence_conversation=False
    )
    assert domain.loop_names == (
        "list_form",
        "rasa2_form",
        "empty_form",
        "action_two_stage_fallback",
    )


def test_session_config_config_and_version_are_read(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        version: "3.1"
        session_config:
          session_expiration_time: 60
        config:
          store_entities_as_slots: false
        e2e_actions:
        - Hi there!
        intents: [greet]
        """,
    )
    domain = load_without_warnings(path)
    assert domain.version == "3.1"
    assert domain.session_config == {"session_expiration_time": 60}
    assert not domain.store_entities_as_slots
    assert domain.action_texts == ("Hi there!",)


# --- action names --------------------------------------------------------------------------------


def test_default_actions_come_first_in_rasa_3s_order():
    assert DEFAULT_ACTION_NAMES == (
        "action_listen",
        "action_restart",
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_unlikely_intent",
        "action_back",
        "action_extract_slots",
    )


def test_action_names_are_defaults_then_actions_and_forms_then_sorted_responses(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        responses:
          utter_zebra: [{text: z}]
          utter_ask: [{text: a}]
          utter_faq/price: [{text: It is free.}]
          utter_faq/size: [{text: Small.}]
          utter_listed: [{text: l}]
        actions:
        - action_search
        - action_default_fallback
        - utter_listed
        - action_send:
            send_domain: true
        forms:
          booking_form: {required_slots: []}
        """,
    )
    domain = load_without_warnings(path)
    assert domain.action_names == DEFAULT_ACTION_NAMES + (
        "action_search",
        "utter_listed",
        "action_send",
        "booking_form",
        "utter_ask",
        "utter_faq",  # the retrieval action of utter_faq/price and utter_faq/size
        "utter_zebra",
    )
    assert domain.actions == (
        "action_search",
        "action_default_fallback",
        "utter_listed",
        "action_send",
    )
    assert domain.action_names.index("action_listen") == 0


def test_a_response_not_starting_with_utter_warns_and_is_no_action(tmp_path):
    path = write(tmp_path, "domain.yml", "responses:\n  greeting:\n  - text: Hi\n")
    with pytest.warns(TrainingDataWarning, match=f"{path}:2: response 'greeting' does not start"):
        domain = load_domain(path)
    assert "greeting" not in domain.action_names
    assert domain.responses == {"greeting": ({"text": "Hi"},)}


def test_a_response_naming_an_unknown_slot_warns_naming_both(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          destination: {type: text, mappings: [{type: from_text}]}
        responses:
          utter_confirm:
          - text: Flying to {destinaton} on {date}, from {destination}. {destinaton}?
        """,
    )
    with pytest.warns(TrainingDataWarning) as record:
        domain = load_domain(path)
    messages = [str(warning.message) for warning in record]
    assert len(messages) == 2  # once per unknown slot, in the order they appear
    assert messages[0].startswith(f"{path}:4: response 'utter_confirm' names slot 'destinaton'")
    assert "(did you mean 'destination'?)" in messages[0]
    assert "response 'utter_confirm' names slot 'date'" in messages[1]
    assert domain.responses["utter_confirm"][0]["text"].startswith("Flying to {destinaton}")


def test_responses_naming_declared_slots_do_not_warn(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          destination: {type: text, mappings: [{type: from_text}]}
        responses:
          utter_confirm:
          - text: Flying to {destination}.
        """,
    )
    load_without_warnings(path)


# --- slot features -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "slot, value, features",
    [
        (Slot("s", "text"), "Rome", [1.0]),
        (Slot("s", "text"), "", [1.0]),  # set, even if empty
        (Slot("s", "text"), None, [0.0]),
        (Slot("s", "list"), ["a", "b"], [1.0]),
        (Slot("s", "list"), [], [0.0]),
        (Slot("s", "list"), None, [0.0]),
        (Slot("s", "bool"), True, [1.0, 1.0]),
        (Slot("s", "bool"), False, [1.0, 0.0]),
        (Slot("s", "bool"), "yes", [1.0, 1.0]),
        (Slot("s", "bool"), "no", [1.0, 0.0]),
        (Slot("s", "bool"), 1, [1.0, 1.0]),
        (Slot("s", "bool"), 0, [1.0, 0.0]),
        (Slot("s", "bool"), None, [0.0, 0.0]),
        (Slot("s", "bool"), "maybe", [0.0, 0.0]),  # unreadable: as if unset, like Rasa
        (Slot("s", "float", min_value=-10.0, max_value=10.0), 5, [1.0, 0.75]),
        (Slot("s", "float", min_value=-10.0, max_value=10.0), "-5", [1.0, 0.25]),
        (Slot("s", "float", min_value=-10.0, max_value=10.0), 20, [1.0, 1.0]),  # clipped
        (Slot("s", "float", min_value=-10.0, max_value=10.0), -20, [1.0, 0.0]),
        (Slot("s", "float"), 0.3, [1.0, 0.3]),
        (Slot("s", "float"), None, [0.0, 0.0]),
        (Slot("s", "float"), "abc", [0.0, 0.0]),
        (Slot("s", "categorical", values=("low", "high", "__other__")), "high", [0.0, 1.0, 0.0]),
        (Slot("s", "categorical", values=("low", "high", "__other__")), "LOW", [1.0, 0.0, 0.0]),
        (Slot("s", "categorical", values=("low", "high", "__other__")), "mid", [0.0, 0.0, 1.0]),
        (Slot("s", "categorical", values=("low", "high", "__other__")), None, [0.0, 0.0, 0.0]),
        (Slot("s", "any", influence_conversation=False), "x", []),
        (Slot("s", "text", influence_conversation=False), "x", []),
        (Slot("s", "bool", influence_conversation=False), True, []),
    ],
)
def test_slot_features_per_type(slot, value, features):
    assert slot.features(value) == features
    assert slot.feature_size == len(features)


def test_categorical_slots_read_from_yaml_get_other_and_one_feature_per_value(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          size: {type: categorical, values: [small, large]}
          mood: {type: categorical, values: [good, __other__]}
          flag: {type: bool}
        """,
    )
    domain = load_without_warnings(path)
    assert domain.slots["size"].values == ("small", "large", "__other__")
    assert domain.slots["mood"].values == ("good", "__other__")
    assert domain.slots["size"].features("medium") == [0.0, 0.0, 1.0]
    assert domain.slot_states == [
        "size_0",
        "size_1",
        "size_2",
        "mood_0",
        "mood_1",
        "flag_0",
        "flag_1",
    ]


def test_check_value_says_what_a_slot_expects():
    Slot("s", "bool").check_value("Yes")
    Slot("s", "float").check_value("2.5")
    Slot("s", "categorical", values=("a", "__other__")).check_value("b")  # featurized as other
    with pytest.raises(ValueError, match="slot 's' is bool: expected true/false"):
        Slot("s", "bool").check_value("maybe")
    with pytest.raises(ValueError, match="slot 's' is float: expected a number, got 'abc'"):
        Slot("s", "float").check_value("abc")


def test_slots_filled_from_entities_follow_unconditional_from_entity_mappings(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        slots:
          destination:
            type: text
            mappings: [{type: from_entity, entity: city, role: to}]
          cities:
            type: list
            mappings: [{type: from_entity, entity: city}]
          email:
            type: text
            mappings:
            - type: from_entity
              entity: email
              conditions: [{active_loop: signup_form}]
        """,
    )
    domain = load_without_warnings(path)
    entities = [("city", "Rome", "to", None), ("city", "Oslo"), ("city", "Bonn"), ("email", "a@b")]
    assert domain.slots_for_entities(entities) == [
        ("destination", "Rome"),
        ("cities", ["Oslo", "Bonn"]),
    ]


# --- several files -------------------------------------------------------------------------------


def test_files_and_folders_merge_and_identical_definitions_may_repeat(tmp_path):
    first = write(tmp_path, "a/domain.yml", "intents: [greet]\nslots:\n  s: {type: text}\n")
    write(tmp_path, "b/more.yml", "intents: [greet, bye]\nslots:\n  s: {type: text}\n")
    write(tmp_path, "b/responses.yaml", "responses:\n  utter_bye: [{text: Bye}]\n")
    write(tmp_path, "b/notes.txt", "not yaml")
    domain = load_without_warnings([first, tmp_path / "b"])
    assert domain.intents[:2] == ("greet", "bye")
    assert list(domain.slots) == ["s"]
    assert domain.action_names[-1] == "utter_bye"


def test_a_rasa_project_folder_loads_with_its_nlu_stories_and_rules_files():
    domain = load_without_warnings([PROJECT / "domain.yml", PROJECT / "data"])
    assert "utter_default" in domain.responses  # from data/rules.yml
    assert domain.forms == {"booking_form": ("destination", "seat")}
    assert list(domain.slots) == ["seat", "destination", "confirmed", "notes", "requested_slot"]
    assert domain.slot_states == [
        "seat_0",
        "seat_1",
        "seat_2",
        "destination_0",
        "confirmed_0",
        "confirmed_1",
    ]


def test_a_domain_split_into_a_folder_loads_equal_to_the_single_file(tmp_path):
    """As Rasa's Domain.from_directory: all domain files below the folder, merged."""
    single = PROJECT / "domain.yml"
    folder = tmp_path / "domain"
    parts = {
        "intents.yml": ("version", "intents", "entities", "actions"),
        "say/responses.yml": ("version", "responses"),  # a sub-folder is read too
        "slots_and_forms.yml": ("slots", "forms", "session_config"),
    }
    split_domain(single, folder, parts)
    write(folder, "README.md", "# notes, not a domain file\n")
    assert "forms:" in (folder / "slots_and_forms.yml").read_text()

    split = load_without_warnings(folder)
    assert split == load_without_warnings(single)
    assert split.forms == {"booking_form": ("destination", "seat")}
    assert split.responses["utter_booked"] == ({"text": "Booked a flight to {destination}."},)


DEFINED_TWICE = {
    "intent": (
        "intents: [greet]\n",
        "intents:\n- greet:\n    use_entities: []\n",
        lambda domain: domain.entities_used_by("greet") == ("city",),
    ),
    "entity": (
        "entities: [city]\n",
        "entities:\n- city:\n    roles: [to]\n",
        lambda domain: domain.roles == {},
    ),
    "slot": (
        "slots:\n  s: {type: text}\n",
        "slots:\n  s: {type: bool}\n",
        lambda domain: domain.slots["s"].type == "text",
    ),
    "response": (
        "responses:\n  utter_a: [{text: A}]\n",
        "responses:\n  utter_a: [{text: B}]\n",
        lambda domain: domain.responses["utter_a"] == ({"text": "A"},),
    ),
    "form": (
        "slots:\n  s: {type: text}\nforms:\n  f: {required_slots: []}\n",
        "forms:\n  f: {required_slots: [s]}\n",
        lambda domain: domain.forms["f"] == (),
    ),
}


@pytest.mark.parametrize("kind", DEFINED_TWICE)
def test_a_name_defined_differently_in_two_files_keeps_the_first_and_warns(tmp_path, kind):
    """Rasa's merge_domain_dicts keeps the definition it read first and warns."""
    first, second, first_kept = DEFINED_TWICE[kind]
    a = write(tmp_path, "a.yml", first + ("entities: [city]\n" if kind == "intent" else ""))
    b = write(tmp_path, "b.yml", second)
    with pytest.warns(TrainingDataWarning) as caught:
        domain = load_domain(tmp_path)
    assert first_kept(domain)
    (message,) = [str(warning.message) for warning in caught]
    assert message.startswith(f"{b}:") and f"is defined differently at {a}:" in message
    assert kind in message and "first definition is used" in message


TWICE_IN_ONE_FILE = {
    "intent": ("intents:\n- greet\n- greet:\n    use_entities: []\n", 3),
    "entity": ("entities:\n- city\n- city\n", 3),
    "slot": ("slots:\n  s: {type: text}\n  s: {type: text}\n", 3),
    "response": ("responses:\n  utter_a: [{text: A}]\n  utter_a: [{text: B}]\n", 3),
    "form": ("forms:\n  f: {required_slots: []}\n  f: {required_slots: []}\n", 3),
}


@pytest.mark.parametrize("kind", TWICE_IN_ONE_FILE)
def test_a_name_defined_twice_in_one_file_is_an_error(tmp_path, kind):
    """Rasa refuses it too ("Intents are not unique", or YAML's duplicate key)."""
    content, line = TWICE_IN_ONE_FILE[kind]
    path = write(tmp_path, "domain.yml", content)
    with pytest.raises(TrainingDataError) as error:
        load_domain(path)
    message = str(error.value)
    assert message.startswith(f"{path}:{line}: {kind} ") and "\n" not in message
    assert f"is defined twice in this file (first at {path}:2)" in message


def test_session_config_is_the_first_that_is_not_rasas_default_and_config_the_first_set(
    tmp_path,
):
    default = (
        "session_config:\n  session_expiration_time: 60\n  carry_over_slots_to_new_session: true\n"
    )
    write(tmp_path, "a.yml", "intents: [greet]\n" + default)
    write(tmp_path, "b.yml", "session_config:\n  session_expiration_time: 5\n")
    write(tmp_path, "c.yml", "session_config:\n  session_expiration_time: 9\n")
    write(tmp_path, "d.yml", "config:\n  store_entities_as_slots: false\n")
    last = write(tmp_path, "e.yml", "config:\n  store_entities_as_slots: true\n")
    with pytest.warns(TrainingDataWarning, match="store_entities_as_slots: true differs") as w:
        domain = load_domain(tmp_path)
    assert str(w[0].message).startswith(f"{last}:")
    assert domain.session_config == {"session_expiration_time": 5}
    assert domain.store_entities_as_slots is False


# --- responses in the training data --------------------------------------------------------------


def test_responses_of_the_training_data_join_the_domain_and_replace_its_own(tmp_path):
    """As Rasa's ResponsesSyncImporter: the data files' responses over the domain's, a later
    data file's over an earlier one's, and the retrieval intents of the NLU data."""
    domain_file = write(
        tmp_path,
        "domain.yml",
        """
        intents: [greet]
        responses:
          utter_greet: [{text: Hi from the domain}]
          utter_bye: [{text: Bye from the domain}]
        """,
    )
    data = tmp_path / "data"
    write(
        data,
        "a_nlu.yml",
        """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hi
        - intent: faq/ask_price
          examples: |
            - what does it cost
        responses:
          utter_bye: [{text: Bye from the data}]
          utter_faq/ask_price: [{text: Nothing.}]
        """,
    )
    later = write(
        data,
        "b_responses.yml",
        """
        responses:
          utter_out_of_scope: [{text: Sorry}]
          utter_faq/ask_price: [{text: It is free.}]
        """,
    )
    write(data, "rules.yml", "rules:\n- rule: r\n  steps:\n  - intent: greet\n")
    assert load_without_warnings(domain_file).responses.keys() == {"utter_greet", "utter_bye"}

    with pytest.warns(TrainingDataWarning) as caught:
        domain = load_domain(domain_file, data=data)
    assert domain.responses == {
        "utter_greet": ({"text": "Hi from the domain"},),
        "utter_bye": ({"text": "Bye from the data"},),
        "utter_faq/ask_price": ({"text": "It is free."},),
        "utter_out_of_scope": ({"text": "Sorry"},),
    }
    assert {"utter_out_of_scope", "utter_faq", "utter_bye"} <= set(domain.action_names)
    assert domain.intents[:2] == ("greet", "faq")  # the retrieval intent joins the intents
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 2
    assert messages[0].startswith(f"{data / 'a_nlu.yml'}:") and "'utter_bye'" in messages[0]
    assert f"also defined at {domain_file}:" in messages[0]
    assert messages[1].startswith(f"{later}:") and "'utter_faq/ask_price'" in messages[1]


def test_a_file_given_as_domain_and_data_is_read_once(tmp_path):
    write(tmp_path, "domain.yml", "intents: [greet]\n")
    write(tmp_path, "data/responses.yml", "responses:\n  utter_a: [{text: A}]\n")
    domain = load_without_warnings([tmp_path / "domain.yml", tmp_path / "data"])
    again = load_without_warnings([tmp_path / "domain.yml", tmp_path / "data"], data=tmp_path)
    assert domain == again and domain.responses == {"utter_a": ({"text": "A"},)}


@pytest.mark.parametrize(
    "content, expected",
    [
        ("responses:\n  utter_a: Hello\n", "{path}:2: response 'utter_a': expected a list"),
        (
            "responses:\n  utter_a: [{text: A}]\n  utter_a: [{text: B}]\n",
            "{path}:3: response 'utter_a' is defined twice in this file",
        ),
        ("nlu:\n- intent: faq/a\n  examples: [\n", "{path}:4: invalid YAML"),
    ],
)
def test_bad_responses_in_the_training_data_are_one_line_errors_naming_the_file(
    tmp_path, content, expected
):
    domain_file = write(tmp_path, "domain.yml", "intents: [greet]\n")
    path = write(tmp_path, "data/nlu.yml", content)
    with pytest.raises(TrainingDataError) as error:
        load_domain(domain_file, data=tmp_path / "data")
    message = str(error.value)
    assert "\n" not in message and message.startswith(expected.format(path=path))


# --- errors --------------------------------------------------------------------------------------

ERROR_CASES = {
    "unknown top-level key": (
        "intents: [greet]\nslot:\n  s: {type: text}\n",
        ["unknown top-level key 'slot' in {path} (line 2) (did you mean 'slots'?)"],
    ),
    "old templates key": (
        "templates:\n  utter_hi: [{text: hi}]\n",
        ["'templates' in {path} (line 1); Rasa 2 renamed it 'responses'"],
    ),
    "slot without type": (
        "slots:\n  s:\n    mappings: []\n",
        ["{path}:2: slot 's': no 'type'", "text, bool, categorical, float, list, any"],
    ),
    "slot that is null": ("slots:\n  s:\n", ["{path}:2: slot 's': no 'type'"]),
    "unknown slot type": (
        "slots:\n  s:\n    type: unfeaturized\n",
        ["{path}:3: slot 's': unknown type 'unfeaturized'", "an unfeaturized slot is 'type: any'"],
    ),
    "unknown slot key": (
        "slots:\n  s:\n    type: text\n    auto_fil: true\n",
        ["{path}:4: slot 's': unknown key 'auto_fil'", "allowed keys: type, values"],
    ),
    "categorical without values": (
        "slots:\n  s:\n    type: categorical\n",
        ["{path}:2: slot 's': a categorical slot needs 'values'", "got nothing"],
    ),
    "categorical with empty values": (
        "slots:\n  s:\n    type: categorical\n    values: []\n",
        ["{path}:4: slot 's': a categorical slot needs 'values'"],
    ),
    "categorical with a null value": (
        "slots:\n  s:\n    type: categorical\n    values:\n    - null\n",
        ["{path}:5: slot 's': null is not a value"],
    ),
    "values on a text slot": (
        "slots:\n  s:\n    type: text\n    values: [a]\n",
        ["{path}:4: slot 's': 'values' is only for categorical slots"],
    ),
    "float with min above max": (
        "slots:\n  s:\n    type: float\n    min_value: 5\n    max_value: 1\n",
        ["{path}:4: slot 's': min_value 5.0 must be smaller than max_value 1.0"],
    ),
    "float with min equal to max": (
        "slots:\n  s:\n    type: float\n    min_value: 1\n",
        ["{path}:4: slot 's': min_value 1.0 must be smaller than max_value 1.0"],
    ),
    "float bound that is text": (
        "slots:\n  s:\n    type: float\n    max_value: lots\n",
        ["{path}:4: slot 's': 'max_value' must be a number, got the value 'lots'"],
    ),
    "influence_conversation not a bool": (
        "slots:\n  s:\n    type: text\n    influence_conversation: yes\n",
        ["{path}:4: slot 's': 'influence_conversation' must be true or false, got the value 'yes'"],
    ),
    "any slot that influences": (
        "slots:\n  s:\n    type: any\n    influence_conversation: true\n",
        ["{path}:4: slot 's': an 'any' slot cannot influence the conversation"],
    ),
    "bool initial value of the wrong type": (
        "slots:\n  s:\n    type: bool\n    initial_value: maybe\n",
        ["{path}:4: slot 's': initial_value: slot 's' is bool: expected true/false, yes/no or 1/0"],
    ),
    "float initial value of the wrong type": (
        "slots:\n  s:\n    type: float\n    initial_value: high\n",
        ["{path}:4: slot 's': initial_value: slot 's' is float: expected a number, got 'high'"],
    ),
    "mapping without type": (
        "slots:\n  s:\n    type: text\n    mappings:\n    - entity: city\n",
        ["{path}:5: slot 's': a mapping needs a 'type'"],
    ),
    "slots not a mapping": ("slots:\n- s\n", ["{path}:2: 'slots' must be a mapping of names"]),
    "intent followed by a colon": (
        "intents:\n- greet:\n",
        ["{path}:2: an intent 'greet' is followed by ':' but has no properties; remove the ':'"],
    ),
    "unknown intent key": (
        "intents:\n- greet:\n    use_entity: []\n",
        ["{path}:3: intent 'greet': unknown key 'use_entity' (did you mean 'use_entities'?)"],
    ),
    "use_entities of the wrong type": (
        "intents:\n- greet:\n    use_entities: city\n",
        ["{path}:3: intent 'greet': 'use_entities' must be true, false or a list of entities"],
    ),
    "use_entities naming an unknown entity": (
        "intents:\n- greet:\n    use_entities: [city]\n",
        [
            "{path}:2: intent 'greet': entity 'city' in use_entities or ignore_entities is not "
            "declared"
        ],
    ),
    "intents not a list": ("intents: greet\n", ["{path}:1: 'intents' must be a list"]),
    "empty intent name": ("intents:\n- ''\n", ["{path}:2: an intent must be a non-empty name"]),
    "roles not a list": (
        "entities:\n- city:\n    roles: from\n",
        ["{path}:3: entity 'city': 'roles' must be a list of names"],
    ),
    "response not a list": (
        "responses:\n  utter_hi: Hello\n",
        ["{path}:2: response 'utter_hi': expected a list of variations"],
    ),
    "response variation as plain text": (
        "responses:\n  utter_hi:\n  - Hello\n",
        ["{path}:3: a variation of response 'utter_hi' must be a mapping"],
    ),
    "form requiring an undeclared slot": (
        "forms:\n  f:\n    required_slots: [s]\n",
        ["{path}:2: form 'f': required slot 's' is not declared under 'slots'"],
    ),
    "unknown form key": (
        "forms:\n  f:\n    cuisine: []\n",
        [
            "{path}:3: form 'f': unknown key 'cuisine'",
            "allowed keys: required_slots, ignored_intents",
        ],
    ),
    "empty file": ("\n", ["{path} is empty"]),
    "no domain key": ("nlu: []\n", ["no domain key in {path}"]),
}


@pytest.mark.parametrize("content, expected", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_unusable_domains_raise_one_line_errors_naming_file_line_and_key(
    tmp_path, content, expected
):
    path = write(tmp_path, "domain.yml", content)
    with pytest.raises(TrainingDataError) as error:
        load_domain(path)
    message = str(error.value)
    assert "\n" not in message
    for fragment in expected:
        assert fragment.format(path=path) in message


def test_missing_path_and_no_paths_are_errors(tmp_path):
    with pytest.raises(TrainingDataError, match="domain path .*missing.yml does not exist"):
        load_domain(tmp_path / "missing.yml")
    with pytest.raises(TrainingDataError, match="no domain paths given"):
        load_domain([])


# --- the shared datasets -------------------------------------------------------------------------


def test_ted_workshop_domain_loads():
    domain = load_without_warnings(shared_dataset("ted_workshop", "domain.yml"))
    assert domain.intents[:10] == (
        "request_restaurant",
        "request_hotel",
        "inform",
        "request_info",
        "about",
        "affirm",
        "correct",
        "chitchat",
        "explain",
        "did_that_work",
    )
    assert len(domain.entities) == 13
    assert len(domain.slots) == 16
    assert domain.slot_states == ["hotel_0", "restaurant_0"]  # only the two text slots influence
    assert len(domain.responses) == 38
    assert len(domain.action_names) == len(DEFAULT_ACTION_NAMES) + 2 + 38
    assert domain.action_names[12:14] == ("action_search_restaurant", "action_search_hotel")


def test_sara_domain_and_its_retrieval_responses_load():
    domain = load_without_warnings(
        [shared_dataset("sara_core", "domain.yml"), shared_dataset("sara_core", "responses.yml")]
    )
    assert len(domain.intents) == 42 + 2  # restart, out_of_scope and nlu_fallback are declared
    assert len(domain.entities) == 16
    assert len(domain.slots) == 27 + 1  # and requested_slot, for its 4 forms
    assert len(domain.forms) == 4
    assert {"utter_faq", "utter_chitchat", "utter_out_of_scope"} <= set(domain.action_names)
    assert not any("/" in name for name in domain.action_names)
    assert domain.entities_used_by("faq") == ("product",)
    assert domain.entities_used_by("trigger_response_selector") == ()
    assert domain.slots["product"].values[-1] == "__other__"


@pytest.mark.parametrize(
    "variation, problem",
    [
        ("{text: hi, buttons: {title: x}}", "'buttons' must be a list of mappings, got a mapping"),
        ("{text: hi, image: [a]}", "'image' must be text, got a list"),
        ("{text: hi, channel: 3}", "'channel' must be text"),
        ("{custom: [1]}", "'custom' must be a mapping"),
        ("{text: hi, condition: [{type: slot, value: 1}]}", "'condition' must be a list of"),
    ],
)
def test_a_response_field_of_the_wrong_shape_is_an_error_naming_it(tmp_path, variation, problem):
    path = write(tmp_path, "domain.yml", f"responses:\n  utter_x:\n  - {variation}\n")
    with pytest.raises(DomainError, match=f"{path}:3: response 'utter_x': {re.escape(problem)}"):
        load_domain(path)


def test_responses_keep_every_field_and_dates_as_text(tmp_path):
    path = write(
        tmp_path,
        "domain.yml",
        """
        responses:
          utter_x:
          - text: hi
            id: first
            custom: {when: 2024-05-01, flags: [true, 3]}
            quick_replies: [{title: Yes, payload: /affirm}]
        """,
    )
    (variation,) = load_domain(path).responses["utter_x"]
    assert variation == {
        "text": "hi",
        "id": "first",
        "custom": {"when": "2024-05-01", "flags": [True, 3]},
        "quick_replies": [{"title": "Yes", "payload": "/affirm"}],
    }
