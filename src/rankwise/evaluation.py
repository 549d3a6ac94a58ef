"""Ranking metrics: nDCG@k, Recall@k, MRR@k, MAP@k and P@k, as trec_eval / pytrec_eval
define them.

Conventions (the ones BEIR reports through pytrec_eval):

- ``qrels`` map a document id to an integer gain; a gain ``<= 0`` means "not relevant".
- nDCG@k uses the graded gain as is (not ``2**gain - 1``) and the discount ``log2(rank + 1)``
  with ranks from 1; the ideal ranking sorts every judged document by gain.
- Recall@k divides the relevant documents found in the top ``k`` by all relevant documents.
- MRR@k is ``1 / rank`` of the first relevant document in the top ``k``, 0 if there is none.
- MAP@k (trec_eval's ``map_cut_k``) sums the precision at the rank of each relevant document in
  the top ``k`` and divides by *all* relevant documents (not ``min(k, R)``).
- P@k (trec_eval's ``P_k``) is the relevant documents in the top ``k`` divided by ``k``, even
  when fewer than ``k`` documents were retrieved.
- A ranking that repeats a document id counts it once, at its first position.

:func:`evaluate` averages over the queries that have at least one relevant judgement; a
judged query that the run does not answer counts as 0 (pytrec_eval would silently skip it).
A ranking is any sequence of document ids, best first: a list, or the
:class:`rankwise.types.Ranking` that ``BM25Index.search_many_ids`` returns per query (the
cheap way to produce a run: no ``Hit`` per result).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rankwise._checks import positive_int

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")


def _dedup(ranked: Sequence[str], k: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for doc_id in ranked:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        out.append(doc_id)
        if len(out) == k:
            break
    return out


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed best rank first: ``sum(g / log2(rank + 1))``."""
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, 1) if g > 0)


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranking (document ids, best first) against graded judgements."""
    positive_int(k, "k")
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([qrels.get(d, 0) for d in _dedup(ranked, k)]) / ideal


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (gain > 0) found in the top ``k``."""
    positive_int(k, "k")
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return sum(1 for d in _dedup(ranked, k) if d in relevant) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document in the top ``k`` (0 if none)."""
    positive_int(k, "k")
    for rank, d in enumerate(_dedup(ranked, k), 1):
        if qrels.get(d, 0) > 0:
            return 1.0 / rank
    return 0.0


def map_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Average precision cut at ``k``: precision at each relevant rank, over all relevant."""
    positive_int(k, "k")
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    found = 0
    total = 0.0
    for rank, d in enumerate(_dedup(ranked, k), 1):
        if d in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


def precision_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Relevant documents (gain > 0) in the top ``k``, divided by ``k``."""
    positive_int(k, "k")
    return sum(1 for d in _dedup(ranked, k) if qrels.get(d, 0) > 0) / k


_METRICS = {
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "mrr": mrr_at_k,
    "map": map_at_k,
    "p": precision_at_k,
}
_ALIASES = {"precision": "p"}


def parse_metric(name: str) -> tuple[str, int]:
    """``"nDCG@10"`` -> ``("ndcg", 10)``; ``"precision@5"`` -> ``("p", 5)``; raises ValueError
    for anything else."""
    base, sep, cut = name.strip().lower().partition("@")
    base = _ALIASES.get(base, base)
    if base not in _METRICS or not sep or not cut.isdigit() or int(cut) <= 0:
        raise ValueError(
            f"unknown metric {name!r}: use ndcg@K, recall@K, mrr@K, map@K or p@K with K > 0"
        )
    return base, int(cut)


def metric_value(name: str, ranked: Sequence[str], qrels: Mapping[str, int]) -> float:
    """One metric given by name (``"ndcg@10"``, ``"recall@100"``, ``"mrr@10"``)."""
    base, k = parse_metric(name)
    return _METRICS[base](ranked, qrels, k)


@dataclass
class EvalReport:
    """Mean metrics over the judged queries, plus the per-query values."""

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    num_queries: int = 0


def evaluate(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> EvalReport:
    """Score a run (query id -> ranked document ids) against qrels.

    Averages over the queries with at least one relevant judgement; such a query missing from
    ``run`` scores 0 on every metric.
    """
    names = [m.strip().lower() for m in metrics]
    if not names:
        raise ValueError("metrics must name at least one metric")
    for name in names:
        parse_metric(name)
    judged = [qid for qid, rels in qrels.items() if any(g > 0 for g in rels.values())]
    per_query: dict[str, dict[str, float]] = {}
    for qid in judged:
        ranked = run.get(qid, [])
        per_query[qid] = {m: metric_value(m, ranked, qrels[qid]) for m in names}
    n = len(judged)
    means = {m: (sum(pq[m] for pq in per_query.values()) / n if n else 0.0) for m in names}
    return EvalReport(metrics=means, per_query=per_query, num_queries=n)


__all__ = [
    "DEFAULT_METRICS",
    "EvalReport",
    "dcg",
    "evaluate",
    "map_at_k",
    "metric_value",
    "mrr_at_k",
    "ndcg_at_k",
    "parse_metric",
    "precision_at_k",
    "recall_at_k",
]
