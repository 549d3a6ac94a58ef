"""Fault injection for ``RankwiseBM25Retriever.persist``: crash at every write and rename.

Shared by the in-process test (the crash is a ``KeyboardInterrupt``) and a subprocess run as a
script (the crash is ``SIGKILL``: ``python _persist_faults.py WORKDIR`` forks one child per
crash point and prints a JSON report). Each crash point is the n-th call to ``open`` for
writing or to ``os.replace``/``os.rename``, either just before or just after the real call.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.retrievers.rankwise import RankwiseBM25Retriever

QUERIES = ["apple", "banana", "cherry", "date"]


def _node(node_id: str, text: str, doc: str) -> TextNode:
    return TextNode(
        id_=node_id,
        text=text,
        metadata={"doc": doc},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
    )


def old_retriever() -> RankwiseBM25Retriever:
    return RankwiseBM25Retriever(
        [
            _node("a", "apple apple banana", "doc-1"),
            _node("b", "banana cherry", "doc-1"),
            _node("c", "cherry apple", "doc-2"),
        ],
        similarity_top_k=3,
    )


def make_new(retriever: RankwiseBM25Retriever) -> None:
    """Turn the old state into the new one: a deletion, an insertion, a replacement."""
    retriever.delete(["a"])
    retriever.insert([_node("d", "date apple", "doc-3"), _node("b", "banana date", "doc-1")])
    retriever.similarity_top_k = 2


def state_of(retriever: RankwiseBM25Retriever) -> dict[str, Any]:
    """Everything that must be all-old or all-new after a load."""
    nodes = {n.node_id: (n.ref_doc_id, n.get_content()) for n in retriever.get_nodes()}
    return {
        "nodes": {k: list(v) for k, v in sorted(nodes.items())},
        "stored": len(retriever.store),
        "top_k": retriever.similarity_top_k,
        "hits": {
            q: [(h.node.node_id, round(float(h.score or 0), 6)) for h in retriever.retrieve(q)]
            for q in QUERIES
        },
    }


def loaded_state(folder: Path) -> dict[str, Any]:
    loaded = RankwiseBM25Retriever.from_persist_dir(folder)
    state = state_of(loaded)
    # the nodes and the index agree: every node is searchable, delete_ref_doc really deletes
    assert state["stored"] == len(state["nodes"]), state
    for doc in {ref for ref, _ in state["nodes"].values()}:
        expected = sum(ref == doc for ref, _ in state["nodes"].values())
        assert loaded.delete_ref_doc(doc) == expected, (doc, state)
    assert len(loaded.store) == 0
    return state


class Crash:
    """Counts writes and renames; runs ``action`` at the ``at``-th one (0: never)."""

    def __init__(
        self, at: int = 0, when: str = "before", action: Callable[[], None] | None = None
    ) -> None:
        self.at, self.when, self.count = at, when, 0
        self.action = action or _interrupt

    def _hit(self, real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        fire = self.count == self.at
        if fire and self.when == "before":
            self.action()
        result = real(*args, **kwargs)
        if fire and self.when == "after":
            self.action()
        return result

    @contextlib.contextmanager
    def installed(self) -> Iterator[Crash]:
        real_open, real_io_open = builtins.open, io.open
        real_replace, real_rename = os.replace, os.rename

        def writing(file: Any, mode: str) -> bool:
            # a folder opened for writing is an anonymous temporary file (numba's probe)
            anonymous = isinstance(file, (str, os.PathLike)) and os.path.isdir(file)
            return any(c in mode for c in "wax+") and not anonymous and not _cache_file(file)

        def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if writing(file, mode):
                return self._hit(real_open, file, mode, *args, **kwargs)
            return real_open(file, mode, *args, **kwargs)

        def fake_io_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if writing(file, mode):
                return self._hit(real_io_open, file, mode, *args, **kwargs)
            return real_io_open(file, mode, *args, **kwargs)

        builtins.open, io.open = fake_open, fake_io_open

        def move(real: Callable[..., Any]) -> Callable[..., Any]:
            def fake(src: Any, *a: Any, **k: Any) -> Any:
                if _cache_file(src):
                    return real(src, *a, **k)
                return self._hit(real, src, *a, **k)

            return fake

        os.replace = move(real_replace)  # type: ignore[assignment]
        os.rename = move(real_rename)  # type: ignore[assignment]
        try:
            yield self
        finally:
            builtins.open, io.open = real_open, real_io_open
            os.replace, os.rename = real_replace, real_rename


def _cache_file(target: Any) -> bool:
    """Not a file of the persist: numba's kernel cache (files in a ``__pycache__`` folder, and
    the anonymous temporary file it opens in that folder to probe it, when a kernel is first
    used in a process). These happen once per process, so counting them would shift the crash
    points between the counting run and the forked children."""
    return isinstance(target, (str, os.PathLike)) and "__pycache__" in Path(target).parts


def _interrupt() -> None:
    raise KeyboardInterrupt("injected crash")


def _sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def count_points(workdir: Path) -> int:
    """How many writes and renames one persist over an old state makes."""
    folder = workdir / "count"
    old_retriever().persist(folder)
    retriever = old_retriever()
    make_new(retriever)
    with Crash().installed() as crash:
        retriever.persist(folder)
    shutil.rmtree(folder)
    return crash.count


def main(workdir: Path) -> None:
    """SIGKILL at every crash point, each in a forked child; print a JSON report."""
    pristine = workdir / "pristine"
    old_retriever().persist(pristine)
    new = old_retriever()
    make_new(new)
    want_old = loaded_state(pristine)
    want_new = state_of(new)
    points = count_points(workdir)
    report: dict[str, Any] = {"points": points, "killed": 0, "outcomes": [], "errors": []}
    for at in range(1, points + 1):
        for when in ("before", "after"):
            folder = workdir / f"kill-{at}-{when}"
            shutil.copytree(pristine, folder)
            pid = os.fork()
            if pid == 0:  # child: persist the new state, killed at the crash point
                try:
                    with Crash(at, when, _sigkill).installed():
                        new.persist(folder)
                finally:
                    os._exit(0)
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                report["killed"] += 1
            try:
                state = loaded_state(folder)
                outcome = "old" if state == want_old else "new" if state == want_new else "mixed"
                new.persist(folder)  # the next persist succeeds and cleans up
                if loaded_state(folder) != want_new:
                    outcome += "+next-persist-wrong"
                leftovers = sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))
                if leftovers or len([p for p in folder.iterdir() if p.is_dir()]) != 1:
                    outcome += f"+leftovers:{sorted(p.name for p in folder.iterdir())}"
            except Exception as exc:  # reported, not raised: the test lists every failure
                outcome = f"error: {type(exc).__name__}: {exc}"
            report["outcomes"].append([at, when, outcome])
            shutil.rmtree(folder, ignore_errors=True)
    json.dump(report, sys.stdout)


def race(folder: Path, rounds: int, which: str) -> None:
    """Persist the old or the new state ``rounds`` times into ``folder`` (one of several racing
    processes); every load in between must be one of the two states."""
    retriever = old_retriever()
    if which == "new":
        make_new(retriever)
    other = old_retriever()
    if which == "old":
        make_new(other)
    allowed = [state_of(retriever), state_of(other)]
    for _ in range(rounds):
        retriever.persist(folder)
        state = loaded_state(folder)
        if state not in allowed:
            raise SystemExit(f"mixed state loaded: {state}")


if __name__ == "__main__":
    if sys.argv[1] == "race":
        race(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main(Path(sys.argv[1]))
