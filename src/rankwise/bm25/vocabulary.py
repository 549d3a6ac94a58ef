"""The vocabulary of a BM25Index (term -> term id), held in a few NumPy arrays instead of a dict.

A dict of 200k terms costs ~23 MB: its table (~7 MB), one ``str`` per term (~55 B each) and one
``int`` per term id above 256 (28 B each). ``Vocabulary`` keeps the same in ~25 B a term: the
terms' UTF-8 bytes in term-id order (one blob and int64 offsets) and an open-addressing hash
table of int32 term ids (at most half full, linear probing). A lookup hashes the token, reads
its slot and compares the bytes of the term found there, probing on to the next slot until an
empty one: a hash match alone never answers. Many tokens (a batch of queries, a chunk's
distinct tokens) are looked up in one vectorised pass; one query's tokens one by one.

Terms added since the last merge sit in a small dict (``_recent``, ids after the arrays'); it is
merged into new arrays when it grows past an eighth of them, so a small add into a large index
stays cheap. Until ``compact`` is first called every term stays in that dict: a small index
keeps the dict's speed (its owner decides when the memory matters more, see ``COMPACT_DOCS``).

Term ids never change once given, and terms are never removed: a reader holding an older
snapshot ignores ids past that snapshot's terms, so the vocabulary needs no versions. A merge
publishes its arrays before it empties the dict, and readers read the dict first (as
``IdMap`` does), so a reader racing a merge never misses a term.

Hashes are Python's ``str`` hashes: salted per process, never saved (a loaded vocabulary hashes
its terms again).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice, pairwise
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

#: an index of this many documents holds its vocabulary compact (see BM25Index._with_docs):
#: below it a query's kernel time is short enough that the dict's faster lookups matter, and
#: the vocabulary is a small share of a small index's memory
COMPACT_DOCS = 1 << 17
#: the dict is merged into the arrays beyond max(this, arrays // _MERGE_FRACTION) terms
_MERGE_MIN = 4096
_MERGE_FRACTION = 8
#: fewer tokens than this are looked up one by one (a vectorised pass costs ~15 NumPy calls)
_SCALAR_MAX = 24
#: tokens looked up per vectorised pass (its scratch: ~100 bytes a token)
_BLOCK = 1 << 13
#: vectorised probe rounds of a batch lookup of at least ``_ROUNDS_MIN`` tokens (a build's
#: group; a half-full table's runs are short: the tokens still probing after these are few, and
#: looked up one by one); a smaller batch (queries) probes on one by one after the first slot
_PROBE_ROUNDS = 8
_ROUNDS_MIN = 1024
_ENCODING = ("utf-8", "surrogatepass")

Hasher = Callable[[str], int]


class NextIdDict(dict[str, int]):
    """term -> id; ``[]`` of a missing term gives it the next id (``base`` + its position)."""

    __slots__ = ("base",)

    def __init__(self, base: int = 0) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: str) -> int:
        value = self.base + len(self)
        self[key] = value
        return value


class _Frozen(NamedTuple):
    """Terms ``0..n-1``: ``raw[offsets[t]:offsets[t + 1]]`` is term t's UTF-8 (``data`` is the
    same bytes as an array). ``table`` is an open-addressing hash table of term ids (-1:
    empty; a term sits at ``hash & mask`` or the first free slot after it, linear probing; at
    most half full). The memoryviews index as Python ints (a scalar lookup without NumPy)."""

    raw: bytes
    data: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]
    table: npt.NDArray[np.int32]
    offsets_view: memoryview
    table_view: memoryview

    @classmethod
    def of(
        cls, raw: bytes, offsets: npt.NDArray[np.int64], table: npt.NDArray[np.int32]
    ) -> _Frozen:
        return cls(raw, np.frombuffer(raw, np.uint8), offsets, table, offsets.data, table.data)

    @property
    def size(self) -> int:
        return int(self.offsets.size - 1)


_EMPTY = _Frozen.of(b"", np.zeros(1, np.int64), np.full(0, -1, np.int32))


def _capacity(n_terms: int) -> int:
    """Slots for ``n_terms``: a power of two at least twice as many (a table half full at most:
    a lookup probes ~1.5 slots on average)."""
    return max(8, 1 << (2 * n_terms - 1).bit_length())


def _place(table: npt.NDArray[np.int32], h: npt.NDArray[np.int64], ids: npt.NDArray[Any]) -> None:
    """Insert term ``ids[j]`` with hash ``h[j]`` into ``table`` (in place; vectorised rounds:
    the pending terms whose slot is free are written there, one of those claiming the same
    slot keeps it, and the others move on to the next slot, as scalar insertions in some
    order would)."""
    mask = table.size - 1
    slot = h & mask
    ids = np.asarray(ids, np.int32)
    while ids.size:
        free = table[slot] < 0
        table[slot[free]] = ids[free]
        moving = table[slot] != ids
        slot = (slot[moving] + 1) & mask
        ids = ids[moving]


def _encoded(tokens: Sequence[str]) -> tuple[bytes, npt.NDArray[np.int64]]:
    """The UTF-8 concatenation of ``tokens`` and each one's length in bytes."""
    joined = "".join(tokens)
    if joined.isascii():
        return joined.encode("ascii"), np.fromiter(map(len, tokens), np.int64, len(tokens))
    parts = [t.encode(*_ENCODING) for t in tokens]
    return b"".join(parts), np.fromiter(map(len, parts), np.int64, len(parts))


class DuplicateTermError(ValueError):
    """A term given twice where terms must be unique (``Vocabulary.from_blob``)."""


class Vocabulary(Mapping[str, int]):
    """term -> term id (``0..len-1`` in the order terms were added); see the module's doc.

    Only the index's writer (under its lock) adds terms or merges; lookups may run
    concurrently from any thread. ``hasher`` is ``hash`` (tests pass one that collides).
    """

    __slots__ = ("_compact", "_frozen", "_hasher", "_merging", "_recent")

    def __init__(self, hasher: Hasher = hash) -> None:
        self._hasher = hasher
        self._compact = False
        self._frozen = _EMPTY
        self._recent = NextIdDict(0)
        self._merging = threading.Lock()

    # ------------------------------------------------------------------ construction

    @classmethod
    def of(cls, terms: Sequence[str], *, compact: bool, hasher: Hasher = hash) -> Vocabulary:
        """The vocabulary ``terms[t] -> t``; ``DuplicateTermError`` when a term repeats."""
        out = cls(hasher)
        if not compact:
            recent = out._recent
            recent.update(zip(terms, range(len(terms)), strict=False))
            if len(recent) != len(terms):
                raise DuplicateTermError("the vocabulary holds duplicate terms")
            return out
        raw, lens = _encoded(terms)
        offsets = np.zeros(len(terms) + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        return cls.from_blob(np.frombuffer(raw, np.uint8), offsets, compact=True, hasher=hasher)

    @classmethod
    def from_terms(cls, terms: Sequence[str], *, compact: bool) -> Vocabulary:
        """``of`` for any sequence of terms; a ``TermBlob`` is read from its bytes (no string
        per term kept)."""
        if isinstance(terms, TermBlob):
            return cls.from_blob(terms.data, terms.offsets, compact=compact)
        return cls.of(terms, compact=compact)

    @classmethod
    def from_blob(
        cls,
        data: npt.NDArray[np.uint8],
        offsets: npt.NDArray[np.int64],
        *,
        compact: bool,
        hasher: Hasher = hash,
    ) -> Vocabulary:
        """The vocabulary of the terms ``data[offsets[t]:offsets[t + 1]]`` (UTF-8), as a save
        writes them (offsets checked by the caller: from 0 to ``data.size``, ascending).
        ValueError when the bytes are not UTF-8 or a term split inside a character;
        ``DuplicateTermError`` when a term repeats."""
        raw = data.tobytes()
        n = int(offsets.size - 1)
        text = raw.decode(*_ENCODING)  # a bad blob fails here, naming the position
        starts = offsets[:-1]
        inner = starts[starts < data.size]
        if inner.size and bool(((data[inner] & 0xC0) == 0x80).any()):
            raise ValueError("a term boundary falls inside a UTF-8 character")
        if len(text) == len(raw):  # ASCII: characters are bytes
            terms: Sequence[str] = _Slices(text, offsets)
        else:
            terms = _Slices(raw, offsets, decode=True)
        if not compact:
            return cls.of(terms, compact=False, hasher=hasher)
        out = cls(hasher)
        h = np.fromiter(map(hasher, terms), np.int64, count=n)
        keys = np.sort(h)
        if bool((keys[1:] == keys[:-1]).any()):  # equal hashes: a collision, or a repeat
            order = np.argsort(h, kind="stable")
            keys = h[order]
            same = np.flatnonzero(keys[1:] == keys[:-1])
            seen: set[str] = set()
            for j in sorted({*same.tolist(), *(same + 1).tolist()}):
                term = terms[int(order[j])]
                if term in seen:  # equal terms hash equal: only runs need a look
                    raise DuplicateTermError("the vocabulary holds duplicate terms")
                seen.add(term)
        del keys
        offs = np.ascontiguousarray(offsets, np.int64)
        table = np.full(_capacity(n), -1, np.int32)
        _place(table, h, np.arange(n))
        out._compact = True
        out._frozen = _Frozen.of(raw, offs, table)
        out._recent = NextIdDict(n)
        return out

    # ------------------------------------------------------------------ Mapping

    def __len__(self) -> int:
        return self._frozen.size + len(self._recent)

    def __iter__(self) -> Iterator[str]:
        """The terms in term-id order."""
        recent = self._recent
        frozen = self._frozen
        yield from _Slices(frozen.raw, frozen.offsets, decode=True)
        yield from list(recent)

    def __getitem__(self, term: str) -> int:
        t = self._recent.get(term)
        if t is None:
            t = self._find(self._frozen, term)
            if t < 0:
                raise KeyError(term)
        return t

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def get(self, term: str, default: Any = None) -> Any:
        """The id of ``term`` (one scalar search), or ``default``."""
        t = self._recent.get(term)  # the dict before the arrays (see the module's doc)
        if t is not None:
            return t
        t = self._find(self._frozen, term)
        return default if t < 0 else t

    def dict_get(self) -> Callable[[str], int | None] | None:
        """The dict's ``get`` while the vocabulary is a dict (every term in it), else None."""
        recent = self._recent  # before the flag: ``compact`` sets it first
        return None if self._compact else recent.get

    @property
    def is_compact(self) -> bool:
        """Whether the terms are held in the arrays (``compact`` was called) or in a dict."""
        return self._compact

    def terms(self, n: int) -> list[str]:
        """Terms ``0..n-1`` in id order."""
        return list(islice(self, n))

    # ------------------------------------------------------------------ lookups

    def _find(self, frozen: _Frozen, term: str) -> int:
        """The id of ``term`` among the arrays' terms, or -1: its slot and the ones after it
        up to an empty one, each term found there compared byte for byte."""
        table = frozen.table_view
        if not len(table):
            return -1
        mask = len(table) - 1
        slot = self._hasher(term) & mask
        t = table[slot]
        if t < 0:
            return -1
        enc = term.encode(*_ENCODING)
        raw, offs = frozen.raw, frozen.offsets_view
        while t >= 0:
            if raw[offs[t] : offs[t + 1]] == enc:
                return int(t)
            slot = (slot + 1) & mask
            t = table[slot]
        return -1

    def id_list(self, tokens: Sequence[str]) -> list[int]:
        """``ids_of`` as a list: a few tokens (one query) are looked up one by one."""
        if len(tokens) >= _SCALAR_MAX and self._frozen.size:
            return self.ids_of(tokens).tolist()  # type: ignore[no-any-return]
        return self._one_by_one(tokens)

    def _one_by_one(self, tokens: Sequence[str]) -> list[int]:
        recent = self._recent  # the dict before the arrays (see the module's doc)
        frozen = self._frozen
        get = recent.get
        find = self._find
        return [t if (t := get(tok)) is not None else find(frozen, tok) for tok in tokens]

    def ids_of(self, tokens: Sequence[str]) -> npt.NDArray[np.int64]:
        """The id of each token, -1 for those not in the vocabulary."""
        n = len(tokens)
        if not self._frozen.size or n < _SCALAR_MAX:
            return np.array(self._one_by_one(tokens), np.int64)
        recent = self._recent  # the dict before the arrays (see the module's doc)
        frozen = self._frozen
        out = self._find_many(frozen, tokens)
        if recent:
            for j in np.flatnonzero(out < 0).tolist():
                t = recent.get(tokens[j])
                if t is not None:
                    out[j] = t
        return out

    def _find_many(self, frozen: _Frozen, tokens: Sequence[str]) -> npt.NDArray[np.int64]:
        """``_find`` of each token, vectorised (``_BLOCK`` tokens at a time, so a build's
        chunk of 100k+ distinct tokens needs little scratch)."""
        n = len(tokens)
        if n <= _BLOCK:
            return self._find_block(frozen, tokens)
        out = np.empty(n, np.int64)
        for lo in range(0, n, _BLOCK):
            out[lo : lo + _BLOCK] = self._find_block(frozen, tokens[lo : lo + _BLOCK])
        return out

    def _find_block(self, frozen: _Frozen, tokens: Sequence[str]) -> npt.NDArray[np.int64]:
        """``_find`` of each token, in vectorised probe rounds: every pending token's slot read
        at once and the bytes of every term found there compared at once; a token whose slot
        is empty is not in the vocabulary, one whose slot holds another term (a collision, a
        term displaced by one) moves on to the next slot. After ``_PROBE_ROUNDS`` rounds the
        few tokens left (long runs) are looked up one by one. Fewer than ``_ROUNDS_MIN`` tokens:
        ``_find_once`` (a round costs ~15 NumPy calls, more than a few scalar probes)."""
        n = len(tokens)
        if n < _ROUNDS_MIN:
            return self._find_once(frozen, tokens)
        table = frozen.table
        mask = table.size - 1
        slot = np.fromiter(map(self._hasher, tokens), np.int64, count=n) & mask
        raw, lens = _encoded(tokens)
        token_bytes = np.frombuffer(raw, np.uint8)
        starts = np.cumsum(lens) - lens
        out = np.full(n, -1, np.int64)
        todo = np.arange(n)
        for _ in range(_PROBE_ROUNDS):
            cand = table[slot].astype(np.int64)
            used = cand >= 0  # an empty slot ends the token's run: not found
            todo, slot, cand = todo[used], slot[used], cand[used]
            if not todo.size:
                return out
            ok = self._same_bytes(frozen, cand, starts[todo], lens[todo], token_bytes)
            out[todo[ok]] = cand[ok]
            todo, slot = todo[~ok], (slot[~ok] + 1) & mask
            if not todo.size:
                return out
        for j in todo.tolist():
            out[j] = self._find(frozen, tokens[j])
        return out

    def _find_once(self, frozen: _Frozen, tokens: Sequence[str]) -> npt.NDArray[np.int64]:
        """A small batch (queries): each token's own slot read at once and the bytes of every
        term found there compared at once; a token whose slot holds another term (a collision,
        or a term displaced by one) is looked up one by one."""
        n = len(tokens)
        table = frozen.table
        h = np.fromiter(map(self._hasher, tokens), np.int64, count=n)
        cand = table[h & (table.size - 1)].astype(np.int64)
        used = cand >= 0
        np.maximum(cand, 0, out=cand)
        raw, lens = _encoded(tokens)
        token_bytes = np.frombuffer(raw, np.uint8)
        ok = used & self._same_bytes(frozen, cand, np.cumsum(lens) - lens, lens, token_bytes)
        out = np.where(ok, cand, -1)
        for j in np.flatnonzero(used & ~ok).tolist():  # probe on from the next slot
            out[j] = self._find(frozen, tokens[j])
        return out

    @staticmethod
    def _same_bytes(
        frozen: _Frozen,
        cand: npt.NDArray[np.int64],
        starts: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
        token_bytes: npt.NDArray[np.uint8],
    ) -> npt.NDArray[np.bool_]:
        """Whether term ``cand[j]`` holds the bytes ``token_bytes[starts[j]:][:lens[j]]``."""
        lo = frozen.offsets[cand]
        ok: npt.NDArray[np.bool_] = frozen.offsets[cand + 1] - lo == lens
        check = np.flatnonzero(ok & (lens > 0))
        if check.size:
            sub_lens = lens[check]
            ends = np.cumsum(sub_lens)
            first = ends - sub_lens  # where each token's bytes start in the gathered run
            step = np.arange(int(ends[-1]))
            at_term = np.repeat(lo[check] - first, sub_lens) + step
            at_token = np.repeat(starts[check] - first, sub_lens) + step
            bad = np.flatnonzero(frozen.data[at_term] != token_bytes[at_token])
            if bad.size:
                ok[check[np.searchsorted(ends, bad, side="right")]] = False
        return ok

    # ------------------------------------------------------------------ writes

    def assigner(self) -> Callable[[str], int] | None:
        """``term -> id`` that gives a new term the next id, while the vocabulary is a dict
        (not compact); None once it is compact (use ``add_many``)."""
        return None if self.is_compact else self._recent.__getitem__

    def add_many(self, tokens: Sequence[str], *, merge: bool = False) -> npt.NDArray[np.int64]:
        """The ids of the distinct ``tokens``; those not in the vocabulary get the next ids, in
        their order. Then a compact vocabulary merges its dict into the arrays when it has
        grown too large, or at once with ``merge``."""
        out = self.ids_of(tokens)
        recent = self._recent
        for j in np.flatnonzero(out < 0).tolist():
            out[j] = recent[tokens[j]]
        big = len(recent) > max(_MERGE_MIN, self._frozen.size // _MERGE_FRACTION)
        if self._compact and (merge or big):
            self.compact()
        return out

    def compact(self) -> None:
        """Move the dict's terms into the arrays (new arrays: readers of the old ones are not
        disturbed). The first call turns a dict vocabulary compact."""
        with self._merging:
            self._compact = True  # first: a reader that sees the emptied dict sees this too
            recent = self._recent
            if not recent:
                return
            frozen = self._frozen
            terms = list(recent)
            raw, lens = _encoded(terms)
            offsets = np.empty(frozen.offsets.size + len(terms), np.int64)
            offsets[: frozen.offsets.size] = frozen.offsets
            np.cumsum(lens, out=offsets[frozen.offsets.size :])
            offsets[frozen.offsets.size :] += frozen.offsets[-1]
            h = np.fromiter(map(self._hasher, terms), np.int64, count=len(terms))
            n_all = frozen.size + len(terms)
            if _capacity(n_all) == frozen.table.size:  # room: the new terms into a copy
                table = frozen.table.copy()
                _place(table, h, np.arange(frozen.size, n_all))
            else:  # a table twice as large: every term placed again (rehashed from its bytes)
                table = np.full(_capacity(n_all), -1, np.int32)
                old = _Slices(frozen.raw, frozen.offsets, decode=True)
                _place(table, np.fromiter(map(self._hasher, old), np.int64, frozen.size),
                       np.arange(frozen.size))  # fmt: skip
                _place(table, h, np.arange(frozen.size, n_all))
            merged = _Frozen.of(frozen.raw + raw, offsets, table)
            self._frozen = merged  # before the dict is emptied (see the module's doc)
            self._recent = NextIdDict(merged.size)

    def nbytes(self) -> int:
        """Bytes held by the arrays (not counting the dict of recent terms)."""
        f = self._frozen
        return len(f.raw) + f.offsets.nbytes + f.table.nbytes


class _Strings(Sequence[str]):
    """A sequence of strings cut from one buffer: indexing (negative indices, slices, bounds)
    done once here, the cutting by ``_at``."""

    __slots__ = ()

    def _at(self, i: int) -> Any:
        raise NotImplementedError

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        return self._at(i % n)


class TermBlob(_Strings):
    """Terms as a save stores them: ``data[offsets[t]:offsets[t + 1]]`` is term t's UTF-8
    (read on demand: a load keeps no string per term)."""

    __slots__ = ("data", "offsets")

    def __init__(self, data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> None:
        self.data = data
        self.offsets = offsets

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def _at(self, i: int) -> str:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.data[lo:hi].tobytes().decode(*_ENCODING)

    def __iter__(self) -> Iterator[str]:
        return iter(_Slices(self.data.tobytes(), self.offsets, decode=True))


class _Slices(_Strings):
    """The strings ``text[offsets[t]:offsets[t + 1]]`` (``decode``: of bytes, as UTF-8)."""

    __slots__ = ("_decode", "_offsets", "_text")

    def __init__(self, text: str | bytes, offsets: npt.NDArray[np.int64], decode: bool = False):
        self._text = text
        self._offsets = np.ascontiguousarray(offsets, np.int64).data
        self._decode = decode

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _at(self, i: int) -> Any:
        offs = self._offsets
        part = self._text[offs[i] : offs[i + 1]]
        return part.decode(*_ENCODING) if self._decode else part  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[str]:
        offs = self._offsets.tolist()
        text = self._text
        if not self._decode:
            return map(text.__getitem__, map(slice, offs[:-1], offs[1:]))  # type: ignore[arg-type]
        raw = text if isinstance(text, bytes) else text.encode(*_ENCODING)
        if raw.isascii():
            whole = raw.decode("ascii")
            return map(whole.__getitem__, map(slice, offs[:-1], offs[1:]))
        return (raw[a:b].decode(*_ENCODING) for a, b in pairwise(offs))


__all__ = [
    "COMPACT_DOCS",
    "DuplicateTermError",
    "NextIdDict",
    "TermBlob",
    "Vocabulary",
]
