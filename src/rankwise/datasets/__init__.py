"""Small IR collections in BEIR layout: the bundled Cranfield set, or any BEIR folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.corpus import (
    CorpusError,
    _document_from_row,
    beir_text,
    iter_jsonl_rows,
    read_qrels,
    read_queries,
)

BUNDLED = ("cranfield",)


@dataclass
class BeirDataset:
    """A BEIR-format collection held in memory.

    ``corpus`` maps document id to ``{"title": ..., "text": ...}`` (plus any other fields),
    ``queries`` maps query id to text, ``qrels`` maps query id to ``{doc_id: gain}``.
    """

    name: str
    corpus: dict[str, dict[str, Any]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)

    def doc_ids(self) -> list[str]:
        return list(self.corpus)

    def doc_texts(self, with_title: bool = True) -> list[str]:
        """Document texts in corpus order, as ``title + " " + text`` (the BEIR convention).

        Cranfield's text repeats its title, so the title counts twice, as it does in the
        figures reported for bm25s, Milvus and the BEIR leaderboards; ``with_title=False``
        gives the bare text.
        """
        out = []
        for doc in self.corpus.values():
            text = str(doc.get("text") or "")
            title = str(doc.get("title") or "") if with_title else ""
            out.append(beir_text(title, text))
        return out

    def judged_queries(self) -> dict[str, str]:
        """The queries that have at least one relevance judgement."""
        return {qid: q for qid, q in self.queries.items() if self.qrels.get(qid)}

    def check_qrels(self) -> QrelsCheck:
        """The judgements that name a query or a document this dataset does not hold."""
        unknown_queries = [qid for qid in self.qrels if qid not in self.queries]
        unknown_docs: dict[str, None] = {}
        pairs = 0
        for rels in self.qrels.values():
            for doc_id in rels:
                if doc_id not in self.corpus:
                    unknown_docs.setdefault(doc_id)
                    pairs += 1
        return QrelsCheck(unknown_queries, list(unknown_docs), pairs)


@dataclass(frozen=True)
class QrelsCheck:
    """Query ids and document ids named in the qrels but absent from the dataset."""

    unknown_queries: list[str]
    unknown_docs: list[str]
    #: judgements (query, document) whose document is unknown
    unknown_doc_judgements: int = 0

    @property
    def ok(self) -> bool:
        return not self.unknown_queries and not self.unknown_docs

    def describe(self, examples: int = 3) -> str:
        """One sentence per problem, with counts and the first few ids."""

        def some(ids: list[str]) -> str:
            shown = ", ".join(repr(i) for i in ids[:examples])
            return shown + (", ..." if len(ids) > examples else "")

        parts = []
        if self.unknown_queries:
            n = len(self.unknown_queries)
            parts.append(
                f"{n} query id{'s' if n != 1 else ''} in the qrels {'are' if n != 1 else 'is'} "
                f"not in queries.jsonl ({some(self.unknown_queries)})"
            )
        if self.unknown_docs:
            n = len(self.unknown_docs)
            parts.append(
                f"{n} document id{'s' if n != 1 else ''} in the qrels "
                f"{'are' if n != 1 else 'is'} not in corpus.jsonl ({some(self.unknown_docs)}; "
                f"{self.unknown_doc_judgements} judgement"
                f"{'s' if self.unknown_doc_judgements != 1 else ''})"
            )
        return "; ".join(parts)


def bundled_path(name: str) -> Path:
    """Folder of a dataset shipped inside the package."""
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled dataset {name!r}; bundled: {', '.join(BUNDLED)}")
    return Path(__file__).resolve().parent / name


def load_beir(name_or_path: str | Path, split: str = "test") -> BeirDataset:
    """Load a bundled dataset by name (``"cranfield"``) or a BEIR folder from disk.

    The files are read by :mod:`rankwise.corpus` (the reader ``rankwise index`` uses too), so a
    malformed line raises :class:`~rankwise.corpus.CorpusError` naming the file and the line.
    """
    path = Path(name_or_path)
    if str(name_or_path) in BUNDLED and not path.exists():
        path = bundled_path(str(name_or_path))
    if path.is_file():
        raise CorpusError(
            f"{path} is a file; a dataset is a BEIR folder (corpus.jsonl, queries.jsonl, "
            f"qrels/{split}.tsv) or a bundled name ({', '.join(BUNDLED)})"
        )
    if not path.is_dir():
        raise FileNotFoundError(
            f"no such dataset folder: {path} (bundled datasets: {', '.join(BUNDLED)})"
        )
    corpus_file = path / "corpus.jsonl"
    if not corpus_file.is_file():
        raise FileNotFoundError(f"{path} is not a BEIR folder: corpus.jsonl is missing")
    corpus: dict[str, dict[str, Any]] = {}
    for where, row in iter_jsonl_rows(corpus_file):
        doc = _document_from_row(row, where)
        if doc.id in corpus:
            raise CorpusError(f"{where}: duplicate document id {doc.id!r}")
        corpus[doc.id] = {k: v for k, v in row.items() if k not in ("_id", "id")}
    queries_file = path / "queries.jsonl"
    queries = read_queries(queries_file) if queries_file.is_file() else {}
    qrels_file = path / "qrels" / f"{split}.tsv"
    qrels = read_qrels(qrels_file) if qrels_file.is_file() else {}
    return BeirDataset(name=path.name, corpus=corpus, queries=queries, qrels=qrels)


__all__ = ["BUNDLED", "BeirDataset", "CorpusError", "QrelsCheck", "bundled_path", "load_beir"]
