"""Package surface: exports, version, py.typed, and a light import."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import langchain_rankwise


def test_exports_and_version() -> None:
    assert set(langchain_rankwise.__all__) == {
        "RankwiseBM25Retriever",
        "RankwiseEmbeddings",
        "RankwiseHybridRetriever",
        "RankwiseRerank",
        "__version__",
    }
    # the installed distribution's version (kept in step with rankwise's by tests/packaging)
    assert langchain_rankwise.__version__ == metadata.version("langchain-rankwise")
    assert (Path(langchain_rankwise.__file__).parent / "py.typed").is_file()


def test_import_is_light() -> None:
    code = (
        "import sys, langchain_rankwise\n"
        "heavy = ['torch', 'transformers', 'cohere', 'voyageai', 'pymilvus', 'numba',\n"
        "         'rankwise.bm25', 'langchain_classic']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
