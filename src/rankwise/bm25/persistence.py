"""Saving and loading a BM25Index: ``.npy`` arrays + a JSON manifest, no pickle anywhere.

Layout of an index folder::

    manifest.json            format, version, analyzer config, k1, b, algorithm, files + CRC32
    gen-<hex>/*.npy|*.json   the data of the generation the manifest names

    .rankwise.lock           the lock file that serialises saves (threads and processes)

A save takes the folder's lock, writes a new generation folder (fsynced), then atomically
replaces ``manifest.json`` (``os.replace``), then removes every generation and temporary the
manifest does not point to (older generations, leftovers of interrupted or killed saves). A
crash or exception at any point leaves the previous manifest pointing at its intact generation.
Loading checks that every path the manifest names stays inside the folder and that its numbers
are in range; a load that races a save retries against the new manifest.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import numpy.typing as npt

from rankwise.bm25.analyzer import Analyzer, AnalyzerParams
from rankwise.bm25.columns import TextColumn
from rankwise.bm25.segment import Segment, merge_segments, with_new_blocks

if TYPE_CHECKING:
    from rankwise.bm25.index import BM25Index, _State

FORMAT_NAME = "rankwise-bm25"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK_NAME = ".rankwise.lock"
_GEN_PREFIX = "gen-"
_GEN_RE = re.compile(r"gen-[0-9a-f]{32}")
# what a save creates: gen-<hex>, gen-<hex>.tmp, manifest.json.gen-<hex>.tmp
_OWN_RE = re.compile(r"gen-[0-9a-f]{32}(\.tmp)?|manifest\.json\.gen-[0-9a-f]{32}\.tmp")
_CRC_CHUNK = 1 << 24
# a load that loses a race with a save (its generation removed) retries this often in all
_LOAD_ATTEMPTS = 5


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc32(path: Path) -> int:
    crc = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _encode_strings(
    strings: Callable[[], Iterable[str]], count: int, path: Path
) -> npt.NDArray[np.int64]:
    """Stream the UTF-8 concatenation of ``strings()`` into a uint8 ``.npy`` (two passes, so
    memory stays flat); returns the byte offsets."""
    offsets = np.zeros(count + 1, np.int64)
    total = 0
    for i, s in enumerate(strings()):
        total += len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))
        offsets[i + 1] = total
    header = {"descr": np.dtype(np.uint8).str, "fortran_order": False, "shape": (total,)}
    with _create(path) as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        batch: list[bytes] = []
        size = 0
        for s in strings():
            raw = s.encode("utf-8", "surrogatepass")
            batch.append(raw)
            size += len(raw)
            if size >= 1 << 22:
                fh.write(b"".join(batch))
                batch.clear()
                size = 0
        fh.write(b"".join(batch))
    return offsets


def _compacted(index: BM25Index, st: _State) -> tuple[Segment, npt.NDArray[np.int64]]:
    """All live postings in one segment with documents renumbered 0..n_live-1."""
    from rankwise.bm25 import kernels

    alive = st.alive
    norm_all = st.norms(index.k1, index.b)
    avgdl = st.avgdl
    live = np.flatnonzero(alive)
    segs = list(st.segments)
    if not segs:
        empty = np.zeros(0, np.uint32)
        seg = with_new_blocks(
            0, 0, np.zeros(1, np.int64), empty, np.zeros(0, np.uint8), np.zeros(0, np.float32), 1.0
        )
        return seg, live
    merged = segs[0]
    if len(segs) > 1 or live.size != st.n_total:
        for nxt in segs[1:]:
            merged = merge_segments(merged, nxt, alive, norm_all, avgdl)
        if len(segs) == 1:
            from rankwise.bm25.segment import compact_segment

            merged = compact_segment(merged, alive, norm_all, avgdl)
    n_terms = int(st.df.size)
    ptr = merged.ptr
    if ptr.size - 1 < n_terms:
        ptr = np.concatenate([ptr, np.full(n_terms - (ptr.size - 1), ptr[-1], np.int64)])
    docs = merged.docs
    if live.size != st.n_total:
        remap = np.cumsum(alive, dtype=np.int64) - 1
        docs = remap[docs].astype(np.uint32)
    norm = norm_all[live]
    block = int(kernels.BLOCK_SIZE)
    bptr, blast, bmax = kernels.compute_blocks(ptr, docs, merged.tfs, norm, block)
    seg = Segment(0, int(live.size), ptr, docs, merged.tfs, bptr, blast, bmax, avgdl, block)
    return seg, live


def _create(path: Path) -> BinaryIO:
    """Open a new file of a generation being written (every save write goes through here)."""
    return path.open("xb")


def _save_array(path: Path, arr: npt.NDArray[Any]) -> None:
    with _create(path) as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)


def _is_own(name: str) -> bool:
    """True for the names a save creates: generations, their temporaries, the lock file."""
    return bool(_OWN_RE.fullmatch(name)) or name == LOCK_NAME


def _remove_leftovers(root: Path) -> None:
    """Delete every generation and temporary that the manifest does not point to.

    Runs under the folder lock only, so no other save is writing any of them: they are the
    previous generations and what interrupted or killed saves left behind. When the manifest
    is unreadable nothing is deleted, since which generation is live cannot be told."""
    manifest_path = root / MANIFEST
    live = _manifest_generation(manifest_path) if manifest_path.exists() else ""
    if live is None:
        return
    for entry in root.iterdir():
        if entry.name == live or entry.name == LOCK_NAME or not _OWN_RE.fullmatch(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def save_index(index: BM25Index, st: _State, terms: list[str], path: str | Path) -> None:
    """Write snapshot ``st`` (with ``terms``, the vocabulary in term-id order) to ``path``.

    Holds the folder's lock file for the whole save, so saves into one folder from any
    threads or processes run one after another; the last one to finish wins."""
    from filelock import FileLock

    root = Path(path)
    if root.exists() and not root.is_dir():
        raise ValueError(f"path {str(root)!r} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / MANIFEST
    if not manifest_path.exists() and any(not _is_own(p.name) for p in root.iterdir()):
        raise ValueError(
            f"path {str(root)!r} is a non-empty folder that is not a rankwise BM25 index"
        )
    if index.analyzer.is_callable:
        analyzer_cfg: dict[str, Any] | None = None
    else:
        analyzer_cfg = index.analyzer.config
    with FileLock(root / LOCK_NAME):
        _remove_leftovers(root)
        _write_generation(index, st, terms, root, analyzer_cfg)
        _remove_leftovers(root)


def _write_generation(
    index: BM25Index,
    st: _State,
    terms: list[str],
    root: Path,
    analyzer_cfg: dict[str, Any] | None,
) -> str:
    manifest_path = root / MANIFEST
    generation = f"{_GEN_PREFIX}{uuid.uuid4().hex}"
    gen_dir = root / generation
    tmp_dir = root / f"{generation}.tmp"
    tmp_manifest = root / f"{MANIFEST}.{generation}.tmp"
    tmp_dir.mkdir()
    try:
        seg, live = _compacted(index, st)
        live_list = live.tolist()
        metas = [st.metas[i] for i in live_list]
        try:
            metadata_json = json.dumps(metas, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:  # pragma: no cover - add() checks metadata
            raise ValueError(f"metadata is not JSON-serializable, cannot save: {exc}") from None
        ids_json = json.dumps([st.ids[i] for i in live_list], ensure_ascii=False)
        n_terms = int(st.df.size)
        arrays: dict[str, npt.NDArray[Any]] = {
            "ptr": seg.ptr,
            "docs": seg.docs,
            "tfs": seg.tfs,
            "bptr": seg.bptr,
            "blast": seg.blast,
            "bmax": seg.bmax,
            "doc_len": st.doc_len[live],
        }
        for name, arr in arrays.items():
            _save_array(tmp_dir / f"{name}.npy", arr)
        texts = st.texts.getter()
        text_offsets = _encode_strings(
            lambda: map(texts, live_list), len(live_list), tmp_dir / "text_data.npy"
        )
        _save_array(tmp_dir / "text_offsets.npy", text_offsets)
        term_offsets = _encode_strings(
            lambda: iter(terms[:n_terms]), n_terms, tmp_dir / "term_data.npy"
        )
        _save_array(tmp_dir / "term_offsets.npy", term_offsets)
        for name, text in (("ids.json", ids_json), ("metadata.json", metadata_json)):
            with _create(tmp_dir / name) as fh:
                fh.write(text.encode("utf-8"))

        files: dict[str, dict[str, Any]] = {}
        for f in sorted(tmp_dir.iterdir()):
            _fsync_path(f)
            entry: dict[str, Any] = {"bytes": f.stat().st_size, "crc32": _crc32(f)}
            if f.suffix == ".npy":
                arr = np.load(f, mmap_mode="r", allow_pickle=False)
                entry["dtype"] = arr.dtype.str
                entry["shape"] = list(arr.shape)
                del arr
            files[f.name] = entry
        _fsync_path(tmp_dir)
        os.rename(tmp_dir, gen_dir)
        _fsync_path(root)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "generation": generation,
            "analyzer": analyzer_cfg,
            "analyzer_is_callable": analyzer_cfg is None,
            "k1": index.k1,
            "b": index.b,
            "inverted_index_algo": index.inverted_index_algo,
            "n_docs": int(live.size),
            "vocab_size": n_terms,
            "nnz": seg.nnz,
            "total_len": int(st.total_len),
            # no postings (every document empty): bounds are never used, store a valid 1.0
            "bound_avgdl": seg.bound_avgdl if seg.bound_avgdl > 0 else 1.0,
            "block_size": seg.block,
            "files": files,
        }
        with _create(tmp_manifest) as fh:
            fh.write(json.dumps(manifest, indent=1).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_manifest, manifest_path)
        _fsync_path(root)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if _manifest_generation(manifest_path) != generation:
            shutil.rmtree(gen_dir, ignore_errors=True)
        tmp_manifest.unlink(missing_ok=True)
        raise
    return generation


def _manifest_generation(manifest_path: Path) -> str | None:
    try:
        return str(json.loads(manifest_path.read_text(encoding="utf-8")).get("generation"))
    except (OSError, ValueError, AttributeError):
        return None


def _bad(root: Path, why: str) -> ValueError:
    return ValueError(f"path {str(root)!r} is not a valid rankwise BM25 index: {why}")


def _count(root: Path, manifest: dict[str, Any], key: str, minimum: int = 0) -> int:
    value = manifest[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(root, f"manifest {key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def _real(root: Path, manifest: dict[str, Any], key: str, lo: float, hi: float) -> float:
    value = manifest[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not lo <= value <= hi
    ):
        raise _bad(root, f"manifest {key!r} must be a finite number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _inside(root: Path, path: Path) -> bool:
    """True when ``path`` is a real (non-symlink) entry whose resolved location is in ``root``."""
    if path.is_symlink():
        return False
    try:
        path.resolve(strict=True).relative_to(root.resolve(strict=True))
    except (OSError, ValueError):
        return False
    return True


def load_index(
    cls: type[BM25Index],
    path: str | Path,
    *,
    mmap: bool,
    analyzer: AnalyzerParams | None,
    verify: bool,
    show_progress: bool,
) -> BM25Index:
    """Load the folder; when the load fails because a concurrent save switched the manifest
    and removed the generation being read, load again from the new manifest."""
    root = Path(path)
    for _ in range(_LOAD_ATTEMPTS - 1):
        seen = _manifest_generation(root / MANIFEST)
        try:
            return _load_once(
                cls, root, mmap=mmap, analyzer=analyzer, verify=verify, show_progress=show_progress
            )
        except (ValueError, OSError):
            if _manifest_generation(root / MANIFEST) == seen:
                raise
    # still racing saves: wait for the folder's lock (where it can be taken) and load under it
    with _lock_if_writable(root):
        return _load_once(
            cls, root, mmap=mmap, analyzer=analyzer, verify=verify, show_progress=show_progress
        )


@contextmanager
def _lock_if_writable(root: Path) -> Iterator[None]:
    from filelock import FileLock

    lock = FileLock(root / LOCK_NAME)
    try:
        lock.acquire()
    except OSError:  # a read-only folder: no save can run in it either
        yield
        return
    try:
        yield
    finally:
        lock.release()


def _load_once(
    cls: type[BM25Index],
    root: Path,
    *,
    mmap: bool,
    analyzer: AnalyzerParams | None,
    verify: bool,
    show_progress: bool,
) -> BM25Index:
    from rankwise.bm25.index import _State

    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise _bad(root, "manifest.json is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(root, f"manifest.json is unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _bad(root, "manifest.json is not a rankwise BM25 manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise _bad(
            root, f"unsupported format version {version!r} (this rankwise reads {FORMAT_VERSION})"
        )
    try:
        generation = manifest["generation"]
        files = manifest["files"]
        k1 = _real(root, manifest, "k1", 0.0, math.inf)
        b = _real(root, manifest, "b", 0.0, 1.0)
        algo = str(manifest["inverted_index_algo"])
        n_docs = _count(root, manifest, "n_docs")
        n_terms = _count(root, manifest, "vocab_size")
        nnz = _count(root, manifest, "nnz")
        total_len = _count(root, manifest, "total_len")
        bound_avgdl = _real(root, manifest, "bound_avgdl", 0.0, math.inf)
        block_size = _count(root, manifest, "block_size", minimum=1)
        stored_analyzer = manifest["analyzer"]
    except KeyError as exc:
        raise _bad(root, f"manifest.json lacks {exc}") from None
    if not isinstance(files, dict):
        raise _bad(root, "manifest 'files' must be an object")
    if bound_avgdl <= 0:
        if nnz:  # the pruning bounds divide by it
            raise _bad(root, f"manifest 'bound_avgdl' must be > 0, got {bound_avgdl!r}")
        bound_avgdl = 1.0  # no postings: bounds are never used
    # the generation must be one folder name of ours, directly inside the index folder
    if not isinstance(generation, str) or not _GEN_RE.fullmatch(generation):
        raise _bad(root, f"manifest 'generation' {generation!r} is not a generation folder name")
    gen_dir = root / generation
    if not gen_dir.is_dir():
        raise _bad(root, f"data folder {generation!r} is missing")
    if not _inside(root, gen_dir):
        raise _bad(root, f"data folder {generation!r} leads outside the index folder")

    if stored_analyzer is None:
        if analyzer is None:
            raise ValueError(
                "analyzer: this index was built with a callable analyzer; pass it again as "
                "BM25Index.load(path, analyzer=callable)"
            )
        the_analyzer = Analyzer(analyzer)
    else:
        try:
            the_analyzer = Analyzer(stored_analyzer)
        except ValueError as exc:
            raise _bad(root, f"bad analyzer config ({exc})") from None
        if analyzer is not None and Analyzer(analyzer) != the_analyzer:
            raise ValueError(
                "analyzer: differs from the analyzer stored with the index "
                f"({stored_analyzer!r}); documents and queries must use the same analyzer"
            )

    expected = {
        "ptr.npy", "docs.npy", "tfs.npy", "bptr.npy", "blast.npy", "bmax.npy", "doc_len.npy",
        "text_data.npy", "text_offsets.npy", "term_data.npy", "term_offsets.npy", "ids.json",
        "metadata.json",
    }  # fmt: skip
    if set(files) != expected:
        raise _bad(root, "manifest lists an unexpected set of files")
    for name, entry in files.items():
        f = gen_dir / name
        if not f.is_file():
            raise _bad(root, f"{generation}/{name} is missing")
        if not _inside(gen_dir, f):
            raise _bad(root, f"{generation}/{name} leads outside the index folder")
        try:
            size = int(entry["bytes"])
            crc = int(entry["crc32"])
        except (KeyError, TypeError, ValueError):
            raise _bad(root, f"manifest entry for {name} is garbled") from None
        if f.stat().st_size != size:
            raise _bad(root, f"{generation}/{name} has {f.stat().st_size} bytes, expected {size}")
        if verify and _crc32(f) != crc:
            raise _bad(root, f"{generation}/{name} fails its CRC32 check (corrupted)")

    def arr(name: str) -> npt.NDArray[Any]:
        entry = files[f"{name}.npy"]
        try:
            a: npt.NDArray[Any] = np.load(
                gen_dir / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False
            )
        except (ValueError, OSError, EOFError) as exc:
            raise _bad(root, f"{name}.npy is unreadable ({exc})") from None
        if a.dtype.str != entry.get("dtype") or list(a.shape) != entry.get("shape"):
            raise _bad(
                root, f"{name}.npy has dtype/shape {a.dtype.str}{a.shape}, manifest disagrees"
            )
        return a

    ptr = arr("ptr")
    docs = arr("docs")
    tfs = arr("tfs")
    bptr = arr("bptr")
    blast = arr("blast")
    bmax = arr("bmax")
    doc_len = arr("doc_len")
    text_data = arr("text_data")
    text_offsets = arr("text_offsets")
    term_data = arr("term_data")
    term_offsets = arr("term_offsets")

    checks = [
        (ptr.dtype == np.int64 and ptr.shape == (n_terms + 1,), "ptr shape"),
        (docs.dtype == np.uint32 and docs.shape == (nnz,), "docs shape"),
        (tfs.dtype.kind == "u" and tfs.shape == (nnz,), "tfs shape"),
        (bptr.dtype == np.int64 and bptr.shape == (n_terms + 1,), "bptr shape"),
        (blast.dtype == np.uint32 and blast.shape == bmax.shape, "block arrays"),
        (bmax.dtype == np.float32, "bmax dtype"),
        (doc_len.dtype == np.uint32 and doc_len.shape == (n_docs,), "doc_len shape"),
        (text_offsets.dtype == np.int64 and text_offsets.shape == (n_docs + 1,), "text offsets"),
        (term_offsets.dtype == np.int64 and term_offsets.shape == (n_terms + 1,), "term offsets"),
        (text_data.dtype == np.uint8 and term_data.dtype == np.uint8, "string blobs"),
    ]
    for ok, what in checks:
        if not ok:
            raise _bad(root, f"inconsistent {what}")
    if n_terms and (ptr[0] != 0 or ptr[-1] != nnz or bool((np.diff(ptr) < 0).any())):
        raise _bad(root, "postings pointers are not monotonic")
    if nnz and int(docs.max()) >= n_docs:
        raise _bad(root, "a posting points past the last document")
    if int(doc_len.astype(np.int64).sum()) != total_len:
        raise _bad(root, "document lengths disagree with the manifest")
    for offs, data, what in ((text_offsets, text_data, "text"), (term_offsets, term_data, "term")):
        if offs.size and (offs[0] != 0 or offs[-1] != data.size or bool((np.diff(offs) < 0).any())):
            raise _bad(root, f"{what} offsets are inconsistent")
    try:
        ids = json.loads((gen_dir / "ids.json").read_text(encoding="utf-8"))
        metas = json.loads((gen_dir / "metadata.json").read_text(encoding="utf-8"))
        term_blob = term_data.tobytes().decode("utf-8", "surrogatepass")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(root, f"string data is unreadable ({exc})") from None
    if (
        not isinstance(ids, list)
        or len(ids) != n_docs
        or not all(isinstance(i, str) for i in ids)
        or len(set(ids)) != n_docs
    ):
        raise _bad(root, "ids.json does not hold one unique string id per document")
    if not isinstance(metas, list) or len(metas) != n_docs:
        raise _bad(root, "metadata.json does not hold one entry per document")
    if not all(m is None or isinstance(m, dict) for m in metas):
        raise _bad(root, "metadata.json entries must be objects or null")

    index = cls(
        analyzer=the_analyzer, k1=k1, b=b, inverted_index_algo=algo, show_progress=show_progress
    )
    # terms: byte offsets -> decode the whole blob once, then slice by character counts
    offs = term_offsets.tolist()
    raw = term_data.tobytes()
    vocab = index._vocab
    if raw.isascii():
        for t in range(n_terms):
            vocab[term_blob[offs[t] : offs[t + 1]]] = t
    else:
        for t in range(n_terms):
            vocab[raw[offs[t] : offs[t + 1]].decode("utf-8", "surrogatepass")] = t
    if len(vocab) != n_terms:
        raise _bad(root, "the vocabulary holds duplicate terms")
    index._id_to_int = {doc_id: i for i, doc_id in enumerate(ids)}
    df = np.diff(ptr).astype(np.int64)
    n_blocks = (np.diff(ptr) + block_size - 1) // block_size
    if not np.array_equal(np.diff(bptr), n_blocks) or (n_terms and bptr[0] != 0):
        raise _bad(root, "block pointers disagree with the postings")
    seg = Segment(0, n_docs, ptr, docs, tfs, bptr, blast, bmax, bound_avgdl, block_size)
    state = _State(
        segments=(seg,) if n_docs else (),
        doc_len=doc_len,
        alive=np.ones(n_docs, np.bool_),
        df=df,
        n_live=n_docs,
        total_len=total_len,
        ids=list(ids),
        texts=TextColumn(text_data, text_offsets),
        metas=list(metas),
    )
    index._state = state
    return index


__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MANIFEST", "load_index", "save_index"]
