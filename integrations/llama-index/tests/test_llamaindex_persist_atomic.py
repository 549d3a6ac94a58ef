"""``RankwiseBM25Retriever.persist`` publishes one generation or nothing.

A crash (KeyboardInterrupt in-process, SIGKILL in a subprocess) at every file write and every
rename, just before or just after it, leaves a folder that loads the old or the new state —
never nodes of one and an index of the other — and the next persist succeeds and cleans up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _persist_faults import (
    Crash,
    count_points,
    loaded_state,
    make_new,
    old_retriever,
    state_of,
)
from llama_index.retrievers.rankwise import RankwiseBM25Retriever

HERE = Path(__file__).parent


def _only_one_generation(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    generations = [n for n in names if n.startswith("gen-")]
    assert len(generations) == 1, names
    assert not [n for n in names if n.endswith(".tmp")], names
    pointer = json.loads((folder / "retriever.json").read_text())
    assert pointer["generation"] == generations[0]


def test_persist_writes_one_generation_named_by_the_pointer(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    retriever = old_retriever()
    retriever.persist(folder)
    _only_one_generation(folder)
    first = json.loads((folder / "retriever.json").read_text())["generation"]
    make_new(retriever)
    retriever.persist(folder)
    _only_one_generation(folder)
    assert json.loads((folder / "retriever.json").read_text())["generation"] != first
    assert loaded_state(folder) == state_of(retriever)


def test_a_crash_at_every_write_and_rename_leaves_old_or_new(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    old_retriever().persist(pristine)
    want_old = loaded_state(pristine)
    new = old_retriever()
    make_new(new)
    want_new = state_of(new)
    assert want_old != want_new
    points = count_points(tmp_path)
    assert points >= 8  # the index's arrays, its manifest, nodes, settings, renames, pointer
    outcomes = set()
    for at in range(1, points + 1):
        for when in ("before", "after"):
            folder = tmp_path / f"crash-{at}-{when}"
            shutil.copytree(pristine, folder)
            with pytest.raises(KeyboardInterrupt), Crash(at, when).installed():
                new.persist(folder)
            state = loaded_state(folder)
            assert state in (want_old, want_new), (at, when, state)
            outcomes.add("old" if state == want_old else "new")
            new.persist(folder)
            assert loaded_state(folder) == want_new, (at, when)
            _only_one_generation(folder)
            shutil.rmtree(folder)
    assert outcomes == {"old", "new"}  # crashes landed on both sides of the switch


@pytest.mark.slow
def test_sigkill_at_every_write_and_rename_leaves_old_or_new(tmp_path: Path) -> None:
    if not hasattr(__import__("os"), "fork"):
        pytest.skip("needs os.fork")
    run = subprocess.run(
        [sys.executable, str(HERE / "_persist_faults.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=HERE,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["points"] >= 8
    assert report["killed"] == 2 * report["points"]
    bad = [o for o in report["outcomes"] if o[2] not in ("old", "new")]
    assert bad == []
    assert {o[2] for o in report["outcomes"]} == {"old", "new"}


def test_a_crashed_first_persist_leaves_nothing_loadable_and_is_cleaned(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    retriever = old_retriever()
    with pytest.raises(KeyboardInterrupt), Crash(4, "after").installed():
        retriever.persist(folder)
    with pytest.raises(ValueError, match="persist_dir"):
        RankwiseBM25Retriever.from_persist_dir(folder)
    retriever.persist(folder)
    _only_one_generation(folder)
    assert loaded_state(folder) == state_of(old_retriever())


def test_concurrent_persists_into_one_folder_are_serialised(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    writers = [old_retriever() for _ in range(4)]
    for i, retriever in enumerate(writers):
        if i % 2:
            make_new(retriever)
    states = [state_of(r) for r in writers]
    errors: list[BaseException] = []

    def work(retriever: RankwiseBM25Retriever) -> None:
        try:
            for _ in range(5):
                retriever.persist(folder)
                assert loaded_state(folder) in states
        except BaseException as exc:  # collected: a thread's assert must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert loaded_state(folder) in states
    _only_one_generation(folder)


@pytest.mark.slow
def test_concurrent_persists_from_two_processes_are_serialised(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    script = str(HERE / "_persist_faults.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, "race", str(folder), "8", which],
            cwd=HERE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for which in ("old", "new")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    assert loaded_state(folder) in (state_of(old_retriever()), state_of(_new()))
    _only_one_generation(folder)


def _new() -> RankwiseBM25Retriever:
    retriever = old_retriever()
    make_new(retriever)
    return retriever


def test_previous_layout_still_loads_and_the_next_persist_converts_it(tmp_path: Path) -> None:
    # The layout of version 1: retriever.json holds the settings, next to nodes.json and the
    # index folder, each replaced on its own.
    folder = tmp_path / "v1"
    retriever = old_retriever()
    retriever.persist(tmp_path / "v2")
    generation = json.loads((tmp_path / "v2" / "retriever.json").read_text())["generation"]
    shutil.copytree(tmp_path / "v2" / generation, folder)
    settings = json.loads((folder / "settings.json").read_text())
    (folder / "settings.json").unlink()
    (folder / "retriever.json").write_text(json.dumps({**settings, "version": 1}))
    assert loaded_state(folder) == state_of(retriever)
    make_new(retriever)
    retriever.persist(folder)
    _only_one_generation(folder)
    assert not (folder / "nodes.json").exists()
    assert not (folder / "bm25_index").exists()
    assert loaded_state(folder) == state_of(retriever)


def test_a_pointer_outside_the_folder_or_not_ours_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    old_retriever().persist(folder)
    pointer = json.loads((folder / "retriever.json").read_text())
    (tmp_path / "elsewhere").mkdir()
    for bad in ("../elsewhere", "gen-x/../../elsewhere", "/etc"):
        (folder / "retriever.json").write_text(json.dumps({**pointer, "generation": bad}))
        with pytest.raises(ValueError, match="not a generation folder"):
            RankwiseBM25Retriever.from_persist_dir(folder)
    (folder / "retriever.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="does not hold a RankwiseBM25Retriever"):
        old_retriever().persist(folder)  # never replaces what isn't ours
