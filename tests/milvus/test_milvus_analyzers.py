"""analyzer_params_for maps rankwise analyzers to what Milvus (Lite) really does.

The Lite checks run the installed milvus-lite's own analyzer factory, so a milvus-lite release
that changes what it accepts or how it tokenizes shows up here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankwise.bm25 import Analyzer
from rankwise.bm25.stopwords import ENGLISH_STOP_WORDS
from rankwise.milvus.analyzers import (
    analyzer_params_for,
    encode_token,
    encode_tokens,
    is_lite_uri,
)

lite_analyzer = pytest.importorskip("milvus_lite.analyzer")
lite_errors = pytest.importorskip("milvus_lite.exceptions")

TEXTS = [
    "We are loving Milvus!",
    "The Quick brown fox jumps over the lazy dog; the DOG sleeps.",
    "boundary-layer flow at mach 2 and 30 degrees",
]


def lite_tokens(params: dict[str, object], text: str) -> list[str]:
    return list(lite_analyzer.create_analyzer(params).tokenize(text))


def test_standard_maps_to_lite_standard_with_the_same_tokens_on_plain_text() -> None:
    params = analyzer_params_for("standard", "lite")
    assert params == {"type": "standard"}
    rankwise = Analyzer("standard")
    for text in TEXTS:
        assert lite_tokens(params, text) == rankwise.analyze(text)


def test_lite_standard_differs_on_underscores_and_cjk_only() -> None:
    # Documented difference: Lite's \w+ keeps "_" and CJK runs inside tokens; rankwise (like
    # the Milvus server's tokenizer) splits at "_" and gives one token per CJK character.
    params = analyzer_params_for("standard", "lite")
    text = "don't 3.14 U.S.A café"
    assert lite_tokens(params, text) == Analyzer("standard").analyze(text)
    assert lite_tokens(params, "snake_case 中文") == ["snake_case", "中文"]
    assert Analyzer("standard").analyze("snake_case 中文") == ["snake", "case", "中", "文"]


def test_stop_words_are_spelled_out_for_lite_and_honoured() -> None:
    params = analyzer_params_for({"type": "standard", "stop_words": ["_english_", "fox"]}, "lite")
    assert params["tokenizer"] == "standard"
    stop = params["filter"][1]
    assert set(stop["stop_words"]) == ENGLISH_STOP_WORDS | {"fox"}
    text = TEXTS[1]
    assert lite_tokens(params, text) == Analyzer(
        {"type": "standard", "stop_words": ["_english_", "fox"]}
    ).analyze(text)


def test_custom_chain_with_lowercase_and_stop_passes_on_lite() -> None:
    config = {
        "tokenizer": "standard",
        "filter": ["lowercase", {"type": "stop", "stop_words": ["a"]}],
    }
    params = analyzer_params_for(Analyzer(config), "lite")
    assert params == {
        "tokenizer": "standard",
        "filter": ["lowercase", {"type": "stop", "stop_words": ["a"]}],
    }
    assert lite_tokens(params, "A cat and a dog") == Analyzer(config).analyze("A cat and a dog")


def test_english_is_refused_on_lite_because_lite_cannot_stem() -> None:
    with pytest.raises(ValueError, match="Milvus Lite cannot run the 'english' analyzer"):
        analyzer_params_for("english", "lite")
    with pytest.raises(ValueError, match="pre_analyzer"):
        analyzer_params_for(Analyzer("english"), "lite")
    # ... and that is what milvus-lite really does: it rejects the type, ignores the stemmer.
    with pytest.raises(lite_errors.SchemaValidationError, match="unknown tokenizer type"):
        lite_analyzer.create_analyzer({"type": "english"})
    stemmed = {"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "english"}]}
    assert lite_tokens(stemmed, "loving loves") == ["loving", "loves"]
    assert Analyzer("english").analyze("loving loves") == ["love", "love"]
    with pytest.raises(ValueError, match="'stemmer' filter"):
        analyzer_params_for(
            {"tokenizer": "standard", "filter": ["lowercase", stemmed["filter"][0]]}
        )


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("chinese", "'chinese' analyzer"),
        ({"tokenizer": "whitespace", "filter": ["lowercase"]}, "'whitespace' tokenizer"),
        ({"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}, "'asciifolding'"),
        (
            {"tokenizer": "standard", "filter": ["lowercase", {"type": "length", "max": 5}]},
            "length",
        ),
        ({"tokenizer": "standard"}, "always lowercases"),
        ({"tokenizer": "jieba", "filter": ["lowercase", "cnalphanumonly"]}, "cnalphanumonly"),
    ],
)
def test_what_lite_cannot_do_is_a_clear_value_error(config: object, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        analyzer_params_for(config, "lite")
    assert "Milvus Lite cannot" in str(info.value)


def test_lite_rejects_whitespace_and_chinese_types_itself() -> None:
    for params in ({"tokenizer": "whitespace"}, {"type": "chinese"}):
        with pytest.raises(lite_errors.SchemaValidationError):
            lite_analyzer.create_analyzer(params)


def test_server_target_passes_milvus_configs_through() -> None:
    assert analyzer_params_for("english", "server") == {"type": "english"}
    assert analyzer_params_for("chinese", "server") == {"type": "chinese"}
    config = {
        "tokenizer": "standard",
        "filter": ["lowercase", "asciifolding", {"type": "stemmer", "language": "english"}],
    }
    out = analyzer_params_for(Analyzer(config), "server")
    assert out == config
    assert out is not config


@pytest.mark.parametrize(
    "bad",
    [
        "klingon",
        {"type": "klingon"},
        {"tokenizer": "icu"},
        {"tokenizer": "standard", "filter": ["shout"]},
        {"filter": ["lowercase"]},
        3,
    ],
)
def test_unknown_configs_are_value_errors_on_both_targets(bad: object) -> None:
    for target in ("lite", "server"):
        with pytest.raises(ValueError, match="analyzer"):
            analyzer_params_for(bad, target)  # type: ignore[arg-type]


def test_callables_and_bad_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="callable analyzer cannot run inside Milvus"):
        analyzer_params_for(Analyzer(str.split), "server")
    with pytest.raises(ValueError, match="callable analyzer cannot run inside Milvus"):
        analyzer_params_for(str.split, "server")
    with pytest.raises(ValueError, match="target"):
        analyzer_params_for("standard", "cloud")  # type: ignore[arg-type]


def test_is_lite_uri() -> None:
    assert is_lite_uri("./rankwise_milvus.db")
    assert is_lite_uri("/tmp/x/milvus.db")
    assert not is_lite_uri("http://localhost:19530")
    assert not is_lite_uri("https://in01-xyz.zillizcloud.com")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), max_size=12))
def test_encoded_tokens_come_back_one_to_one_through_lite_standard(tokens: list[str]) -> None:
    encoded = encode_tokens(tokens)
    assert lite_tokens({"type": "standard"}, encoded) == [encode_token(t) for t in tokens]


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_encode_token_is_injective(a: str, b: str) -> None:
    if a != b:
        assert encode_token(a) != encode_token(b)


def test_plain_tokens_are_kept_readable() -> None:
    assert encode_tokens(["love", "milvus", "mach2", "", "Don't"]) == (
        "love milvus mach2 _" + b"Don't".hex()
    )
