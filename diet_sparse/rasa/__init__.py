"""Rasa 3's file formats and nothing else: NLU YAML, the domain, stories and rules, tracker
events, config.yml (translated into diet-sparse's configs), endpoints.yml and credentials.yml.

May import: the standard library, PyYAML, ``diet_sparse.errors`` and ``diet_sparse.config``'s
plain facts; never ``nlu``, ``dialogue``, ``serving`` or ``training``.
"""
