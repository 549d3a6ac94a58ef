"""rankwise.BM25Index (DAAT_MAXSCORE, whitespace analyzer)."""

from __future__ import annotations

from typing import Any

from rankwise.bm25 import BM25Index

NAME = "rankwise"


def build(texts: list[str]) -> Any:
    ix = BM25Index({"tokenizer": "whitespace"}, k1=1.2, b=0.75, show_progress=False)
    ix.add(texts, ids=[str(i) for i in range(len(texts))])
    return ix


def search(obj: Any, query: str, k: int) -> list[int]:
    return [int(h.id) for h in obj.search(query, k)]


def search_many(obj: Any, queries: list[str], k: int) -> list[list[int]]:
    return positions(search_hits(obj, queries, k))


def search_hits(obj: Any, queries: list[str], k: int) -> Any:
    """The timed part: one thread, full ``Hit`` objects (id, score, text, metadata) returned."""
    return obj.search_many(queries, k, n_threads=1)


def positions(hits: Any) -> list[list[int]]:
    """Corpus positions of ``search_hits``'s result (outside the timing, as tantivy's stored
    field look-ups are)."""
    return [[int(h.id) for h in row] for row in hits]


def search_ids(obj: Any, queries: list[str], k: int) -> Any:
    """The timed part of the columnar path: one thread, a ``Ranking`` (ids and a float64 score
    array) per query, as the peers' timed parts return positions and scores."""
    return obj.search_many_ids(queries, k, n_threads=1)


def id_positions(rankings: Any) -> list[list[int]]:
    """Corpus positions of ``search_ids``'s result (outside the timing)."""
    return [[int(i) for i in ranking.ids] for ranking in rankings]


def add(obj: Any, texts: list[str], start: int) -> Any:
    obj.add(texts, ids=[str(start + i) for i in range(len(texts))])
    return obj


def save(obj: Any, path: str) -> None:
    obj.save(path)


def load(path: str) -> Any:
    return BM25Index.load(path, mmap=True, show_progress=False)


def settle(obj: Any) -> None:
    """Wait for query kernels still compiling in the background (a cold numba cache), so that
    the timings measure them rather than the exhaustive stand-in."""
    from rankwise.bm25.index import _warmup

    _warmup.wait()


def threads_probe(obj: Any, queries: list[str], k: int = 10, rounds: int = 7) -> dict[str, float]:
    """Wall seconds of ``search_many`` over ``queries`` on 1 and 2 threads and of a loop of
    ``search``: the fastest of ``rounds`` rounds, each running the three once in turn (taken in
    turn, a slow moment of the machine touches all three rather than one)."""
    import time

    runs = {
        "loop_s": lambda: [obj.search(q, k) for q in queries],
        "many_1_s": lambda: obj.search_many(queries, k, n_threads=1),
        "many_2_s": lambda: obj.search_many(queries, k, n_threads=2),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best
