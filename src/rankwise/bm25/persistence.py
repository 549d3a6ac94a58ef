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
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from rankwise.bm25 import postings, split_postings
from rankwise.bm25.analyzer import Analyzer, AnalyzerParams
from rankwise.bm25.columns import TextColumn
from rankwise.bm25.idmap import IdMap
from rankwise.bm25.segment import Segment
from rankwise.bm25.snapshot import Snapshot, SnapshotArrays, SnapshotError, check_block_layout
from rankwise.bm25.vocabulary import COMPACT_DOCS, DuplicateTermError, TermBlob, Vocabulary

FORMAT_NAME = "rankwise-bm25"
#: 2: the postings are one packed array (``post.npy``: ``doc << shift | tf``, see
#: ``postings.pack_layout``) instead of ``docs.npy`` + ``tfs.npy``; version 1 folders load,
#: their postings packed on the way in (a copy in memory even with ``mmap=True``)
FORMAT_VERSION = 2
READ_VERSIONS = frozenset({1, 2})
MANIFEST = "manifest.json"
LOCK_NAME = ".rankwise.lock"
_GEN_PREFIX = "gen-"
_GEN_RE = re.compile(r"gen-[0-9a-f]{32}")
# what a save creates: gen-<hex>, gen-<hex>.tmp, manifest.json.gen-<hex>.tmp
_OWN_RE = re.compile(r"gen-[0-9a-f]{32}(\.tmp)?|manifest\.json\.gen-[0-9a-f]{32}\.tmp")
#: bytes a CRC32 check reads at a time, into one buffer per file (see ``_crc32``)
_CRC_CHUNK = 1 << 20
# a load that loses a race with a save (its generation removed) retries this often in all
_LOAD_ATTEMPTS = 5
#: the files of a generation
FILES = frozenset(
    {
        "ptr.npy", "post.npy", "bptr.npy", "blast.npy", "bmax.npy", "doc_len.npy",
        "text_data.npy", "text_offsets.npy", "term_data.npy", "term_offsets.npy", "ids.json",
        "metadata.json",
    }
)  # fmt: skip
#: the postings files of a version 1 generation, in place of ``post.npy``
_V1_POSTINGS = frozenset({"docs.npy", "tfs.npy"})
_FILES_OF = {2: FILES, 1: (FILES - {"post.npy"}) | _V1_POSTINGS}


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc32(path: Path) -> int:
    """CRC32 of a file, read into one reused buffer: a new bytes object per chunk is fresh
    memory that the OS must fault in each time (measured in a process holding a 1M-document
    index: checking its 569 MB took 2.4 s this way, 1.9 s of it page faults, against 0.12 s)."""
    crc = 0
    view = memoryview(bytearray(_CRC_CHUNK))
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(view):
            crc = zlib.crc32(view[:n], crc)
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


@dataclass(frozen=True)
class Settings:
    """What a manifest records besides the data: the analyzer (None: a callable, not
    stored) and the scoring parameters."""

    analyzer: dict[str, Any] | None
    k1: float
    b: float
    inverted_index_algo: str


def save_snapshot(arrays: SnapshotArrays, settings: Settings, path: str | Path) -> None:
    """Write ``arrays`` (a snapshot's flat form) and ``settings`` to the folder ``path``.

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
    with FileLock(root / LOCK_NAME):
        _remove_leftovers(root)
        _write_generation(arrays, settings, root)
        _remove_leftovers(root)


def _write_files(arrays: SnapshotArrays, folder: Path) -> None:
    """The data files of one generation (``FILES``), written into ``folder``."""
    try:
        metadata_json = json.dumps(list(arrays.metas), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:  # pragma: no cover - add() checks metadata
        raise ValueError(f"metadata is not JSON-serializable, cannot save: {exc}") from None
    ids_json = json.dumps(list(arrays.ids), ensure_ascii=False)
    seg = arrays.postings
    numeric: dict[str, npt.NDArray[Any]] = {
        "ptr": seg.ptr,
        "post": split_postings.as_array(seg.post),  # the format's one packed array
        "bptr": seg.bptr,
        "blast": seg.blast,
        "bmax": seg.bmax,
        "doc_len": arrays.doc_len,
    }
    for name, arr in numeric.items():
        _save_array(folder / f"{name}.npy", arr)
    texts = arrays.texts
    text_offsets = _encode_strings(lambda: iter(texts), len(texts), folder / "text_data.npy")
    _save_array(folder / "text_offsets.npy", text_offsets)
    terms = arrays.terms
    term_offsets = _encode_strings(lambda: iter(terms), len(terms), folder / "term_data.npy")
    _save_array(folder / "term_offsets.npy", term_offsets)
    for name, text in (("ids.json", ids_json), ("metadata.json", metadata_json)):
        with _create(folder / name) as fh:
            fh.write(text.encode("utf-8"))


def _write_generation(arrays: SnapshotArrays, settings: Settings, root: Path) -> str:
    manifest_path = root / MANIFEST
    generation = f"{_GEN_PREFIX}{uuid.uuid4().hex}"
    gen_dir = root / generation
    tmp_dir = root / f"{generation}.tmp"
    tmp_manifest = root / f"{MANIFEST}.{generation}.tmp"
    tmp_dir.mkdir()
    try:
        _write_files(arrays, tmp_dir)
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
        seg = arrays.postings
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "generation": generation,
            "analyzer": settings.analyzer,
            "analyzer_is_callable": settings.analyzer is None,
            "k1": settings.k1,
            "b": settings.b,
            "inverted_index_algo": settings.inverted_index_algo,
            "n_docs": arrays.n_docs,
            "vocab_size": len(arrays.terms),
            "nnz": seg.nnz,
            "total_len": int(arrays.total_len),
            # no postings (every document empty): bounds are never used, store a valid 1.0
            "bound_avgdl": seg.bound_avgdl if seg.bound_avgdl > 0 else 1.0,
            "block_size": seg.block,
            "post_shift": seg.shift,
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


def _count(root: Path, manifest: Mapping[str, Any], key: str, minimum: int = 0) -> int:
    value = manifest[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(root, f"manifest {key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def _real(root: Path, manifest: Mapping[str, Any], key: str, lo: float, hi: float) -> float:
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


@dataclass(frozen=True, eq=False)
class Loaded:
    """What a load returns: the folder's settings (the analyzer resolved against the one the
    caller passed) and the snapshot with its vocabulary and id map."""

    settings: Settings
    analyzer: Analyzer
    snapshot: Snapshot
    vocabulary: Vocabulary
    id_map: IdMap


def load_snapshot(
    path: str | Path, *, mmap: bool, analyzer: AnalyzerParams | None, verify: bool
) -> Loaded:
    """Load the folder; when the load fails because a concurrent save switched the manifest
    and removed the generation being read, load again from the new manifest."""
    root = Path(path)
    for _ in range(_LOAD_ATTEMPTS - 1):
        seen = _manifest_generation(root / MANIFEST)
        try:
            return _load_once(root, mmap=mmap, analyzer=analyzer, verify=verify)
        except (ValueError, OSError):
            if _manifest_generation(root / MANIFEST) == seen:
                raise
    # still racing saves: wait for the folder's lock (where it can be taken) and load under it
    with _lock_if_writable(root):
        return _load_once(root, mmap=mmap, analyzer=analyzer, verify=verify)


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


def _load_once(root: Path, *, mmap: bool, analyzer: AnalyzerParams | None, verify: bool) -> Loaded:
    """The three stages: read the manifest, verify the files, build the state."""
    manifest = read_manifest(root)
    the_analyzer = resolve_analyzer(manifest.settings, analyzer, root)
    gen_dir = verify_files(root, manifest, crc=verify)
    arrays = read_arrays(gen_dir, manifest, mmap=mmap)
    try:
        snapshot = Snapshot.from_arrays(arrays)
        id_map = snapshot.id_map()
    except SnapshotError as exc:
        raise _bad(root, str(exc)) from None
    try:  # a large index's vocabulary straight from the saved bytes (no string per term)
        vocabulary = Vocabulary.from_terms(arrays.terms, compact=manifest.n_docs >= COMPACT_DOCS)
    except DuplicateTermError as exc:
        raise _bad(root, str(exc)) from None
    except ValueError as exc:  # not UTF-8, or a term boundary inside a character
        raise _bad(root, f"string data is unreadable ({exc})") from None
    return Loaded(manifest.settings, the_analyzer, snapshot, vocabulary, id_map)


@dataclass(frozen=True)
class Manifest:
    """A checked ``manifest.json``: every number in range, the generation one of ours."""

    root: Path
    generation: str
    settings: Settings
    n_docs: int
    vocab_size: int
    nnz: int
    total_len: int
    bound_avgdl: float
    block_size: int
    files: dict[str, dict[str, Any]]
    version: int = FORMAT_VERSION
    post_shift: int = 0  # bits of tf in each posting (version 2)


def read_manifest(root: Path) -> Manifest:
    """Stage 1: parse and check ``manifest.json`` (format, version, numbers, file list)."""
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise _bad(root, "manifest.json is missing")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(root, f"manifest.json is unreadable ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise _bad(root, "manifest.json is not a rankwise BM25 manifest")
    version = raw.get("format_version")
    if type(version) is not int or version not in READ_VERSIONS:
        raise _bad(
            root, f"unsupported format version {version!r} (this rankwise reads {FORMAT_VERSION})"
        )
    try:
        generation = raw["generation"]
        files = raw["files"]
        k1 = _real(root, raw, "k1", 0.0, math.inf)
        b = _real(root, raw, "b", 0.0, 1.0)
        algo = str(raw["inverted_index_algo"])
        n_docs = _count(root, raw, "n_docs")
        n_terms = _count(root, raw, "vocab_size")
        nnz = _count(root, raw, "nnz")
        total_len = _count(root, raw, "total_len")
        bound_avgdl = _real(root, raw, "bound_avgdl", 0.0, math.inf)
        block_size = _count(root, raw, "block_size", minimum=1)
        post_shift = _count(root, raw, "post_shift", minimum=1) if version >= 2 else 0
        stored_analyzer = raw["analyzer"]
    except KeyError as exc:
        raise _bad(root, f"manifest.json lacks {exc}") from None
    if not isinstance(files, dict) or not all(isinstance(e, dict) for e in files.values()):
        raise _bad(root, "manifest 'files' must be an object of objects")
    if set(files) != _FILES_OF[version]:
        raise _bad(root, "manifest lists an unexpected set of files")
    if stored_analyzer is not None and not isinstance(stored_analyzer, dict):
        raise _bad(root, f"manifest 'analyzer' {stored_analyzer!r} is not an analyzer config")
    if bound_avgdl <= 0:
        if nnz:  # the pruning bounds divide by it
            raise _bad(root, f"manifest 'bound_avgdl' must be > 0, got {bound_avgdl!r}")
        bound_avgdl = 1.0  # no postings: bounds are never used
    # the generation must be one folder name of ours, directly inside the index folder
    if not isinstance(generation, str) or not _GEN_RE.fullmatch(generation):
        raise _bad(root, f"manifest 'generation' {generation!r} is not a generation folder name")
    settings = Settings(stored_analyzer, k1, b, algo)
    return Manifest(
        root, generation, settings, n_docs, n_terms, nnz, total_len, bound_avgdl, block_size, files,
        version, post_shift,
    )  # fmt: skip


def resolve_analyzer(settings: Settings, given: AnalyzerParams | None, root: Path) -> Analyzer:
    """The stored analyzer, or the callable the caller passes for one that was not stored; a
    given analyzer that differs from the stored one is refused."""
    stored = settings.analyzer
    if stored is None:
        if given is None:
            raise ValueError(
                "analyzer: this index was built with a callable analyzer; pass it again as "
                "BM25Index.load(path, analyzer=callable)"
            )
        return Analyzer(given)
    try:
        the_analyzer = Analyzer(stored)
    except ValueError as exc:
        raise _bad(root, f"bad analyzer config ({exc})") from None
    if given is not None and Analyzer(given) != the_analyzer:
        raise ValueError(
            "analyzer: differs from the analyzer stored with the index "
            f"({stored!r}); documents and queries must use the same analyzer"
        )
    return the_analyzer


def verify_files(root: Path, manifest: Manifest, *, crc: bool) -> Path:
    """Stage 2: the generation folder and every file the manifest lists exist inside the
    index folder with the recorded sizes (and CRC32s when ``crc``); returns the folder."""
    generation = manifest.generation
    gen_dir = root / generation
    if not gen_dir.is_dir():
        raise _bad(root, f"data folder {generation!r} is missing")
    if not _inside(root, gen_dir):
        raise _bad(root, f"data folder {generation!r} leads outside the index folder")
    checksums: dict[str, int] = {}
    for name, entry in manifest.files.items():
        f = gen_dir / name
        if not f.is_file():
            raise _bad(root, f"{generation}/{name} is missing")
        if not _inside(gen_dir, f):
            raise _bad(root, f"{generation}/{name} leads outside the index folder")
        try:
            size = int(entry["bytes"])
            checksums[name] = int(entry["crc32"])
        except (KeyError, TypeError, ValueError):
            raise _bad(root, f"manifest entry for {name} is garbled") from None
        if f.stat().st_size != size:
            raise _bad(root, f"{generation}/{name} has {f.stat().st_size} bytes, expected {size}")
    if crc:
        names = sorted(checksums)
        # zlib releases the GIL on large buffers: the files are checked side by side
        with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
            found = dict(zip(names, pool.map(_crc32, [gen_dir / n for n in names]), strict=True))
        for name in names:
            if found[name] != checksums[name]:
                raise _bad(root, f"{generation}/{name} fails its CRC32 check (corrupted)")
    return gen_dir


def read_arrays(gen_dir: Path, manifest: Manifest, *, mmap: bool) -> SnapshotArrays:
    """Stage 3a: the generation's files as ``SnapshotArrays`` (memory-mapped when ``mmap``),
    each file's dtype and shape as the manifest records them and its counts."""
    root = manifest.root
    files = manifest.files

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

    n_docs, n_terms, nnz = manifest.n_docs, manifest.vocab_size, manifest.nnz
    ptr = arr("ptr")
    if manifest.version >= 2:
        post, shift = arr("post"), manifest.post_shift
    else:
        try:
            post, shift = _packed_v1(arr("docs"), arr("tfs"), n_docs)
        except SnapshotError as exc:
            raise _bad(root, str(exc)) from None
    bptr, blast, bmax = arr("bptr"), arr("blast"), arr("bmax")
    doc_len = arr("doc_len")
    text_data, text_offsets = arr("text_data"), arr("text_offsets")
    term_data, term_offsets = arr("term_data"), arr("term_offsets")
    checks = [
        (ptr.shape == (n_terms + 1,), "ptr shape"),
        (post.shape == (nnz,), "postings shape"),
        (post.dtype in (np.dtype(np.uint32), np.dtype(np.uint64)), "postings dtype"),
        (shift < 8 * post.dtype.itemsize, "postings shift"),
        (doc_len.shape == (n_docs,), "doc_len shape"),
        (text_offsets.dtype == np.int64 and text_offsets.shape == (n_docs + 1,), "text offsets"),
        (term_offsets.dtype == np.int64 and term_offsets.shape == (n_terms + 1,), "term offsets"),
        (text_data.dtype == np.uint8 and term_data.dtype == np.uint8, "string blobs"),
    ]
    for ok, what in checks:
        if not ok:
            raise _bad(root, f"inconsistent {what}")
    for offs, data, what in ((text_offsets, text_data, "text"), (term_offsets, term_data, "term")):
        if offs[0] != 0 or offs[-1] != data.size or bool((np.diff(offs) < 0).any()):
            raise _bad(root, f"{what} offsets are inconsistent")
    try:
        ids = json.loads((gen_dir / "ids.json").read_text(encoding="utf-8"))
        metas = json.loads((gen_dir / "metadata.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(root, f"string data is unreadable ({exc})") from None
    # json gives exact types (no subclasses): a set of types checks 1M entries at C speed
    if not isinstance(ids, list) or len(ids) != n_docs or not {*map(type, ids)} <= {str}:
        raise _bad(root, "ids.json does not hold one string id per document")
    if not isinstance(metas, list) or len(metas) != n_docs:
        raise _bad(root, "metadata.json does not hold one entry per document")
    if not {*map(type, metas)} <= {dict, type(None)}:
        raise _bad(root, "metadata.json entries must be objects or null")
    if int(doc_len.astype(np.int64).sum()) != manifest.total_len:
        raise _bad(root, "document lengths disagree with the manifest")
    try:
        check_block_layout(ptr, bptr, blast, bmax, nnz, manifest.block_size)
    except SnapshotError as exc:
        raise _bad(root, str(exc)) from None
    seg = Segment(
        0, n_docs, ptr, post, shift, bptr, blast, bmax, manifest.bound_avgdl, manifest.block_size
    )
    return SnapshotArrays(
        postings=seg,
        doc_len=doc_len,
        total_len=manifest.total_len,
        terms=TermBlob(term_data, term_offsets),  # decoded and checked by the load
        ids=ids,
        texts=TextColumn(text_data, text_offsets),
        metas=metas,
    )


def _packed_v1(
    docs: npt.NDArray[Any], tfs: npt.NDArray[Any], n_docs: int
) -> tuple[npt.NDArray[np.unsignedinteger], int]:
    """The packed postings (and shift) of a version 1 folder's ``docs``/``tfs`` (checked
    like a version 2 folder's ``post`` afterwards: shapes, doc numbers in range)."""
    if docs.dtype != np.uint32 or tfs.dtype.kind != "u" or tfs.shape != docs.shape:
        raise SnapshotError("inconsistent docs/tfs dtypes")
    if docs.size and int(docs.max()) >= n_docs:
        raise SnapshotError("a posting points past the last document")
    dtype, shift = postings.pack_layout(n_docs, int(tfs.max()) if tfs.size else 0)
    return postings.pack(docs, tfs, dtype, shift), shift


__all__ = [
    "FILES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST",
    "Loaded",
    "Manifest",
    "Settings",
    "load_snapshot",
    "read_arrays",
    "read_manifest",
    "resolve_analyzer",
    "save_snapshot",
    "verify_files",
]
