"""Corpus readers: BEIR folder, JSONL, folder of text files, and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwise.corpus import (
    CorpusError,
    Document,
    detect_format,
    iter_corpus,
    read_corpus,
)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_ids_title_metadata(tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "docs.jsonl",
        [
            {"_id": "d1", "title": "Wings", "text": "lift and drag", "metadata": {"year": 1956}},
            {"id": 7, "text": "boundary layer", "source": "nasa"},
        ],
    )
    docs = read_corpus(f)
    assert [d.id for d in docs] == ["d1", "7"]
    assert docs[0].title == "Wings"
    assert docs[0].metadata == {"year": 1956, "title": "Wings"}
    assert docs[0].full_text == "Wings lift and drag"
    assert docs[1].metadata == {"source": "nasa"}
    assert docs[1].full_text == "boundary layer"


def test_full_text_is_title_space_text_as_the_readme_and_load_beir_say() -> None:
    # the README's convention (title + " " + text) even when the text repeats the title,
    # exactly as load_beir's doc_texts gives it: index and eval see one text
    d = Document(
        id="1", text="Wings in a slipstream. An experiment", title="wings in a slipstream."
    )
    assert d.full_text == "wings in a slipstream. Wings in a slipstream. An experiment"
    assert Document(id="2", text="x", title="  ").full_text == "x"


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text('{"id": "a", "text": "x"}\n\n   \n{"id": "b", "text": "y"}\n', encoding="utf-8")
    assert [d.id for d in read_corpus(f)] == ["a", "b"]


@pytest.mark.parametrize(
    ("line3", "reason"),
    [
        ('{"id": "c", "text": ', "bad JSONL line 3: Expecting value"),
        ('["not", "an", "object"]', "bad JSONL line 3: expected a JSON object"),
        ('{"text": "no id"}', "bad JSONL line 3: missing document id"),
        ('{"id": "c"}', "bad JSONL line 3: 'text' must be a string, it is missing"),
        ('{"id": "c", "text": 5}', "bad JSONL line 3: 'text' must be a string, it is a int"),
        ('{"id": "a", "text": "dup"}', "bad JSONL line 3: duplicate document id 'a'"),
        ('{"id": "c", "text": "t", "metadata": 3}', "bad JSONL line 3: 'metadata' must be"),
    ],
)
def test_bad_jsonl_line_is_named(tmp_path: Path, line3: str, reason: str) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text(
        '{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n' + line3 + "\n", encoding="utf-8"
    )
    with pytest.raises(CorpusError) as info:
        read_corpus(f)
    assert str(info.value).startswith(f"{f}: ")
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


def test_invalid_utf8_is_a_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "c.jsonl"
    f.write_bytes(b'{"id": "a", "text": "x"}\n{"id": "b", "text": "\xff\xfe"}\n')
    with pytest.raises(CorpusError, match="bad JSONL line 2: not valid UTF-8"):
        read_corpus(f)


def test_beir_folder(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "corpus.jsonl", [{"_id": "1", "title": "T", "text": "body"}])
    assert detect_format(tmp_path) == "beir"
    (doc,) = read_corpus(tmp_path)
    assert (doc.id, doc.title, doc.text) == ("1", "T", "body")


def test_bundled_cranfield_reads_as_beir() -> None:
    from rankwise.datasets import bundled_path

    docs = list(iter_corpus(bundled_path("cranfield")))
    assert len(docs) == 1400
    assert docs[0].id == "1"


def test_text_folder_recursive_sorted(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.md").write_text("# Bee\nbuzz", encoding="utf-8")
    (tmp_path / "a.txt").write_text("alpha", encoding="utf-8")
    (tmp_path / "sub" / "c.TXT").write_text("gamma", encoding="utf-8")
    (tmp_path / "skip.json").write_text("{}", encoding="utf-8")
    assert detect_format(tmp_path) == "text-folder"
    docs = read_corpus(tmp_path)
    assert [d.id for d in docs] == ["a.txt", "b.md", "sub/c.TXT"]
    assert docs[1].text == "# Bee\nbuzz"
    assert docs[2].metadata == {"path": "sub/c.TXT"}


def test_missing_path_and_unsupported_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        read_corpus(tmp_path / "nope.jsonl")
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="unsupported corpus file"):
        read_corpus(csv)


def test_empty_corpus_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no documents"):
        read_corpus(tmp_path)
