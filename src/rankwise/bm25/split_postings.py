"""Packed postings of at most 24 bits in 3 bytes each: a uint16 array of their low 16 bits
beside a uint8 array of their high 8.

A segment of up to 2^18 documents whose term frequencies fit in 6 bits (every segment a build
of short passages makes) needs 24 bits a posting, not 32: held this way its postings take
three quarters of the memory, which at 1M documents is ~48 MB of a ~300 MB build. The two
arrays are read side by side (contiguous, aligned loads), so the query kernels' vectorised
loops stay vectorised: ``value = lo | hi << 16``.

Only the segments of an index of ``SPLIT_MIN_DOCS`` documents or more are split: the second
load costs a query 2-5% below that (20k and 200k documents, the same postings as uint32 in one
process: heavy top-100 1.03-1.09x the time), where the postings are tens of MB, and nothing
measurable at 1M (0.98-1.03x), where a quarter of them is ~50 MB of a build's ~300. So an index
in the range of most retrieval corpora (up to ~500k passages) keeps the faster layout, and a
larger one the smaller; its first segments are split too when one batch makes it large.

``SplitPostings`` stands in for the uint32 array in the NumPy code of a build, a merge and a
save (indexing returns uint32 values, assignment splits them); the numba kernels read it
through ``post_value`` and ``post_run`` (overloaded in ``kernels.py`` for the ``(lo, hi)``
tuple ``kernel_form`` gives them), so one kernel source serves both layouts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: the widest packed value the split layout holds
MAX_BITS = 24
#: the fewest documents of an index whose new segments are split (2^19: 524,288)
SPLIT_MIN_DOCS = 1 << 19


class SplitPostings:
    """uint32 postings below 2^24 held as ``lo`` (uint16) and ``hi`` (uint8) arrays."""

    __slots__ = ("hi", "lo")
    ndim = 1
    dtype = np.dtype(np.uint32)  # the dtype of the values read (what the kernels compute in)

    def __init__(self, lo: npt.NDArray[np.uint16], hi: npt.NDArray[np.uint8]) -> None:
        if lo.shape != hi.shape or lo.dtype != np.uint16 or hi.dtype != np.uint8:
            raise ValueError("lo and hi must be uint16 and uint8 arrays of one shape")
        self.lo = lo
        self.hi = hi

    @classmethod
    def empty(cls, n: int) -> SplitPostings:
        return cls(np.empty(n, np.uint16), np.empty(n, np.uint8))

    @classmethod
    def of(cls, values: npt.NDArray[np.unsignedinteger]) -> SplitPostings:
        """The split copy of ``values`` (each below 2^24)."""
        out = cls.empty(int(values.size))
        out[:] = values
        return out

    @property
    def size(self) -> int:
        return int(self.lo.size)

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    @property
    def nbytes(self) -> int:
        return int(self.lo.nbytes + self.hi.nbytes)

    @property
    def flags(self) -> Any:
        """The flags of ``lo`` (both arrays are made, loaded and frozen together)."""
        return self.lo.flags

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: Any) -> Any:
        """uint32 values: a scalar for an int, a new array for a slice, mask or index array."""
        lo, hi = self.lo[key], self.hi[key]
        if isinstance(lo, np.ndarray):
            out = hi.astype(np.uint32)
            out <<= np.uint32(16)
            out |= lo
            return out
        return np.uint32(int(lo) | int(hi) << 16)

    def __setitem__(self, key: Any, values: Any) -> None:
        v = np.asarray(values)
        self.lo[key] = v.astype(np.uint16)  # the low 16 bits (unsigned casts wrap)
        self.hi[key] = (v >> v.dtype.type(16)).astype(np.uint8)

    def max(self) -> np.uint32:
        if not self.size:
            raise ValueError("max of empty postings")
        top = int(self.hi.max())
        return np.uint32(top << 16 | int(self.lo[self.hi == top].max()))

    def kernel_form(self) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint8]]:
        return self.lo, self.hi


def fits(n_docs: int, tf_bits: int) -> bool:
    """Whether a segment of ``n_docs`` documents with tfs of ``tf_bits`` bits packs in 24."""
    doc_bits = max(1, (max(n_docs, 1) - 1).bit_length())
    return doc_bits + tf_bits <= MAX_BITS


def kernel_form(post: Any) -> Any:
    """What the kernels take for ``post``: the array itself, or a split one's ``(lo, hi)``."""
    return post.kernel_form() if isinstance(post, SplitPostings) else post


def as_array(post: Any) -> Any:
    """``post`` as a NumPy array (a split one decoded into a new uint32 array)."""
    return post[:] if isinstance(post, SplitPostings) else post


def layout_key(post: Any) -> str:
    """One character per layout the kernels compile for: the dtype's, ``"S"`` for split."""
    return "S" if isinstance(post, SplitPostings) else str(post.dtype.char)


# What the kernels call to read postings; plain Python here (any array or SplitPostings), the
# compiled versions are registered in ``kernels.py`` (numba ``overload``) so that this module
# stays free of numba.


def post_value(post: Any, i: int) -> Any:
    """Posting ``i``'s packed value (or value ``i`` of a run from ``post_run``)."""
    return post[i]


def post_run(post: Any, a: int, b: int) -> Any:
    """Postings ``a..b-1`` as a run to read with ``post_value`` (views, no copy: a slice of an
    array, or a split one's pair of slices)."""
    return post[a:b]


def value_array(post: Any, n: int) -> Any:
    """A new array of ``n`` values of ``post``'s value dtype."""
    return np.empty(n, post.dtype)


__all__ = [
    "MAX_BITS",
    "SPLIT_MIN_DOCS",
    "SplitPostings",
    "as_array",
    "fits",
    "kernel_form",
    "layout_key",
    "post_run",
    "post_value",
    "value_array",
]
