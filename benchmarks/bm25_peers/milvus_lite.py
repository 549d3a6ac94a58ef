"""Peer for ``benchmarks/bm25_vs_peers.py``: Milvus Lite's BM25 function via rankwise.milvus.

Interface: ``NAME``, ``build(texts) -> object``, ``search(obj, query, k) -> list[int]`` (corpus
positions, best first).

Same tokens as the other peers (whitespace split, no lowercasing, stop words or stemming): when
every token is lowercase ASCII letters/digits (the synthetic ``t<rank>`` corpus), Lite's own
``standard`` analyzer (``\\w+``, lowercase, no stop words) already yields exactly the whitespace
tokens and is used as is; otherwise the texts are split on the client and handed over through
``MilvusBM25Store(pre_analyzer=str.split)``, spelled so that Lite keeps each token whole. BM25
parameters are Milvus's defaults, k1=1.2 and b=0.75, written into the index the way Lite honours
them (Lite's own default k1 is 1.5).

``build`` includes the flush and one warm-up search, because Lite seals the write buffer into a
segment and builds its inverted index lazily on the first search. Milvus Lite computes BM25
statistics per segment (segments hold at most 100k rows), so beyond 100k documents its top-10
drifts from exact BM25.
"""

from __future__ import annotations

import atexit
import importlib
import re
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
_PLAIN = re.compile(r"[a-z0-9\s]*")
_PLAIN_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class _Built:
    store: Any
    folder: Path
    plain: bool  # Lite's own analyzer in use: only plain tokens can match

    def query(self, query: str) -> str:
        if not self.plain:
            return query
        # a token Lite would lowercase or split cannot be a (plain) corpus token: drop it
        return " ".join(t for t in query.split() if _PLAIN_TOKEN.fullmatch(t))


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
    plain = all(_PLAIN.fullmatch(t) for t in texts)
    store = MilvusBM25Store(
        uri=str(folder / "bench.db"),
        collection="bench",
        k1=K1,
        b=B,
        analyzer_params="standard" if plain else None,
        pre_analyzer=None if plain else str.split,
        route="milvus",  # this peer measures Lite's own BM25 function
        show_progress=False,
        batch_size=BATCH_SIZE,
    )
    built = _Built(store=store, folder=folder, plain=plain)
    atexit.register(_cleanup, built)
    store.add(texts, ids=[str(i) for i in range(len(texts))])
    store.flush()
    first = next((t for t in texts if t.split()), None)
    if first is not None:
        store.search(first.split()[0], k=1)  # Lite builds the segment's index on first search
    return built


def search(obj: _Built, query: str, k: int) -> list[int]:
    return [int(h.id) for h in obj.store.search(obj.query(query), k=k)]


def search_many(obj: _Built, queries: list[str], k: int) -> list[list[int]]:
    """Several queries per request (Milvus's batch search)."""
    hits = obj.store.search_many([obj.query(q) for q in queries], k=k)
    return [[int(h.id) for h in row] for row in hits]


def add(obj: _Built, texts: list[str], start: int) -> _Built:
    """Incremental insert; the next search seals the new rows into a segment of their own
    (with its own BM25 statistics on Lite)."""
    if obj.plain and not all(_PLAIN.fullmatch(t) for t in texts):
        raise ValueError("texts: this peer was built for plain lowercase tokens only")
    obj.store.add(texts, ids=[str(start + i) for i in range(len(texts))])
    return obj


def disk_path(obj: _Built) -> str:
    """The Milvus Lite data folder (for the on-disk size)."""
    return str(obj.folder / "bench.db")
