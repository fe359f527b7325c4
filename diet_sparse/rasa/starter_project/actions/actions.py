"""Custom actions of the café helper: Python code the assistant runs through an action server.

The starter assistant needs none. To add one, uncomment the example below, list its name under
`actions:` in domain.yml, uncomment `action_endpoint` in endpoints.yml, and start the action
server with `rasa run actions` (pip install rasa-sdk).
"""

# from typing import Any
#
# from rasa_sdk import Action, Tracker
# from rasa_sdk.executor import CollectingDispatcher
#
#
# class ActionTellTodaysSpecial(Action):
#     """Says the special of the day."""
#
#     def name(self) -> str:
#         return "action_tell_todays_special"
#
#     def run(
#         self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
#     ) -> list[dict[str, Any]]:
#         dispatcher.utter_message(text="Today's special is a cinnamon latte.")
#         return []
