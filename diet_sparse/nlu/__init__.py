"""Understanding one message: tokenizer, sparse and pretrained featurizers, entity tagging, CRF
decoding, and ``NLU`` (a loaded model's ``parse``).

May import: ``rasa``, ``network``, ``config``; never ``dialogue``, ``serving`` or ``training``.
"""
