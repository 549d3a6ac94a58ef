"""The shared argument rules of ``rankwise._checks``, and that every caller applies them.

The TextStore contract suite (``tests/contract``) checks the id, text and metadata rules on every
store; here are the helpers themselves, and the integer and number arguments of the rest of the
package (one table row per argument: the same values are accepted and refused everywhere).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rankwise._checks import (
    MAX_ID_BYTES,
    ArgumentTypeError,
    id_arg,
    ids_arg,
    int_arg,
    int_rule,
    metadatas_arg,
    number_arg,
    optional_int,
    positive_int,
    text_arg,
    texts_arg,
)

# ---------------------------------------------------------------------------- integers


@pytest.mark.parametrize("good", [1, 7, 10**12, np.int64(3), np.int32(1), np.uint8(2)])
def test_positive_int_accepts_ints_and_numpy_integers(good: Any) -> None:
    got = positive_int(good, "k")
    assert got == int(good)
    assert type(got) is int


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), 2.0, 2.5, "3", None, [1], 1j])
def test_a_non_integer_is_an_error_that_is_both_type_and_value_error(bad: Any) -> None:
    with pytest.raises(ArgumentTypeError, match=r"^k must be a positive integer, got ") as info:
        positive_int(bad, "k")
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [0, -1, np.int64(0)])
def test_an_integer_out_of_range_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got ") as info:
        positive_int(bad, "batch_size")
    assert not isinstance(info.value, TypeError)


def test_int_arg_bounds_and_wording() -> None:
    assert int_arg(0, "overlap", minimum=0) == 0
    assert int_arg(65535, "port", minimum=0, maximum=65535) == 65535
    with pytest.raises(ValueError, match=r"^overlap must be a non-negative integer, got -1$"):
        int_arg(-1, "overlap", minimum=0)
    with pytest.raises(ValueError, match=r"^port must be an integer in \[0, 65535\], got 65536$"):
        int_arg(65536, "port", minimum=0, maximum=65535)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 2, got 1$"):
        int_arg(1, "n", minimum=2)
    assert int_arg(-5, "offset", minimum=None) == -5
    assert int_rule() == "a positive integer"
    assert int_rule(0) == "a non-negative integer"
    assert int_rule(1, 16384) == "an integer in [1, 16384]"


def test_optional_int_keeps_none_and_says_so() -> None:
    assert optional_int(None, "top_k") is None
    assert optional_int(np.int64(4), "top_k") == 4
    with pytest.raises(ValueError, match=r"^top_k must be a positive integer or None, got 0$"):
        optional_int(0, "top_k")
    with pytest.raises(ArgumentTypeError, match=r"^top_k must be a positive integer or None"):
        optional_int("3", "top_k")


# ---------------------------------------------------------------------------- numbers


def test_number_arg() -> None:
    assert number_arg(0, "c", minimum=0.0) == 0.0
    assert number_arg(np.float32(0.5), "b", minimum=0.0, maximum=1.0) == 0.5
    assert type(number_arg(3, "c")) is float
    for bad in (True, "1", None):
        with pytest.raises(ArgumentTypeError, match=r"^c must be a finite number >= 0, got "):
            number_arg(bad, "c", minimum=0.0)
    for bad in (float("nan"), float("inf"), -0.5):
        with pytest.raises(ValueError, match=r"^c must be a finite number >= 0, got "):
            number_arg(bad, "c", minimum=0.0)
    with pytest.raises(ValueError, match=r"^b must be a finite number in \[0, 1\], got 1\.5$"):
        number_arg(1.5, "b", minimum=0.0, maximum=1.0)
    with pytest.raises(ValueError, match=r"^timeout must be a finite number > 0, got 0$"):
        number_arg(0, "timeout", minimum=0.0, exclusive_minimum=True)


# ---------------------------------------------------------------------------- text, ids, lists


def test_texts_arg_takes_any_iterable_but_a_single_string() -> None:
    assert texts_arg(t for t in ["a", "b"]) == ["a", "b"]
    assert texts_arg(("a",), "queries") == ["a"]
    with pytest.raises(ValueError, match=r"^texts must be a list, not a single string$"):
        texts_arg("abc")
    with pytest.raises(ValueError, match=r"^texts must be a list, not a single bytes object$"):
        texts_arg(b"abc")
    for bad in (None, 3, {"a": 1}):
        with pytest.raises(ArgumentTypeError, match=r"^queries must be a list, got "):
            texts_arg(bad, "queries")
    with pytest.raises(ArgumentTypeError, match=r"^texts\[1\] must be a str, got int$"):
        texts_arg(["a", 1])
    with pytest.raises(ValueError, match=r"^texts\[0\] contains a lone surrogate"):
        texts_arg(["\ud800"])


def test_texts_arg_names_the_first_bad_item_among_many_good_ones() -> None:
    """ASCII lists are accepted in one pass; anything else is checked item by item."""

    class Text(str):
        pass

    good = ["plain", "", Text("sub"), "é ∑ 😀"]
    assert texts_arg(good * 3) == good * 3
    for bad, message in (
        (b"x", r"^texts\[5\] must be a str, got bytes$"),
        (None, r"^texts\[5\] must be a str, got NoneType$"),
        ("ok \udfff", r"^texts\[5\] contains a lone surrogate"),
        (Text("\ud800"), r"^texts\[5\] contains a lone surrogate"),
    ):
        with pytest.raises(ValueError, match=message):
            texts_arg(["a", "b", "é", "c", "d", bad, 7])


def test_the_id_rule() -> None:
    longest = "é" * (MAX_ID_BYTES // 2)  # two UTF-8 bytes each: exactly the bound
    assert id_arg(longest, "id") == longest
    assert id_arg("x" * MAX_ID_BYTES) == "x" * MAX_ID_BYTES
    with pytest.raises(ValueError, match=r"^id must be a non-empty str$"):
        id_arg("")
    with pytest.raises(ValueError, match=r"^id is 514 bytes in UTF-8; an id holds at most 512"):
        id_arg(longest + "é")
    with pytest.raises(ArgumentTypeError, match=r"^id must be a str, got int$"):
        id_arg(7)  # never str()-ed: 7 and "7" would be one document here and two there
    with pytest.raises(ValueError, match="lone surrogate"):
        id_arg("a\udc80")
    assert id_arg("x" * 600, max_bytes=600) == "x" * 600


def test_ids_arg_counts_and_duplicates() -> None:
    assert ids_arg(iter(["a", "b"]), count=2, unique=True) == ["a", "b"]
    assert ids_arg(["a", "a"]) == ["a", "a"]  # a lookup may repeat an id
    with pytest.raises(ValueError, match=r"^ids contains the duplicate id 'a'$"):
        ids_arg(["a", "b", "a"], unique=True)
    with pytest.raises(ValueError, match=r"^ids has 1 entries for 2 texts$"):
        ids_arg(["a"], count=2)
    with pytest.raises(ValueError, match=r"^node_ids\[1\] must be a non-empty str$"):
        ids_arg(["a", ""], "node_ids")
    with pytest.raises(ValueError, match=r"^ids must be a list, not a single string$"):
        ids_arg("abc")


def test_metadatas_arg() -> None:
    proxy = types.MappingProxyType({"a": np.int64(1)})
    got = metadatas_arg([None, proxy], 2)
    assert got == [{}, {"a": 1}]
    assert type(got[1]["a"]) is int
    assert metadatas_arg(None, 2) == [{}, {}]
    with pytest.raises(ValueError, match=r"^metadatas has 1 entries for 2 texts$"):
        metadatas_arg([{}], 2)
    with pytest.raises(ArgumentTypeError, match=r"^metadatas must be a list, got dict$"):
        metadatas_arg({"a": 1}, 1)
    with pytest.raises(ArgumentTypeError, match=r"^metadatas\[0\] must be a dict or None, got str"):
        metadatas_arg(["a"], 1)


def test_text_arg_wrong_type_is_both_errors() -> None:
    with pytest.raises(TypeError, match=r"^query must be a str, got NoneType$"):
        text_arg(None, "query")
    with pytest.raises(ValueError, match=r"^query must be a str, got NoneType$"):
        text_arg(None, "query")


# ------------------------------------------------- every integer argument follows the rule


def _embedder(name: str) -> Callable[[Any], object]:
    def make(value: Any) -> object:
        from rankwise.embeddings import SentenceEmbedder

        # the arguments are checked before any model is looked for: a missing path is fine
        return SentenceEmbedder("/nonexistent/model", **{name: value})

    return make


def _bm25_search(value: Any) -> object:
    from rankwise import BM25Index

    index = BM25Index(show_progress=False)
    index.add(["alpha beta"], ids=["a"])
    return index.search_many(["alpha"], k=value)


def _dense_search(value: Any) -> object:
    from rankwise.dense import DenseIndex

    index = DenseIndex()
    index.add(["alpha"], ids=["a"], embeddings=[[1.0, 0.0]])
    return index.search_by_vector([1.0, 0.0], k=value)


def _retry(value: Any) -> object:
    from rankwise.rerankers._retry import RetryPolicy

    return RetryPolicy(max_attempts=value)


def _top_k(value: Any) -> object:
    from rankwise.rerankers.base import validate_rerank_input

    validate_rerank_input("q", ["a"], value)
    return None


def _ndcg(value: Any) -> object:
    from rankwise.evaluation import ndcg_at_k

    return ndcg_at_k(["a"], {"a": 1}, k=value)


def _chunk_size(value: Any) -> object:
    from rankwise.corpus import chunk

    return chunk("alpha beta gamma", size=value)


def _dense_dim(value: Any) -> object:
    from rankwise.milvus.schema import CollectionSpec

    return CollectionSpec(analyzer_params={"tokenizer": "standard"}, dense_dim=value)


INTEGER_ARGUMENTS: list[tuple[str, str, Callable[[Any], object]]] = [
    ("SentenceEmbedder", "batch_size", _embedder("batch_size")),
    ("SentenceEmbedder", "max_length", _embedder("max_length")),
    ("BM25Index.search_many", "k", _bm25_search),
    ("DenseIndex.search_by_vector", "k", _dense_search),
    ("RetryPolicy", "max_attempts", _retry),
    ("BaseReranker.rerank", "top_k", _top_k),
    ("ndcg_at_k", "k", _ndcg),
    ("chunk", "size", _chunk_size),
    ("CollectionSpec", "dense_dim", _dense_dim),
]


@pytest.mark.parametrize(
    ("name", "call"),
    [(name, call) for _, name, call in INTEGER_ARGUMENTS],
    ids=[f"{where}-{name}" for where, name, _ in INTEGER_ARGUMENTS],
)
@pytest.mark.parametrize("bad", [True, "2", 2.0, 0, -3])
def test_every_integer_argument_refuses_the_same_values(
    name: str, call: Callable[[Any], object], bad: Any
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be a positive integer"):
        call(bad)


@pytest.mark.parametrize(
    "call",
    [call for _, name, call in INTEGER_ARGUMENTS if name not in ("batch_size", "max_length")],
)
def test_every_integer_argument_takes_a_numpy_integer(call: Callable[[Any], object]) -> None:
    call(np.int64(2))  # an int read from an array is an int everywhere, not only in BM25Index


def test_numbers_follow_one_rule() -> None:
    from rankwise.fusion import check_weights, reciprocal_rank_fusion
    from rankwise.rerankers._retry import RetryPolicy

    with pytest.raises(ValueError, match=r"^c must be a finite number >= 0, got -1"):
        reciprocal_rank_fusion([["a"]], c=-1)
    with pytest.raises(ValueError, match=r"^weights\[1\] must be a finite number >= 0, got nan"):
        check_weights([1.0, float("nan")], 2)
    with pytest.raises(ValueError, match=r"^jitter must be a finite number in \[0, 1\]"):
        RetryPolicy(jitter=2)
    with pytest.raises(ValueError, match=r"^initial_backoff must be a finite number >= 0"):
        RetryPolicy(initial_backoff=float("nan"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k1": -1}, r"^k1 must be a finite number >= 0, got -1$"),
        ({"k1": True}, r"^k1 must be a finite number >= 0, got True$"),
        ({"b": 1.5}, r"^b must be a finite number in \[0, 1\], got 1\.5$"),
        ({"b": float("nan")}, r"^b must be a finite number in \[0, 1\], got nan$"),
    ],
)
def test_bm25_parameters_are_worded_alike_in_the_index_and_the_pymilvus_drop_in(
    kwargs: dict[str, Any], message: str
) -> None:
    from rankwise import BM25Index
    from rankwise.compat.pymilvus import BM25EmbeddingFunction

    with pytest.raises(ValueError, match=message):
        BM25Index(**kwargs)
    with pytest.raises(ValueError, match=message):
        BM25EmbeddingFunction(**kwargs)


# ---------------------------------------------------------------------------- the CLI


def _cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from rankwise.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "ix", "q", "-k", "0"], "argument -k/--k: expected a positive integer, got '0'"),
        (["search", "ix", "q", "-k", "x"], "argument -k/--k: expected a positive integer, got 'x'"),
        (
            ["index", "c", "-o", "o", "--chunk-overlap", "-1"],
            "argument --chunk-overlap: expected a non-negative integer, got '-1'",
        ),
        (
            ["index", "c", "-o", "o", "--chunk-overlap", "1.5"],
            "argument --chunk-overlap: expected a non-negative integer, got '1.5'",
        ),
        (
            ["serve", "ix", "--port", "65536"],
            "argument --port: expected an integer in [0, 65535], got '65536'",
        ),
        (
            ["serve", "ix", "--port", "http"],
            "argument --port: expected an integer in [0, 65535], got 'http'",
        ),
    ],
)
def test_cli_integer_options_share_one_parser_and_one_wording(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli_error(argv, capsys).endswith(message)


def test_cli_integer_options_accept_their_bounds() -> None:
    from rankwise.cli.main import build_parser

    args = build_parser().parse_args(["serve", "ix", "--port", "0"])
    assert args.port == 0
    args = build_parser().parse_args(["index", "c", "-o", "o", "--chunk-overlap", " 0 "])
    assert args.chunk_overlap == 0
