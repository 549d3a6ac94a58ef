"""A tiny corpus in every supported layout, and a tiny BEIR dataset with judgements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DOCS = [
    {
        "_id": "d1",
        "title": "Wings",
        "text": "The lift of a swept wing in a propeller slipstream.",
        "metadata": {"year": 1956},
    },
    {"_id": "d2", "text": "Boundary layer transition on a flat plate at supersonic speed."},
    {"_id": "d3", "text": "Heat transfer in hypersonic flow around a blunt body."},
    {"_id": "d4", "text": "We are loving Milvus! Information retrieval with BM25."},
    {"_id": "d5", "text": "Shock waves and pressure distribution on an airfoil."},
    {"_id": "d6", "text": "The Dartmouth conference of 1956 started artificial intelligence."},
]
QUERIES = [
    {"_id": "q1", "text": "lift of swept wings"},
    {"_id": "q2", "text": "heat transfer in hypersonic flow"},
    {"_id": "q3", "text": "who loves milvus"},
    {"_id": "q4", "text": "no judgement for this query"},
]
QRELS = [("q1", "d1", 2), ("q1", "d5", 1), ("q2", "d3", 1), ("q3", "d4", 1)]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def jsonl_corpus(tmp_path: Path) -> Path:
    return _write_jsonl(tmp_path / "docs.jsonl", DOCS)


@pytest.fixture
def beir_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "tinybeir"
    (root / "qrels").mkdir(parents=True)
    _write_jsonl(root / "corpus.jsonl", DOCS)
    _write_jsonl(root / "queries.jsonl", QUERIES)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, d, g in QRELS]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def text_folder(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    for doc in DOCS:
        (root / f"{doc['_id']}.md").write_text(str(doc["text"]), encoding="utf-8")
    return root
