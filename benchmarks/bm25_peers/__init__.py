"""BM25 peers for ``benchmarks/bm25_vs_peers.py``.

Each module exports ``NAME``, ``build(texts) -> object`` and ``search(obj, query, k) -> list[int]``
(corpus positions, best first). Optional: ``search_many(obj, queries, k) -> list[list[int]]``
(the peer's batch API), ``add(obj, texts, start) -> object`` (incremental add of documents at
positions ``start..``; peers without it are rebuilt from scratch), ``save(obj, path)`` (for
the on-disk size). Every corpus is whitespace-separated tokens; peers must split on
whitespace only, without lowercasing, stop words or stemming, so all see identical tokens.
Parameters: k1=1.2, b=0.75 wherever the peer lets us set them.
"""

PEERS = ("rankwise", "bm25s_numba", "bm25s_numpy", "tantivy_peer", "rank_bm25_peer")
