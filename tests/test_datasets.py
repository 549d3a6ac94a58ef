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


# -- one BEIR reader (issue 13.7) --------------------------------------------------------------
def _beir(root: Path, corpus: str, queries: str = "", qrels: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (root / "queries.jsonl").write_text(queries, encoding="utf-8")
    if qrels is not None:
        (root / "qrels").mkdir(exist_ok=True)
        (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


def test_index_and_eval_read_the_same_texts() -> None:
    from rankwise.corpus import read_corpus

    ds = load_beir("cranfield")
    docs = read_corpus(bundled_path("cranfield"))
    assert [d.id for d in docs] == ds.doc_ids()
    assert [d.full_text for d in docs] == ds.doc_texts()


def test_malformed_files_raise_one_error_type_naming_file_and_line(tmp_path: Path) -> None:
    from rankwise.corpus import CorpusError

    good = '{"_id": "d1", "text": "x"}\n'
    root = _beir(tmp_path / "a", good + '{"_id": "d2"}\n')
    with pytest.raises(CorpusError, match=r"corpus\.jsonl: bad JSONL line 2: 'text'"):
        load_beir(root)
    root = _beir(tmp_path / "b", good, '{"_id": "q1", "text": "q"}\n[1]\n')
    with pytest.raises(CorpusError, match=r"queries\.jsonl: bad JSONL line 2: expected a JSON"):
        load_beir(root)
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\tbad\n"
    root = _beir(tmp_path / "c", good, '{"_id": "q1", "text": "q"}\n', qrels)
    with pytest.raises(CorpusError, match=r"test\.tsv: bad qrels line 3: score 'bad' is not a"):
        load_beir(root)
    root = _beir(tmp_path / "d", good, "", "q1\td1\n")
    with pytest.raises(CorpusError, match=r"bad qrels line 1: expected 3 tab-separated"):
        load_beir(root)
    root = _beir(tmp_path / "e", '{"_id": "d1", "text": "x\\ud800"}\n')
    with pytest.raises(CorpusError, match="line 1: text holds a lone surrogate"):
        load_beir(root)
    root = _beir(tmp_path / "f", good + '{"_id": "d1", "text": "y"}\n')
    with pytest.raises(CorpusError, match="line 2: duplicate document id 'd1'"):
        load_beir(root)


def test_a_file_given_for_the_dataset_folder_says_so(tmp_path: Path) -> None:
    from rankwise.corpus import CorpusError

    f = tmp_path / "corpus.jsonl"
    f.write_text('{"_id": "d1", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"corpus\.jsonl is a file; a dataset is a BEIR folder"):
        load_beir(f)


def test_check_qrels_counts_unknown_ids_with_examples(tmp_path: Path) -> None:
    corpus = "".join(json.dumps({"_id": f"d{i}", "text": "x"}) + "\n" for i in range(3))
    queries = '{"_id": "q1", "text": "a"}\n'
    qrels = "q1\td0\t1\nq1\tz1\t1\nq2\tz2\t1\nq3\td1\t1\nq1\tz3\t1\nq1\tz4\t1\n"
    ds = load_beir(_beir(tmp_path / "x", corpus, queries, qrels))
    check = ds.check_qrels()
    assert not check.ok
    assert check.unknown_queries == ["q2", "q3"]
    assert check.unknown_docs == ["z1", "z3", "z4", "z2"]
    text = check.describe()
    assert "2 query ids in the qrels are not in queries.jsonl ('q2', 'q3')" in text
    assert "4 document ids in the qrels are not in corpus.jsonl ('z1', 'z3', 'z4', ...; " in text
    assert load_beir("cranfield").check_qrels().ok
