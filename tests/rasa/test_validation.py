"""`validate_project`: each of Rasa 3.6's ``rasa data validate`` checks finds its problem, with
Rasa's severity, and a clean project has no finding.

Each project is the clean one of `validation_project` with one change. The comment on each
test says what ``rasa data validate`` of Rasa 3.6.21 reported for the same project (and its
exit status, with ``--fail-on-warnings`` where it differs); run by hand, Rasa is no dependency
of the tests.
"""

from pathlib import Path

import pytest
from validation_project import CONFLICT, DEEP_CONFLICT, write_project

from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.stories import load_stories
from diet_sparse.rasa.validation import (
    ERROR,
    NOTICE,
    WARNING,
    find_story_conflicts,
    validate_project,
)


def validate(folder: Path, **options):
    return validate_project(
        folder / "domain.yml", folder / "data", folder / "config.yml", **options
    )


def only(validation, kind: str):
    found = validation.of_kind(kind)
    assert len(found) == 1, [str(finding) for finding in validation.findings]
    return found[0]


def test_a_clean_project_has_no_finding(tmp_path):
    # Rasa: no warning, exit 0.
    validation = validate(write_project(tmp_path))
    assert validation.findings == ()
    assert not validation.failed(fail_on_warnings=True)


def test_an_action_the_domain_lacks_is_an_error(tmp_path):
    # Rasa: "The action 'action_missing' is used in the 'greet and bye' block, ..."; exit 1.
    project = write_project(
        tmp_path,
        (
            "data/stories.yml",
            "      - action: utter_bye\n",
            "      - action: utter_bye\n      - action: action_missing\n",
        ),
    )
    finding = only(validate(project), "action-not-in-domain")
    assert finding.severity == ERROR
    assert "'action_missing'" in finding.message and "'greet and bye' block" in finding.message
    assert finding.source == f"{project / 'data' / 'stories.yml'}:9"
    assert validate(project).failed()


def test_a_form_the_domain_lacks_is_an_error(tmp_path):
    # Rasa: "The form 'other_form' is used in the 'ask city' block, ..."; exit 1.
    project = write_project(
        tmp_path,
        (
            "data/rules.yml",
            "      - action: utter_ask_city\n",
            "      - action: utter_ask_city\n      - active_loop: other_form\n",
        ),
    )
    finding = only(validate(project), "form-not-in-domain")
    assert finding.severity == ERROR and "'other_form'" in finding.message
    assert "'ask city' block" in finding.message


def test_a_slot_mapping_for_an_unknown_form_is_an_error(tmp_path):
    # Rasa: "Slot 'city' has a mapping condition for form 'other_form' which is not listed in
    # domain forms. ..."; exit 1.
    project = write_project(
        tmp_path,
        (
            "domain.yml",
            "          - active_loop: booking_form\n",
            "          - active_loop: booking_form\n          - active_loop: other_form\n",
        ),
    )
    finding = only(validate(project), "slot-mapping-form-unknown")
    assert finding.severity == ERROR
    assert "Slot 'city'" in finding.message and "'other_form'" in finding.message


def test_a_slot_mapping_for_a_form_that_does_not_require_the_slot_is_an_error(tmp_path):
    # Rasa: "Slot 'when' has a mapping condition for form 'other_form', but it's not present in
    # 'other_form' form's 'required_slots'. ..."; exit 1.
    project = write_project(
        tmp_path,
        (
            "domain.yml",
            "      - city\nresponses",
            "      - city\n  other_form:\n    required_slots:\n      - date\nresponses",
        ),
        (
            "domain.yml",
            "slots:\n",
            "slots:\n  date:\n    type: text\n    mappings:\n      - type: from_text\n"
            "  when:\n    type: text\n    mappings:\n      - type: from_text\n"
            "        conditions:\n          - active_loop: other_form\n",
        ),
    )
    finding = only(validate(project), "slot-mapping-not-required")
    assert finding.severity == ERROR and "Slot 'when'" in finding.message


def test_an_nlu_intent_the_domain_lacks_is_a_warning(tmp_path):
    # Rasa: "There is a message in the training data labeled with intent 'chitchat'. ...";
    # exit 0, 1 with --fail-on-warnings.
    project = write_project(
        tmp_path,
        (
            "data/nlu.yml",
            "  - intent: bye\n",
            "  - intent: chitchat\n    examples: |\n      - how are you\n      - whats up\n"
            "  - intent: bye\n",
        ),
    )
    validation = validate(project)
    finding = only(validation, "intent-not-in-domain")
    assert finding.severity == WARNING and "'chitchat'" in finding.message
    assert finding.source == f"{project / 'data' / 'nlu.yml'}:9"
    assert not validation.failed() and validation.failed(fail_on_warnings=True)


def test_a_domain_intent_without_examples_or_stories_is_a_notice(tmp_path):
    # Rasa: "The intent 'thank' is listed in the domain file, but is not found in the NLU
    # training data." and "The intent 'thank' is not used in any story or rule."; exit 0 even
    # with --fail-on-warnings (Rasa's `ignore_warnings or everything_is_alright`).
    project = write_project(tmp_path, ("domain.yml", "  - book\n", "  - book\n  - thank\n"))
    validation = validate(project)
    assert "'thank'" in only(validation, "intent-not-in-nlu").message
    assert "'thank'" in only(validation, "intent-not-in-stories").message
    assert {finding.severity for finding in validation.findings} == {NOTICE}
    assert not validation.failed(fail_on_warnings=True)


def test_an_example_under_two_intents_is_a_warning_reported_once(tmp_path):
    # Rasa: "The example 'hello' was found labeled with multiple different intents ... The
    # example is labeled with: bye, greet."; exit 0, 1 with --fail-on-warnings.
    project = write_project(
        tmp_path, ("data/nlu.yml", "      - goodbye\n", "      - goodbye\n      - hello\n")
    )
    validation = validate(project)
    finding = only(validation, "example-in-several-intents")
    assert finding.severity == WARNING and finding.message.endswith("labeled with: bye, greet.")
    assert len(validation.findings) == 1  # not again as the NLU reader's warning


def test_a_story_intent_the_domain_lacks_is_a_warning(tmp_path):
    # Rasa: "The intent 'deny' is used in your stories, but it is not listed in the domain
    # file. ..." (after its story reader's own warning); exit 0, 1 with --fail-on-warnings.
    project = write_project(
        tmp_path,
        (
            "data/stories.yml",
            "      - intent: bye\n",
            "      - intent: deny\n      - action: utter_bye\n      - intent: bye\n",
        ),
    )
    finding = only(validate(project), "story-intent-not-in-domain")
    assert finding.severity == WARNING and "'deny'" in finding.message


def test_an_utter_action_without_a_response_is_a_warning(tmp_path):
    # Rasa: "The action 'utter_missing' is used in the stories, but is not a valid utterance
    # action. ..."; exit 0, 1 with --fail-on-warnings.
    project = write_project(
        tmp_path,
        (
            "data/stories.yml",
            "      - action: utter_bye\n",
            "      - action: utter_bye\n      - action: utter_missing\n",
        ),
    )
    finding = only(validate(project), "utterance-not-in-domain")
    assert finding.severity == WARNING and "'utter_missing'" in finding.message


def test_a_response_no_story_or_rule_uses_is_a_notice(tmp_path):
    # Rasa: "The utterance 'utter_unused' is not used in any story or rule."; exit 0 even with
    # --fail-on-warnings.
    project = write_project(
        tmp_path,
        ("domain.yml", "responses:\n", "responses:\n  utter_unused:\n    - text: Never said.\n"),
    )
    validation = validate(project)
    finding = only(validation, "utterance-unused")
    assert finding.severity == NOTICE and "'utter_unused'" in finding.message
    assert not validation.failed(fail_on_warnings=True)


def test_stories_taking_different_actions_from_one_state_are_a_warning(tmp_path):
    # Rasa: "Story structure conflict after intent 'bye': utter_greet predicted in 'greet and
    # wave', utter_bye predicted in 'greet and bye'"; exit 0, 1 with --fail-on-warnings.
    validation = validate(write_project(tmp_path, CONFLICT))
    finding = only(validation, "story-conflict")
    assert finding.severity == WARNING
    assert finding.message.startswith("Story structure conflict after intent 'bye': ")
    assert "utter_greet predicted in 'greet and wave'" in finding.message
    assert "utter_bye predicted in 'greet and bye'" in finding.message
    assert not validation.failed() and validation.failed(fail_on_warnings=True)


@pytest.mark.parametrize(
    "max_history, conflict_found",
    [
        (1, True),  # Rasa --max-history 1: "... after intent 'book': utter_greet predicted in
        # 'bye first', booking_form predicted in 'book'"
        (2, False),  # Rasa --max-history 2, and without it: no conflict (the turn before differs)
        (None, False),
    ],
)
def test_max_history_decides_how_far_back_a_conflict_looks(tmp_path, max_history, conflict_found):
    validation = validate(write_project(tmp_path, DEEP_CONFLICT), max_history=max_history)
    conflicts = validation.of_kind("story-conflict")
    assert len(conflicts) == conflict_found
    if conflict_found:
        assert conflicts[0].message.startswith("Story structure conflict after intent 'book': ")
        assert "utter_greet predicted in 'bye first'" in conflicts[0].message
        assert "booking_form predicted in 'book'" in conflicts[0].message


def test_rules_are_not_checked_for_conflicts(tmp_path):
    # The clean project's rule answers 'book' with utter_ask_city, its story with booking_form.
    project = write_project(tmp_path)
    stories = load_stories(project / "data")
    assert any(story.is_rule for story in stories)
    assert find_story_conflicts(stories, load_domain(project / "domain.yml"), 1) == []


def test_stories_only_checks_only_the_story_structure(tmp_path):
    project = write_project(
        tmp_path, CONFLICT, ("domain.yml", "  - book\n", "  - book\n  - thank\n")
    )
    validation = validate(project, stories_only=True)
    assert [finding.kind for finding in validation.findings] == ["story-conflict"]


def test_a_missing_mandatory_config_key_is_a_notice(tmp_path):
    # Rasa: "The config file is missing the 'assistant_id' mandatory key."; exit 0 even with
    # --fail-on-warnings.
    project = write_project(tmp_path, ("config.yml", "assistant_id: test_bot\n", ""))
    validation = validate(project)
    finding = only(validation, "config-key-missing")
    assert finding.severity == NOTICE and "'assistant_id'" in finding.message
    assert not validation.failed(fail_on_warnings=True)


def test_a_form_requiring_an_undeclared_slot_is_an_error(tmp_path):
    # Rasa: "The form slot 'seats' in form 'booking_form' is not present in the domain slots.";
    # exit 1. Here the domain reader refuses it.
    project = write_project(
        tmp_path,
        ("domain.yml", "      - city\nresponses", "      - city\n      - seats\nresponses"),
    )
    validation = validate(project)
    finding = only(validation, "unreadable")
    assert finding.severity == ERROR and "'seats'" in finding.message
    assert validation.failed()


def test_what_the_readers_warn_about_is_a_notice(tmp_path):
    project = write_project(
        tmp_path, ("data/nlu.yml", "      - see you\n", ""), ("data/nlu.yml", "goodbye", "bye")
    )
    validation = validate(project)
    finding = only(validation, "reader")
    assert finding.severity == NOTICE and "'bye'" in finding.message
    assert not validation.failed(fail_on_warnings=True)


def test_an_entity_markup_problem_names_its_file_and_line(tmp_path):
    # The NLU reader's own finding (a warning or an error, as it reads markup), as it said it.
    project = write_project(
        tmp_path,
        ("data/nlu.yml", "      - fly to [Paris](city)\n", "      - fly to [Paris]( )\n"),
    )
    validation = validate(project)
    where = f"{project / 'data' / 'nlu.yml'}:14"
    assert any(where in str(finding) for finding in validation.findings), [
        str(finding) for finding in validation.findings
    ]


def test_an_empty_domain_is_an_error(tmp_path):
    # Rasa: "Encountered empty domain during validation."; exit 1.
    project = write_project(tmp_path)
    (project / "domain.yml").write_text('version: "3.1"\nintents: []\n')
    validation = validate(project)
    assert only(validation, "empty-domain").severity == ERROR
    assert validation.failed()


def test_max_history_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        validate(write_project(tmp_path), max_history=0)


def test_a_conflict_state_holds_entities_influencing_slots_and_the_last_intent(tmp_path):
    # Checked against Rasa 3.6.21's `rasa data validate --max-history 1`: the entity-filled
    # categorical slot tells 'thai' from 'italian' apart, a slot that does not influence the
    # conversation tells nothing apart, and the intent of the last user turn stays in the
    # state after the bot's first action (so 'affirm' and 'deny' do not conflict after 'utter_ok').
    (tmp_path / "domain.yml").write_text(
        'version: "3.1"\nintents: [greet, inform, affirm, deny]\nentities: [cuisine]\n'
        "slots:\n  cuisine:\n    type: categorical\n    values: [italian, thai]\n"
        "    mappings: [{type: from_entity, entity: cuisine}]\n"
        "  note:\n    type: text\n    influence_conversation: false\n"
        "    mappings: [{type: custom}]\n"
        "responses:\n  utter_greet: [{text: hi}]\n  utter_ok: [{text: ok}]\n"
        "  utter_sorry: [{text: sorry}]\n"
    )
    (tmp_path / "stories.yml").write_text(
        'version: "3.1"\nstories:\n'
        "  - story: thai\n    steps:\n      - intent: inform\n"
        "        entities: [{cuisine: thai}]\n      - action: utter_sorry\n"
        "  - story: italian\n    steps:\n      - intent: inform\n"
        "        entities: [{cuisine: italian}]\n      - action: utter_ok\n"
        "  - story: greet\n    steps:\n      - intent: greet\n      - action: utter_greet\n"
        "  - story: note\n    steps:\n      - intent: greet\n"
        "      - slot_was_set: [{note: x}]\n      - action: utter_ok\n"
        "  - story: affirm\n    steps:\n      - intent: affirm\n      - action: utter_ok\n"
        "      - action: utter_greet\n"
        "  - story: deny\n    steps:\n      - intent: deny\n      - action: utter_ok\n"
        "      - action: utter_sorry\n"
    )
    domain = load_domain(tmp_path / "domain.yml")
    conflicts = find_story_conflicts(load_stories(tmp_path / "stories.yml"), domain, 1)
    assert [(conflict.after, conflict.actions) for conflict in conflicts] == [
        ("intent 'greet'", {"utter_greet": ["greet"], "utter_ok": ["note"]})
    ]


def test_retrieval_intents_and_their_responses_are_known_by_their_base_names(tmp_path):
    # Rasa: no finding (examples of faq/ask_price are labeled 'faq'; utter_faq is the action of
    # the responses utter_faq/ask_price and utter_faq/ask_time).
    project = write_project(
        tmp_path,
        ("domain.yml", "  - book\n", "  - book\n  - faq\n"),
        (
            "domain.yml",
            "responses:\n",
            "responses:\n  utter_faq/ask_price:\n    - text: It is free.\n"
            "  utter_faq/ask_time:\n    - text: Now.\n",
        ),
        (
            "data/nlu.yml",
            "  - intent: bye\n",
            "  - intent: faq/ask_price\n    examples: |\n      - how much is it\n"
            "      - what does it cost\n  - intent: faq/ask_time\n    examples: |\n"
            "      - when\n      - what time\n  - intent: bye\n",
        ),
        (
            "data/rules.yml",
            "rules:\n",
            "rules:\n  - rule: faq\n    steps:\n      - intent: faq\n      - action: utter_faq\n",
        ),
    )
    assert [str(finding) for finding in validate(project).findings] == []


def test_a_response_kept_in_a_data_file_is_part_of_the_domain(tmp_path):
    # Rasa merges the responses of data files into the domain (ResponsesSyncImporter): an
    # utter action whose response lives in data/ is valid, and that response is used.
    project = write_project(
        tmp_path,
        (
            "data/stories.yml",
            "      - action: utter_bye\n",
            "      - action: utter_bye\n      - action: utter_from_data\n",
        ),
    )
    (project / "data" / "responses.yml").write_text(
        'version: "3.1"\nresponses:\n  utter_from_data:\n    - text: Said from data/.\n'
    )
    validation = validate(project)
    assert not validation.of_kind("utterance-not-in-domain")
    assert not validation.of_kind("utterance-unused")
