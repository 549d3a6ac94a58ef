"""Fixtures of the LangChain tests; the doubles themselves live in ``lc_doubles``."""

from __future__ import annotations

import pytest

from rankwise.testing.stores import WordCountStore


@pytest.fixture
def word_store() -> WordCountStore:
    return WordCountStore()
