"""The snapshot type (to/from arrays) and the three loading stages, each refusing bad input;
and the storage modules no longer import the index (issue 17 item 5)."""

from __future__ import annotations

import ast
import json
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rankwise.bm25 import BM25Index, persistence
from rankwise.bm25.segment import Segment
from rankwise.bm25.snapshot import Snapshot, SnapshotArrays, SnapshotError
from rankwise.bm25.vocabulary import DuplicateTermError, Vocabulary

SRC = Path(__file__).resolve().parents[2] / "src" / "rankwise" / "bm25"
QUERIES = ["alpha beta", "gamma", "delta alpha alpha", "ünï", "nothing"]


def _index() -> BM25Index:
    """Several segments, a deletion and an upsert: a snapshot with dead documents."""
    ix = BM25Index("standard", show_progress=False)
    ix.add([f"alpha beta doc{i} ünï" for i in range(40)], ids=[f"a{i}" for i in range(40)])
    ix.add([f"gamma delta doc{i}" for i in range(7)], ids=[f"g{i}" for i in range(7)],
           metadatas=[{"n": i} for i in range(7)])  # fmt: skip
    ix.add(["alpha gamma"], ids=["x"], metadatas=[{"tag": ["t"]}])
    ix.delete(["a3", "g1"])
    ix.upsert(["delta only"], ids=["a5"], metadatas=[{"new": True}])
    return ix


def _arrays(ix: BM25Index) -> SnapshotArrays:
    return ix._state.to_arrays(ix.k1, ix.b, list(ix._vocab))


def _answers(ix: BM25Index) -> Any:
    return [[(h.id, h.score, h.text, h.metadata) for h in hits] for hits in
            ix.search_many(QUERIES, k=10)]  # fmt: skip


def _index_from(ix: BM25Index, arrays: SnapshotArrays) -> BM25Index:
    """A fresh index holding ``Snapshot.from_arrays(arrays)`` (what a load builds)."""
    out = BM25Index("standard", show_progress=False)
    out._state = Snapshot.from_arrays(arrays)
    out._vocab = Vocabulary.from_terms(arrays.terms, compact=False)
    out._id_to_int = out._state.id_map()
    return out


# ------------------------------------------------------------------ to / from arrays


def test_to_arrays_holds_the_live_documents_renumbered() -> None:
    ix = _index()
    assert len(ix._state.segments) > 1
    arrays = _arrays(ix)
    assert arrays.n_docs == len(ix) == 46
    assert list(arrays.ids) == ix.ids()
    hits = ix.get(ix.ids())
    assert list(arrays.texts) == [h.text for h in hits]
    assert [m or {} for m in arrays.metas] == [h.metadata for h in hits]
    seg = arrays.postings
    assert (seg.base, seg.n_docs) == (0, 46)
    assert int(seg.docs.max()) == 45
    assert int(arrays.doc_len.sum()) == arrays.total_len == ix._state.total_len
    # the postings equal those of an index built from the live documents in the same order
    fresh = BM25Index("standard", show_progress=False)
    fresh.add([h.text for h in hits], ids=[h.id for h in hits])
    want = _arrays(fresh).postings
    terms, fresh_terms = list(arrays.terms), list(_arrays(fresh).terms)
    for t, term in enumerate(terms):
        lo, hi = seg.ptr[t], seg.ptr[t + 1]
        if term not in fresh_terms:
            assert lo == hi  # only in deleted documents
            continue
        f = fresh_terms.index(term)
        flo, fhi = want.ptr[f], want.ptr[f + 1]
        assert seg.docs[lo:hi].tolist() == want.docs[flo:fhi].tolist()
        assert seg.tfs[lo:hi].tolist() == want.tfs[flo:fhi].tolist()


def test_from_arrays_round_trip_answers_exactly_like_the_index() -> None:
    ix = _index()
    back = _index_from(ix, _arrays(ix))
    assert _answers(back) == _answers(ix)
    assert back.ids() == ix.ids()
    assert back.avgdl == ix.avgdl
    # and the rebuilt one keeps working incrementally, with the same result as the original
    for target in (ix, back):
        target.add(["alpha fresh"], ids=["new"])
        target.delete(["a7"])
    assert _answers(back) == _answers(ix)
    again = _index_from(back, _arrays(back))
    assert _answers(again) == _answers(ix)


def test_empty_snapshot_round_trip() -> None:
    arrays = Snapshot.empty().to_arrays(1.2, 0.75, [])
    assert arrays.n_docs == 0
    st = Snapshot.from_arrays(arrays)
    assert (st.n_total, st.n_live, st.segments) == (0, 0, ())


def test_to_arrays_needs_the_whole_vocabulary() -> None:
    ix = _index()
    with pytest.raises(ValueError, match="terms"):
        ix._state.to_arrays(ix.k1, ix.b, list(ix._vocab)[:2])


def _seg(seg: Segment, **changes: Any) -> Segment:
    fields = {k: getattr(seg, k) for k in
              ("base", "n_docs", "ptr", "post", "shift", "bptr", "blast", "bmax", "bound_avgdl",
               "block")}  # fmt: skip
    fields.update(changes)
    return Segment(**fields)


def _damaged(arrays: SnapshotArrays, damage: str) -> SnapshotArrays:
    seg = arrays.postings
    if damage == "doc_past_end":
        post = seg.post.copy()
        assert arrays.n_docs < 1 << (32 - seg.shift)  # a doc number the bits can hold
        post[0] = (arrays.n_docs << seg.shift) | int(seg.tfs[0])
        return replace(arrays, postings=_seg(seg, post=post))
    if damage == "lengths":
        return replace(arrays, total_len=arrays.total_len + 1)
    if damage == "ids_count":
        return replace(arrays, ids=list(arrays.ids)[:-1])
    if damage == "metas_count":
        return replace(arrays, metas=[*arrays.metas, None])
    if damage == "texts_count":
        return replace(arrays, texts=list(arrays.texts)[:-1])
    if damage == "terms_count":
        return replace(arrays, terms=[*arrays.terms, "extra"])
    if damage == "docs_dtype":
        return replace(arrays, postings=_seg(seg, post=seg.post.astype(np.int64)))
    if damage == "covers":
        return replace(arrays, postings=_seg(seg, n_docs=seg.n_docs + 1))
    raise AssertionError(damage)


@pytest.mark.parametrize(
    "damage",
    ["doc_past_end", "lengths", "ids_count", "metas_count", "texts_count", "terms_count",
     "docs_dtype", "covers"],
)  # fmt: skip
def test_from_arrays_refuses_arrays_that_disagree(damage: str) -> None:
    arrays = _damaged(_arrays(_index()), damage)
    with pytest.raises(SnapshotError, match=r"inconsistent|past|lengths"):
        Snapshot.from_arrays(arrays)


def test_from_arrays_refuses_pointers_out_of_order() -> None:
    from rankwise.bm25.snapshot import check_block_layout

    seg = _arrays(_index()).postings
    ptr = seg.ptr.copy()
    ptr[1], ptr[2] = ptr[2] + 1, ptr[1]
    with pytest.raises(SnapshotError, match="monotonic"):
        check_block_layout(ptr, seg.bptr, seg.blast, seg.bmax, seg.nnz, seg.block)
    bptr = seg.bptr.copy()
    bptr[-1] += 1
    with pytest.raises(SnapshotError, match="block pointers"):
        check_block_layout(seg.ptr, bptr, seg.blast, seg.bmax, seg.nnz, seg.block)


def test_duplicate_terms_and_ids_are_refused() -> None:
    arrays = _arrays(_index())
    with pytest.raises(DuplicateTermError, match="duplicate terms"):
        Vocabulary.from_terms([arrays.terms[0], *arrays.terms[:-1]], compact=False)
    with pytest.raises(SnapshotError, match="ids"):
        Snapshot.from_arrays(replace(arrays, ids=[arrays.ids[0], *arrays.ids[:-1]])).id_map()


# ------------------------------------------------------------------ loader stages


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    root = tmp_path / "ix"
    _index().save(root)
    return root


def _manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / persistence.MANIFEST).read_text())  # type: ignore[no-any-return]


def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    (root / persistence.MANIFEST).write_text(json.dumps(manifest))


def test_the_stages_load_a_good_folder(saved: Path) -> None:
    manifest = persistence.read_manifest(saved)
    gen_dir = persistence.verify_files(saved, manifest, crc=True)
    arrays = persistence.read_arrays(gen_dir, manifest, mmap=True)
    back = _index_from(_index(), arrays)
    assert _answers(back) == _answers(_index())
    assert _answers(BM25Index.load(saved)) == _answers(_index())


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"format_version": persistence.FORMAT_VERSION + 1}, "format version"),
        ({"format": "other"}, "not a rankwise"),
        ({"generation": "gen-../x"}, "generation"),
        ({"k1": -1}, "k1"),
        ({"files": []}, "files"),
        ({"analyzer": 5}, "analyzer"),
    ],
)
def test_read_manifest_refuses(saved: Path, edit: dict[str, Any], match: str) -> None:
    _write_manifest(saved, {**_manifest(saved), **edit})
    with pytest.raises(ValueError, match=match):
        persistence.read_manifest(saved)


def test_read_manifest_refuses_an_unexpected_file_set(saved: Path) -> None:
    manifest = _manifest(saved)
    manifest["files"]["extra.npy"] = manifest["files"]["post.npy"]
    _write_manifest(saved, manifest)
    with pytest.raises(ValueError, match="unexpected set of files"):
        persistence.read_manifest(saved)


def test_verify_files_refuses_size_and_checksum(saved: Path) -> None:
    manifest = persistence.read_manifest(saved)
    gen_dir = saved / manifest.generation
    data = bytearray((gen_dir / "post.npy").read_bytes())
    data[-1] ^= 0xFF
    (gen_dir / "post.npy").write_bytes(bytes(data))
    persistence.verify_files(saved, manifest, crc=False)  # same size: only the CRC tells
    with pytest.raises(ValueError, match="CRC32"):
        persistence.verify_files(saved, manifest, crc=True)
    (gen_dir / "ids.json").write_text("[]")
    with pytest.raises(ValueError, match="bytes, expected"):
        persistence.verify_files(saved, manifest, crc=False)
    (gen_dir / "ids.json").unlink()
    with pytest.raises(ValueError, match="missing"):
        persistence.verify_files(saved, manifest, crc=False)


def _rewrite_npy(saved: Path, name: str, arr: np.ndarray) -> None:
    """Replace a data file and record it in the manifest, so only read_arrays can tell."""
    manifest = _manifest(saved)
    path = saved / manifest["generation"] / name
    path.unlink()
    np.save(path, arr)
    entry = manifest["files"][name]
    entry.update(bytes=path.stat().st_size, crc32=zlib.crc32(path.read_bytes()),
                 dtype=arr.dtype.str, shape=list(arr.shape))  # fmt: skip
    _write_manifest(saved, manifest)


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        ("post.npy", lambda a: a[:-1], "postings shape"),
        ("post.npy", lambda a: a.astype(np.int64), "postings dtype"),
        ("text_offsets.npy", lambda a: a[::-1].copy(), "text offsets"),
        ("bptr.npy", lambda a: a * 2, "block pointers"),
        ("ptr.npy", lambda a: a.astype(np.uint32), "ptr dtype"),
        ("bptr.npy", lambda a: a.astype(np.int16), "bptr shape"),
        ("doc_len.npy", lambda a: a + 1, "lengths"),
    ],
)
def test_read_arrays_refuses(saved: Path, name: str, make: Any, match: str) -> None:
    gen = saved / _manifest(saved)["generation"]
    _rewrite_npy(saved, name, make(np.load(gen / name)))
    manifest = persistence.read_manifest(saved)
    gen_dir = persistence.verify_files(saved, manifest, crc=True)
    with pytest.raises(ValueError, match=match):
        persistence.read_arrays(gen_dir, manifest, mmap=False)
    with pytest.raises(ValueError, match="index"):
        BM25Index.load(saved)


def test_read_arrays_checks_the_manifest_dtype(saved: Path) -> None:
    manifest = _manifest(saved)
    manifest["files"]["post.npy"]["dtype"] = "<u8"
    _write_manifest(saved, manifest)
    m = persistence.read_manifest(saved)
    gen_dir = persistence.verify_files(saved, m, crc=True)
    with pytest.raises(ValueError, match="manifest disagrees"):
        persistence.read_arrays(gen_dir, m, mmap=True)


def test_a_posting_past_the_end_is_refused_when_building_the_state(saved: Path) -> None:
    gen = saved / _manifest(saved)["generation"]
    post = np.load(gen / "post.npy")
    post[0] |= np.uint32(0xF0000000)  # the top doc numbers
    _rewrite_npy(saved, "post.npy", post)
    manifest = persistence.read_manifest(saved)
    arrays = persistence.read_arrays(
        persistence.verify_files(saved, manifest, crc=True), manifest, mmap=False
    )
    with pytest.raises(SnapshotError, match="past the last document"):
        Snapshot.from_arrays(arrays)
    with pytest.raises(ValueError, match="past the last document"):
        BM25Index.load(saved)


# ------------------------------------------------------------------ layering


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any level (TYPE_CHECKING blocks, function bodies)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", ["persistence", "sparse", "snapshot", "segment", "columns"])
def test_storage_modules_do_not_import_the_index(module: str) -> None:
    imported = _imported_modules(SRC / f"{module}.py")
    assert not any(m == "rankwise.bm25.index" or m.startswith("rankwise.bm25.index.")
                   for m in imported), imported  # fmt: skip
