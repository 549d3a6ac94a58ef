"""Corpus readers: BEIR folder, JSONL, folder of text files, and their error messages."""

from __future__ import annotations

import itertools
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


# -- chunk (issue 16.1) -------------------------------------------------------------------------
from rankwise.corpus import Chunk, chunk, chunk_documents  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog. " * 20


@pytest.mark.parametrize(("size", "overlap"), [(50, 0), (50, 10), (7, 3), (200, 199)])
def test_char_chunks_cover_the_text_and_respect_size_and_overlap(size: int, overlap: int) -> None:
    pieces = chunk(TEXT, size, overlap)
    assert pieces[0].start == 0
    assert pieces[-1].end == len(TEXT.rstrip())
    for p, q in itertools.pairwise(pieces):
        assert q.start > p.start  # always progresses
        assert p.end - q.start <= overlap  # never shares more than the overlap
        assert q.start <= p.end + 1  # and never skips text (one space at most)
    for p in pieces:
        assert p.text == TEXT[p.start : p.end]
        assert len(p.text) <= size
        assert p.text == p.text.strip()
        if size >= 7:  # cut at whitespace: every piece starts and ends on a word boundary
            assert p.start == 0 or TEXT[p.start - 1] == " "
            assert p.end == len(TEXT) or TEXT[p.end] in " ."


def test_a_word_longer_than_the_size_is_split() -> None:
    assert chunk("abcdefghij", 4) == [Chunk("abcd", 0, 4), Chunk("efgh", 4, 8), Chunk("ij", 8, 10)]


def test_token_chunks_count_the_analyzer_s_tokens() -> None:
    from rankwise.bm25 import Analyzer

    pieces = chunk(TEXT, 10, 3, unit="tokens")  # english: stop words do not count
    english = Analyzer("english")
    for p in pieces:
        assert 0 < len(english.analyze(p.text)) <= 10
        assert p.text == TEXT[p.start : p.end]
    assert len(english.analyze(pieces[0].text)) == 10
    # consecutive pieces share up to 3 tokens
    a, b = pieces[0], pieces[1]
    shared = TEXT[b.start : a.end]
    assert 0 < len(english.analyze(shared)) <= 3
    standard = chunk(TEXT, 10, unit="tokens", analyzer="standard")
    assert len(standard) > len(chunk(TEXT, 10, unit="tokens"))  # standard keeps stop words
    assert chunk("", 5, unit="tokens") == [] == chunk("   ", 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "size must be a positive integer"),
        ({"size": 5, "overlap": 5}, "overlap must be smaller than size"),
        ({"size": 5, "overlap": -1}, "overlap must be a non-negative integer"),
        ({"size": 5, "unit": "words"}, "unit must be 'chars' or 'tokens'"),
    ],
)
def test_chunk_arguments_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunk("some text", **kwargs)  # type: ignore[arg-type]


def test_chunk_refuses_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        chunk("bad \ud800 text", 5)


def test_chunk_documents_ids_and_metadata() -> None:
    doc = Document(id="lic", text=TEXT, title="Licence", metadata={"title": "Licence", "v": 2})
    empty = Document(id="e", text="", metadata={})
    out = chunk_documents([doc, empty], 60, 10, source=lambda d: f"/src/{d.id}.md")
    ids = [d.id for d in out]
    assert ids[:3] == ["lic#0", "lic#1", "lic#2"]
    assert ids[-1] == "e#0"
    for n, c in enumerate(out[:-1]):
        meta = c.metadata
        assert meta["parent_id"] == "lic"
        assert meta["chunk"] == n
        assert meta["v"] == 2
        assert meta["source_path"] == "/src/lic.md"
        assert TEXT[meta["char_start"] : meta["char_end"]] == c.text
        assert c.full_text == f"Licence {c.text}"  # each chunk keeps its document's title
    assert doc.metadata == {"title": "Licence", "v": 2}  # the parent is not changed
