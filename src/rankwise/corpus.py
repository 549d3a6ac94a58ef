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
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise._checks import int_arg, json_metadata, positive_int, text_arg
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
        """The text to index: ``title + " " + text`` (see :func:`beir_text`)."""
        return beir_text(self.title, self.text)


def beir_text(title: str, text: str) -> str:
    """The text that is indexed for a titled document: ``title + " " + text``.

    This is the BEIR convention the peers' published figures use (Cranfield's text repeats its
    title, so the title counts twice there, as it does in those figures); an empty title gives
    the bare text. Every reader of the package (``index``, ``eval``, ``load_beir``) uses it.
    """
    title = title.strip()
    return f"{title} {text}".strip() if title else text


def _id_and_text(row: Mapping[str, Any], where: str, kind: str) -> tuple[Any, str]:
    """The raw ``_id``/``id`` and the ``text`` of a BEIR row (a document or a query), checked
    by the one rule both files follow."""
    raw_id = row.get("_id", row.get("id"))
    if raw_id is None or isinstance(raw_id, (dict, list, bool)) or str(raw_id) == "":
        raise CorpusError(f"{where}: missing {kind} id ('_id' or 'id')")
    text = row.get("text")
    if not isinstance(text, str):
        got = "missing" if text is None else f"a {type(text).__name__}"
        raise CorpusError(f"{where}: 'text' must be a string, it is {got}")
    return raw_id, text


def _document_from_row(row: Any, where: str) -> Document:
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(row).__name__}")
    raw_id, text = _id_and_text(row, where, "document")
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


def iter_jsonl_rows(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for each JSON object of a JSONL file; blank lines are skipped.

    ``where`` is ``"<file>: bad JSONL line <n>"``, the prefix of any error about that row.
    Lines that are not UTF-8, not JSON or not an object raise :class:`CorpusError`.
    """
    path = Path(path)
    if path.is_dir():
        raise CorpusError(f"{path} is a folder; expected a JSONL file")
    if not path.is_file():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}: bad JSONL line {lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CorpusError(f"{where}: not valid UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: {exc.msg} (column {exc.colno})") from None
            if not isinstance(row, dict):
                raise CorpusError(f"{where}: expected a JSON object, got {type(row).__name__}")
            _check_strings(row, where)
            yield where, row


def _check_strings(row: dict[str, Any], where: str) -> None:
    """Refuse lone surrogates (``"\\ud800"`` escapes) anywhere in a row, naming line and field."""
    for key, value in row.items():
        if key in ("_id", "id"):
            name = "id"
        elif key in ("text", "title", "metadata"):
            name = key
        else:  # other keys become metadata
            name = f"metadata[{key!r}]"
        _check_value(key, f"{name} key", where)
        _check_value(value, name, where)


def _check_value(value: Any, name: str, where: str) -> None:
    if isinstance(value, str):
        try:
            text_arg(value, name)
        except ValueError:
            raise CorpusError(
                f"{where}: {name} holds a lone surrogate (not valid Unicode text)"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(key, f"{name} key", where)
            _check_value(item, f"{name}[{key!r}]", where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{name}[{i}]", where)


def iter_jsonl(path: str | Path) -> Iterator[Document]:
    """Documents of a JSONL file, in file order; blank lines are skipped."""
    seen: set[str] = set()
    for where, row in iter_jsonl_rows(path):
        doc = _document_from_row(row, where)
        if doc.id in seen:
            raise CorpusError(f"{where}: duplicate document id {doc.id!r}")
        seen.add(doc.id)
        yield doc


def read_queries(path: str | Path) -> dict[str, str]:
    """Query id -> text of a BEIR ``queries.jsonl`` (``_id``/``id`` and ``text`` per line)."""
    queries: dict[str, str] = {}
    for where, row in iter_jsonl_rows(path):
        raw_id, text = _id_and_text(row, where, "query")
        qid = str(raw_id)
        if qid in queries:
            raise CorpusError(f"{where}: duplicate query id {qid!r}")
        queries[qid] = text
    return queries


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """Query id -> {document id: gain} of a BEIR qrels TSV (``query-id corpus-id score``).

    A header line is skipped; a line with fewer than three tab-separated fields or a score that
    is not a whole number raises :class:`CorpusError` naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    qrels: dict[str, dict[str, int]] = {}
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            where = f"{path}: bad qrels line {lineno}"
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise CorpusError(f"{where}: not valid UTF-8") from None
            if not line.strip():
                continue
            fields = line.split("\t")
            if lineno == 1 and fields[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(fields) < 3:
                raise CorpusError(
                    f"{where}: expected 3 tab-separated fields (query-id, corpus-id, score), "
                    f"got {len(fields)}"
                )
            qid, doc_id, score = fields[0].strip(), fields[1].strip(), fields[2].strip()
            if not qid or not doc_id:
                raise CorpusError(f"{where}: empty query id or corpus id")
            try:
                value = float(score)
            except ValueError:
                raise CorpusError(f"{where}: score {score!r} is not a number") from None
            if not value.is_integer():
                raise CorpusError(f"{where}: score {score!r} is not a whole number")
            qrels.setdefault(qid, {})[doc_id] = int(value)
    return qrels


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


# -- chunking ------------------------------------------------------------------------------
CHUNK_UNITS = ("chars", "tokens")
_CJK = "\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
#: A "word" for token counting: a CJK character alone, or a run of other non-space characters.
_WORD_RE = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")


@dataclass(frozen=True)
class Chunk:
    """A piece of a text: ``text == source[start:end]``."""

    text: str
    start: int
    end: int


def _check_chunk_args(size: object, overlap: object, unit: object) -> tuple[int, int]:
    size = positive_int(size, "size")
    overlap = int_arg(overlap, "overlap", minimum=0)
    if overlap >= size:
        raise ValueError(f"overlap must be smaller than size ({size}), got {overlap}")
    if unit not in CHUNK_UNITS:
        raise ValueError(f"unit must be 'chars' or 'tokens', got {unit!r}")
    return size, overlap


def chunk(
    text: str,
    size: int,
    overlap: int = 0,
    *,
    unit: str = "chars",
    analyzer: Any = "english",
) -> list[Chunk]:
    """Split ``text`` into pieces of at most ``size`` units that overlap by up to ``overlap``.

    ``unit="chars"`` counts characters and cuts at whitespace where it can (a word longer than
    ``size`` is split); ``unit="tokens"`` counts the tokens ``analyzer`` (a rankwise
    ``Analyzer``, a built-in name or Milvus ``analyzer_params``) indexes, so a chunk of 200
    tokens holds 200 indexed terms, and cuts between words (a word is a run of non-space
    characters, or one CJK character). Pieces never start or end with whitespace; their
    ``start``/``end`` are offsets into ``text``. Text without words gives no chunks.
    """
    text = text_arg(text, "text")
    size, overlap = _check_chunk_args(size, overlap, unit)
    if unit == "chars":
        return _char_chunks(text, size, overlap)
    from rankwise.bm25 import Analyzer

    tokens_of = Analyzer(analyzer).analyze
    return _token_chunks(text, size, overlap, tokens_of)


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


def _piece(text: str, start: int, end: int) -> Chunk:
    while end > start and text[end - 1].isspace():
        end -= 1
    return Chunk(text[start:end], start, end)


def _char_chunks(text: str, size: int, overlap: int) -> list[Chunk]:
    n = len(text)
    out: list[Chunk] = []
    start = _skip_space(text, 0)
    while start < n:
        end = min(start + size, n)
        if end < n and not text[end].isspace():  # the cut falls inside a word: back off
            cut = end
            while cut > start and not text[cut].isspace():
                cut -= 1
            if cut > start:
                end = cut
        out.append(_piece(text, start, end))
        if end >= n:
            break
        nxt = end - overlap if overlap else end
        if nxt <= start:
            nxt = end
        while nxt < end and not text[nxt - 1].isspace():  # start the overlap on a word
            nxt += 1
        start = _skip_space(text, nxt)
    return out


def _token_chunks(
    text: str, size: int, overlap: int, tokens_of: Callable[[str], list[str]]
) -> list[Chunk]:
    spans = [(m.start(), m.end()) for m in _WORD_RE.finditer(text)]
    seen: dict[str, int] = {}
    counts: list[int] = []
    for s, e in spans:
        word = text[s:e]
        count = seen.get(word)
        if count is None:
            count = seen[word] = len(tokens_of(word))
        counts.append(count)
    out: list[Chunk] = []
    n = len(spans)
    i = 0
    while i < n:
        j, total = i, 0
        while j < n and (j == i or total + counts[j] <= size):
            total += counts[j]
            j += 1
        out.append(Chunk(text[spans[i][0] : spans[j - 1][1]], spans[i][0], spans[j - 1][1]))
        if j >= n:
            break
        k, shared = j, 0
        if overlap:
            while k - 1 > i and shared + counts[k - 1] <= overlap:
                shared += counts[k - 1]
                k -= 1
        i = k
    return out


def chunk_documents(
    docs: Iterable[Document],
    size: int,
    overlap: int = 0,
    *,
    unit: str = "chars",
    analyzer: Any = "english",
    source: str | Callable[[Document], str] | None = None,
) -> list[Document]:
    """Each document's ``text`` cut by :func:`chunk` into documents ``<id>#<n>`` (n from 0).

    A chunk keeps its parent's title and metadata, plus ``parent_id``, ``chunk`` (n),
    ``char_start``/``char_end`` (offsets into the parent's ``text``) and, when ``source`` is
    given (a path, or a function of the document), ``source_path``. A document whose text has
    no words stays one chunk.
    """
    size, overlap = _check_chunk_args(size, overlap, unit)
    tokens_of: Callable[[str], list[str]] | None = None
    if unit == "tokens":
        from rankwise.bm25 import Analyzer

        tokens_of = Analyzer(analyzer).analyze
    out: list[Document] = []
    for doc in docs:
        if tokens_of is None:
            pieces = _char_chunks(doc.text, size, overlap)
        else:
            pieces = _token_chunks(doc.text, size, overlap, tokens_of)
        if not pieces:
            pieces = [Chunk(doc.text, 0, len(doc.text))]
        where = source(doc) if callable(source) else source
        for n, piece in enumerate(pieces):
            meta: Metadata = dict(doc.metadata)
            meta.update(
                {"parent_id": doc.id, "chunk": n, "char_start": piece.start, "char_end": piece.end}
            )
            if where is not None:
                meta["source_path"] = where
            out.append(
                Document(id=f"{doc.id}#{n}", text=piece.text, title=doc.title, metadata=meta)
            )
    return out


__all__ = [
    "CHUNK_UNITS",
    "Chunk",
    "CorpusError",
    "Document",
    "beir_text",
    "chunk",
    "chunk_documents",
    "detect_format",
    "iter_corpus",
    "iter_jsonl",
    "iter_jsonl_rows",
    "iter_text_folder",
    "read_corpus",
    "read_qrels",
    "read_queries",
]
