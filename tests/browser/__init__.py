"""The chat page's browser tests. A package, so that its conftest.py is ``browser.conftest``
and does not take the place of tests/conftest.py, which tests import as ``conftest``."""
