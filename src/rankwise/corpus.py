"""Read a document collection from disk: a BEIR folder, a JSONL file or a folder of text files.

- BEIR folder: a directory holding ``corpus.jsonl`` (``_id``, ``title``, ``text``).
- JSONL file: one JSON object per line with ``_id`` or ``id``, ``text``, optional ``title``,
  an optional ``metadata`` object; any other field is kept as metadata too.
- Folder of ``.txt`` / ``.md`` files (searched recursively): the id is the path relative to the
  folder, the text is the file's content, ``metadata["path"]`` the relative path.

Malformed input raises :class:`CorpusError` (a ``ValueError``) whose message names the file
and, for JSONL, the line: ``corpus.jsonl: bad JSONL line 3: ...``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise._checks import json_metadata, text_arg
from rankwise.types import Metadata

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class CorpusError(ValueError):
    """The corpus cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Document:
    """One document of a corpus."""

    id: str
    text: str
    title: str = ""
    metadata: Metadata = field(default_factory=dict)

    @property
    def full_text(self) -> str:
        """The text to index: the title on its own line first, unless the text repeats it."""
        title = self.title.strip()
        if title and not self.text.lstrip().lower().startswith(title.lower()):
            return f"{title}\n{self.text}"
        return self.text


def _document_from_row(row: Any, where: str) -> Document:
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(row).__name__}")
    raw_id = row.get("_id", row.get("id"))
    if raw_id is None or isinstance(raw_id, (dict, list, bool)) or str(raw_id) == "":
        raise CorpusError(f"{where}: missing document id ('_id' or 'id')")
    text = row.get("text")
    if not isinstance(text, str):
        got = "missing" if text is None else f"a {type(text).__name__}"
        raise CorpusError(f"{where}: 'text' must be a string, it is {got}")
    title = row.get("title") or ""
    if not isinstance(title, str):
        raise CorpusError(f"{where}: 'title' must be a string, got {type(title).__name__}")
    metadata: Metadata = {}
    nested = row.get("metadata")
    if nested is not None:
        if not isinstance(nested, dict):
            raise CorpusError(f"{where}: 'metadata' must be an object")
        metadata.update(nested)
    for key, value in row.items():
        if key not in ("_id", "id", "text", "title", "metadata"):
            metadata[key] = value
    if title:
        metadata.setdefault("title", title)
    # JSON escapes can spell lone surrogates ("\ud800") and NaN: the shared text and
    # metadata rules refuse them here, naming the line, instead of at indexing or search
    try:
        doc_id = text_arg(str(raw_id), "id")
        text_arg(text, "text")
        text_arg(title, "title")
        metadata = json_metadata(metadata)
    except (TypeError, ValueError) as exc:
        raise CorpusError(f"{where}: {exc}") from None
    return Document(id=doc_id, text=text, title=title, metadata=metadata)


def iter_jsonl(path: str | Path) -> Iterator[Document]:
    """Documents of a JSONL file, in file order; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    seen: set[str] = set()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CorpusError(f"{path}: bad JSONL line {lineno}: not valid UTF-8") from None
            if not line.strip():
                continue
            where = f"{path}: bad JSONL line {lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: {exc.msg} (column {exc.colno})") from None
            doc = _document_from_row(row, where)
            if doc.id in seen:
                raise CorpusError(f"{where}: duplicate document id {doc.id!r}")
            seen.add(doc.id)
            yield doc


def iter_text_folder(path: str | Path) -> Iterator[Document]:
    """Documents from every ``.txt`` / ``.md`` file under ``path``, sorted by relative path."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    for file in files:
        rel = file.relative_to(root).as_posix()
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CorpusError(f"{file}: not valid UTF-8 text") from None
        yield Document(id=rel, text=text, metadata={"path": rel})


def detect_format(path: str | Path) -> str:
    """``"beir"``, ``"jsonl"`` or ``"text-folder"`` for an existing path."""
    p = Path(path)
    if p.is_dir():
        return "beir" if (p / "corpus.jsonl").is_file() else "text-folder"
    if p.is_file():
        if p.suffix.lower() in JSONL_SUFFIXES:
            return "jsonl"
        raise CorpusError(
            f"{p}: unsupported corpus file; give a .jsonl file, a BEIR folder or a folder "
            "of .txt/.md files"
        )
    raise FileNotFoundError(f"no such file or folder: {p}")


def iter_corpus(path: str | Path) -> Iterator[Document]:
    """Documents of a corpus in any supported layout (see the module docstring)."""
    fmt = detect_format(path)
    if fmt == "beir":
        return iter_jsonl(Path(path) / "corpus.jsonl")
    if fmt == "jsonl":
        return iter_jsonl(path)
    return iter_text_folder(path)


def read_corpus(path: str | Path) -> list[Document]:
    """All documents of a corpus; an empty corpus is an error."""
    docs = list(iter_corpus(path))
    if not docs:
        raise CorpusError(f"{path}: the corpus has no documents")
    return docs


__all__ = [
    "CorpusError",
    "Document",
    "detect_format",
    "iter_corpus",
    "iter_jsonl",
    "iter_text_folder",
    "read_corpus",
]
