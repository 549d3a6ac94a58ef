"""One search path for ``rankwise search`` and the server's ``/v1/search``: filtered retrieval,
optional grouping of chunks by their document, and the ``rankwise.search/v1`` JSON payload.

Reranking is left to the caller (the CLI calls the reranker; the server sends the candidates
through its micro-batcher), so both produce the same rows from the same candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rankwise.indexdir.filters import Condition, equalities, only_equalities, predicate
from rankwise.types import Hit

SEARCH_SCHEMA = "rankwise.search/v1"
RESULT_KEYS = ("rank", "id", "score", "retrieval_score", "text", "metadata")
#: Milvus answers at most this many hits per search (its ``topk`` limit): a client-side filter
#: or a grouping that needs deeper candidates than this stops there.
MILVUS_MAX_TOPK = 16_384


def group_key(hit: Hit) -> str:
    """The document a hit belongs to: its ``parent_id`` (a chunk) or its own id."""
    parent = hit.metadata.get("parent_id") if hit.metadata else None
    return str(parent) if parent is not None else hit.id


def _native_filter(store: Any, conditions: list[Condition]) -> tuple[Any, bool]:
    """The filter to hand the store, and whether it is exact (no client-side check needed)."""
    if not conditions:
        return None, True
    if only_equalities(conditions):
        return equalities(conditions), True
    if _is_embedded(store):  # the embedded index runs predicates inside its top-k
        return predicate(conditions), True
    return equalities(conditions) or None, False


def candidates(
    store: Any,
    query: str,
    n: int,
    conditions: Sequence[Condition] = (),
    *,
    min_groups: int = 0,
) -> list[Hit]:
    """The best ``n`` hits that meet ``conditions`` (best first), or more when ``min_groups``
    distinct documents need more hits.

    Conditions a store cannot evaluate (ordering operators on Milvus) are checked here on
    hits fetched in growing rounds until enough pass or the store has no more, so the answer
    is exact on every store.
    """
    conds = list(conditions)
    native, exact = _native_filter(store, conds)
    keep: Callable[[Mapping[str, Any]], bool] | None = None if exact else predicate(conds)
    most = MILVUS_MAX_TOPK if not _is_embedded(store) else None
    want = n if exact and not min_groups else max(4 * n, 64)
    while True:
        if most is not None:
            want = min(want, most)
        hits = (
            store.search(query, k=want)
            if native is None
            else store.search(query, k=want, filter=native)
        )
        kept = hits if keep is None else [h for h in hits if keep(h.metadata or {})]
        groups = len({group_key(h) for h in kept}) if min_groups else 0
        enough = len(kept) >= n and groups >= min_groups
        if enough or len(hits) < want or want == most:
            return kept
        want *= 4


def _is_embedded(store: Any) -> bool:
    from rankwise.bm25 import BM25Index

    return isinstance(store, BM25Index)


def best_per_document(hits: Sequence[Hit]) -> list[Hit]:
    """The first (best) hit of each document, in order."""
    seen: set[str] = set()
    out = []
    for h in hits:
        key = group_key(h)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out


def result_rows(
    hits: Sequence[Hit],
    k: int,
    reranked: Sequence[tuple[Hit, float]] | None = None,
    *,
    group_by_doc: bool = False,
) -> list[dict[str, Any]]:
    """Rows of the search schema: ``reranked`` holds (retrieved hit, rerank score) best first
    (as :func:`rankwise.rerankers.base.pair_results` makes them), or ``None`` to keep the
    retrieval order and scores of ``hits``."""
    order = reranked if reranked is not None else [(h, h.score) for h in hits]
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for h, score in order:
        if group_by_doc:
            key = group_key(h)
            if key in seen:
                continue
            seen.add(key)
        rows.append(
            {
                "rank": len(rows) + 1,
                "id": h.id,
                "score": float(score),
                "retrieval_score": float(h.score),
                "text": h.text,
                "metadata": h.metadata,
            }
        )
        if len(rows) == k:
            break
    return rows


def search_payload(
    *,
    query: str,
    k: int,
    index: str,
    reranker: str | None,
    retrieve_ms: float,
    rerank_ms: float | None,
    rows: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The ``rankwise.search/v1`` JSON object (see the README's command-line section)."""
    return {
        "schema": SEARCH_SCHEMA,
        "query": query,
        "k": k,
        "index": index,
        "reranker": reranker,
        "timings_ms": {"retrieve": retrieve_ms, "rerank": rerank_ms},
        "results": [{key: row[key] for key in RESULT_KEYS} for row in rows],
    }


__all__ = [
    "RESULT_KEYS",
    "SEARCH_SCHEMA",
    "best_per_document",
    "candidates",
    "group_key",
    "result_rows",
    "search_payload",
]
