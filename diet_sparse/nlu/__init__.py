"""Understanding one message: tokenizer, sparse and pretrained featurizers, entity tagging, CRF
decoding, and ``NLU`` (a loaded model's ``parse``).

May import: ``rasa``, ``network``, ``config``; never ``persistence`` (which loads models, so
imports this), ``dialogue``, ``serving`` or ``training``.
"""
