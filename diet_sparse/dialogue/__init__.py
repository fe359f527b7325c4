"""Deciding what the bot does next: dialogue states and turn features, rules and memoization,
forms, the TED policy's prediction, and the bot that runs a conversation.

May import: ``rasa``, ``network``, ``nlu``, ``config``; never ``persistence`` (which loads
policies, so imports this), ``serving`` or ``training``.
"""
