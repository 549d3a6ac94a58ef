"""The CLI's index and search inputs follow the same text and metadata rules as the core:
a JSONL line whose escapes spell a lone surrogate or a NaN, or a query whose bytes are not
UTF-8, is refused with a one-line error that names it; the saved index stays searchable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwise.cli.main import main
from rankwise.corpus import CorpusError, read_corpus


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('{"id": "b", "text": "bad \\ud800 half"}', "text"),
        ('{"id": "\\udfff", "text": "ok"}', "id"),
        ('{"id": "b", "text": "ok", "title": "t\\ud83d"}', "title"),
        ('{"id": "b", "text": "ok", "metadata": {"k": "\\udc80"}}', "metadata['k']"),
        ('{"id": "b", "text": "ok", "score": NaN}', "metadata['score']"),
    ],
)
def test_corpus_lines_are_checked_with_the_shared_rules(
    tmp_path: Path, line: str, named: str
) -> None:
    path = _jsonl(tmp_path / "c.jsonl", ['{"id": "a", "text": "fine"}', line])
    with pytest.raises(CorpusError, match="line 2") as info:
        read_corpus(path)
    assert named in str(info.value)


def test_cli_index_refuses_a_lone_surrogate_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _jsonl(tmp_path / "c.jsonl", ['{"id": "a", "text": "x \\ud800 y"}'])
    code = main(["index", str(path), "--out", str(tmp_path / "ix"), "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "line 1" in err
    assert "surrogate" in err
    assert not (tmp_path / "ix").exists()


def test_cli_search_refuses_a_query_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "café alpha"}) + "\n", encoding="utf-8")
    assert main(["index", str(corpus), "--out", str(tmp_path / "ix"), "-q"]) == 0
    capsys.readouterr()
    query = b"caf\xe9".decode("utf-8", "surrogateescape")  # how Linux hands over Latin-1 argv
    assert main(["search", str(tmp_path / "ix"), query]) == 1
    assert "surrogate" in capsys.readouterr().err
    assert main(["search", str(tmp_path / "ix"), "café"]) == 0
    assert "café alpha" in capsys.readouterr().out
