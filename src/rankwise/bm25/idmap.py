"""The id -> internal document map of a BM25Index, held in two NumPy arrays instead of a dict.

A dict of 1M string ids to ints costs ~75 MB (its table plus one int object per document) on
top of the id strings, which the index keeps anyway in its ids column. ``IdMap`` stores only
each id's ``hash()`` (sorted, int64) and its row (int64): 16 bytes a document. A lookup hashes
the id, binary-searches the hashes and confirms the match against the ids column (so a hash
collision never answers for another id). Writes go to a small dict first; when it grows past
a fraction of the arrays it is merged into them (new arrays; a reader holding the old pair is
not disturbed), so adding 1k documents to a 1M index stays cheap.

The first large batch into an empty map (a bulk build) is only noted: its rows are hashed on
the first lookup or write after it. An index that is built and then only searched never
spends the 16 bytes a document (nor the hashing and sorting scratch) at the top of its build.

Hashes are Python's ``str`` hashes: valid in this process only, never stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
#: the write dict is merged into the arrays beyond max(this, arrays // _MERGE_FRACTION) entries
_MERGE_MIN = 4096
_MERGE_FRACTION = 8
_EMPTY = np.zeros(0, np.int64)


class DuplicateIdError(ValueError):
    """An id given twice where ids must be unique (``IdMap.of`` of a column)."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"the ids are not unique ({doc_id!r} appears twice)")
        self.doc_id = doc_id


def _hashes(ids: Sequence[str]) -> IntArray:
    return np.fromiter(map(hash, ids), np.int64, count=len(ids))


class IdMap:
    """id -> the newest internal document (row of ``column``) that holds it; never shrinks.

    ``column`` is the index's append-only ids column: ``column[row]`` is the id of ``row``,
    read to confirm a hash match. Only the index's writer (under its lock) mutates the map;
    ``get`` may run concurrently from any thread (the first lookup after a deferred batch
    hashes it under the map's own lock, see ``_settle``).
    """

    __slots__ = ("_column", "_deferred", "_frozen", "_recent", "_settling")

    def __init__(self, column: list[str]) -> None:
        self._column = column
        # (sorted hashes, rows): replaced whole on a merge, never changed in place
        self._frozen: tuple[IntArray, IntArray] = (_EMPTY, _EMPTY)
        self._recent: dict[str, int] = {}
        # (base, n): rows base..base+n-1 map their ids (``column[row]``), not hashed yet; only
        # while the arrays and the dict are empty (see ``assign``)
        self._deferred: tuple[int, int] | None = None
        self._settling = threading.Lock()

    @classmethod
    def of(cls, column: list[str]) -> IdMap:
        """The map of ``column[row] -> row`` for every row; ``DuplicateIdError`` when an id
        appears twice."""
        out = cls(column)
        out._frozen = out._merged(column, 0, unique=True)
        return out

    def __len__(self) -> int:
        """Entries held (an id rewritten since the last merge counts twice): 0 when empty."""
        deferred = self._deferred
        n = 0 if deferred is None else deferred[1]
        return int(self._frozen[0].size) + len(self._recent) + n

    def _settle(self) -> None:
        """Hash the deferred rows into the arrays (once, whichever thread gets here first);
        the arrays are published before the deferral is cleared, so a reader never sees
        neither."""
        with self._settling:
            deferred = self._deferred
            if deferred is None:
                return
            base, n = deferred
            self._frozen = self._merged(self._column[base : base + n], base, unique=False)
            self._deferred = None

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.get(doc_id) is not None

    def get(self, doc_id: str) -> int | None:
        """The row mapped to ``doc_id``, or None."""
        if self._deferred is not None:
            self._settle()
        row = self._recent.get(doc_id)
        if row is not None:
            return row
        keys, rows = self._frozen
        n = keys.size
        if not n:
            return None
        h = hash(doc_id)
        at = int(keys.searchsorted(h))
        column = self._column
        while at < n and keys[at] == h:
            row = int(rows[at])
            if row < len(column) and column[row] == doc_id:
                return row
            at += 1
        return None

    def get_many(self, ids: Sequence[str]) -> list[int | None]:
        """``[get(i) for i in ids]``, hashing and searching all of them at once."""
        if len(ids) < 64:
            return [self.get(i) for i in ids]
        if self._deferred is not None:
            self._settle()
        out: list[int | None] = [None] * len(ids)
        # the dict before the arrays, as ``get`` reads them: a merge publishes its arrays
        # first, so a reader never misses an id that moves from the dict into the arrays
        recent = self._recent
        keys, rows = self._frozen
        if keys.size:
            h = _hashes(ids)
            at = np.minimum(keys.searchsorted(h), keys.size - 1)
            hit = np.flatnonzero(keys[at] == h)
            column = self._column
            n_column = len(column)
            get = self.get
            # candidates: the ids present (and rare collisions, which get sorts out)
            for j, row in zip(hit.tolist(), rows[at[hit]].tolist(), strict=True):
                doc_id = ids[j]
                out[j] = row if row < n_column and column[row] == doc_id else get(doc_id)
        if recent:
            for j, doc_id in enumerate(ids):
                row = recent.get(doc_id)
                if row is not None:
                    out[j] = row
        return out

    def assign(self, ids: Sequence[str], base: int) -> None:
        """Map ``ids[j] -> base + j`` (rows newer than any mapped so far; ``ids`` unique and
        already in the column: ``column[base + j] == ids[j]``). A batch of at least
        ``_MERGE_MIN`` ids into an empty map is deferred (see the module's doc)."""
        if self._deferred is not None:
            self._settle()
        recent = self._recent
        if len(ids) >= _MERGE_MIN and not recent and not self._frozen[0].size:
            self._deferred = (base, len(ids))
            return
        if len(recent) + len(ids) <= max(_MERGE_MIN, self._frozen[0].size // _MERGE_FRACTION):
            recent.update(zip(ids, range(base, base + len(ids)), strict=True))
            return
        # merge: the write dict's entries, then the new ones (newer rows win)
        if recent:
            pending = {**recent, **dict(zip(ids, range(base, base + len(ids)), strict=True))}
            rows = np.fromiter(pending.values(), np.int64, count=len(pending))
            merged = self._merged(list(pending), rows, unique=False)
        else:
            merged = self._merged(ids, base, unique=False)
        self._frozen = merged  # before the dict is emptied (see ``get_many``)
        self._recent = {}

    def restore(self, saved: tuple[tuple[IntArray, IntArray], dict[str, int]]) -> None:
        """Go back to ``saved`` (from ``save``); the caller then undoes ``assign``'s writes to
        the saved dict with ``put``/``drop`` (see ``BM25Index._publish``)."""
        frozen, recent = saved
        with self._settling:  # a deferred batch is dropped, not hashed by a reader meanwhile
            # the dict first, then the arrays (a merge's order reversed): a reader between the
            # two sees the saved dict with the newer arrays, which hold its entries too, never
            # the merge's emptied dict with the older arrays, which would miss them
            self._recent = recent
            self._frozen = frozen
            self._deferred = None

    def save(self) -> tuple[tuple[IntArray, IntArray], dict[str, int]]:
        if self._deferred is not None:
            self._settle()
        return self._frozen, self._recent

    def put(self, doc_id: str, row: int) -> None:
        if self._deferred is not None:
            self._settle()
        self._recent[doc_id] = row

    def drop(self, ids: Iterable[str]) -> None:
        """Forget ``ids`` written since the last merge (an undone ``assign``)."""
        if self._deferred is not None:
            self._settle()
        recent = self._recent
        for doc_id in ids:
            recent.pop(doc_id, None)

    def _merged(
        self, ids: Sequence[str], rows_of: IntArray | int, *, unique: bool
    ) -> tuple[IntArray, IntArray]:
        """The frozen arrays plus ``ids[j] -> rows_of[j]`` (``rows_of + j`` for an int): where
        an id is given twice (only with ``unique=False``) or is in the arrays already, its
        newest row wins. Scratch at 1M ids: the hashes and their order, 16 MB."""
        h = _hashes(ids)
        order = np.argsort(h)
        h.sort()  # in place: h[order] would be one more array at the build's peak
        if isinstance(rows_of, int):  # rows base + j: the order itself, shifted
            base = rows_of
            id_rows = order
            id_rows += base
            where = id_rows  # ids[where[j] - base] is the j-th sorted id
        else:
            base = 0
            id_rows = rows_of[order]
            where = order
        keep = np.ones(h.size, np.bool_)
        same = np.flatnonzero(h[1:] == h[:-1])
        if same.size:  # runs of equal hashes: the same id again, or a collision
            newest: dict[str, int] = {}
            for j in sorted({*same.tolist(), *(same + 1).tolist()}):
                doc_id = ids[int(where[j]) - base]
                prev = newest.get(doc_id)
                if prev is None:
                    newest[doc_id] = j
                    continue
                if unique:
                    raise DuplicateIdError(doc_id)
                drop = prev if id_rows[j] > id_rows[prev] else j
                keep[drop] = False
                newest[doc_id] = prev + j - drop
        keys, rows = self._frozen
        if not keys.size:
            return (h, id_rows) if bool(keep.all()) else (h[keep], id_rows[keep])
        at = keys.searchsorted(h)
        known = np.flatnonzero(keys[np.minimum(at, keys.size - 1)] == h)
        if known.size:  # ids mapped already (or colliding): update their rows in a copy
            rows = rows.copy()
            column = self._column
            for j in known.tolist():
                doc_id = ids[int(where[j]) - base]
                i = int(at[j])
                while i < keys.size and keys[i] == h[j]:
                    old = int(rows[i])
                    if old < len(column) and column[old] == doc_id:
                        rows[i] = max(old, int(id_rows[j]))
                        keep[j] = False
                        break
                    i += 1
        if not bool(keep.all()):
            at, h, id_rows = at[keep], h[keep], id_rows[keep]
        return np.insert(keys, at, h), np.insert(rows, at, id_rows)


__all__ = ["DuplicateIdError", "IdMap"]
