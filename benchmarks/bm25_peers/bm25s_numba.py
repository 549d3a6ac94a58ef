"""bm25s with the numba backend (tokens given as lists, Lucene IDF, k1=1.2, b=0.75)."""

from __future__ import annotations

from typing import Any

from benchmarks.bm25_peers import _bm25s_common

NAME = "bm25s-numba"


def build(texts: list[str]) -> Any:
    return _bm25s_common.build(texts, "numba")


def search(obj: Any, query: str, k: int) -> list[int]:
    return _bm25s_common.search_many(obj, [query], k, "numba")[0]


def search_many(obj: Any, queries: list[str], k: int) -> list[list[int]]:
    return _bm25s_common.search_many(obj, queries, k, "numba")


def save(obj: Any, path: str) -> None:
    _bm25s_common.save(obj, path)
