"""Fault injection for ``BM25Index.save``: every rename/replace, fsync, removal and file write
of a save is a numbered *fault point*; a test fires an action (raise KeyboardInterrupt, or
SIGKILL the process) at one chosen point."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from rankwise.bm25 import BM25Index, persistence


class _Writer:
    """A file proxy whose every ``write`` is a fault point (numpy writes through it too)."""

    def __init__(self, fh: BinaryIO, points: FaultPoints) -> None:
        self._fh = fh
        self._points = points

    def write(self, data: Any) -> int:
        self._points.hit("write")
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


class FaultPoints:
    """Counts the fault points a save passes; fires ``action`` at number ``fire_at`` (1-based)."""

    def __init__(self, fire_at: int | None = None, action: Callable[[], None] | None = None):
        self.fire_at = fire_at
        self.action = action
        self.count = 0
        self.kinds: list[str] = []

    def hit(self, kind: str) -> None:
        self.count += 1
        self.kinds.append(kind)
        if self.count == self.fire_at and self.action is not None:
            self.action()

    @contextmanager
    def installed(self) -> Iterator[FaultPoints]:
        with pytest.MonkeyPatch.context() as monkeypatch:
            self._install(monkeypatch)
            yield self

    def _install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def wrap(owner: Any, name: str) -> None:
            original = getattr(owner, name)

            def patched(*args: Any, **kwargs: Any) -> Any:
                self.hit(name)
                return original(*args, **kwargs)

            monkeypatch.setattr(owner, name, patched)

        for name in ("replace", "rename", "fsync", "unlink", "mkdir"):
            wrap(os, name)
        wrap(shutil, "rmtree")
        create = persistence._create

        def faulty_create(path: Path) -> Any:
            self.hit("open")
            return _Writer(create(path), self)

        monkeypatch.setattr(persistence, "_create", faulty_create)


def make(version: int, n: int = 12) -> BM25Index:
    """A small index whose content tells its version apart (texts, ids and metadata)."""
    ix = BM25Index(show_progress=False)
    ix.add(
        [f"common version{version} word{j} ünïcode" for j in range(n)],
        ids=[f"v{version}-{j}" for j in range(n)],
        metadatas=[{"version": version, "j": j, "tags": ["a", {"b": j}]} for j in range(n)],
    )
    return ix


def content(ix: BM25Index) -> tuple[Any, ...]:
    """Everything a user can read back: ids, texts, metadata, and a ranked search."""
    docs = tuple((h.id, h.text, repr(h.metadata)) for h in ix.get(ix.ids()))
    hits = tuple((h.id, round(h.score, 9)) for h in ix.search("common word3", k=5))
    return docs, hits


def own_entries(root: Path) -> set[str]:
    """What the folder holds besides the manifest, the live generation and the lock file."""
    from rankwise.bm25.persistence import LOCK_NAME, MANIFEST, _manifest_generation

    live = _manifest_generation(root / MANIFEST)
    return {p.name for p in root.iterdir()} - {MANIFEST, LOCK_NAME, str(live)}
