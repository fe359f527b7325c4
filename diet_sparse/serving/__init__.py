"""The bot and the NLU model over HTTP: the FastAPI app (Rasa's HTTP API and REST channel),
request batching, conversations kept in a SQL tracker store, and the action-server client.

May import: everything below it (``rasa``, ``network``, ``nlu``, ``dialogue``); never
``training`` or ``cli``.
"""
