"""TextColumn: strings from a saved UTF-8 block (possibly memory-mapped) followed by appends."""

from __future__ import annotations

import numpy as np
import pytest

from rankwise.bm25.columns import MetaColumn, TextColumn

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


def test_extend_owned_takes_a_first_batch_over_and_appends_later_ones() -> None:
    plain = TextColumn()
    first = ["a", "b"]
    plain.extend_owned(first)
    assert plain._extra is first  # no second list of pointers
    plain.extend_owned(["c"])
    assert list(plain) == ["a", "b", "c"]
    plain.truncate(1)
    assert list(plain) == ["a"]
    column = saved_column()  # appended strings already: a copy, the batch left alone
    batch = ["x"]
    column.extend_owned(batch)
    assert batch == ["x"]
    assert list(column)[-3:] == ["appended", "après", "x"]


@pytest.mark.parametrize("first", [[None, None], [None, {"k": 1}], []])
def test_meta_column_reads_like_a_list(first: list[dict[str, int] | None]) -> None:
    """A count until the first document with metadata, a list from then on: every read (item,
    slice, gather, iteration, length) and undo answers like the list oracle."""
    column = MetaColumn(first)
    oracle: list[dict[str, int] | None] = list(first)
    steps: list[list[dict[str, int] | None]] = [[None] * 3, [{}, None], [None, {"a": 2}], [None]]
    for batch in steps:
        column.extend(batch)
        oracle.extend(m or None for m in batch)
        assert [m or None for m in column] == oracle
        assert len(column) == len(oracle)
        assert [column[i] or None for i in range(len(oracle))] == oracle
        assert [m or None for m in column[1:4]] == oracle[1:4]
        rows = [len(oracle) - 1, 0, 1]
        assert [m or None for m in column.gather(rows)] == [oracle[i] for i in rows]
        assert [m or None for m in column.gather(rows[:1])] == [oracle[rows[0]]]
    with pytest.raises(IndexError):
        column[len(oracle)]
    column.truncate(2)
    assert [m or None for m in column] == oracle[:2]


def test_an_index_without_metadata_keeps_no_list_of_nones() -> None:
    from rankwise.bm25 import BM25Index

    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    ix.add([f"w{i % 5}" for i in range(1000)], ids=[str(i) for i in range(1000)])
    assert ix._state.metas.all_none
    assert len(ix._state.metas) == 1000
    ix.add(["w1 w9"], ids=["m"], metadatas=[{"tag": "x"}])
    assert not ix._state.metas.all_none
    assert ix.search("w9")[0].metadata == {"tag": "x"}
    assert ix.get(["0"])[0].metadata == {}
    assert [h.id for h in ix.search("w1", k=2000, filter={"tag": "x"})] == ["m"]
