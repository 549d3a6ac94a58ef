"""Packaging promises: a light import, a real version, and extras named in errors."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import rankwise
from rankwise._optional import install_hint, require

HEAVY = ["torch", "transformers", "FlagEmbedding", "cohere", "voyageai", "httpx", "pymilvus"]


def test_import_rankwise_stays_light() -> None:
    code = (
        "import json, sys, rankwise, rankwise.rerankers, rankwise.types;"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_version_matches_distribution_metadata() -> None:
    assert rankwise.__version__ == importlib.metadata.version("rankwise")


def test_py_typed_marker_ships() -> None:
    files = importlib.metadata.files("rankwise") or []
    names = {f.name for f in files}
    # editable installs list only the .pth; the marker must sit in the package folder either way
    from pathlib import Path

    assert (Path(rankwise.__file__).parent / "py.typed").is_file() or "py.typed" in names


def test_missing_extra_names_the_pip_line() -> None:
    with pytest.raises(ImportError) as info:
        require("rankwise_no_such_module", "cohere", feature="CohereReranker")
    message = str(info.value)
    assert 'pip install "rankwise[cohere]"' in message
    assert "CohereReranker" in message
    assert install_hint("milvus") == 'pip install "rankwise[milvus]"'


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = rankwise.no_such_name  # type: ignore[attr-defined]
