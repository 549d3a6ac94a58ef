"""Folders written by earlier releases still load: ``data/index-v1`` was saved by rankwise
0.1 (format version 1, before the snapshot refactor) from ``build_reference()``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rankwise.bm25 import FORMAT_VERSION, BM25Index

V1 = Path(__file__).parent / "data" / "index-v1"
QUERIES = ["alpha beta", "gamma ünï", "delta delta", "文字", "absent"]


def build_reference() -> BM25Index:
    """The index the fixture holds (deletions and an upsert, so the save compacted)."""
    ix = BM25Index("standard", k1=1.1, b=0.7, inverted_index_algo="DAAT_WAND", show_progress=False)
    ix.add(
        [f"alpha beta doc{i} ünï 文字" if i % 3 else f"gamma delta doc{i}" for i in range(30)],
        ids=[f"id{i}" for i in range(30)],
        metadatas=[{"i": i, "tags": ["x", {"n": i}]} if i % 2 else None for i in range(30)],
    )
    ix.delete(["id4", "id9"])
    ix.upsert(["delta delta gamma"], ids=["id1"], metadatas=[{"new": True}])
    return ix


def _answers(ix: BM25Index) -> list[list[tuple[str, float, str, object]]]:
    return [[(h.id, h.score, h.text, h.metadata) for h in hits] for hits in
            ix.search_many(QUERIES, k=10)]  # fmt: skip


def test_the_fixture_is_a_version_1_folder() -> None:
    manifest = json.loads((V1 / "manifest.json").read_text())
    assert manifest["format_version"] == 1 <= FORMAT_VERSION


@pytest.mark.parametrize("mmap", [True, False])
def test_a_version_1_folder_loads_with_the_same_answers(tmp_path: Path, mmap: bool) -> None:
    folder = tmp_path / "ix"
    shutil.copytree(V1, folder)  # a load must not need to write, but keep the fixture pristine
    loaded = BM25Index.load(folder, mmap=mmap)
    ref = build_reference()
    assert (loaded.k1, loaded.b, loaded.inverted_index_algo) == (1.1, 0.7, "DAAT_WAND")
    assert loaded.ids() == ref.ids()
    assert loaded.get(ref.ids()) == ref.get(ref.ids())
    assert _answers(loaded) == _answers(ref)
    # and it keeps working: writes, then a save in today's format over it
    loaded.add(["alpha new"], ids=["new"])
    loaded.save(folder)
    assert _answers(BM25Index.load(folder)) == _answers(loaded)
