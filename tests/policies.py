"""A small domain, its stories and a quick TED config, shared by the policy's tests
(tests/dialogue/test_policy.py) and the server's prediction tests
(tests/serving/test_app_predict.py)."""

DOMAIN = """
version: "3.1"
intents: [greet, book, affirm, goodbye]
entities:
- city:
    roles: [from, to]
slots:
  booked:
    type: bool
    mappings: [{type: custom}]
  destination:
    type: text
    mappings: [{type: from_entity, entity: city, role: to}]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_ask_confirm: [{text: "Book a trip to {destination}?"}]
  utter_booked: [{text: "Booked."}]
  utter_goodbye: [{text: "Bye."}]
actions: [action_book]
"""

STORIES = """
version: "3.1"
stories:
- story: book and confirm
  steps:
  - intent: greet
  - action: utter_greet
  - intent: book
    entities: [{city: Paris, role: to}]
  - slot_was_set: [{destination: Paris}]
  - action: utter_ask_confirm
  - intent: affirm
  - action: action_book
  - slot_was_set: [{booked: true}]
  - action: utter_booked
  - intent: goodbye
  - action: utter_goodbye
- story: just goodbye
  steps:
  - intent: greet
  - action: utter_greet
  - intent: goodbye
  - action: utter_goodbye
rules:
- rule: say goodbye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""

QUICK = {
    "epochs": 200,
    "transformer_size": 16,
    "number_of_attention_heads": 2,
    "batch_size": 8,
    "drop_rate_dialogue": 0.0,
    "max_history": 5,
    # These tests are TED's: rules, memoization and the core fallback are test_rules.py's.
    "rules": False,
    "memoization": False,
    "enable_fallback_prediction": False,
    "augmentation_factor": 0,  # the stories as written: quick, and what the tests count
}
