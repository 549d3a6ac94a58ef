"""Where the peak RSS of a BM25Index build goes (issue 14's memory goal), one size per run.

    python benchmarks/bm25_build_memory.py --docs 1000000

Builds the sweep's corpus (``benchmarks/bm25_vs_peers.py``: same seed, same file, read the same
way, built by the rankwise peer's own ``build``) and prints the peak RSS above the corpus (the
high-water mark reset after reading it, as the sweep does), where in the build it was reached
(the Python stack sampled at the highest RSS seen), and what the finished index holds, part by
part, against the RSS the build added (the rest: the ids the caller made, the C heap's free
memory and allocator overhead). Linux only (``/proc``); the C heap line needs glibc.
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bm25_peers import rankwise as peer  # noqa: E402

MB = 2**20


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / MB


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))


class _Sampler(threading.Thread):
    """Samples the RSS every 2 ms and keeps the main thread's stack at the highest one."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = False
        self.best = 0.0
        self.where: list[str] = []
        self._main = threading.main_thread().ident

    def run(self) -> None:
        while not self.stop:
            rss = _rss_mb()
            if rss > self.best:
                frame = sys._current_frames().get(self._main or 0)
                self.best = rss
                self.where = traceback.format_stack(frame)[-4:] if frame else []
            time.sleep(0.002)


def _parts(ix: Any) -> dict[str, float]:
    """MB held by each part of a finished index (Python objects by ``sys.getsizeof``)."""
    st = ix._state
    segs = st.segments

    def nbytes(*arrays: np.ndarray) -> float:
        return sum(a.nbytes for a in arrays) / MB

    norm = st.cache.get("norm")
    vocab = ix._vocab
    metas = st.metas
    return {
        "postings (packed doc << shift | tf)": nbytes(*(s.post for s in segs)),
        "term pointers (ptr, bptr int32 per segment)": nbytes(
            *(a for s in segs for a in (s.ptr, s.bptr))
        ),
        "block bounds (blast, bmax, tmax)": nbytes(
            *(a for s in segs for a in (s.blast, s.bmax, s.tmax))
        ),
        "per document (doc_len, alive, norm) + df": nbytes(st.doc_len, st.alive, st.df)
        + (norm.nbytes / MB if norm is not None else 0.0),
        "ids column (list)": sys.getsizeof(st.ids) / MB,
        "id strings (the caller's, kept by the column)": sum(map(sys.getsizeof, st.ids)) / MB,
        "texts column (list; the texts are the caller's)": sys.getsizeof(st.texts._extra) / MB,
        "metadata column": (0.0 if metas.all_none else sys.getsizeof(metas._items) / MB),
        "vocabulary arrays (term bytes, offsets, hash table)": vocab.nbytes() / MB,
        "vocabulary dict (recent terms)": sys.getsizeof(vocab._recent) / MB,
        "vocabulary strings (in the dict)": sum(map(sys.getsizeof, vocab._recent)) / MB,
        "vocabulary int values (> 256)": sum(
            sys.getsizeof(v) for v in vocab._recent.values() if v > 256
        )
        / MB,
        "id map (hashed on the first lookup)": nbytes(*ix._id_to_int._frozen),
    }


#: the fields of glibc's ``struct mallinfo2``, in order
_MALLINFO2 = (
    "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
    "fordblks", "keepcost",
)  # fmt: skip


def _heap_line() -> str:
    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2]

    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return "C heap: mallinfo2 not available (not glibc)"
    fn.restype = MallInfo2
    m = fn()
    return (
        f"C heap: {m.arena / MB:.1f} MB (in use {m.uordblks / MB:.1f}, free {m.fordblks / MB:.1f}),"
        f" mmapped blocks {m.hblkhd / MB:.1f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bm25mem-") as tmp:
        # written by another process, as the sweep does: this one only reads it
        script = (
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.bm25_vs_peers import write_corpus_streamed as w; "
            "w(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))"
        )
        cmd = [sys.executable, "-c", script, str(ROOT), tmp, str(args.docs), str(args.seed)]
        subprocess.run(cmd, check=True)
        texts = (Path(tmp) / "corpus.txt").read_text(encoding="utf-8").split("\n")[: args.docs]
    corpus = _rss_mb()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak from here on (reading the file peaked higher)
    sampler = _Sampler()
    sampler.start()
    t0 = time.process_time()
    ix = peer.build(texts)
    cpu = time.process_time() - t0
    sampler.stop = True
    sampler.join()
    peak, after = _hwm_mb(), _rss_mb()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"{args.docs:,} documents, load average {load}")
    print(
        f"corpus RSS {corpus:,.0f} MB; build peak {peak:,.0f} MB (+{peak - corpus:,.0f}), after "
        f"the build {after:,.0f} MB (+{after - corpus:,.0f}); build {cpu:.1f} s CPU"
    )
    print(f"highest sampled RSS {sampler.best:,.0f} MB, reached in:")
    print("".join(sampler.where).rstrip())
    parts = _parts(ix)
    print("\n| what the finished index holds | MB |\n|---|---|")
    for name, mb in parts.items():
        print(f"| {name} | {mb:,.1f} |")
    held = sum(parts.values())
    print(f"| sum | {held:,.1f} |")
    print(f"| RSS the build left above the corpus | {after - corpus:,.1f} |")
    print(_heap_line())


if __name__ == "__main__":
    main()
