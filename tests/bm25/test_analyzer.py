from __future__ import annotations

import json

import pytest

from rankwise import Analyzer as TopLevelAnalyzer
from rankwise.bm25 import ENGLISH_STOP_WORDS, Analyzer


def test_exported_at_top_level() -> None:
    assert TopLevelAnalyzer is Analyzer


def test_milvus_english_examples() -> None:
    a = Analyzer("english")
    assert a.analyze("We are loving Milvus!") == ["we", "love", "milvus"]
    assert a.analyze("who loves Milvus?") == ["who", "love", "milvus"]
    assert Analyzer({"type": "english"}).analyze("Running runs") == ["run", "run"]


def test_lucene_english_stop_list() -> None:
    assert len(ENGLISH_STOP_WORDS) == 33
    assert "we" not in ENGLISH_STOP_WORDS
    assert "who" not in ENGLISH_STOP_WORDS
    assert Analyzer("english").analyze("the cat and a hat is not on it") == ["cat", "hat"]


def test_standard_keeps_stop_words_and_lowercases() -> None:
    assert Analyzer("standard").analyze("The Milvus vector database is built for scale!") == [
        "the", "milvus", "vector", "database", "is", "built", "for", "scale",
    ]  # fmt: skip


def test_standard_tokenizer_unicode_words() -> None:
    tokens = Analyzer("standard").analyze("Don't stop: U.S.A. 3.14 foo_bar 你好 😀 Ünïcode\x00x")
    assert tokens == [
        "don", "t", "stop", "u", "s", "a", "3", "14", "foo", "bar", "你", "好", "ünïcode", "x",
    ]  # fmt: skip


def test_standard_with_stop_words() -> None:
    a = Analyzer({"type": "standard", "stop_words": ["of", "the"]})
    assert a.analyze("The history of Milvus") == ["history", "milvus"]


def test_english_custom_stop_words_replace_default() -> None:
    a = Analyzer({"type": "english", "stop_words": ["milvus"]})
    assert a.analyze("the Milvus") == ["the"]


def test_chinese_jieba() -> None:
    tokens = Analyzer("chinese").analyze("Milvus 是一个向量数据库，")
    assert "数据库" in tokens
    assert "Milvus" in tokens
    assert "，" not in tokens
    assert all(t.strip() for t in tokens)


def test_custom_chain_in_order() -> None:
    params = {
        "tokenizer": "whitespace",
        "filter": [
            "lowercase",
            "asciifolding",
            {"type": "length", "max": 7},
            {"type": "stop", "stop_words": ["_english_", "cafe"]},
            {"type": "stemmer", "language": "english"},
        ],
    }
    a = Analyzer(params)
    assert a.analyze("Café is RUNNING extraordinarily Résumé") == ["run", "resum"]
    assert a.config == params
    assert Analyzer(json.loads(json.dumps(a.config))) == a


def test_whitespace_tokenizer_keeps_punctuation() -> None:
    assert Analyzer({"tokenizer": "whitespace"}).analyze(" a,b  C\td ") == ["a,b", "C", "d"]


def test_jieba_tokenizer_dict_params() -> None:
    a = Analyzer({"tokenizer": {"type": "jieba", "mode": "exact", "hmm": False}})
    assert "".join(a.analyze("向量数据库")) == "向量数据库"


def test_callable_analyzer() -> None:
    a = Analyzer(lambda s: s.upper().split())
    assert a.analyze("a b") == ["A", "B"]
    assert a.is_callable
    with pytest.raises(ValueError, match="callable"):
        _ = a.config


def test_callable_must_return_strings() -> None:
    a = Analyzer(lambda s: [1, 2])  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="list of strings"):
        a.analyze("x")


@pytest.mark.parametrize(
    "params",
    [
        "klingon",
        {"type": "klingon"},
        {"tokenizer": "icu_nope"},
        {"tokenizer": "standard", "filter": ["nope"]},
        {"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "klingon"}]},
        {"tokenizer": "standard", "filter": [{"type": "length", "max": 0}]},
        {"tokenizer": "standard", "filter": "lowercase"},
        {"type": "english", "tokenizer": "standard"},
        {"filter": ["lowercase"]},
        {"type": "english", "unknown": 1},
        {"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": [1]}]},
    ],
)
def test_bad_params_raise_value_error(params: object) -> None:
    with pytest.raises(ValueError, match="analyzer"):
        Analyzer(params)  # type: ignore[arg-type]


def test_analyze_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="text"):
        Analyzer("standard").analyze(None)  # type: ignore[arg-type]


def test_emoji_control_and_huge_text() -> None:
    a = Analyzer("english")
    assert a.analyze("😀\x01\x02\u200b") == []
    big = "alpha beta " * 500_000  # ~5.5 MB
    assert len(a.analyze(big)) == 1_000_000
