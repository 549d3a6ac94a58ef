"""One job per module in the retrievers namespace, no tie to the postprocessor's helpers, and
one place for the BM25 defaults and the retriever's options (issue 17 item 7)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import get_type_hints

from llama_index.core.schema import TextNode
from llama_index.retrievers.rankwise import RankwiseBM25Retriever
from llama_index.retrievers.rankwise import bm25 as bm25_module
from llama_index.retrievers.rankwise.bm25 import RetrieverOptions

from rankwise.bm25 import BM25Index

RETRIEVERS = Path(bm25_module.__file__).resolve().parent
POSTPROCESSOR = "llama_index.postprocessor"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_only_the_hybrid_retriever_uses_the_postprocessor_namespace() -> None:
    # The hybrid retriever wraps a reranker spec in RankwiseRerank; nothing else in the
    # retrievers namespace may lean on the postprocessor package (it ships separately in
    # LlamaIndex's layout).
    users = sorted(
        p.name
        for p in RETRIEVERS.glob("*.py")
        if any(m.startswith(POSTPROCESSOR) for m in _imported_modules(p))
    )
    assert users == ["hybrid.py"]
    hybrid = ast.parse((RETRIEVERS / "hybrid.py").read_text(encoding="utf-8"))
    names = {
        a.name
        for n in ast.walk(hybrid)
        if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(POSTPROCESSOR)
        for a in n.names
    }
    assert names == {"RankwiseRerank"}


def test_bm25_defaults_come_from_the_core() -> None:
    assert not [
        name
        for name in vars(bm25_module)
        if name.startswith("DEFAULT_") and name != ("DEFAULT_SIMILARITY_TOP_K")
    ]
    store = RankwiseBM25Retriever.from_defaults(nodes=[TextNode(text="a b", id_="1")]).store
    assert isinstance(store, BM25Index)
    core = BM25Index()
    assert (store.k1, store.b, store.inverted_index_algo) == (
        core.k1,
        core.b,
        core.inverted_index_algo,
    )
    assert store.analyzer.config == core.analyzer.config


def test_from_defaults_takes_exactly_the_constructor_options() -> None:
    params = inspect.signature(RankwiseBM25Retriever.__init__).parameters
    keyword_only = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(get_type_hints(RetrieverOptions, vars(bm25_module))) == keyword_only
    retriever = RankwiseBM25Retriever.from_defaults(
        nodes=[TextNode(text="red apples", id_="1"), TextNode(text="green grass", id_="2")],
        similarity_top_k=1,
        k1=2.0,
        b=0.5,
    )
    assert retriever.similarity_top_k == 1
    assert (retriever.store.k1, retriever.store.b) == (2.0, 0.5)  # type: ignore[attr-defined]
    assert [n.node.node_id for n in retriever.retrieve("apples")] == ["1"]
