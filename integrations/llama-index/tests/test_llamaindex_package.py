"""Package surface: LlamaIndex namespace layout, typed leaves, exports, light imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import llama_index
import llama_index.postprocessor.rankwise as post_pkg
import llama_index.retrievers.rankwise as retr_pkg

ROOT = Path(__file__).resolve().parents[1] / "llama_index"


def test_namespace_layout_and_typed_leaves():
    # No __init__.py above the leaves, so we share llama_index/ with llama-index-core.
    for folder in [ROOT, ROOT / "postprocessor", ROOT / "retrievers"]:
        assert folder.is_dir()
        assert not (folder / "__init__.py").exists(), folder
    for leaf in [ROOT / "postprocessor" / "rankwise", ROOT / "retrievers" / "rankwise"]:
        assert (leaf / "__init__.py").is_file()
        assert (leaf / "py.typed").is_file()
    paths = [str(Path(p).resolve()) for p in llama_index.__path__]
    assert str(ROOT.resolve()) in paths
    assert len(paths) >= 2  # llama-index-core's own llama_index folder too
    assert Path(post_pkg.__file__).resolve().parent == ROOT / "postprocessor" / "rankwise"


def test_exports():
    assert post_pkg.__all__ == ["RankwiseRerank"]
    for name in ["RankwiseBM25Retriever", "RankwiseHybridRetriever"]:
        assert name in retr_pkg.__all__
        assert getattr(retr_pkg, name).__module__.startswith("llama_index.retrievers.rankwise")


def test_importing_the_package_pulls_no_model_sdk_or_bm25_engine():
    code = (
        "import sys, json\n"
        "import llama_index.postprocessor.rankwise, llama_index.retrievers.rankwise\n"
        "heavy = ['torch', 'transformers', 'FlagEmbedding', 'cohere', 'voyageai', 'pymilvus',"
        " 'numba', 'rankwise.bm25']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
