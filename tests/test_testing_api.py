"""``rankwise.testing`` is supported public API: its documented surface is held here, so a
rename or removal is a deliberate change (with a CHANGELOG entry), not an accident."""

from __future__ import annotations

import importlib
import subprocess
import sys

import rankwise.testing

SURFACE = {
    "fake_api": {
        "FakeRerankServer",
        "RecordedRequest",
        "Reply",
        "fake_rerank_server",
        "overlap_score",
    },
    "tiny_models": {
        "WORDS",
        "build_llm_tokenizer",
        "build_tokenizer",
        "random_text",
        "save_tiny_causal_lm",
        "save_tiny_model",
    },
    "stores": {"WordCountStore", "words"},
}


def test_the_supported_modules_are_the_documented_ones() -> None:
    assert set(rankwise.testing.SUPPORTED_MODULES) == set(SURFACE)
    for name in SURFACE:
        assert f":mod:`rankwise.testing.{name}`" in (rankwise.testing.__doc__ or "")


def test_each_supported_module_exports_exactly_its_surface() -> None:
    for name, names in SURFACE.items():
        module = importlib.import_module(f"rankwise.testing.{name}")
        assert set(module.__all__) == names, name
        for attr in names:
            assert getattr(module, attr) is not None


def test_the_store_double_passes_as_a_text_store() -> None:
    from rankwise.testing.stores import WordCountStore
    from rankwise.types import TextStore

    store = WordCountStore()
    store.add(["the cat sat", "a dog ran"], ids=["a", "b"])
    assert isinstance(store, TextStore)
    assert [h.id for h in store.search("cat", k=1)] == ["a"]


def test_import_rankwise_does_not_import_the_testing_package() -> None:
    code = "import sys, rankwise; print('rankwise.testing' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
