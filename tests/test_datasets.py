from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwise.datasets import bundled_path, load_beir


def test_bundled_cranfield_loads_by_name() -> None:
    ds = load_beir("cranfield")
    assert len(ds.corpus) == 1400
    assert len(ds.queries) == 225
    assert sum(len(v) for v in ds.qrels.values()) == 1612
    assert set(ds.judged_queries()) == set(ds.qrels)
    # every judged document exists in the corpus
    assert all(doc in ds.corpus for rels in ds.qrels.values() for doc in rels)
    assert (bundled_path("cranfield") / "README.md").is_file()


def test_doc_texts_follow_the_beir_title_convention(tmp_path: Path) -> None:
    rows = [
        {"_id": "a", "title": "Wings", "text": "wings of a plane"},
        {"_id": "b", "title": "Flow", "text": "laminar boundary layer"},
    ]
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    ds = load_beir(tmp_path)
    assert ds.doc_texts() == ["Wings wings of a plane", "Flow laminar boundary layer"]
    assert ds.doc_texts(with_title=False) == ["wings of a plane", "laminar boundary layer"]
    assert ds.queries == {}
    assert ds.qrels == {}


def test_bad_folders_and_lines_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such dataset"):
        load_beir(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"corpus\.jsonl"):
        load_beir(tmp_path)
    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "text": "ok"}\n{broken\n')
    with pytest.raises(ValueError, match="line 2"):
        load_beir(tmp_path)
    with pytest.raises(ValueError, match="unknown bundled dataset"):
        bundled_path("msmarco")
