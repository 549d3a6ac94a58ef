"""A small in-memory ``TextStore`` for tests of code that takes any store (the integrations).

It keeps the whole :class:`rankwise.types.TextStore` contract — ``tests/contract/`` runs it
with the real stores — so a test passing on it tells something about every backend. It is
deliberately *not* BM25: the score is how often the query's words occur in the text, so the
expected rankings can be worked out by hand.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence

from rankwise._checks import (
    ArgumentTypeError,
    copy_metadata,
    ids_arg,
    metadatas_arg,
    positive_int,
    text_arg,
    texts_arg,
)
from rankwise.types import Filter, FilterKind, Hit, Metadata, check_filter

__all__ = ["WordCountStore", "words"]

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lowercased ``\\w+`` runs of ``text``."""
    return _WORD.findall(text.lower())


class WordCountStore:
    """Score = occurrences of the query's words in the text (repeated query words count).

    Args:
        delay: seconds each search sleeps (to test concurrency of callers).

    ``searches`` records ``(query, k)`` and ``filters_seen`` every filter, for assertions.
    """

    filter_kinds: tuple[FilterKind, ...] = ("mapping", "ids", "predicate")

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._docs: dict[str, tuple[str, Metadata]] = {}
        self._lock = threading.Lock()
        self.searches: list[tuple[str, int]] = []
        self.filters_seen: list[Filter | None] = []

    @property
    def docs(self) -> dict[str, tuple[str, Metadata]]:
        """The stored ``id -> (text, metadata)`` in insertion order (a copy)."""
        return dict(self._docs)

    def _rows(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None,
        metadatas: Iterable[Metadata | None] | None,
    ) -> list[tuple[str, str, Metadata]]:
        text_list = texts_arg(texts)
        if ids is None:
            id_list = [uuid.uuid4().hex for _ in text_list]
        else:
            id_list = ids_arg(ids, count=len(text_list), unique=True)
        metas = metadatas_arg(metadatas, len(text_list))
        return list(zip(id_list, text_list, metas, strict=True))

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        rows = self._rows(texts, ids, metadatas)
        with self._lock:
            taken = [i for i, _, _ in rows if i in self._docs]
            if taken:
                raise ValueError(f"ids: {taken[0]!r} is already stored (use upsert)")
            docs = dict(self._docs)
            docs.update((i, (t, m)) for i, t, m in rows)
            self._docs = docs
        return [i for i, _, _ in rows]

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        if ids is None:
            raise ArgumentTypeError("ids must be given to upsert, got None")
        rows = self._rows(texts, ids, metadatas)
        with self._lock:
            docs = {k: v for k, v in self._docs.items() if k not in {i for i, _, _ in rows}}
            docs.update((i, (t, m)) for i, t, m in rows)  # a replaced document moves last
            self._docs = docs
        return [i for i, _, _ in rows]

    def delete(self, ids: Iterable[str]) -> int:
        gone = set(ids_arg(ids))
        with self._lock:
            removed = len(gone & self._docs.keys())
            self._docs = {k: v for k, v in self._docs.items() if k not in gone}
        return removed

    def get(self, ids: Iterable[str]) -> list[Hit]:
        docs = self._docs
        return [
            Hit(i, 0.0, docs[i][0], copy_metadata(docs[i][1])) for i in ids_arg(ids) if i in docs
        ]

    def _passes(self, doc_id: str, metadata: Metadata, flt: Filter | None) -> bool:
        if flt is None:
            return True
        if isinstance(flt, (set, frozenset)):
            return doc_id in flt
        if isinstance(flt, Mapping):
            return all(k in metadata and metadata[k] == v for k, v in flt.items())
        assert callable(flt)
        return bool(flt(copy_metadata(metadata)))

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        return self.search_many([text_arg(query, "query")], k, filter)[0]

    def search_many(
        self, queries: Sequence[str], k: int = 10, filter: Filter | None = None
    ) -> list[list[Hit]]:
        queries = texts_arg(queries, "queries")
        k = positive_int(k, "k")
        check_filter(filter, type(self).__name__, self.filter_kinds)
        docs = self._docs
        out = []
        for query in queries:
            self.searches.append((query, k))
            self.filters_seen.append(filter)
            if self.delay:
                time.sleep(self.delay)
            q = words(query)
            scored = []
            for doc_id, (text, metadata) in docs.items():
                if not self._passes(doc_id, metadata, filter):
                    continue
                doc_words = words(text)
                score = float(sum(doc_words.count(w) for w in q))
                if score > 0:
                    scored.append(Hit(doc_id, score, text, copy_metadata(metadata)))
            scored.sort(key=lambda h: -h.score)  # stable: ties keep insertion order
            out.append(scored[:k])
        return out

    def ids(self) -> list[str]:
        return list(self._docs)

    def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._docs)
