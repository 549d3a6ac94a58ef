"""A save interrupted at any rename/replace, fsync, removal or file write leaves the folder
loading the old or the new index, and the next save succeeds and leaves no debris."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from rankwise.bm25 import BM25Index
from rankwise.bm25.persistence import LOCK_NAME, MANIFEST
from tests.guarantees._faults import FaultPoints, content, make, own_entries

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _interrupt() -> None:
    raise KeyboardInterrupt


def _seed(tmp_path: Path, old: BM25Index | None, new: BM25Index) -> tuple[Path, FaultPoints]:
    """The folder each crash starts from (``old`` saved, or empty), and the fault points that
    saving ``new`` over it passes."""
    seed = tmp_path / "seed"
    seed.mkdir()
    if old is not None:
        old.save(seed)
    probe = tmp_path / "probe"
    shutil.copytree(seed, probe)
    points = FaultPoints()
    with points.installed():
        new.save(probe)
    return seed, points


def _loads(root: Path) -> object:
    """The content the folder loads, or None when it is not an index yet (first save)."""
    if not (root / MANIFEST).exists():
        return None
    return content(BM25Index.load(root))


def _check_next_save(root: Path, newer: BM25Index) -> None:
    newer.save(root)
    assert content(BM25Index.load(root)) == content(newer)
    assert own_entries(root) == set(), "leftovers of the interrupted save were not removed"


@pytest.mark.parametrize("first_save", [False, True], ids=["over-an-index", "empty-folder"])
def test_keyboard_interrupt_at_every_save_point_keeps_old_or_new(
    tmp_path: Path, first_save: bool
) -> None:
    old, new, newer = make(1), make(2), make(3)
    seed, points = _seed(tmp_path, None if first_save else old, new)
    assert {"open", "write", "fsync", "rename", "replace"} <= set(points.kinds)
    allowed = {None if first_save else content(old): "old", content(new): "new"}
    seen: set[str] = set()
    for point in range(1, points.count + 1):
        root = tmp_path / f"point{point}"
        shutil.copytree(seed, root)
        fp = FaultPoints(point, _interrupt)
        with fp.installed(), pytest.raises(KeyboardInterrupt):
            new.save(root)
        got = _loads(root)
        assert got in allowed, f"point {point} ({points.kinds[point - 1]}): mixed state"
        seen.add(allowed[got])
        _check_next_save(root, newer)
        shutil.rmtree(root)
    assert seen == {"old", "new"}, "the crash points should fall on both sides of the switch"


def _save_killed_at(ix: BM25Index, root: Path, point: int) -> int:
    """Save in a forked child that SIGKILLs itself at ``point``; returns the wait status."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            fp = FaultPoints(point, lambda: os.kill(os.getpid(), signal.SIGKILL))
            with fp.installed():
                ix.save(root)
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


@needs_fork
@pytest.mark.parametrize("first_save", [False, True], ids=["over-an-index", "empty-folder"])
def test_sigkill_at_every_save_point_keeps_old_or_new(tmp_path: Path, first_save: bool) -> None:
    old, new, newer = make(1), make(2), make(3)
    seed, points = _seed(tmp_path, None if first_save else old, new)
    n_points = points.count
    allowed = {None if first_save else content(old), content(new)}
    for point in range(1, n_points + 1):
        root = tmp_path / f"point{point}"
        shutil.copytree(seed, root)
        status = _save_killed_at(new, root, point)
        assert os.WIFSIGNALED(status), status
        assert os.WTERMSIG(status) == signal.SIGKILL
        assert _loads(root) in allowed, f"point {point}: mixed state after kill -9"
        _check_next_save(root, newer)
        shutil.rmtree(root)


_KILL_FIRST_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from rankwise.bm25 import BM25Index

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = die  # the manifest switch: the generation and the manifest temp are written
    ix = BM25Index(show_progress=False)
    ix.add(["alpha beta", "beta gamma"], ids=["a", "b"])
    ix.save(sys.argv[1])
    """
)


@pytest.mark.skipif(os.name != "posix", reason="kill -9 is a POSIX signal")
def test_kill_9_during_first_save_does_not_block_later_saves(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    root.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_FIRST_SAVE, str(root)], capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert any(p.name.startswith(f"{MANIFEST}.") for p in root.iterdir()), "no leftover made"
    ix = make(2)
    ix.save(root)
    assert content(BM25Index.load(root)) == content(ix)
    assert own_entries(root) == set()


def test_clean_up_keeps_what_a_save_did_not_create(tmp_path: Path) -> None:
    root = tmp_path / "ix"
    make(1).save(root)
    keep = ["gen-notes", "gen-0123.tmp", "manifest.json.bak", "README.txt"]
    for name in keep:
        (root / name).write_text("mine")
    (root / "gen-mine").mkdir()
    make(2).save(root)
    for name in keep:
        assert (root / name).read_text() == "mine"
    assert (root / "gen-mine").is_dir()
    assert {p.name for p in root.iterdir()} >= {MANIFEST, LOCK_NAME}
