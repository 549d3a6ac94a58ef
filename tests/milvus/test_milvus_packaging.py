"""rankwise.milvus loads pymilvus only when a store is made; the benchmark peer works."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_importing_rankwise_milvus_does_not_import_pymilvus() -> None:
    code = (
        "import json, sys, rankwise, rankwise.milvus, rankwise.milvus.sparse;"
        "print(json.dumps([m for m in ('pymilvus', 'milvus_lite') if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_missing_pymilvus_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankwise.milvus import MilvusBM25Store

    monkeypatch.setitem(sys.modules, "pymilvus", None)  # makes `import pymilvus` fail
    with pytest.raises(ImportError, match=r'pip install "rankwise\[milvus\]"'):
        MilvusBM25Store(uri="never-created.db")


@pytest.mark.milvus
def test_benchmark_peer_returns_corpus_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("milvus_lite")
    from rankwise import BM25Index

    peers = REPO / "benchmarks" / "bm25_peers"
    # the harness may put the peers folder on sys.path: the peer must still find the real
    # milvus_lite package although its own file is called milvus_lite.py
    monkeypatch.syspath_prepend(str(peers))
    spec = importlib.util.spec_from_file_location("milvus_lite", peers / "milvus_lite.py")
    assert spec is not None
    assert spec.loader is not None
    peer = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "milvus_lite", peer)
    spec.loader.exec_module(peer)
    assert peer.NAME == "milvus-lite"

    mixed = [f"t{i % 7} t{i % 3} T{i % 5} t{i}" for i in range(40)] + ["", "t1 t1 t1"]
    plain = [t.lower() for t in mixed]
    for texts in (mixed, plain):  # client-split tokens / Lite's own analyzer
        obj = peer.build(texts)
        try:
            exact = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
            exact.add(texts, ids=[str(i) for i in range(len(texts))])
            queries = ["t1", "t2 T3", "t1 t1 t4", "t39 t0", "T4"]
            for query, got in zip(queries, peer.search_many(obj, queries, 5), strict=True):
                assert got == peer.search(obj, query, 5)
                want = exact.search(query, k=5)
                assert all(isinstance(i, int) for i in got)
                # same documents, or ties at the cut broken another way (same scores)
                scores = {h.id: h.score for h in exact.search(query, k=50)}
                assert sorted(scores[str(i)] for i in got) == pytest.approx(
                    sorted(h.score for h in want), rel=1e-5
                )
            assert peer.search(obj, "T9", 3) == []  # case is kept: "T9" never occurs
            assert peer.disk_path(obj).endswith(".db")
            obj = peer.add(obj, ["t1 zz"], len(texts))
            assert len(texts) in peer.search(obj, "zz", 3)
        finally:
            peer._cleanup(obj)
