"""TextColumn: strings from a saved UTF-8 block (possibly memory-mapped) followed by appends."""

from __future__ import annotations

import numpy as np
import pytest

from rankwise.bm25.columns import TextColumn

SAVED = ["", "ascii", "béta", "∑ unicode", "😀 emoji", "last one"]


def saved_column() -> TextColumn:
    blobs = [t.encode("utf-8") for t in SAVED]
    offsets = np.zeros(len(blobs) + 1, np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    data = np.frombuffer(b"".join(blobs), np.uint8)
    column = TextColumn(data, offsets)
    column.extend(["appended", "après"])
    return column


@pytest.mark.parametrize(
    "rows",
    [[], [0], [3], [7], [4, 2, 0, 5], [5, 5, 1], [6, 1, 7, 2], list(range(8))[::-1]],
)
def test_gather_reads_the_strings_at_rows(rows: list[int]) -> None:
    column = saved_column()
    everything = [*SAVED, "appended", "après"]
    assert list(column) == everything
    assert list(column.gather(rows)) == [everything[i] for i in rows]
    plain = TextColumn()
    plain.extend(everything)
    assert list(plain.gather(rows)) == [everything[i] for i in rows]
