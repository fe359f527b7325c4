"""Deciding what the bot does next: dialogue states and turn features, rules and memoization,
forms, the TED policy's prediction, and the bot that runs a conversation.

May import: ``rasa``, ``network``, ``nlu``, ``config``, ``persistence``; never ``serving`` or
``training``.
"""
