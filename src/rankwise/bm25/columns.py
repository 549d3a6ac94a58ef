"""Append-only per-document columns that may start from a memory-mapped saved block."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt


class TextColumn(Sequence[str]):
    """Strings ``0..n-1``: a UTF-8 blob + offsets (possibly mmapped) followed by a Python list.

    Only appends mutate it, so a reader that remembers a length sees a stable prefix.
    """

    __slots__ = ("_data", "_extra", "_n_base", "_offsets")

    def __init__(
        self,
        data: npt.NDArray[np.uint8] | None = None,
        offsets: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self._data = data
        self._offsets = offsets
        self._n_base = 0 if offsets is None else int(offsets.size - 1)
        self._extra: list[str] = []

    def __len__(self) -> int:
        return self._n_base + len(self._extra)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # no slices
        if i < self._n_base:
            assert self._data is not None
            assert self._offsets is not None
            lo = int(self._offsets[i])
            hi = int(self._offsets[i + 1])
            return self._data[lo:hi].tobytes().decode("utf-8")
        return self._extra[i - self._n_base]

    def gather(self, rows: list[int]) -> Sequence[str]:
        """The strings at ``rows`` (in that order): what a search's hits read. Rows in the
        saved block are decoded straight from it, reading all their offsets at once."""
        if len(rows) <= 1:
            return [self[i] for i in rows]
        n_base = self._n_base
        if n_base == 0:
            return itemgetter(*rows)(self._extra)  # type: ignore[no-any-return]
        assert self._data is not None
        assert self._offsets is not None
        idx = np.asarray(rows, np.int64)
        if int(idx.max()) >= n_base:  # some rows appended since the load
            return [self[i] for i in rows]
        offsets = self._offsets
        starts = offsets[idx].tolist()
        ends = offsets[idx + 1].tolist()
        blob = self._data.data  # a memoryview: slices are not copied
        return [str(blob[lo:hi], "utf-8") for lo, hi in zip(starts, ends, strict=True)]

    def getter(self) -> Callable[[int], str]:
        """A fast ``i -> string`` function (plain list indexing when nothing is mmapped)."""
        if self._n_base == 0:
            return self._extra.__getitem__
        return self.__getitem__

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def append(self, text: str) -> None:
        self._extra.append(text)

    def extend(self, texts: list[str]) -> None:
        self._extra.extend(texts)

    def extend_owned(self, texts: list[str]) -> None:
        """``extend``, taking ``texts`` over as the column's list when the column holds no
        appended strings yet (a first batch): no second list of a million pointers. The
        caller gives ``texts`` up. Safe for readers: none reads past its snapshot's end, and
        below it an empty appended part has nothing to read."""
        if self._extra or not texts:
            self._extra.extend(texts)
        else:
            self._extra = texts

    def truncate(self, n: int) -> None:
        """Drop the strings from ``n`` on (never the saved block): undoes an unpublished append."""
        del self._extra[max(n - self._n_base, 0) :]


class MetaColumn(Sequence[Any]):
    """Per-document metadata (a dict, or None for none), append-only like ``TextColumn``.

    Until some document has metadata, only a count: an index built without metadata holds no
    list of a million Nones. The first document with metadata turns it into a list (published
    whole, so a concurrent reader reads either the count or the list, both right below its
    snapshot's end)."""

    __slots__ = ("_items", "_n")

    def __init__(self, items: Sequence[Any] = ()) -> None:
        self._items: list[Any] | None = None
        self._n = 0
        self.extend(items)

    @property
    def all_none(self) -> bool:
        """True while no document (of any snapshot) has metadata."""
        return self._items is None

    def __len__(self) -> int:
        items = self._items
        return self._n if items is None else len(items)

    def __getitem__(self, i: Any) -> Any:
        items = self._items
        if items is not None:
            return items[i]
        if isinstance(i, slice):
            return [None] * len(range(self._n)[i])
        range(self._n)[i]  # IndexError past the end
        return None

    def __iter__(self) -> Iterator[Any]:
        items = self._items
        return iter(items) if items is not None else iter([None] * self._n)

    def gather(self, rows: list[int]) -> Sequence[Any]:
        """The entries at ``rows`` (in that order)."""
        items = self._items
        if items is None:
            return [None] * len(rows)
        if len(rows) == 1:
            return [items[rows[0]]]
        return itemgetter(*rows)(items)  # type: ignore[no-any-return]

    def extend(self, metas: Sequence[Any]) -> None:
        items = self._items
        if items is not None:
            items.extend(metas)
        elif not any(metas):  # None or {}: no metadata (what every reader makes of both)
            self._n += len(metas)
        else:
            new = [None] * self._n
            new.extend(metas)
            self._items = new

    def truncate(self, n: int) -> None:
        """Drop the entries from ``n`` on: undoes an unpublished append."""
        items = self._items
        if items is None:
            self._n = min(self._n, n)
        else:
            del items[n:]


__all__ = ["MetaColumn", "TextColumn"]
