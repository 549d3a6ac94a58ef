"""Shared bm25s glue (numpy and numba backends differ only in ``backend``)."""

from __future__ import annotations

from typing import Any


def build(texts: list[str], backend: str) -> Any:
    import bm25s

    # bm25s's own tokenizer (ids, memory-efficient); on "t<rank>" tokens its default pattern
    # \w\w+ yields exactly the whitespace split, and lower=False / no stop words keep them
    tokens = bm25s.tokenize(texts, lower=False, stopwords=None, show_progress=False)
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene", backend=backend)
    retriever.index(tokens, show_progress=False)
    return retriever


def search_many(obj: Any, queries: list[str], k: int, backend: str) -> list[list[int]]:
    import numpy as np

    docs, _ = obj.retrieve(
        [q.split() for q in queries],
        k=k,
        show_progress=False,
        n_threads=1,
        backend_selection=backend,
    )
    return [row.tolist() for row in np.asarray(docs)]


def save(obj: Any, path: str) -> None:
    obj.save(path, show_progress=False)
