"""The compact vocabulary (rankwise.bm25.vocabulary): exact lookups under forced hash
collisions, the same answers as a dict vocabulary through every index operation, readers
racing merges, failed writes, save/load, and the memory a term costs."""

from __future__ import annotations

import gc
import random
import shutil
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rankwise.bm25 import BM25Index, index, persistence, vocabulary
from rankwise.bm25.vocabulary import DuplicateTermError, Vocabulary

TERMS = ["alpha", "beta", "gamma", "delta", "é", "ünï", "文字", "a", "ab", "ba", "", "x" * 40]


def _collide(term: str) -> int:
    """A hash that puts many terms in one run (lengths 0..3 only)."""
    return len(term) % 4


def _all_same(term: str) -> int:
    return 7


@pytest.fixture
def compact_from_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every index holds its vocabulary compact (the threshold is 2^17 documents)."""
    monkeypatch.setattr(index, "COMPACT_DOCS", 0, raising=False)
    monkeypatch.setattr(persistence, "COMPACT_DOCS", 0, raising=False)
    return


# ------------------------------------------------------------------ the vocabulary alone


@pytest.mark.parametrize("hasher", [hash, _collide, _all_same])
@pytest.mark.parametrize("compact", [False, True])
def test_lookups_answer_as_a_dict_whatever_the_hashes(hasher: object, compact: bool) -> None:
    vocab = Vocabulary.of(TERMS[:6], compact=compact, hasher=hasher)  # type: ignore[arg-type]
    oracle = {t: i for i, t in enumerate(TERMS[:6])}
    new = [*TERMS[6:], "alpha", "b", "zzz"]
    ids = vocab.add_many(list(dict.fromkeys(new))).tolist()
    for t in dict.fromkeys(new):
        oracle.setdefault(t, len(oracle))
    assert ids == [oracle[t] for t in dict.fromkeys(new)]
    probes = [*TERMS, "alph", "alphaa", "gamm", "b", "zzz", "é ", "e", "ü", "文", "xx" * 20]
    for many in (probes, probes * 5):  # the scalar path and the vectorised one
        assert vocab.ids_of(many).tolist() == [oracle.get(t, -1) for t in many]
    assert [vocab.get(t) for t in probes] == [oracle.get(t) for t in probes]
    assert list(vocab) == list(oracle)
    assert len(vocab) == len(oracle)
    vocab.compact()  # the dict's terms into the arrays: the same answers
    assert vocab.ids_of(probes * 5).tolist() == [oracle.get(t, -1) for t in probes * 5]
    assert dict(vocab.items()) == oracle
    with pytest.raises(KeyError):
        vocab["absent"]


@pytest.mark.parametrize("hasher", [hash, _collide, _all_same])
@pytest.mark.parametrize("rounds", [1, 3, 10_000])
def test_batch_lookups_in_probe_rounds_answer_as_a_dict(
    monkeypatch: pytest.MonkeyPatch, hasher: object, rounds: int
) -> None:
    """A large batch probes in vectorised rounds (the rest one by one): found, absent, same
    length other bytes, prefixes, non-ASCII, empty, repeated tokens."""
    monkeypatch.setattr(vocabulary, "_ROUNDS_MIN", 2)
    monkeypatch.setattr(vocabulary, "_PROBE_ROUNDS", rounds)
    rng = random.Random(7)
    terms = list(
        dict.fromkeys(
            [*TERMS, *("".join(rng.choices("abé文", k=rng.randint(1, 4))) for _ in range(150))]
        )
    )
    vocab = Vocabulary.of(terms, compact=True, hasher=hasher)  # type: ignore[arg-type]
    oracle = {t: i for i, t in enumerate(terms)}
    probes = [*terms, *(t + "x" for t in terms[:40]), *(t[:-1] for t in terms[:40]), "", "zz"]
    rng.shuffle(probes)
    assert vocab.ids_of(probes * 2).tolist() == [oracle.get(t, -1) for t in probes * 2]
    new = ["fresh", *terms[:5], "é新"]
    assert vocab.add_many(new).tolist()[1:6] == list(range(5))
    assert vocab.ids_of(probes + new).tolist() == [vocab.get(t, -1) for t in probes + new]


def test_a_hash_match_with_other_bytes_is_not_a_match() -> None:
    """Equal hashes and equal lengths but other bytes: never answered by the hash alone."""
    vocab = Vocabulary.of(["abc", "abd", "xyz"], compact=True, hasher=_all_same)
    assert vocab.ids_of(["abe", "abd", "xyz", "abc"] * 10).tolist() == [-1, 1, 2, 0] * 10
    assert vocab.get("abe") is None
    assert vocab.get("xyz") == 2


def test_from_blob_refuses_bad_utf8_and_duplicates() -> None:
    good = "é".encode()
    data = np.frombuffer(b"ab" + good, np.uint8)
    with pytest.raises(ValueError, match="inside a UTF-8 character"):  # "ab\xc3", "\xa9"
        Vocabulary.from_blob(data, np.array([0, 3, 4]), compact=True)
    with pytest.raises(UnicodeDecodeError):
        Vocabulary.from_blob(np.frombuffer(b"\xff", np.uint8), np.array([0, 1]), compact=True)
    with pytest.raises(DuplicateTermError):
        Vocabulary.from_blob(np.frombuffer(b"abab", np.uint8), np.array([0, 2, 4]), compact=True)
    dup = Vocabulary.from_blob  # duplicates found inside a run of colliding hashes too
    with pytest.raises(DuplicateTermError):
        dup(np.frombuffer(b"abcab", np.uint8), np.array([0, 2, 3, 5]), compact=True,
            hasher=_all_same)  # fmt: skip
    v = Vocabulary.from_blob(data, np.array([0, 1, 2, 4]), compact=True)
    assert list(v) == ["a", "b", "é"]
    assert v.get("é") == 2


def test_readers_never_miss_a_term_while_merges_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terms known before a lookup starts (in the arrays or still in the dict) are found
    whatever merge runs meanwhile."""
    monkeypatch.setattr(vocabulary, "_MERGE_MIN", 1)
    monkeypatch.setattr(vocabulary, "_MERGE_FRACTION", 1)
    vocab = Vocabulary.of([f"k{i}" for i in range(500)], compact=True)
    known = {f"k{i}": i for i in range(500)}
    added: list[tuple[str, int]] = []  # appended once add_many returned
    stop = threading.Event()
    errors: list[str] = []

    def read() -> None:
        rng = random.Random(1)
        while not stop.is_set():
            tail = added[-20:]  # one look at the list the writer extends
            probe = rng.sample(sorted(known), 20) + [t for t, _ in tail]
            expected = [known.get(t) for t in probe[:20]] + [i for _, i in tail]
            got = vocab.ids_of(probe).tolist()
            if got != expected:
                errors.append(f"{probe} -> {got}")
            for term, i in added[-3:]:
                if vocab.get(term) != i:
                    errors.append(term)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for i in range(400):  # a merge every few adds (each one into new arrays)
        ids = vocab.add_many([f"n{i}", f"m{i}"]).tolist()
        added.extend(zip([f"n{i}", f"m{i}"], ids, strict=True))
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors[:3]
    assert vocab.is_compact
    assert len(vocab) == 500 + 800


# ------------------------------------------------------------------ inside an index

DOCS = [
    "alpha beta gamma",
    "beta beta delta é",
    "gamma ünï 文字 alpha",
    "a ab ba alpha alpha",
    "x y z beta",
    "delta delta delta gamma",
]
QUERIES = ["alpha", "beta gamma", "é ünï", "文字 a", "ba ab", "zz unknown", "delta delta", ""]


def _answers(ix: BM25Index) -> list[list[tuple[str, float]]]:
    many = [[(h.id, h.score) for h in hits] for hits in ix.search_many(QUERIES, k=10)]
    one = [[(h.id, h.score) for h in ix.search(q, k=10)] for q in QUERIES]
    ids = [list(zip(r.ids, r.scores.tolist(), strict=True))
           for r in ix.search_many_ids(QUERIES * 10, k=10)]  # fmt: skip
    assert many == one == ids[: len(QUERIES)]
    return many


def _scenario(ix: BM25Index) -> list[object]:
    out: list[object] = []
    ix.add(DOCS, ids=[f"d{i}" for i in range(len(DOCS))])
    out.append(_answers(ix))
    ix.add([f"new{i} alpha t{i}" for i in range(50)], ids=[f"n{i}" for i in range(50)])
    out.append(_answers(ix))
    ix.delete(["d0", "n3", "d4"])
    out.append(_answers(ix))
    ix.upsert(["gamma gamma fresh", "ünï only"], ids=["d2", "d9"])
    out.append(_answers(ix))
    out.append(ix.encode_queries(QUERIES).toarray().tolist())
    out.append(ix.encode_documents(DOCS).toarray().tolist())
    out.append(ix.vocab_size)
    return out


@pytest.mark.parametrize("hasher", [hash, _collide])
def test_a_compact_index_answers_as_a_dict_one(
    monkeypatch: pytest.MonkeyPatch, hasher: object
) -> None:
    plain = _scenario(BM25Index("standard", show_progress=False))
    monkeypatch.setattr(index, "COMPACT_DOCS", 0, raising=False)
    ix = BM25Index("standard", show_progress=False)
    ix._vocab = Vocabulary(hasher=hasher)  # type: ignore[arg-type]
    assert _scenario(ix) == plain
    assert ix._vocab.is_compact


def test_a_failed_add_leaves_the_answers_as_they_were(compact_from_start: None) -> None:
    calls = {"n": 0}

    def analyze(text: str) -> list[str]:
        calls["n"] += 1
        if text == "boom":
            raise RuntimeError("analyzer failed")
        return text.split()

    ix = BM25Index(analyze, show_progress=False)
    ix.add(DOCS, ids=[f"d{i}" for i in range(len(DOCS))])
    before = _answers(ix)
    with pytest.raises(RuntimeError):  # new terms seen before the failure
        ix.add(["brandnew alpha", "zz unknown", "boom"], ids=["x", "y", "z"])
    assert _answers(ix) == before
    assert ix.vocab_size == len(ix._state.df)
    ix.add(["zz unknown"], ids=["y"])  # the terms the failed add saw, now for real
    fresh = BM25Index(analyze, show_progress=False)
    fresh.add([*DOCS, "zz unknown"], ids=[*(f"d{i}" for i in range(len(DOCS))), "y"])
    assert _answers(ix) == _answers(fresh)


def test_save_and_load_keep_a_compact_vocabulary(tmp_path: Path, compact_from_start: None) -> None:
    ix = BM25Index("standard", show_progress=False)
    _scenario(ix)
    ix.save(tmp_path / "ix")
    for mmap in (True, False):
        loaded = BM25Index.load(tmp_path / "ix", mmap=mmap)
        assert loaded._vocab.is_compact
        assert _answers(loaded) == _answers(ix)
        assert list(loaded._vocab) == list(ix._vocab)[: ix.vocab_size]
        loaded.add(["alpha brandnew"], ids=["later"])  # and it keeps growing
        assert loaded.search("brandnew", k=1)[0].id == "later"


def test_an_old_folder_loads_compact(tmp_path: Path, compact_from_start: None) -> None:
    v1 = Path(__file__).parent / "data" / "index-v1"
    shutil.copytree(v1, tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix")
    assert loaded._vocab.is_compact
    from tests.bm25.test_format_compat import _answers as v1_answers
    from tests.bm25.test_format_compat import build_reference

    assert v1_answers(loaded) == v1_answers(build_reference())


def test_a_loaded_folder_with_a_damaged_term_blob_is_refused(
    tmp_path: Path, compact_from_start: None
) -> None:
    ix = BM25Index("standard", show_progress=False)
    ix.add(["alpha beta", "gamma é"], ids=["a", "b"])
    ix.save(tmp_path / "ix")
    (gen,) = [p for p in (tmp_path / "ix").iterdir() if p.is_dir()]
    data = np.load(gen / "term_data.npy")
    offsets = np.load(gen / "term_offsets.npy")
    terms = [bytes(data[offsets[t] : offsets[t + 1]]) for t in range(offsets.size - 1)]
    twin = terms.index(b"alpha")
    src = terms.index(b"gamma")
    data[offsets[src] : offsets[src + 1]] = np.frombuffer(b"alpha", np.uint8)
    assert twin != src
    np.save(gen / "term_data.npy", data)
    with pytest.raises(ValueError, match="duplicate terms"):
        BM25Index.load(tmp_path / "ix", verify=False)


def _vocabulary_bytes(ix: BM25Index) -> int:
    """Bytes the index's vocabulary holds (what goes when it is dropped)."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    ix._vocab = None  # type: ignore[assignment]
    gc.collect()
    return before - tracemalloc.get_traced_memory()[0]


def test_a_large_index_holds_under_40_bytes_a_term(compact_from_start: None) -> None:
    """A dict of term strings and int ids costs ~115 bytes a term; the arrays ~27 (term
    bytes, int64 offset and hash, int32 id) plus the term's own length."""
    rng = np.random.default_rng(0)
    texts = [" ".join(f"w{x}" for x in rng.integers(0, 10**6, 40).tolist()) for _ in range(1500)]
    tracemalloc.start()
    try:
        ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
        ix.add(texts, ids=[str(i) for i in range(len(texts))])
        n_terms = ix.vocab_size
        held = _vocabulary_bytes(ix)
    finally:
        tracemalloc.stop()
    assert n_terms > 50_000
    assert held / n_terms < 40, f"{held / n_terms:.1f} bytes a term"


def test_a_large_build_holds_few_token_strings_at_once(
    monkeypatch: pytest.MonkeyPatch, compact_from_start: None
) -> None:
    """A build maps tokens through a dict of a group's distinct tokens, not a whole chunk's.

    CPython's small-object allocator returns an arena to the OS only once every object in it
    is freed: the strings and ints of a dict of a 20k-document chunk (~100k+ distinct tokens,
    ~12 MB) were freed after the chunk, but the few objects made meanwhile that outlive it kept
    their arenas, so that high-water mark stayed in the build's peak RSS and cancelled the
    compact vocabulary's saving. Counted here: the Python objects alive when a group's tokens
    are resolved (where that dict is largest), over the count before the add."""
    n_docs = 20_000  # one chunk, and a large add (new terms merged into the arrays at once)
    assert n_docs >= index.PROGRESS_MIN_DOCS
    texts = [" ".join(f"w{d}x{j}" for j in range(8)) for d in range(n_docs)]
    ids = [str(i) for i in range(n_docs)]
    alive: list[int] = []
    add_many = Vocabulary.add_many

    def counting(self: Vocabulary, tokens: list[str], *, merge: bool = False) -> object:
        alive.append(sys.getallocatedblocks())
        return add_many(self, tokens, merge=merge)

    monkeypatch.setattr(Vocabulary, "add_many", counting)
    ix = BM25Index({"tokenizer": "whitespace"}, show_progress=False)
    gc.collect()
    before = sys.getallocatedblocks()
    ix.add(texts, ids=ids)
    assert ix.vocab_size == 8 * n_docs
    assert ix.search("w0x0", k=1)[0].id == "0"
    assert ix.search(f"w{n_docs - 1}x7", k=1)[0].id == str(n_docs - 1)
    # a distinct token costs two objects (its str and its local id): 160k tokens at once
    # would be ~320k; a group of ~16k is ~33k (and the index's own ~2 per document)
    most = max(alive) - before
    assert most < 100_000, f"{most} objects alive at once"


def test_term_blob_and_slices_index_as_a_list_does() -> None:
    """The saved-term views answer indexing, negative indices, slices, bounds and iteration as
    the list of their strings does (non-ASCII terms included)."""
    raw = "".join(TERMS).encode("utf-8")
    offsets = np.cumsum([0] + [len(t.encode("utf-8")) for t in TERMS]).astype(np.int64)
    data = np.frombuffer(raw, np.uint8)
    views = [vocabulary.TermBlob(data, offsets), vocabulary._Slices(raw, offsets, decode=True)]
    for view in views:
        assert len(view) == len(TERMS)
        assert list(view) == TERMS
        for i in range(-len(TERMS), len(TERMS)):
            assert view[i] == TERMS[i]
        for sl in (slice(None), slice(2, 7), slice(-3, None), slice(None, None, -2)):
            assert view[sl] == TERMS[sl]
        for bad in (len(TERMS), -len(TERMS) - 1):
            with pytest.raises(IndexError):
                view[bad]
