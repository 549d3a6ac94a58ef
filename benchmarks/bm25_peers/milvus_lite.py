"""Peer for ``benchmarks/bm25_vs_peers.py``: Milvus Lite's BM25 function via rankwise.milvus.

Interface: ``NAME``, ``build(texts) -> object``, ``search(obj, query, k) -> list[int]`` (corpus
positions, best first).

Same tokens as the other peers: the synthetic corpus is whitespace-separated tokens, so each
text is split on whitespace on the client and handed to Milvus through
``MilvusBM25Store(pre_analyzer=str.split)`` (tokens Lite's ``\\w+`` analyzer would split or
lowercase are spelled so that it keeps them whole) — no stop words, no stemming, no lowercasing
on either side. BM25 parameters are Milvus's defaults, k1=1.2 and b=0.75, written into the index
the way Lite honours them (Lite's own default k1 is 1.5).

``build`` includes the flush and one warm-up search, because Lite seals the write buffer into a
segment and builds its inverted index lazily on the first search. Milvus Lite computes BM25
statistics per segment (segments hold at most 100k rows), so beyond 100k documents its top-10
drifts from exact BM25.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAME = "milvus-lite"
K1 = 1.2
B = 0.75
BATCH_SIZE = 5000


@dataclass
class _Built:
    store: Any
    folder: Path


def _cleanup(built: _Built) -> None:
    try:
        built.store.close()
    finally:
        shutil.rmtree(built.folder, ignore_errors=True)


def _import_real_milvus_lite() -> None:
    """This file is called ``milvus_lite.py``: when the harness puts this folder on sys.path and
    imports it as ``milvus_lite``, it shadows the real package pymilvus needs. Import the real
    one (this module object stays valid for whoever holds it)."""
    here = Path(__file__).resolve()
    current = sys.modules.get("milvus_lite")
    if current is not None and Path(getattr(current, "__file__", "") or ".").resolve() != here:
        return  # the real package is already loaded
    if current is not None:
        del sys.modules["milvus_lite"]
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here.parent]
    try:
        importlib.import_module("milvus_lite")
    finally:
        sys.path[:] = saved


def build(texts: list[str]) -> _Built:
    _import_real_milvus_lite()
    from rankwise.milvus import MilvusBM25Store

    folder = Path(tempfile.mkdtemp(prefix="rankwise-bench-milvus-"))
    store = MilvusBM25Store(
        uri=str(folder / "bench.db"),
        collection="bench",
        k1=K1,
        b=B,
        pre_analyzer=str.split,
        show_progress=False,
        batch_size=BATCH_SIZE,
    )
    built = _Built(store=store, folder=folder)
    atexit.register(_cleanup, built)
    store.add(texts, ids=[str(i) for i in range(len(texts))])
    store.flush()
    first = next((t for t in texts if t.split()), None)
    if first is not None:
        store.search(first.split()[0], k=1)  # Lite builds the segment's index on first search
    return built


def search(obj: _Built, query: str, k: int) -> list[int]:
    return [int(h.id) for h in obj.store.search(query, k=k)]
