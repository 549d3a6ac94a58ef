"""Retrieval quality on the bundled Cranfield and concurrent search/write snapshots."""

from __future__ import annotations

import math
import threading

import pytest

from rankwise.bm25 import BM25Index
from rankwise.datasets import load_beir


def ndcg_at_10(ranked: list[str], qrels: dict[str, int]) -> float:
    """nDCG@10 with linear gains (trec_eval / BEIR convention)."""
    dcg = sum(qrels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(qrels.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


@pytest.fixture(scope="module")
def cranfield_index_parts() -> tuple[
    list[str], list[str], dict[str, str], dict[str, dict[str, int]]
]:
    ds = load_beir("cranfield")
    # BEIR convention: title + " " + text (Cranfield's text repeats the title)
    texts = [f"{d.get('title') or ''} {d.get('text') or ''}" for d in ds.corpus.values()]
    return ds.doc_ids(), texts, ds.judged_queries(), ds.qrels


@pytest.mark.parametrize(("k1", "floor"), [(1.2, 0.368), (1.5, 0.372)])
def test_cranfield_ndcg(cranfield_index_parts, k1: float, floor: float) -> None:  # type: ignore[no-untyped-def]
    ids, texts, queries, qrels = cranfield_index_parts
    ix = BM25Index("english", k1=k1, b=0.75, show_progress=False)
    ix.add(texts, ids=ids)
    qids = list(queries)
    runs = ix.search_many([queries[q] for q in qids], k=10)
    scores = [
        ndcg_at_10([h.id for h in hits], qrels[q]) for q, hits in zip(qids, runs, strict=True)
    ]
    ndcg = sum(scores) / len(scores)
    assert ndcg >= floor, ndcg


def test_searches_see_consistent_snapshots_during_writes() -> None:
    """Writers add batches of 50 docs containing 'marker' and delete whole older batches; a
    reader must always see whole batches, with scores equal to a from-scratch index."""
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    batch = 50
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        try:
            for r in range(40):
                ids = [f"r{r}-{j}" for j in range(batch)]
                ix.add([f"marker filler{j % 5} x{r}" for j in range(batch)], ids=ids)
                if r % 3 == 2:
                    ix.delete([f"r{r - 2}-{j}" for j in range(batch)])
        finally:
            stop.set()

    def reader() -> None:
        while not stop.is_set():
            hits = ix.search("marker", k=10_000)
            if len(hits) % batch:
                errors.append(f"saw {len(hits)} hits: not whole batches")
            by_round: dict[str, int] = {}
            for h in hits:
                r = h.id.split("-")[0]
                by_round[r] = by_round.get(r, 0) + 1
            if any(c != batch for c in by_round.values()):
                errors.append("a batch was seen partially")
            # every doc has the same length and one 'marker': scores must all be equal
            if hits and max(h.score for h in hits) - min(h.score for h in hits) > 1e-9:
                errors.append("scores mixed statistics of two snapshots")

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert len(ix) == batch * (40 - 13)
