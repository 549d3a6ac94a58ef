"""Small IR collections in BEIR layout: the bundled Cranfield set, or any BEIR folder."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
            title = str(doc.get("title") or "").strip() if with_title else ""
            out.append(f"{title} {text}".strip() if title else text)
        return out

    def judged_queries(self) -> dict[str, str]:
        """The queries that have at least one relevance judgement."""
        return {qid: q for qid, q in self.queries.items() if self.qrels.get(qid)}


def bundled_path(name: str) -> Path:
    """Folder of a dataset shipped inside the package."""
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled dataset {name!r}; bundled: {', '.join(BUNDLED)}")
    return Path(__file__).resolve().parent / name


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: bad JSON on line {lineno}: {exc.msg}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}: line {lineno} is not a JSON object")
            rows.append(row)
    return rows


def load_beir(name_or_path: str | Path, split: str = "test") -> BeirDataset:
    """Load a bundled dataset by name (``"cranfield"``) or a BEIR folder from disk."""
    path = Path(name_or_path)
    if str(name_or_path) in BUNDLED and not path.exists():
        path = bundled_path(str(name_or_path))
    if not path.is_dir():
        raise FileNotFoundError(f"no such dataset folder: {path}")
    corpus_file = path / "corpus.jsonl"
    if not corpus_file.is_file():
        raise FileNotFoundError(f"{path} is not a BEIR folder: corpus.jsonl is missing")
    corpus: dict[str, dict[str, Any]] = {}
    for row in _read_jsonl(corpus_file):
        doc_id = str(row.get("_id", row.get("id", "")))
        corpus[doc_id] = {k: v for k, v in row.items() if k not in ("_id", "id")}
    queries: dict[str, str] = {}
    queries_file = path / "queries.jsonl"
    if queries_file.is_file():
        for row in _read_jsonl(queries_file):
            queries[str(row.get("_id", row.get("id", "")))] = str(row.get("text", ""))
    qrels: dict[str, dict[str, int]] = {}
    qrels_file = path / "qrels" / f"{split}.tsv"
    if qrels_file.is_file():
        with qrels_file.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            for fields in reader:
                if len(fields) < 3 or fields[0] == "query-id":
                    continue
                qrels.setdefault(fields[0], {})[fields[1]] = int(float(fields[2]))
    return BeirDataset(name=path.name, corpus=corpus, queries=queries, qrels=qrels)


__all__ = ["BUNDLED", "BeirDataset", "bundled_path", "load_beir"]
