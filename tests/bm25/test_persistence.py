"""save/load: round trip, atomicity, damage detection, no pickle, callable analyzers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rankwise.bm25 import FORMAT_VERSION, BM25Index
from tests.bm25._traced import traced

TEXTS = [f"doc {i} about topic{i % 7} and thing{i % 3} ünïcödé 文字" for i in range(60)]


def make_index(**kw: object) -> BM25Index:
    ix = BM25Index("standard", show_progress=False, **kw)  # type: ignore[arg-type]
    ix.add(TEXTS, ids=[f"id{i}" for i in range(60)], metadatas=[{"i": i} for i in range(60)])
    return ix


def results(ix: BM25Index) -> list[list[tuple[str, float]]]:
    queries = ["topic3 thing1", "doc 5", "ünïcödé", "文", "nothing"]
    return [[(h.id, h.score) for h in hits] for hits in ix.search_many(queries, k=8)]


@pytest.mark.parametrize("mmap", [True, False])
def test_roundtrip(tmp_path: Path, mmap: bool) -> None:
    ix = make_index(k1=1.5, b=0.6, inverted_index_algo="DAAT_WAND")
    ix.delete(["id3", "id4"])
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix", mmap=mmap)
    assert (loaded.k1, loaded.b, loaded.inverted_index_algo) == (1.5, 0.6, "DAAT_WAND")
    assert loaded.analyzer == ix.analyzer
    assert len(loaded) == 58
    assert loaded.ids() == ix.ids()
    assert results(loaded) == results(ix)
    assert loaded.get(["id7"]) == ix.get(["id7"])
    # a loaded index keeps working incrementally and can be saved over itself
    loaded.add(["fresh topic3 doc"], ids=["new"])
    loaded.delete(["id10"])
    loaded.save(tmp_path / "ix")
    again = BM25Index.load(tmp_path / "ix")
    assert results(again) == results(loaded)
    assert len([p for p in (tmp_path / "ix").iterdir() if p.name.startswith("gen-")]) == 1


def test_files_are_plain_npy_and_json(tmp_path: Path) -> None:
    make_index().save(tmp_path / "ix")
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["analyzer"] == {"type": "standard"}
    gen = tmp_path / "ix" / manifest["generation"]
    npys = sorted(gen.glob("*.npy"))
    assert npys
    for f in npys:
        arr = np.load(f, allow_pickle=False)  # raises if anything needs pickle
        assert arr.dtype != object
    for f in gen.glob("*.json"):
        json.loads(f.read_text())
    assert {f.suffix for f in gen.iterdir()} == {".npy", ".json"}


def test_interrupted_save_keeps_previous_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ix"
    old = make_index()
    old.save(target)
    before = results(old)
    bigger = make_index()
    bigger.add(["extra topic3 thing1"] * 5)
    calls = {"n": 0}
    real_save = np.save

    def failing_save(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (injected)")
        real_save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="injected"):
        bigger.save(target)
    monkeypatch.setattr(np, "save", real_save)
    assert results(BM25Index.load(target)) == before
    assert [p.name for p in target.iterdir() if p.name.endswith(".tmp")] == []


def test_crash_before_manifest_switch_keeps_previous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rankwise.bm25.persistence as persistence

    target = tmp_path / "ix"
    make_index().save(target)
    before = results(BM25Index.load(target))

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence.os, "replace", boom)
    bigger = make_index()
    bigger.add(["extra topic3 thing1"] * 5)
    with pytest.raises(KeyboardInterrupt):
        bigger.save(target)
    monkeypatch.undo()
    assert results(BM25Index.load(target)) == before


def _gen_dir(root: Path) -> Path:
    return root / json.loads((root / "manifest.json").read_text())["generation"]


@pytest.mark.parametrize(
    "damage",
    ["truncate_docs", "flip_byte", "drop_file", "wrong_version", "garbage_manifest", "no_manifest",
     "bad_shape", "bad_ids"],
)  # fmt: skip
def test_damaged_index_raises_value_error(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "ix"
    make_index().save(root)
    gen = _gen_dir(root)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if damage == "truncate_docs":
        data = (gen / "post.npy").read_bytes()
        (gen / "post.npy").write_bytes(data[: len(data) // 2])
    elif damage == "flip_byte":
        data = bytearray((gen / "post.npy").read_bytes())
        data[-1] ^= 0xFF
        (gen / "post.npy").write_bytes(bytes(data))
    elif damage == "drop_file":
        (gen / "text_offsets.npy").unlink()
    elif damage == "wrong_version":
        manifest["format_version"] = FORMAT_VERSION + 1
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "garbage_manifest":
        manifest_path.write_text("{not json")
    elif damage == "no_manifest":
        manifest_path.unlink()
    elif damage == "bad_shape":
        manifest["n_docs"] = manifest["n_docs"] + 1
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "bad_ids":
        (gen / "ids.json").write_text(json.dumps(["x"] * 60))
        entry = manifest["files"]["ids.json"]
        entry["bytes"] = (gen / "ids.json").stat().st_size
        import zlib

        entry["crc32"] = zlib.crc32((gen / "ids.json").read_bytes())
        manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="index"):
        BM25Index.load(root)


def test_flipped_byte_without_crc_is_still_structurally_checked(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    make_index().save(root)
    gen = _gen_dir(root)
    post = np.load(gen / "post.npy")
    post[0] |= np.uint32(0xF0000000)  # points past the last document
    np.save(gen / "post.npy", post)
    with pytest.raises(ValueError, match="index"):
        BM25Index.load(root, verify=False)


def test_save_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="path"):
        make_index().save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_unserializable_metadata_is_refused_at_add_not_at_save(tmp_path: Path) -> None:
    ix = BM25Index(show_progress=False)
    with pytest.raises(TypeError, match=r"metadatas\[0\]\['obj'\]"):
        ix.add(["a"], metadatas=[{"obj": object()}])
    assert len(ix) == 0
    ix.save(tmp_path / "ix")
    assert len(BM25Index.load(tmp_path / "ix")) == 0


def _upper_split(text: str) -> list[str]:
    return text.upper().split()


def test_callable_analyzer_needs_the_callable_at_load(tmp_path: Path) -> None:
    ix = BM25Index(_upper_split, show_progress=False)
    ix.add(["alpha beta", "beta gamma"], ids=["a", "b"])
    ix.save(tmp_path / "ix")
    with pytest.raises(ValueError, match="analyzer"):
        BM25Index.load(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix", analyzer=_upper_split)
    assert [h.id for h in loaded.search("gamma")] == ["b"]


def test_load_rejects_a_different_analyzer(tmp_path: Path) -> None:
    make_index().save(tmp_path / "ix")
    with pytest.raises(ValueError, match="analyzer"):
        BM25Index.load(tmp_path / "ix", analyzer="english")
    assert len(BM25Index.load(tmp_path / "ix", analyzer="standard")) == 60


def test_empty_index_roundtrip(tmp_path: Path) -> None:
    BM25Index().save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix")
    assert len(loaded) == 0
    assert loaded.search("x") == []
    loaded.add(["x y"], ids=["1"])
    assert [h.id for h in loaded.search("x")] == ["1"]


def test_the_crc_check_reads_a_file_through_one_small_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load checks every file's CRC32: reading each chunk into a new bytes object made fresh
    memory for the OS to fault in at each chunk, which cost seconds in a process holding a
    large index. The check must keep to one buffer of ``_CRC_CHUNK`` bytes and give zlib's
    CRC of the whole file."""
    import zlib

    from rankwise.bm25 import persistence

    data = np.random.default_rng(0).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    got = traced(  # in a child process: see _traced
        """
        import tracemalloc
        from pathlib import Path
        from rankwise.bm25 import persistence

        tracemalloc.start()
        crc = persistence._crc32(Path(path))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result = {"crc": crc, "peak": peak}
        """,
        path=str(path),
    )
    crc, peak = got["crc"], got["peak"]
    assert crc == zlib.crc32(data)
    assert persistence._CRC_CHUNK <= 1 << 20
    assert peak < 2 * persistence._CRC_CHUNK + (64 << 10)
    # every chunk zlib sees is a view of the same buffer (not a new bytes object per chunk)
    real_crc32 = zlib.crc32
    buffers: list[object] = []

    def spy(chunk: bytes, value: int = 0) -> int:
        buffers.append(memoryview(chunk).obj)  # kept alive: ids stay distinct
        return real_crc32(chunk, value)

    monkeypatch.setattr(zlib, "crc32", spy)
    assert persistence._crc32(path) == crc
    monkeypatch.undo()
    assert len(buffers) >= len(data) // persistence._CRC_CHUNK
    assert len({id(b) for b in buffers}) == 1
    (tmp_path / "empty.bin").write_bytes(b"")
    assert persistence._crc32(tmp_path / "empty.bin") == 0
