"""The dialogue policy end to end: states of a hand-written story, training on a few stories,
prediction from tracker events, save and load."""

import json

import numpy as np
import pytest
from policies import DOMAIN, QUICK, STORIES

from diet_sparse.dialogue.featurization import (
    DialogueError,
    State,
    TurnFeaturizer,
    states_and_actions,
    training_examples,
)
from diet_sparse.persistence import ModelLoadError, load_policy
from diet_sparse.rasa.domain import load_domain
from diet_sparse.rasa.stories import load_stories


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    (folder / "domain.yml").write_text(DOMAIN)
    (folder / "stories.yml").write_text(STORIES)
    return folder


@pytest.fixture(scope="module")
def trained(project):
    from diet_sparse.training import train_policy

    return train_policy(project / "domain.yml", project / "stories.yml", QUICK, progress=False)


def test_states_of_a_hand_written_story(project):
    domain = load_domain(project / "domain.yml")
    story = load_stories(project / "stories.yml")[0]
    states, actions = states_and_actions(story.events, domain)
    assert actions == [
        "action_listen", "utter_greet", "action_listen", "utter_ask_confirm", "action_listen",
        "action_book", "utter_booked", "action_listen", "utter_goodbye", "action_listen",
    ]  # fmt: skip
    assert states[0] == State()
    assert states[1] == State(intent="greet", prev_action="action_listen")
    # the latest message stays in the states after the bot's actions, as in Rasa's states
    assert states[2] == State(intent="greet", prev_action="utter_greet")
    assert states[3] == State(
        intent="book",
        entities=("city", "city#to"),
        prev_action="action_listen",
        slots=(("destination", "Paris"),),
    )
    assert states[6] == State(
        intent="affirm",
        prev_action="action_book",
        slots=(("booked", True), ("destination", "Paris")),
    )


def test_features_of_a_state_are_the_hand_computed_vectors(project):
    domain = load_domain(project / "domain.yml")
    featurizer = TurnFeaturizer(domain)
    state = State(
        intent="book",
        entities=("city", "city#to"),
        prev_action="action_listen",
        slots=(("booked", False), ("destination", "Paris")),
    )
    features, lengths = featurizer.featurize([[State(prev_action="utter_greet"), state]], None)
    assert lengths.tolist() == [2]
    newest = {attribute: values[0, 0] for attribute, values in features.items()}
    intents = list(domain.intents)
    assert newest["intent"].tolist() == [float(name == "book") for name in intents]
    labels = domain.entity_states
    assert newest["entities"].tolist() == [float(x in ("city", "city#to")) for x in labels]
    assert newest["prev_action"].argmax() == domain.action_names.index("action_listen") == 0
    assert newest["slots"].tolist() == [1.0, 0.0, 1.0]  # booked: set, false; destination: set
    assert "active_loop" not in features  # no forms
    older = features["prev_action"][0, 1]
    assert older.argmax() == domain.action_names.index("utter_greet")


def test_training_examples_skip_rules_and_duplicates(project):
    domain = load_domain(project / "domain.yml")
    histories, actions = training_examples(load_stories(project / "stories.yml"), domain, 5)
    assert len(actions) == len(set(zip(histories, actions)))
    assert all(len(history) <= 5 for history in histories)
    # the two stories share their first three examples (up to the listen after utter_greet);
    # the rule adds none
    assert len(actions) == 10 + 5 - 3


def test_policy_predicts_every_training_action(trained, project):
    domain = trained.domain
    for story in load_stories(project / "stories.yml"):
        if story.is_rule:
            continue
        states, actions = states_and_actions(story.events, domain)
        predictions = trained.predict_states([states[: i + 1] for i in range(len(states))])
        assert [p["scores"][0]["action"] for p in predictions] == actions, story.name


def test_predict_reads_rasa_tracker_events(trained):
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
    ]
    result = trained.predict(events)
    assert result["policy"] == "TEDPolicy"
    assert result["scores"][0]["action"] == "utter_greet"
    assert result["confidence"] == result["scores"][0]["score"]
    scores = [s["score"] for s in result["scores"]]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)
    assert len(scores) == len(trained.domain.action_names)


def test_an_excluded_action_is_not_predicted(trained):
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
    ]
    scores = trained.predict(events)["scores"]
    result = trained.predict(events, excluded=("utter_greet",))
    assert result["scores"][0]["action"] == scores[1]["action"]
    assert {"action": "utter_greet", "score": 0.0} in result["scores"]


def test_empty_conversation_is_predicted_from_the_empty_state(trained):
    assert trained.predict([])["scores"][0]["action"] == "action_listen"


def test_unknown_intent_or_action_is_a_clear_error(trained):
    with pytest.raises(DialogueError, match="event 1: intent 'dance' is not in the domain"):
        trained.predict(
            [
                {"event": "action", "name": "action_listen"},
                {"event": "user", "parse_data": {"intent": {"name": "dance"}}},
            ]
        )
    with pytest.raises(DialogueError, match="event 0: action 'utter_nothing' is not in the domain"):
        trained.predict([{"event": "action", "name": "utter_nothing"}])


def test_save_and_load_give_the_same_scores_as_keras(trained, project, tmp_path):
    from diet_sparse.persistence import save_policy
    from diet_sparse.training.policy_model import dialogue_batch

    save_policy(trained, tmp_path / "policy")
    loaded = load_policy(tmp_path / "policy")
    story = load_stories(project / "stories.yml")[0]
    states, _ = states_and_actions(story.events, trained.domain)
    dialogues = [states[: i + 1] for i in range(len(states))]
    np.testing.assert_array_equal(loaded.probabilities(dialogues), trained.probabilities(dialogues))
    features, lengths = trained.featurizer.featurize(dialogues, trained.config.max_history)
    batch = dialogue_batch(features, lengths, np.zeros(len(lengths), np.int32))
    import tensorflow as tf

    keras = tf.nn.softmax(trained.keras_model(batch.features, batch.mask)).numpy()
    np.testing.assert_allclose(loaded.probabilities(dialogues), keras, atol=1e-5)
    metadata = json.loads((tmp_path / "policy" / "metadata.json").read_text())
    assert metadata["kind"] == "policy" and metadata["trainable_weights"]["randomly_connected"] > 0


def test_loading_an_nlu_model_as_a_policy_is_a_clear_error(trained_model_dir):
    with pytest.raises(ModelLoadError, match="not a diet-sparse dialogue policy"):
        load_policy(trained_model_dir)


def test_loading_a_policy_as_an_nlu_model_says_what_it_is(trained, tmp_path):
    from diet_sparse.persistence import load, save_policy

    save_policy(trained, tmp_path / "policy")
    with pytest.raises(ModelLoadError, match="holds a dialogue policy, not an NLU model"):
        load(tmp_path / "policy")


def test_items_that_are_not_events_are_refused(trained):
    with pytest.raises(DialogueError, match="event 1: expected a Rasa tracker event"):
        trained.predict([{"event": "action", "name": "action_listen"}, "hi"])


@pytest.mark.parametrize("structure", ["random", "block"])
def test_trainable_weights_are_the_trainable_values_saved(project, tmp_path, structure):
    from conftest import stored_trainable_values

    from diet_sparse.training import train_policy

    values = dict(QUICK, epochs=1, connection_structure=structure)
    policy = train_policy(
        project / "domain.yml", project / "stories.yml", values, out=tmp_path, progress=False
    )
    counts = policy.metadata["trainable_weights"]
    assert counts["total"] == stored_trainable_values(tmp_path)
    assert 0 < counts["randomly_connected"] < counts["randomly_connected_if_dense"]
