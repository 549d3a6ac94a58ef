"""BM25Index: an incremental, exact, persistent BM25 full-text index (Milvus semantics)."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import sys
import threading
import uuid
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import chain, count, repeat
from operator import itemgetter
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from rankwise._checks import (
    _SHARED_TYPES,
    ArgumentTypeError,
    copy_metadata,
    ids_arg,
    json_metadata,
    metadatas_arg,
    number_arg,
    positive_int,
    text_arg,
    texts_arg,
)
from rankwise._cores import usable_cores
from rankwise.bm25 import split_postings
from rankwise.bm25.analyzer import Analyzer, AnalyzerParams
from rankwise.bm25.columns import MetaColumn
from rankwise.bm25.idmap import IdMap
from rankwise.bm25.persistence import Settings, load_snapshot, save_snapshot
from rankwise.bm25.postings import (
    ChunkPostings,
    chunk_postings,
    post_docs,
    post_tfs,
    release_free_heap,
)
from rankwise.bm25.search_threads import search_helpers
from rankwise.bm25.segment import Segment, build_segment, compact_segment, merge_segments
from rankwise.bm25.snapshot import Snapshot as _State
from rankwise.bm25.snapshot import doc_norms as _norms
from rankwise.bm25.vocabulary import COMPACT_DOCS, Vocabulary
from rankwise.types import (
    Filter,
    FilterKind,
    Hit,
    Metadata,
    Ranking,
    check_filter,
    make_hits,
    make_rankings,
)

ALGORITHMS = ("TAAT_NAIVE", "DAAT_WAND", "DAAT_MAXSCORE")
DEFAULT_ALGORITHM = "DAAT_MAXSCORE"
DEFAULT_K1 = 1.2
DEFAULT_B = 0.75
#: add() shows a progress bar from this many documents on (unless show_progress=False)
PROGRESS_MIN_DOCS = 10_000
_CHUNK = 20_000
#: a compact vocabulary's build maps tokens through a dict of at most about this many distinct
#: tokens at a time (see ``_tokenize``; ~2 MB of strings and ints alive at once)
_GROUP_TERMS = 1 << 14
#: the most documents one segment holds: a batch is analysed into segments of this size (its
#: token ids are held per segment, not for the whole batch), and merges stop at it
SEGMENT_DOCS = 1 << 18
# relative safety margin on pruning bounds (float32 bounds vs float64 scores)
_BOUND_MARGIN = 1e-6
#: a segment's impact table when it has none (see kernels.impact_table)
_NO_IMPACTS = (
    np.full(0, -1, np.int32),
    np.zeros((0, 0), np.float32),
    np.zeros((0, 0), np.uint16),
)
# block bounds are recomputed when avgdl drifted by more than this factor since they were built
_BOUND_DRIFT = 1.25


def _local_ids() -> defaultdict[str, int]:
    """token -> 0, 1, 2, ... in first-seen order (ids assigned in C: no Python ``__missing__``),
    for mapping a batch's distinct tokens before one vocabulary lookup of them."""
    return defaultdict(count().__next__)


def _stored_metadatas(metadatas: Any, n: int) -> Sequence[Metadata | None]:
    """Checked copies of the metadata, None for an empty one (no dict per document stored, and
    none made when no metadata is given: then no list either, only ``n`` Nones to append)."""
    if metadatas is None:
        return _Nones(n)
    return [m or None for m in metadatas_arg(metadatas, n)]


class _Nones(Sequence[None]):
    """``n`` Nones without a list of them (the metadata of a batch given none)."""

    __slots__ = ("_n",)

    def __init__(self, n: int) -> None:
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [None] * len(range(self._n)[i])
        range(self._n)[i]  # IndexError past the end
        return None

    def __iter__(self) -> Iterator[None]:
        return repeat(None, self._n)


class _NoBar:
    """The part of a tqdm bar a build uses, showing nothing."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress(total: int, show: bool) -> Any:
    """A tqdm bar over ``total`` documents, or (without importing tqdm) one that shows nothing."""
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Indexing", unit="doc")


def _empty_state() -> _State:
    return _State.empty()


def _check_filter(flt: Any) -> Filter | None:
    check_filter(flt, "BM25Index", BM25Index.filter_kinds)  # the TextStore contract
    if isinstance(flt, Mapping):
        # values follow the metadata rule, so an array or a tuple (which no stored value can
        # equal) is refused naming its key instead of failing inside the comparison
        return json_metadata(dict(flt), "filter")
    return flt  # type: ignore[no-any-return]


class _Scratch(threading.local):
    acc: npt.NDArray[np.float64] | None = None
    touched: npt.NDArray[np.int64] | None = None


_scratch = _Scratch()


def _taat_buffers(n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    acc = _scratch.acc
    touched = _scratch.touched
    if acc is None or touched is None or acc.size < n:
        acc = np.zeros(max(n, 1024), np.float64)
        touched = np.empty(max(n, 1024), np.int64)
        _scratch.acc = acc
        _scratch.touched = touched
    return acc, touched


#: queries per kernel call in search_many, and the most heap slots (queries x k) one call holds
_BATCH = 64
_BATCH_SLOTS = 1 << 20
#: fewest queries a thread is handed at a time
_MIN_TASK = 8


def _batch_size(n_queries: int, k: int, threads: int) -> int:
    size = max(1, min(_BATCH, _BATCH_SLOTS // k))
    if threads > 1:  # two tasks per thread (analysis and kernels overlap), not tiny ones
        size = min(size, max(_MIN_TASK, -(-n_queries // (2 * threads))))
    return size


def _check_threads(n_threads: Any) -> int:
    if n_threads is None:
        return usable_cores()
    return positive_int(n_threads, "n_threads")


#: put in a call's error list to stop its threads taking tasks (never raised: ``run`` raises
#: what stopped them)
_STOPPED = RuntimeError("search_many stopped")


def _run_tasks(tasks: Sequence[Callable[[], Any]], threads: int, *, flatten: bool) -> list[Any]:
    """Results of ``tasks`` in order, run by ``threads`` threads (the caller's among them).

    Every thread runs the same loop, taking the next task until none is left, so a thread
    that starts late (or a short task) never leaves another one a backlog. The helpers are
    parked threads borrowed for the call (``search_threads``), not started per call."""
    results: list[Any] = [None] * len(tasks)
    workers = min(threads, len(tasks))
    if workers <= 1:
        results = [task() for task in tasks]
    else:
        todo = iter(range(len(tasks)))
        lock = threading.Lock()
        errors: list[BaseException] = []

        def work() -> None:
            while not errors:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                try:
                    results[i] = tasks[i]()
                except BaseException as exc:  # re-raised in the caller below
                    errors.append(exc)

        # stop: the helpers take no new task once the caller's thread is interrupted
        search_helpers.run(work, workers - 1, stop=partial(errors.append, _STOPPED))
        if errors:
            raise errors[0]
    return [x for part in results for x in part] if flatten else results


class _CollectorPause:
    """Pauses Python's cyclic collector while searches build hits, from any number of threads.

    A top-100 batch allocates thousands of ``Hit`` objects that stay alive until returned;
    with the collector on, every 700 allocations it would traverse them, and each of those
    young collections counts towards a traversal of the older generation, where the hits of
    earlier batches of the same call already wait. Hits form no cycles, so pausing only
    postpones the collection to the end of the call: the hits are traversed once there
    instead of once per batch. The first search to enter disables the collector (only if it
    is enabled) and the last to leave enables it again, so concurrent searches never leave it
    disabled and a caller's own ``gc.disable()`` is left alone. ``search_many`` pauses it for
    at most ``_PAUSE_RESULTS`` hits at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._ours = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._ours = gc.isenabled()
                if self._ours:
                    gc.disable()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._ours:
                self._ours = False
                gc.enable()


_collector_paused = _CollectorPause()
#: the most hits search_many builds in one pause of the collector (then it may run: a long
#: call should not hold back the collection of other threads' garbage for its whole length)
_PAUSE_RESULTS = 1 << 20


class _Warmup:
    """Compiles each query kernel in a background thread the first time a process needs it.

    When numba is loaded and its on-disk cache holds the kernel, it loads within ``WAIT``
    seconds and is used at once; otherwise (numba not imported yet: a build does not need it;
    or an empty cache, the first run of an install: several seconds of compiling) searches run
    exhaustively in NumPy (same results) instead of waiting."""

    WAIT = 0.25

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[Hashable, threading.Thread] = {}
        #: kinds whose compilation has finished (a set lookup is all a warm search pays)
        self.done: set[Hashable] = set()

    def ready(
        self, kind: Hashable, first_run: Callable[[], None], cached: Callable[[], bool]
    ) -> bool:
        """True once the kernel for ``kind`` (algorithm and array types) is compiled; the first
        call starts compiling it by running ``first_run`` (a real query, into scratch outputs)
        in a thread, and waits for it only when ``cached()`` says numba's cache holds the
        kernel (so an empty cache costs the first search nothing)."""
        thread = self._threads.get(kind)
        if thread is None:
            with self._lock:
                thread = self._threads.get(kind)
                if thread is None:
                    # not a daemon: the interpreter lets it finish, so the cache gets written
                    # even when the process ends right after its first search
                    thread = threading.Thread(
                        target=_quietly, args=(first_run,), name="rankwise-compile"
                    )
                    wait = cached()  # asked before the thread starts importing the kernels
                    thread.start()
                    self._threads[kind] = thread
                    if wait:
                        thread.join(self.WAIT)  # long enough to load the kernel from the cache
        if thread.is_alive():
            return False
        self.done.add(kind)
        return True

    def wait(self) -> None:
        """Block until every kernel compilation started so far has finished."""
        for thread in list(self._threads.values()):
            thread.join()


def _quietly(run: Callable[[], None]) -> None:
    # outputs are scratch; an error would repeat (and surface) in the caller's own kernel run
    with contextlib.suppress(Exception):
        run()


_warmup = _Warmup()
if hasattr(os, "register_at_fork"):  # not on Windows
    # a child forked while a compilation runs would inherit numba's locks (and the import
    # lock of the kernels module) held by a thread it does not have, and hang on its first
    # search: the fork waits for the compilations instead (seconds only in a process's
    # first moments with an empty cache)
    os.register_at_fork(before=_warmup.wait)

#: rankwise.bm25.kernels once a search has imported it (numba loads only when first needed)
_kernels: ModuleType | None = None


def _load_kernels() -> ModuleType:
    global _kernels
    from rankwise.bm25 import kernels

    _kernels = kernels
    return kernels


_KERNEL_NAMES = {
    "DAAT_MAXSCORE": "maxscore_batch",
    "DAAT_WAND": "wand_batch",
    "TAAT_NAIVE": "taat_batch",
}


def _kernel_cached(algo: str) -> bool:
    """Whether numba is loaded and its on-disk cache has an index for ``algo``'s query kernel
    (then loading it is quick and worth a short wait). Until a process has loaded numba (a
    build does not), False without loading it: importing numba alone takes longer than the
    first searches take exhaustively, so they do not wait for it. Reads numba's cache object,
    a private API: when that fails, assume it is cached (the wait is then ``_Warmup.WAIT``)."""
    # None until the kernels module is imported, and while a search thread is importing it
    kernel = getattr(sys.modules.get("rankwise.bm25.kernels"), _KERNEL_NAMES[algo], None)
    if kernel is None:
        return False
    try:
        index = kernel._cache._cache_file._index_path
        return os.path.exists(index)
    except Exception:  # pragma: no cover - another numba version
        return True


class BM25Index:
    """An embedded BM25 full-text index with Milvus ``BM25`` function semantics.

    Scores are ``sum_t n_t * idf_t * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``
    with ``idf_t = log(1 + (N - df_t + 0.5) / (df_t + 0.5))`` over the N live documents; ``n_t``
    is how often term t occurs in the analyzed query. ``inverted_index_algo`` picks the query
    algorithm (``TAAT_NAIVE``, ``DAAT_WAND``, ``DAAT_MAXSCORE``); all three are exact and
    return the same top-k (ties: the earlier inserted document first).

    Any mix of reads, writes and saves may run from several threads: each ``add``, ``upsert``
    or ``delete`` call publishes one new snapshot (readers see the batch whole or not at all),
    each read (``search``, ``search_many``, ``get``, ``ids``) answers from one snapshot, and
    writes wait for each other. Metadata follows the JSON rule of ``rankwise._checks``; it is
    copied on the way in and on the way out (see the README's "Guarantees").
    """

    #: The filter forms this index applies inside its top-k (the TextStore contract).
    filter_kinds: tuple[FilterKind, ...] = ("mapping", "ids", "predicate")

    def __init__(
        self,
        analyzer: AnalyzerParams = "english",
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        inverted_index_algo: str = DEFAULT_ALGORITHM,
        show_progress: bool = True,
    ) -> None:
        number_arg(k1, "k1", minimum=0.0)
        number_arg(b, "b", minimum=0.0, maximum=1.0)
        if inverted_index_algo not in ALGORITHMS:
            raise ValueError(
                f"inverted_index_algo must be one of {', '.join(ALGORITHMS)}, "
                f"got {inverted_index_algo!r}"
            )
        try:
            self._analyzer = Analyzer(analyzer)
        except ValueError as exc:
            raise ValueError(f"analyzer: {exc}") from None
        self._k1 = float(k1)
        self._b = float(b)
        self._algo = inverted_index_algo
        self.show_progress = bool(show_progress)
        self._lock = threading.RLock()
        self._vocab = Vocabulary()
        self._state = _empty_state()
        # id -> newest internal document (never shrinks; liveness is the snapshot's ``alive``)
        self._id_to_int = IdMap(self._state.ids)
        # internal document -> the same id's previous internal document (see ``_locate``)
        self._older: dict[int, int] = {}
        # (metadata column, n, the kind of its first n entries): see _metadata_kind
        self._metas_scan: tuple[MetaColumn | None, int, int] = (None, 0, 0)

    # ------------------------------------------------------------------ properties

    @property
    def analyzer(self) -> Analyzer:
        return self._analyzer

    @property
    def k1(self) -> float:
        return self._k1

    @property
    def b(self) -> float:
        return self._b

    @property
    def inverted_index_algo(self) -> str:
        return self._algo

    @inverted_index_algo.setter
    def inverted_index_algo(self, value: str) -> None:
        if value not in ALGORITHMS:
            raise ValueError(
                f"inverted_index_algo must be one of {', '.join(ALGORITHMS)}, got {value!r}"
            )
        self._algo = value

    @property
    def vocab_size(self) -> int:
        return int(self._state.df.size)

    @property
    def avgdl(self) -> float:
        """Average analyzed length of the live documents."""
        return self._state.avgdl

    def __len__(self) -> int:
        return self._state.n_live

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self._locate(self._state, doc_id) is not None

    def __repr__(self) -> str:
        return (
            f"BM25Index(n_docs={len(self)}, analyzer={self._analyzer!r}, k1={self._k1}, "
            f"b={self._b}, inverted_index_algo={self._algo!r})"
        )

    def close(self) -> None:
        """Nothing to release (the TextStore contract's ``close``); the index stays usable."""

    def ids(self) -> list[str]:
        """All live document ids, in insertion order."""
        st = self._state
        alive = np.flatnonzero(st.alive)
        return [st.ids[i] for i in alive.tolist()]

    # ------------------------------------------------------------------ writes

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        """Index ``texts``; returns their ids (generated uuid4 hex strings when not given).

        The batch is published as one snapshot: concurrent readers see none or all of it.
        Metadata must be JSON-representable (see ``rankwise._checks``); a copy is stored.
        """
        text_list = texts_arg(texts)
        n = len(text_list)
        id_list = (
            [uuid.uuid4().hex for _ in range(n)]
            if ids is None
            else ids_arg(ids, count=n, unique=True)
        )
        metas = _stored_metadatas(metadatas, n)
        if n == 0:
            return []
        with self._lock:
            st = self._state
            rows = self._id_to_int.get_many(id_list) if len(self._id_to_int) else []
            existing = [
                d for d, i in zip(id_list, rows, strict=False) if self._live(st, i) is not None
            ]
            if existing:
                raise ValueError(
                    f"ids: {existing[0]!r} is already in the index (use upsert to replace it)"
                )
            self._commit(st, [], text_list, id_list, metas)
        return id_list

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        """Insert or replace documents by id; returns the ids.

        The new texts are analysed before anything changes, and the removal of the old
        versions and the insertion of the new ones are published as one snapshot: a reader
        sees all old or all new, and a failure (an analyzer that raises) keeps the old ones.
        """
        text_list = texts_arg(texts)
        if ids is None:
            raise ArgumentTypeError("ids must be given to upsert, got None")
        id_list = ids_arg(ids, count=len(text_list), unique=True)
        metas = _stored_metadatas(metadatas, len(text_list))
        if not text_list:
            return []
        with self._lock:
            self._commit(self._state, id_list, text_list, id_list, metas)
        return id_list

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id (one snapshot for the batch); unknown ids are ignored.
        Returns how many were deleted."""
        id_list = ids_arg(ids)
        with self._lock:
            return self._commit(self._state, id_list, [], [], [])

    def _locate(self, st: _State, doc_id: str) -> int | None:
        """The internal number of ``doc_id`` if it is live in snapshot ``st``, else None.

        The id map always points at an id's newest internal document; ``_older`` links a
        document to the id's previous one, so a reader holding an older snapshot walks back
        to the version that snapshot knows.
        """
        return self._live(st, self._id_to_int.get(doc_id))

    def _live(self, st: _State, i: int | None) -> int | None:
        """``_locate`` from the id map's row ``i`` for the id (None: not mapped)."""
        n_total = st.n_total
        older = self._older
        while i is not None and i >= n_total:
            i = older.get(i)
        if i is None or not st.alive[i]:
            return None
        return i

    def _commit(
        self,
        st: _State,
        delete_ids: list[str],
        texts: list[str],
        ids: list[str],
        metas: Sequence[Metadata | None],
    ) -> int:
        """Build the snapshot "``st`` without ``delete_ids``, plus the new documents" and
        publish it with one assignment; returns how many documents were deleted. Nothing
        readers can see changes until everything that can fail (analysis) has run."""
        if len(st.ids) != st.n_total:  # a write interrupted while publishing: drop its tail
            self._truncate_columns(st, st.n_total)
        rows = self._id_to_int.get_many(delete_ids) if delete_ids else []
        internal = sorted({i for i in (self._live(st, r) for r in rows) if i is not None})
        if not internal and not texts:
            return 0
        staged = self._without_docs(st, internal) if internal else st
        if texts:
            staged = self._with_docs(staged, texts)
        self._publish(st, staged, texts, ids, metas)
        return len(internal)

    def _publish(
        self,
        st: _State,
        new: _State,
        texts: list[str],
        ids: list[str],
        metas: Sequence[Metadata | None],
    ) -> None:
        """Extend the shared append-only columns and the id map, then switch ``_state``.

        Readers of ``st`` (or older) never look past their own ``n_total``, so the appends are
        invisible to them; an interruption before the switch undoes the appends."""
        base = st.n_total
        id_map = self._id_to_int
        older = self._older
        # the ids' earlier internal documents, by position in ``ids`` (new ids have none)
        found = id_map.get_many(ids) if len(id_map) else []
        prior = {j: p for j, p in enumerate(found) if p is not None}
        saved = id_map.save()
        try:
            st.ids.extend(ids)
            st.texts.extend_owned(texts)  # the caller's own list (add/upsert made it)
            st.metas.extend(metas)
            for j, p in prior.items():
                older[base + j] = p  # linked before the map moves on (see _locate)
            id_map.assign(ids, base)
            self._state = new
        except BaseException:
            if self._state is not new:
                id_map.restore(saved)
                id_map.drop(d for j, d in enumerate(ids) if j not in prior)
                for j, p in prior.items():
                    id_map.put(ids[j], p)
                for j in range(len(ids)):
                    older.pop(base + j, None)
                self._truncate_columns(st, base)
            raise

    @staticmethod
    def _truncate_columns(st: _State, n: int) -> None:
        del st.ids[n:]
        st.texts.truncate(n)
        st.metas.truncate(n)

    def _tokenize(
        self, texts: Sequence[str], merge: bool = False
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """Token ids (flat) and per-document lengths; new terms enter the vocabulary.

        One document at a time: its token strings are dropped as soon as they are mapped to
        ids, so a batch never holds the tokens of many documents as Python objects. A dict
        vocabulary maps each token itself. A compact one is looked up once per distinct token
        of a group of documents: their tokens are mapped through a dict of them first, and the
        group ends (its distinct tokens looked up, new terms given ids in first-seen order,
        the dict dropped) once it holds ``_GROUP_TERMS`` tokens. The group bounds the strings
        alive at once: CPython's allocator keeps an arena's memory until every object in it is
        freed, so the high-water mark of one dict of a whole chunk's ~100k+ strings stayed in
        the build's RSS (the few objects that outlive it are enough to pin its arenas).
        ``merge``: the new terms go into the vocabulary's arrays at once (a large build: no
        string of a group outlives it)."""
        analyze: Callable[[str], list[str]]
        analyze = str.split if self._analyzer.is_plain_whitespace else self._analyzer.analyze
        vocab = self._vocab
        flat = array("i")
        lengths: list[int] = []
        extend, add_len = flat.extend, lengths.append
        assign = vocab.assigner()
        if assign is not None:
            for text in texts:
                tokens = analyze(text)
                add_len(len(tokens))
                extend(map(assign, tokens))
            return np.frombuffer(flat, np.int32), np.array(lengths, np.int64)
        docs = iter(texts)
        while True:
            local = _local_ids()
            assign = local.__getitem__
            start = len(flat)
            for text in docs:
                tokens = analyze(text)
                add_len(len(tokens))
                extend(map(assign, tokens))
                if len(local) >= _GROUP_TERMS:
                    break
            if not local:
                break
            # the group's local ids -> term ids, in place
            term_ids = vocab.add_many(list(local), merge=merge).astype(np.int32)
            del local, assign
            part = np.frombuffer(flat, np.int32)[start:]
            term_ids.take(part, out=part, mode="clip")
            del part  # a view of ``flat`` would stop it from growing
        return np.frombuffer(flat, np.int32), np.array(lengths, np.int64)

    def _with_docs(self, st: _State, texts: list[str]) -> _State:
        """The snapshot ``st`` plus ``texts`` as internal documents ``st.n_total..``; the
        shared columns (ids, texts, metadata) are extended later, by ``_publish``.

        Streams: documents are analysed in chunks, and before a chunk would take the pending
        ones past ``SEGMENT_DOCS`` documents, they become a segment, so a large batch never
        holds more than one segment's worth of postings besides the postings built. Each
        chunk's token ids become postings at once (``chunk_postings``), in NumPy: a build
        does not load numba."""
        n = len(texts)
        base = st.n_total
        built: list[Segment] = []
        pending: list[ChunkPostings] = []
        pending_lens: list[npt.NDArray[np.int64]] = []
        lens: list[npt.NDArray[np.uint32]] = []
        total_len = st.total_len
        n_live = st.n_live

        def flush() -> None:
            seg_len = np.concatenate(pending_lens).astype(np.uint32)
            # block bounds use the average length so far; _fresh_bounds below redoes those
            # that drifted too far from the final one
            avg = total_len / n_live
            seg_base = base + sum(seg.n_docs for seg in built)
            norm = _norms(seg_len, self._k1, self._b, avg)
            built.append(build_segment(pending, len(self._vocab), seg_base, norm, avg, split))
            lens.append(seg_len)
            pending.clear()
            pending_lens.clear()
            if n >= PROGRESS_MIN_DOCS:  # a large build: its freed chunks back to the OS
                release_free_heap()

        large = n >= PROGRESS_MIN_DOCS
        # a large index holds its new segments' postings in 3 bytes each (see split_postings)
        split = base + n >= split_postings.SPLIT_MIN_DOCS
        if base + n >= COMPACT_DOCS and not self._vocab.is_compact:
            # the index will be large: its vocabulary in arrays from the start (a dict of its
            # terms built first would leave its memory scattered when freed)
            self._vocab.compact()
        with _progress(n, self.show_progress and large) as bar:
            for lo in range(0, n, _CHUNK):
                chunk = texts[lo : lo + _CHUNK]
                # segments stay within SEGMENT_DOCS (2^18: their postings then fit the split
                # layout, 3 bytes each, where tfs fit in 6 bits; see split_postings)
                if pending and sum(x.size for x in pending_lens) + len(chunk) > SEGMENT_DOCS:
                    flush()
                f, ln = self._tokenize(chunk, merge=large)
                if ln.size and int(ln.max()) > np.iinfo(np.uint32).max:
                    raise ValueError("texts: a document has more than 2**32 tokens")
                pending.append(chunk_postings(f, ln))
                del f
                if n >= PROGRESS_MIN_DOCS:  # the chunk's sort keys back to the OS, not kept
                    release_free_heap()  # in the heap below the chunks that follow
                pending_lens.append(ln)
                total_len += int(ln.sum())
                n_live += len(chunk)
                bar.update(len(chunk))
            if pending:
                flush()
        vocab_size = len(self._vocab)
        doc_len = np.concatenate([st.doc_len, *lens])
        alive = np.concatenate([st.alive, np.ones(n, np.bool_)])
        avgdl = total_len / n_live
        norm_all = _norms(doc_len, self._k1, self._b, avgdl)
        df = np.zeros(vocab_size, np.int64)
        df[: st.df.size] = st.df
        segments = list(st.segments)
        for seg in built:
            df[: seg.vocab_size] += np.diff(seg.ptr)
            segments.append(seg)
            # logarithmic merge policy: merge the tail while it is not much smaller than its
            # left neighbour, up to SEGMENT_DOCS documents per segment
            while (
                len(segments) >= 2
                and segments[-1].n_docs * 2 >= segments[-2].n_docs
                and segments[-1].n_docs + segments[-2].n_docs <= SEGMENT_DOCS
            ):
                right = segments.pop()
                left = segments.pop()
                segments.append(merge_segments(left, right, alive, norm_all, avgdl))
        built.clear()
        segments = [self._fresh_bounds(s, norm_all, avgdl) for s in segments]
        if n >= PROGRESS_MIN_DOCS:  # the norms' and bounds' scratch: freed before the columns
            release_free_heap()  # grow, at the top of the build
        new = _State(
            segments=tuple(segments),
            doc_len=doc_len,
            alive=alive,
            df=df,
            n_live=n_live,
            total_len=total_len,
            ids=st.ids,
            texts=st.texts,
            metas=st.metas,
        )
        new.cache["norm"] = norm_all
        return new

    @staticmethod
    def _fresh_bounds(seg: Segment, norm_all: npt.NDArray[np.float32], avgdl: float) -> Segment:
        ratio = avgdl / seg.bound_avgdl if seg.bound_avgdl > 0 else math.inf
        if 1.0 / _BOUND_DRIFT <= ratio <= _BOUND_DRIFT:
            return seg
        return seg.with_bounds(norm_all[seg.base : seg.base + seg.n_docs], avgdl)

    def _without_docs(self, st: _State, internal: list[int]) -> _State:
        """The snapshot ``st`` with the live internal documents ``internal`` deleted."""
        analyze = self._analyzer.analyze
        local = _local_ids()  # the documents' distinct tokens -> local ids
        assign = local.__getitem__
        term_lists: list[npt.NDArray[np.int64]] = []
        for i in internal:
            terms = set(map(assign, analyze(st.texts[i])))
            term_lists.append(np.fromiter(terms, np.int64, count=len(terms)))
        local_terms = np.concatenate(term_lists) if term_lists else np.zeros(0, np.int64)
        term_ids = self._vocab.ids_of(list(local))
        if (term_ids < 0).any():  # pragma: no cover - would mean a non-deterministic analyzer
            raise RuntimeError("a deleted document has a term the index never saw")
        all_terms = term_ids[local_terms]
        vocab_size = len(self._vocab)
        df = np.zeros(vocab_size, np.int64)
        df[: st.df.size] = st.df
        df -= np.bincount(all_terms, minlength=vocab_size)
        if (df < 0).any():  # pragma: no cover - would mean a non-deterministic analyzer
            raise RuntimeError("document frequencies went negative: is the analyzer deterministic?")
        alive = st.alive.copy()
        idx = np.asarray(internal, np.int64)
        alive[idx] = False
        n_live = st.n_live - len(internal)
        total_len = st.total_len - int(st.doc_len[idx].astype(np.int64).sum())
        avgdl = total_len / n_live if n_live else 0.0
        norm_all = _norms(st.doc_len, self._k1, self._b, avgdl)
        segments = []
        for seg in st.segments:
            dead = seg.n_docs - int(np.count_nonzero(alive[seg.base : seg.base + seg.n_docs]))
            if dead * 2 > seg.n_docs and seg.nnz:
                seg = compact_segment(seg, alive, norm_all, avgdl)
            elif n_live:
                seg = self._fresh_bounds(seg, norm_all, avgdl)
            segments.append(seg)
        new = _State(
            segments=tuple(segments),
            doc_len=st.doc_len,
            alive=alive,
            df=df,
            n_live=n_live,
            total_len=total_len,
            ids=st.ids,
            texts=st.texts,
            metas=st.metas,
        )
        new.cache["norm"] = norm_all
        return new

    # ------------------------------------------------------------------ reads

    def get(self, ids: Iterable[str]) -> list[Hit]:
        """The stored documents for ``ids`` (in that order; unknown ids are skipped), score 0.

        One snapshot answers the whole call; each hit holds its own copy of the metadata."""
        id_list = ids_arg(ids)
        st = self._state
        out = []
        for doc_id in id_list:
            i = self._locate(st, doc_id)
            if i is None:
                continue
            meta = st.metas[i]
            out.append(Hit(st.ids[i], 0.0, st.texts[i], copy_metadata(meta) if meta else {}))
        return out

    def _query_terms(self, query: str) -> list[int]:
        """Term ids of the analyzed query, repeats kept (a term's count multiplies its weight);
        tokens outside the vocabulary are dropped. Which of these a snapshot knows (and their
        IDF) is decided in the kernel."""
        return self._term_lists([query])[0]

    def _term_lists(self, queries: list[str]) -> list[list[int]]:
        """``_query_terms`` of each query (the analyzer and the vocabulary looked up once)."""
        analyzer = self._analyzer
        tokenize = str.split if analyzer.is_plain_whitespace else analyzer.analyze
        get = self._vocab.dict_get()
        out: list[list[int]] = []
        if get is not None:  # a dict vocabulary: looked up token by token
            for tokens in map(tokenize, queries):
                terms = list(map(get, tokens))
                if None in terms:  # some tokens are in no document
                    terms = [t for t in terms if t is not None]
                out.append(terms)  # type: ignore[arg-type]
            return out
        # a compact one: every token of the batch in one vectorised lookup
        token_lists = list(map(tokenize, queries))
        ids = self._vocab.id_list(list(chain.from_iterable(token_lists)))
        at = 0
        for tokens in token_lists:
            end = at + len(tokens)
            found = ids[at:end]
            at = end
            if -1 in found:  # some tokens are in no document
                found = [t for t in found if t >= 0]
            out.append(found)
        return out

    def search(self, query: str, k: int = 10, filter: Filter | None = None) -> list[Hit]:
        """The ``k`` best documents for ``query`` (score > 0 only), best first.

        ``filter`` (metadata equalities, a predicate over the metadata dict, or a set of
        allowed ids) is applied inside the top-k.
        """
        return self._search_one(query, k, filter, _HITS)

    def search_ids(self, query: str, k: int = 10, filter: Filter | None = None) -> Ranking:
        """``search`` as columns: the ids and scores of its hits (a :class:`Ranking`), without
        the texts and metadata, and without building a ``Hit`` per result."""
        return self._search_one(query, k, filter, _RANKINGS)

    def search_many(
        self,
        queries: Iterable[str],
        k: int = 10,
        filter: Filter | None = None,
        n_threads: int | None = None,
    ) -> list[list[Hit]]:
        """``search`` for each query, in order, all against one snapshot.

        Queries run in batches (one compiled call per segment serves a whole batch) on
        ``n_threads`` threads: ``None`` uses every core this process may run on, ``1`` runs
        in the calling thread. The kernels release the GIL, so threads run them side by side.
        """
        return self._search_many(queries, k, filter, n_threads, _HITS)

    def search_many_ids(
        self,
        queries: Iterable[str],
        k: int = 10,
        filter: Filter | None = None,
        n_threads: int | None = None,
    ) -> list[Ranking]:
        """``search_many`` as columns: one :class:`Ranking` (ids and a float64 score array,
        best first) per query, the same results in the same order from the same snapshot.

        For callers that need ids and scores, not texts (evaluation runs, documents kept
        elsewhere): a batch allocates a few objects per query instead of a ``Hit`` (and a
        metadata dict) per result, which at ``k=100`` costs more than the search itself and
        leaves Python's cyclic collector thousands of objects to traverse."""
        return self._search_many(queries, k, filter, n_threads, _RANKINGS)

    def _search_one(self, query: str, k: int, filter: Filter | None, out: _Output[_R]) -> _R:
        text_arg(query, "query")
        if type(k) is not int or k < 1:  # the common case is checked without a call
            k = positive_int(k)
        st = self._state
        k = min(k, max(st.n_live, 1))  # no buffers beyond the live documents
        if filter is None:
            return self._search_rows(st, [query], k, None, out)[0]
        return self._search(st, query, k, _check_filter(filter), out)

    def _search_many(
        self,
        queries: Iterable[str],
        k: int,
        filter: Filter | None,
        n_threads: int | None,
        out: _Output[_R],
    ) -> list[_R]:
        qs = texts_arg(queries, "queries")
        k = positive_int(k)
        flt = _check_filter(filter)
        threads = _check_threads(n_threads)
        st = self._state
        k = min(k, max(st.n_live, 1))  # no buffers beyond the live documents
        if not qs:
            return []
        tasks: list[Callable[[], Any]]
        if flt is None or isinstance(flt, (set, frozenset)):  # batched: one mask for all
            mask = None if flt is None else self._id_mask(st, flt)
            size = _batch_size(len(qs), k, threads)
            tasks = [
                partial(self._search_rows, st, qs[lo : lo + size], k, mask, out)
                for lo in range(0, len(qs), size)
            ]
            flatten, per_task = True, size * k
        else:
            verdict: dict[int, bool] = {}  # shared: each document's metadata is tried once
            tasks = [partial(self._search, st, q, k, flt, out, verdict) for q in qs]
            flatten, per_task = False, k
        if not out.tracked:
            return _run_tasks(tasks, threads, flatten=flatten)
        # hits: the collector waits for up to _PAUSE_RESULTS of them at a time, not for each
        # batch (see _CollectorPause); a huge call still lets it run now and then
        group = max(1, _PAUSE_RESULTS // per_task)
        rows: list[_R] = []
        for lo in range(0, len(tasks), group):
            with _collector_paused:
                rows.extend(_run_tasks(tasks[lo : lo + group], threads, flatten=flatten))
        return rows

    def _search(
        self,
        st: _State,
        query: str,
        k: int,
        flt: Filter | None,
        out: _Output[_R],
        verdict: dict[int, bool] | None = None,
    ) -> _R:
        """``search`` in snapshot ``st``. A mapping or predicate filter is tried on the best
        documents, deeper until ``k`` pass; ``verdict`` (document -> passed) may be shared by
        the queries of one ``search_many`` call, so each document is tried once."""
        if flt is None:
            return self._search_rows(st, [query], k, None, out)[0]
        if isinstance(flt, (set, frozenset)):
            return self._search_rows(st, [query], k, self._id_mask(st, flt), out)[0]
        if st.n_live == 0:
            return out.one(self, st, [], [])
        terms = self._query_terms(query)
        if not terms:
            return out.one(self, st, [], [])
        pred = _predicate(flt)
        # a user's predicate gets a copy of the metadata (it may change it); our own equality
        # check only reads it
        private = not isinstance(flt, Mapping)
        if verdict is None:
            verdict = {}
        want = max(4 * k, 64)
        while True:
            scores, docs = self._topk(st, terms, want, st.alive)
            keep_s: list[float] = []
            keep_d: list[int] = []
            for s, d in zip(scores.tolist(), docs.tolist(), strict=True):
                ok = verdict.get(d)
                if ok is None:
                    meta = st.metas[d]
                    ok = bool(pred((copy_metadata(meta) if private else meta) if meta else {}))
                    verdict[d] = ok
                if ok:
                    keep_s.append(s)
                    keep_d.append(d)
                    if len(keep_d) == k:
                        break
            if len(keep_d) == k or docs.size < want:
                return out.one(self, st, keep_s, keep_d)
            want *= 8

    def _search_rows(
        self,
        st: _State,
        queries: list[str],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        out: _Output[_R],
    ) -> list[_R]:
        """Top-k of each query among the live documents (or those of ``mask``, a subset of
        them): analysis, one kernel call per segment, then the results ``out`` makes."""
        if st.n_live == 0:
            return [out.one(self, st, [], []) for _ in queries]
        terms = self._term_lists(queries)
        if mask is None:
            hs, hd, sizes = self._topk_batch(st, terms, k, st.alive, st.n_live != st.n_total)
        else:
            hs, hd, sizes = self._topk_batch(st, terms, k, mask)
        return out.rows(self, st, hs, hd, sizes)

    def _id_mask(self, st: _State, ids: set[str] | frozenset[str]) -> npt.NDArray[np.bool_]:
        """The live documents of snapshot ``st`` whose ids are in ``ids`` (an id filter)."""
        mask = np.zeros(st.n_total, np.bool_)
        live = partial(self._live, st)
        idx = [i for i in map(live, self._id_to_int.get_many(list(ids))) if i is not None]
        if idx:
            mask[np.asarray(idx, np.int64)] = True
        return mask

    def _rows_of_hits(
        self,
        st: _State,
        hs: npt.NDArray[np.float64],
        hd: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
    ) -> list[list[Hit]]:
        """The hits of a batch's top-k arrays, one list per query: all built in one pass
        over flat columns (one ``tolist`` per array, one gather per column), then split."""
        counts = sizes.tolist()
        total = sum(counts)
        nq, width = hd.shape
        if total == 0:
            return [[] for _ in counts]
        if total == nq * width:  # every row full: the arrays as they are
            scores, docs = hs.ravel().tolist(), hd.ravel().tolist()
        elif nq == 1:
            scores, docs = hs[0, :total].tolist(), hd[0, :total].tolist()
        else:
            keep = np.arange(width) < sizes[:, None]
            scores, docs = hs[keep].tolist(), hd[keep].tolist()
        hits = self._hits(st, scores, docs)
        if nq == 1:
            return [hits]
        rows: list[list[Hit]] = []
        end = 0
        for n in counts:
            rows.append(hits[end : end + n])
            end += n
        return rows

    def _rows_of_rankings(
        self,
        st: _State,
        hs: npt.NDArray[np.float64],
        hd: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
    ) -> list[Ranking]:
        """The rankings of a batch's top-k arrays, one per query: each row's ids gathered
        from the id column and its scores copied out of the batch array (a few objects per
        query, none per result: the id strings are the column's own)."""
        ids = st.ids
        nq, width = hd.shape
        docs = hd.tolist()  # one conversion for the batch (100 ids: 3.3 -> 2.9 us a query)
        counts = sizes.tolist()
        if sum(counts) == nq * width:  # every row full: rows as they come
            if width > 1:
                names = [list(itemgetter(*row)(ids)) for row in docs]
            else:
                names = [[ids[row[0]]] for row in docs]
            return make_rankings(names, map(np.ndarray.copy, hs))  # hs yields its rows
        names = []
        for row, n in zip(docs, counts, strict=True):
            if n > 1:
                names.append(list(itemgetter(*(row if n == width else row[:n]))(ids)))
            else:
                names.append([ids[row[0]]] if n else [])
        return make_rankings(names, (hs[q, :n].copy() for q, n in enumerate(counts)))

    def _ranking(self, st: _State, scores: list[float], docs: list[int]) -> Ranking:
        """The ranking of internal documents ``docs`` (with their scores)."""
        return Ranking([st.ids[d] for d in docs], np.array(scores, np.float64))

    def _topk(
        self,
        st: _State,
        terms: list[int],
        k: int,
        mask: npt.NDArray[np.bool_],
        check_alive: bool = True,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Top-k (scores, internal docs) of one query among the documents of ``mask``."""
        hs, hd, sizes = self._topk_batch(st, [terms], k, mask, check_alive)
        n = int(sizes[0])
        return hs[0, :n], hd[0, :n]

    def _topk_batch(
        self,
        st: _State,
        terms: list[list[int]],
        k: int,
        mask: npt.NDArray[np.bool_],
        check_alive: bool = True,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Per query (term ids, repeats kept) its top-k among the documents of ``mask``:
        scores and internal docs (row q, best first, ``sizes[q]`` of them). ``check_alive=False``
        promises that every document of ``mask`` is set (no deletions, no filter)."""
        nq = len(terms)
        k = max(1, min(k, st.n_total))
        hs = np.empty((nq, k), np.float64)
        hd = np.empty((nq, k), np.int64)
        sizes = np.zeros(nq, np.int64)
        if not st.segments or not any(terms):
            return hs, hd, sizes

        # one compilation per algorithm and array types (term-frequency width, read-only maps)
        kind = st.cache.get("kernel_kind") if mask is st.alive else None
        if kind is None or kind[0] != self._algo:
            seg_kinds = st.cache.get("segment_kinds")
            if seg_kinds is None:  # fixed for a snapshot: worked out by its first search
                seg_kinds = st.cache["segment_kinds"] = tuple(
                    (split_postings.layout_key(seg.post), seg.post.flags.writeable)
                    for seg in st.segments
                )
            kind = (self._algo, st.df.flags.writeable, mask.flags.writeable, seg_kinds)
            if mask is st.alive:  # the usual mask: its kind is kept with the snapshot
                st.cache["kernel_kind"] = kind
        if kind in _warmup.done or _warmup.ready(
            kind,
            partial(self._first_topk, st, terms[:1], k, mask, check_alive),
            partial(_kernel_cached, self._algo),
        ):
            self._kernel_topk(st, terms, mask, check_alive, hs, hd, sizes)
        else:
            self._exhaustive_topk(st, terms, mask, hs, hd, sizes)
        return hs, hd, sizes

    def _first_topk(
        self,
        st: _State,
        terms: list[list[int]],
        k: int,
        mask: npt.NDArray[np.bool_],
        check_alive: bool,
    ) -> None:
        """The warm-up's query, into scratch outputs (made only if it runs); then the impact
        table's builder is compiled for the segments' array types too (on no documents), so a
        snapshot's first table does not compile in a caller's search."""
        self._kernel_topk(
            st, terms, mask, check_alive,
            np.empty((1, k), np.float64), np.empty((1, k), np.int64), np.zeros(1, np.int64),
        )  # fmt: skip
        kernels = _kernels or _load_kernels()
        for seg in {
            (s.ptr.dtype, split_postings.layout_key(s.post), s.post.flags.writeable): s
            for s in st.segments
        }.values():
            kernels.impact_table(
                seg.ptr[:1], seg.kernel_post, *seg.unpack, np.zeros(0, np.float32), 0
            )

    def _kernel_topk(
        self,
        st: _State,
        terms: list[list[int]],
        mask: npt.NDArray[np.bool_],
        check_alive: bool,
        hs: npt.NDArray[np.float64],
        hd: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
    ) -> None:
        """``_topk_batch`` through the compiled kernel of this index's algorithm."""
        kernels = _kernels or _load_kernels()
        nq = len(terms)
        if nq == 1:
            qterms = np.array(terms[0], np.int64)
            qptr = np.array([0, qterms.size], np.int64)
        else:
            qptr = np.zeros(nq + 1, np.int64)
            np.cumsum(np.fromiter(map(len, terms), np.int64, count=nq), out=qptr[1:])
            qterms = np.fromiter(chain.from_iterable(terms), np.int64, count=int(qptr[-1]))
        algo = self._algo
        # per snapshot: each segment's norms view, bound scale (fixed for its life) and count
        # of queries scored densely
        plan = st.cache.get("kernel_plan")
        if plan is None:
            norm_all = st.norms(self._k1, self._b)
            avgdl = st.avgdl
            # norms past the float32 pass's range (an extreme k1): float64 throughout
            small = bool(norm_all.max(initial=0.0) <= kernels.APPROX_MAX_VALUE)
            segs = []
            runs = np.zeros(len(st.segments), np.int64)
            for i, seg in enumerate(st.segments):
                # bound_avgdl is 0 only for a segment without postings
                ratio = avgdl / seg.bound_avgdl if seg.bound_avgdl > 0 else 1.0
                scale = max(1.0, ratio) * (1.0 + _BOUND_MARGIN)
                lo, hi = seg.base, seg.base + seg.n_docs
                whole = lo == 0 and hi == norm_all.size  # one segment: no views to make
                seg_norm = norm_all if whole else norm_all[lo:hi]
                segs.append((seg, lo, hi, scale, seg_norm, whole, runs[i : i + 1]))
            plan = (max(seg.n_docs for seg in st.segments), segs, small)
            st.cache["kernel_plan"] = plan
        longest, segs, small_norms = plan
        tables = self._impact_tables(st, segs, small_norms, kernels)
        if algo == "DAAT_MAXSCORE":  # for the queries it scores term at a time
            acc, touched = _taat_buffers(min(longest, kernels.SPARSE_DOCS))
            dense_docs, sparse_postings = kernels.DENSE_DOCS, kernels.SPARSE_POSTINGS
        elif algo == "TAAT_NAIVE":
            acc, touched = _taat_buffers(longest)
        approx_docs = kernels.DENSE_APPROX_DOCS
        approx_candidates = kernels.DENSE_CANDIDATES if small_norms else 0
        df = st.df
        n_live = float(st.n_live)
        k1p1 = self._k1 + 1.0
        last = len(segs) - 1
        for i, ((seg, lo, hi, scale, seg_norm, whole, dense_runs), (islot, imp, itf)) in enumerate(
            zip(segs, tables, strict=True)
        ):
            finish = i == last
            seg_mask = mask if whole else mask[lo:hi]
            if algo == "DAAT_MAXSCORE":
                kernels.maxscore_batch(
                    qterms, qptr, df, n_live, k1p1, seg.ptr, seg.bptr, seg.tmax, scale,
                    seg.kernel_post, *seg.unpack, seg.blast, seg.bmax, islot, imp, itf, seg_norm,
                    seg_mask, lo, seg.block, check_alive, acc, touched, dense_docs, sparse_postings,
                    approx_docs, approx_candidates, dense_runs, hs, hd, sizes, finish,
                )  # fmt: skip
            elif algo == "DAAT_WAND":
                kernels.wand_batch(
                    qterms, qptr, df, n_live, k1p1, seg.ptr, seg.bptr, seg.tmax, scale,
                    seg.kernel_post, *seg.unpack, seg.blast, seg_norm, seg_mask, lo, seg.block,
                    hs, hd, sizes, finish,
                )  # fmt: skip
            else:
                kernels.taat_batch(
                    qterms, qptr, df, n_live, k1p1, seg.ptr, seg.bptr, seg.tmax, seg.kernel_post,
                    *seg.unpack, seg.blast, seg.block, islot, imp, itf, seg_norm, seg_mask, lo,
                    check_alive, acc, touched, approx_docs, approx_candidates, dense_runs, hs,
                    hd, sizes, finish,
                )  # fmt: skip

    @staticmethod
    def _impact_tables(
        st: _State, segs: list[Any], small_norms: bool, kernels: ModuleType
    ) -> list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.uint16]]]:
        """Each segment's impact table in snapshot ``st`` (``kernels.impact_table``; else
        ``_NO_IMPACTS``). A segment of at most ``IMPACT_DOCS`` documents, with norms in the
        float32 pass's range, gets one once more than ``IMPACT_QUERIES`` queries were scored
        densely there in this snapshot (the count its kernel calls keep in the plan): a table
        costs about what it saves that many queries (20k documents: 0.6 ms), a snapshot
        replaced after a few searches (writes between searches) never pays for one, and
        neither does a segment whose queries skip the dense path (in a 1M-document index, the
        segments after the first: its hits bound their queries). Threads racing here may
        each build a table; all are equal and one is kept."""
        state = st.cache.get("impact_tables")
        if state is None:
            tables = [_NO_IMPACTS] * len(segs)
            eligible = {i for i, s in enumerate(segs) if s[0].n_docs <= kernels.IMPACT_DOCS}
            state = st.cache["impact_tables"] = (tables, eligible if small_norms else set())
        tables, pending = state
        for i in tuple(pending) if pending else ():
            seg, _lo, _hi, _scale, seg_norm, _whole, runs = segs[i]
            if int(runs[0]) > kernels.IMPACT_QUERIES:
                # of the values' width (a split segment's 3 bytes a posting get the same rows)
                budget = seg.nnz * seg.post.dtype.itemsize // kernels.IMPACT_SHARE
                tables[i] = kernels.impact_table(
                    seg.ptr, seg.kernel_post, *seg.unpack, seg_norm, budget
                )
                pending.discard(i)
        return tables

    def _exhaustive_topk(
        self,
        st: _State,
        terms: list[list[int]],
        mask: npt.NDArray[np.bool_],
        hs: npt.NDArray[np.float64],
        hd: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
    ) -> None:
        """``_topk_batch`` in NumPy, scoring every posting: what a process runs while its query
        kernel compiles. Same arithmetic in the same order as the kernels (weights
        ``n_t * idf_t * (k1 + 1)``, contributions ``w * tf / (tf + norm)`` summed in ascending
        term order, ties to the lower document), so the same scores and order."""
        norm_all = st.norms(self._k1, self._b)
        df = st.df
        n_live = float(st.n_live)
        k1p1 = self._k1 + 1.0
        k = hs.shape[1]
        for q, ids in enumerate(terms):
            counts = Counter(t for t in ids if t < df.size and df[t] > 0)
            if not counts:
                continue
            scores = np.zeros(st.n_total, np.float64)
            for t in sorted(counts):
                d = float(df[t])
                w = float(counts[t]) * math.log1p((n_live - d + 0.5) / (d + 0.5)) * k1p1
                for seg in st.segments:
                    if t >= seg.vocab_size or seg.ptr[t] == seg.ptr[t + 1]:
                        continue
                    lo, hi = int(seg.ptr[t]), int(seg.ptr[t + 1])
                    run = seg.post[lo:hi]
                    docs = post_docs(run, seg.shift).astype(np.int64) + seg.base
                    tf = post_tfs(run, seg.shift).astype(np.float64)
                    scores[docs] += w * tf / (tf + norm_all[docs].astype(np.float64))
            cand = np.flatnonzero((scores > 0) & mask)
            best = cand[np.lexsort((cand, -scores[cand]))[:k]]
            n = best.size
            hs[q, :n] = scores[best]
            hd[q, :n] = best
            sizes[q] = n

    def _metadata_kind(self, st: _State) -> int:
        """What a hit's metadata copy takes in snapshot ``st``: 0 (no document has metadata:
        hits get empty dicts without reading the column), 1 (only flat metadata, values of
        the types ``copy_metadata`` shares: one ``dict()`` copies it) or 2 (some nested: a
        ``copy_metadata`` each). The column is scanned once per index, a new part at a time:
        its entries below a published snapshot's ``n_total`` never change (only unpublished
        appends are undone), and a kind raised by documents past an older snapshot's end
        only makes that snapshot copy more carefully than it needs to."""
        metas, n = st.metas, st.n_total
        if metas.all_none:  # no document has metadata (only a count is kept)
            return 0
        scanned, upto, kind = self._metas_scan
        if scanned is not metas:  # a loaded index's column, or the first search
            upto, kind = 0, 0
        if kind == 2 or upto >= n:
            return kind
        part = metas[upto:n]
        if any(part):
            try:
                values = chain.from_iterable(map(dict.values, filter(None, part)))
                kind = max(kind, 1 if _SHARED_TYPES.issuperset(map(type, values)) else 2)
            except TypeError:  # pragma: no cover - not a dict: copy_metadata decides
                kind = 2
        self._metas_scan = (metas, n, kind)  # each value is true: racing writers are harmless
        return kind

    def _hits(self, st: _State, scores: list[float], docs: list[int]) -> list[Hit]:
        """Hits for internal documents ``docs`` (with their scores): ids, texts and metadata
        are gathered column by column, each hit gets its own copy of the metadata."""
        n = len(docs)
        if n == 0:
            return []
        pick = itemgetter(*docs) if n > 1 else lambda column: (column[docs[0]],)
        ids = pick(st.ids)
        kind = self._metadata_kind(st)
        metas = st.metas.gather(docs) if kind else ()
        texts = st.texts.gather(docs)
        with _collector_paused:  # see _CollectorPause (nested in search_many: a no-op)
            if not any(metas):  # no metadata: a new empty dict per hit
                return make_hits(ids, scores, texts)
            if kind == 1:  # flat: what copy_metadata would do, without a call per hit
                own = [dict(meta) if meta else {} for meta in metas]
            else:
                own = [copy_metadata(meta) if meta else {} for meta in metas]
            return make_hits(ids, scores, texts, own)

    # ------------------------------------------------------------------ sparse vectors

    def encode_documents(self, texts: Iterable[str]) -> Any:
        """Documents as ``scipy.sparse.csr_array`` rows (columns = term ids) holding
        ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` with this index's avgdl;
        the dot product with an ``encode_queries`` row is the BM25 score."""
        from rankwise.bm25.sparse import encode_documents

        st = self._state
        return encode_documents(
            texts_arg(texts), analyze=self._analyzer.analyze, vocab=self._vocab, df=st.df,
            n_live=st.n_live, avgdl=st.avgdl, k1=self._k1, b=self._b,
        )  # fmt: skip

    def encode_queries(self, texts: Iterable[str]) -> Any:
        """Queries as ``scipy.sparse.csr_array`` rows holding ``n_t * idf_t`` per term."""
        from rankwise.bm25.sparse import encode_queries

        st = self._state
        return encode_queries(
            texts_arg(texts), analyze=self._analyzer.analyze, vocab=self._vocab, df=st.df,
            n_live=st.n_live,
        )  # fmt: skip

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the index to the folder ``path`` atomically (numpy arrays + JSON manifest).

        The folder switches from its previous content to this snapshot with one rename; saves
        into one folder from several threads or processes are serialised by a lock file in
        it (the last one wins). Writes to the index may continue while it saves."""
        with self._lock:  # a consistent (snapshot, vocabulary) pair; writers append to both
            st = self._state
            terms = self._vocab.terms(int(st.df.size))
        analyzer = self._analyzer
        settings = Settings(
            None if analyzer.is_callable else analyzer.config, self._k1, self._b, self._algo
        )
        save_snapshot(st.to_arrays(self._k1, self._b, terms), settings, path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        mmap: bool = True,
        *,
        analyzer: AnalyzerParams | None = None,
        verify: bool = True,
        show_progress: bool = True,
    ) -> BM25Index:
        """Open an index written by ``save``. ``mmap`` maps the arrays instead of reading
        them; ``analyzer`` must be given when the index was built with a callable analyzer;
        ``verify`` checks the CRC32 of every file. A damaged folder raises ValueError."""
        loaded = load_snapshot(path, mmap=mmap, analyzer=analyzer, verify=verify)
        settings = loaded.settings
        index = cls(
            analyzer=loaded.analyzer, k1=settings.k1, b=settings.b,
            inverted_index_algo=settings.inverted_index_algo, show_progress=show_progress,
        )  # fmt: skip
        index._vocab = loaded.vocabulary
        index._id_to_int = loaded.id_map
        index._state = loaded.snapshot
        return index


_R = TypeVar("_R")


class _Output(NamedTuple, Generic[_R]):
    """What a search makes of its top-k: ``rows`` from a batch's arrays (scores, internal
    documents, sizes), ``one`` from one query's lists (the filtered path); ``tracked`` says
    whether it builds an object per result (then the collector is paused while it does)."""

    rows: Callable[
        [BM25Index, _State, npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
        list[_R],
    ]
    one: Callable[[BM25Index, _State, list[float], list[int]], _R]
    tracked: bool


_HITS: _Output[list[Hit]] = _Output(BM25Index._rows_of_hits, BM25Index._hits, True)
_RANKINGS: _Output[Ranking] = _Output(BM25Index._rows_of_rankings, BM25Index._ranking, False)


def _predicate(flt: Filter) -> Callable[[Metadata], bool]:
    if isinstance(flt, Mapping):
        items = list(flt.items())

        def match(meta: Metadata) -> bool:
            return all(key in meta and meta[key] == value for key, value in items)

        return match
    return flt  # type: ignore[return-value]


__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "DEFAULT_B",
    "DEFAULT_K1",
    "PROGRESS_MIN_DOCS",
    "BM25Index",
]
