"""The persisted layout of ``RankwiseBM25Retriever``: generation folders behind one pointer.

``retriever.json`` names the live ``gen-<hex>/`` folder (settings, nodes, embedded index);
a persist writes a new generation and switches the pointer with one ``os.replace``. These
helpers read and check that layout and clean up what an interrupted persist left.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

#: The pointer: names the live generation folder (version 1: the settings themselves).
CONFIG_FILE = "retriever.json"
#: Inside a generation folder: the settings, the nodes and the embedded index.
SETTINGS_FILE = "settings.json"
NODES_FILE = "nodes.json"
INDEX_DIR = "bm25_index"
LOCK_FILE = ".retriever.lock"
GEN_PREFIX = "gen-"
TMP_SUFFIX = ".tmp"
FORMAT = "llama-index-rankwise/bm25-retriever"
FORMAT_VERSION = 2
GENERATION = re.compile(r"gen-[0-9a-f]{32}")
LOAD_ATTEMPTS = 5


def persist_lock(path: Path) -> Any:
    from filelock import FileLock

    return FileLock(str(path / LOCK_FILE))


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. platforms that can't open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_durably(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_pointer(path: Path) -> dict[str, Any]:
    """The checked ``retriever.json`` of ``path`` (ValueError naming what is wrong)."""
    pointer_path = path / CONFIG_FILE
    if not pointer_path.is_file():
        raise ValueError(f"persist_dir {str(path)!r} has no {CONFIG_FILE}")
    try:
        pointer = read_json(pointer_path)
    except ValueError as exc:
        raise ValueError(
            f"persist_dir {str(path)!r}: {CONFIG_FILE} is unreadable ({exc})"
        ) from None
    if not isinstance(pointer, dict) or pointer.get("format") != FORMAT:
        raise ValueError(f"persist_dir {str(path)!r} does not hold a RankwiseBM25Retriever")
    if pointer.get("version") not in (1, FORMAT_VERSION):
        raise ValueError(f"unsupported persisted format version {pointer.get('version')!r}")
    return pointer


def generation_dir(path: Path, pointer: dict[str, Any]) -> Path:
    """The folder holding the settings, nodes and index the pointer names, inside ``path``."""
    if pointer["version"] == 1:  # the previous layout: everything next to retriever.json
        return path
    generation = pointer.get("generation")
    if not isinstance(generation, str) or not GENERATION.fullmatch(generation):
        raise ValueError(
            f"persist_dir {str(path)!r}: {CONFIG_FILE} names {generation!r}, "
            "not a generation folder of this directory"
        )
    data_dir = path / generation
    if not data_dir.is_dir():
        raise FileNotFoundError(f"persist_dir {str(path)!r} lacks its generation {generation}")
    return data_dir


def remove_unreferenced(path: Path) -> None:
    """Remove the generations, staging folders and temporary files no pointer names.

    Runs under the persist lock, so nothing found here is being written by another persist.
    """
    try:
        pointer: dict[str, Any] | None = read_pointer(path)
    except ValueError:
        pointer = None
    live = pointer.get("generation") if pointer is not None else None
    legacy_superseded = pointer is not None and pointer["version"] != 1
    for entry in path.iterdir():
        name = entry.name
        ours = (
            GENERATION.fullmatch(name.removesuffix(TMP_SUFFIX)) is not None
            or (name.startswith(f"{CONFIG_FILE}.") and name.endswith(TMP_SUFFIX))
            or name in (f"{NODES_FILE}{TMP_SUFFIX}", f"{CONFIG_FILE}{TMP_SUFFIX}")
            or (legacy_superseded and name in (NODES_FILE, INDEX_DIR))
        )
        if not ours or name == live:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
