"""The receiver verifies with ``standardwebhooks``, which comes with the test extra (the rule in
tests/conftest.py: the bare core run skips here)."""

import pytest

pytest.importorskip("standardwebhooks")
