"""MetadataFilters -> rankwise filters: every operator, AND/OR/NOT, nesting, bad filters."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.retrievers.rankwise import (
    metadata_filters_to_mapping,
    metadata_filters_to_predicate,
    to_store_filter,
)

DOCS: dict[str, dict[str, Any]] = {
    "a": {"year": 1961, "topic": "aero", "tags": ["flutter", "wing"], "title": "Wing Flutter"},
    "b": {"year": 1958, "topic": "heat", "tags": ["boundary"], "title": "Heat transfer"},
    "c": {"year": 1963, "topic": "aero", "tags": [], "title": "Cone transition"},
    "d": {"topic": "food", "title": "Pasta"},  # no year, no tags
}


def matching(filters: MetadataFilters) -> set[str]:
    pred = metadata_filters_to_predicate(filters)
    return {doc_id for doc_id, meta in DOCS.items() if pred(meta)}


def one(key: str, value: Any, op: FilterOperator) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=op)])


@pytest.mark.parametrize(
    ("key", "value", "op", "expected"),
    [
        ("topic", "aero", FilterOperator.EQ, {"a", "c"}),
        ("topic", "aero", FilterOperator.NE, {"b", "d"}),
        ("year", 1961, FilterOperator.NE, {"b", "c", "d"}),  # missing key matches NE
        ("year", 1961, FilterOperator.GT, {"c"}),
        ("year", 1961, FilterOperator.GTE, {"a", "c"}),
        ("year", 1961, FilterOperator.LT, {"b"}),
        ("year", 1961, FilterOperator.LTE, {"a", "b"}),
        ("topic", ["aero", "food"], FilterOperator.IN, {"a", "c", "d"}),
        ("topic", ["aero", "food"], FilterOperator.NIN, {"b"}),
        ("year", [1958, 1963], FilterOperator.IN, {"b", "c"}),
        ("year", [1958, 1963], FilterOperator.NIN, {"a", "d"}),
        ("tags", "wing", FilterOperator.CONTAINS, {"a"}),
        ("tags", ["wing", "boundary"], FilterOperator.ANY, {"a", "b"}),
        ("tags", ["wing", "flutter"], FilterOperator.ALL, {"a"}),
        ("title", "Flutter", FilterOperator.TEXT_MATCH, {"a"}),
        ("title", "flutter", FilterOperator.TEXT_MATCH, set()),
        ("title", "flutter", FilterOperator.TEXT_MATCH_INSENSITIVE, {"a"}),
        ("tags", None, FilterOperator.IS_EMPTY, {"c", "d"}),
        ("title", "Pasta", FilterOperator.GT, {"a"}),  # string ordering: "Wing..." > "Pasta"
        ("topic", 3, FilterOperator.GT, set()),  # incomparable types: a non-match, no error
    ],
)
def test_each_operator(key, value, op, expected):
    assert matching(one(key, value, op)) == expected


def test_and_or_not_and_nesting():
    aero = MetadataFilter(key="topic", value="aero", operator=FilterOperator.EQ)
    old = MetadataFilter(key="year", value=1960, operator=FilterOperator.LT)
    food = MetadataFilter(key="topic", value="food", operator=FilterOperator.EQ)
    assert matching(MetadataFilters(filters=[aero, old])) == set()
    assert matching(MetadataFilters(filters=[aero, old], condition=FilterCondition.OR)) == {
        "a",
        "b",
        "c",
    }
    assert matching(MetadataFilters(filters=[aero, food], condition=FilterCondition.NOT)) == {"b"}
    # (aero AND year >= 1962) OR food
    nested = MetadataFilters(
        filters=[
            MetadataFilters(
                filters=[aero, MetadataFilter(key="year", value=1962, operator=">=")],
            ),
            food,
        ],
        condition=FilterCondition.OR,
    )
    assert matching(nested) == {"c", "d"}
    assert matching(MetadataFilters(filters=[])) == set(DOCS)


def test_equality_only_filters_become_a_mapping_others_a_predicate():
    eq = MetadataFilters(
        filters=[
            MetadataFilter(key="topic", value="aero"),
            MetadataFilters(filters=[MetadataFilter(key="year", value=1961)]),
        ]
    )
    assert metadata_filters_to_mapping(eq) == {"topic": "aero", "year": 1961}
    assert to_store_filter(eq) == {"topic": "aero", "year": 1961}

    for not_a_mapping in [
        one("year", 1961, FilterOperator.GT),
        MetadataFilters(
            filters=[MetadataFilter(key="topic", value="aero")], condition=FilterCondition.OR
        ),
        MetadataFilters(
            filters=[
                MetadataFilter(key="topic", value="aero"),
                MetadataFilter(key="topic", value="heat"),
            ]
        ),
    ]:
        assert metadata_filters_to_mapping(not_a_mapping) is None
        store_filter = to_store_filter(not_a_mapping)
        assert callable(store_filter)
        pred = metadata_filters_to_predicate(not_a_mapping)
        assert all(store_filter(m) == pred(m) for m in DOCS.values())
    assert to_store_filter(None) is None
    assert to_store_filter(MetadataFilters(filters=[])) is None


@pytest.mark.parametrize(
    "bad",
    [
        one("topic", "aero", FilterOperator.IN),  # IN needs a list
        one("topic", "aero", FilterOperator.NIN),
        one("tags", "x", FilterOperator.ANY),
        one("year", [1, 2], FilterOperator.GT),
        one("title", 3, FilterOperator.TEXT_MATCH),
    ],
)
def test_malformed_filters_raise_value_error(bad):
    with pytest.raises(ValueError, match="filters"):
        to_store_filter(bad)


def test_not_metadata_filters_is_rejected():
    with pytest.raises(ValueError, match="filters"):
        metadata_filters_to_predicate({"topic": "aero"})  # type: ignore[arg-type]
