"""Filter dicts and id sets become Milvus expressions whose literals cannot be escaped from.

The expressions are parsed with Milvus Lite's own filter parser, so "cannot inject" is checked
against a real Milvus grammar rather than against our own idea of it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankwise.milvus.filters import filter_to_expr, ids_expr, metadata_expr, quote
from rankwise.types import FilterNotSupportedError

parser = pytest.importorskip("milvus_lite.search.filter.parser")
tokens_mod = pytest.importorskip("milvus_lite.search.filter.tokens")

HOSTILE = [
    'x" or id != "',
    "x' or id != '",
    'x\\" or true or \\"',
    "a\\",
    '"',
    "\\",
    "line\nbreak",
    "tab\tcr\r",
    "] or [",
    "😀 中文 \x00 \x0b",
]


def _string_literals(expr: str) -> list[str]:
    toks = tokens_mod.tokenize(expr)
    return [t.value for t in toks if t.kind == tokens_mod.TokenKind.STRING]


@pytest.mark.parametrize("value", HOSTILE)
def test_quote_is_one_string_literal_with_the_exact_value(value: str) -> None:
    toks = [t for t in tokens_mod.tokenize(quote(value)) if t.kind != tokens_mod.TokenKind.EOF]
    assert len(toks) == 1
    assert toks[0].kind == tokens_mod.TokenKind.STRING
    assert toks[0].value == value


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_quote_round_trips_any_text(value: str) -> None:
    assert _string_literals(quote(value)) == [value]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1),
        st.one_of(
            st.text(),
            st.integers(-(2**63), 2**63 - 1),
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_metadata_expr_parses_to_one_equality_per_key(filt: dict[str, object]) -> None:
    tree = parser.parse_expr(metadata_expr(filt))
    comparisons = list(tree.operands) if type(tree).__name__ == "And" else [tree]
    assert len(comparisons) == len(filt)
    for node, (key, value) in zip(comparisons, filt.items(), strict=True):
        assert type(node).__name__ == "CmpOp"
        assert node.op == "=="
        assert type(node.left).__name__ == "PathAccess"
        assert node.left.base.name == "metadata"
        assert node.left.path == (key,)
        right = node.right
        if type(right).__name__ == "UnaryOp":  # negative numbers parse as -(literal)
            assert right.op == "-"
            assert -right.operand.value == value
        else:
            assert right.value == value


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_stay_literals_of_one_in_list(value: str) -> None:
    tree = parser.parse_expr(ids_expr({value, "ok"}))
    assert type(tree).__name__ == "InOp"
    assert tree.field.name == "id"
    assert not tree.negate
    assert sorted(e.value for e in tree.values.elements) == sorted([value, "ok"])


def test_metadata_expr_shapes() -> None:
    assert metadata_expr({"lang": "en"}) == 'metadata["lang"] == "en"'
    assert metadata_expr({"n": 3, "x": 2.5, "ok": True, "no": False}) == (
        'metadata["n"] == 3 and metadata["x"] == 2.5 and metadata["ok"] == true '
        'and metadata["no"] == false'
    )
    assert metadata_expr({}) == ""
    assert metadata_expr({'k"]': "v"}) == 'metadata["k\\"]"] == "v"'


@pytest.mark.parametrize(
    "bad",
    [
        {"a": [1, 2]},
        {"a": {"b": 1}},
        {"a": float("nan")},
        {"a": float("inf")},
        {"a": 2**70},
        {"a": None},
    ],
)
def test_unsupported_values_are_value_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="filter"):
        metadata_expr(bad)


@pytest.mark.parametrize("bad_key", ["", 3, None])
def test_keys_must_be_non_empty_strings(bad_key: object) -> None:
    with pytest.raises(ValueError, match="keys"):
        metadata_expr({bad_key: "v"})  # type: ignore[dict-item]


def test_id_sets_become_in_lists() -> None:
    assert ids_expr({"b", "a", 'x" or id != "'}) == 'id in ["a", "b", "x\\" or id != \\""]'
    assert _string_literals(ids_expr({'x" or id != "'})) == ['x" or id != "']
    assert filter_to_expr(frozenset({"a"})) == 'id in ["a"]'
    assert filter_to_expr(set()) == "id in []"
    with pytest.raises(ValueError, match="strings"):
        ids_expr({1})  # type: ignore[arg-type]


def test_filter_to_expr_dispatch_and_callables() -> None:
    assert filter_to_expr(None) == ""
    assert filter_to_expr({"a": "b"}) == 'metadata["a"] == "b"'
    with pytest.raises(FilterNotSupportedError, match="Milvus cannot apply a predicate filter"):
        filter_to_expr(lambda meta: True)
    with pytest.raises(ValueError, match="filter must be"):
        filter_to_expr(["a"])
    # a str is the caller's own Milvus expression, passed through as written
    assert filter_to_expr(' metadata["n"] > 2 ') == 'metadata["n"] > 2'
    with pytest.raises(ValueError, match="lone surrogate"):
        filter_to_expr('metadata["a"] == "\ud800"')
    with pytest.raises(ValueError, match="string"):
        quote(3)  # type: ignore[arg-type]
