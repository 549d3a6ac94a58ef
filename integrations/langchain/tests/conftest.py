"""Fixtures of the LangChain tests; the doubles themselves live in ``lc_doubles``."""

from __future__ import annotations

import pytest
from lc_doubles import ToyStore


@pytest.fixture
def toy_store() -> ToyStore:
    return ToyStore()
