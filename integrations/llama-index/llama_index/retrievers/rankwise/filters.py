"""Translate LlamaIndex ``MetadataFilters`` into rankwise search filters.

The embedded BM25 index (and every ``TextStore``) applies a filter *inside* the top-k: a
predicate over a document's metadata dict, or a plain mapping of metadata equalities. A
filter tree made only of ``EQ`` leaves joined by ``AND`` becomes such a mapping (which any
store, Milvus included, can push down); anything else becomes a predicate.

Semantics follow LlamaIndex's in-memory vector store: a missing (``None``) metadata value
matches only ``NE`` and ``NIN`` (and ``IS_EMPTY``); ``NOT`` matches when none of its filters
match. A comparison between incomparable types (``"abc" > 3``) is a non-match, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from rankwise.types import Filter

Predicate = Callable[[Mapping[str, Any]], bool]

_ORDERING = {FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE}
_LIST_VALUED = {FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL}
_TEXT = {FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_leaf(f: MetadataFilter) -> None:
    op = FilterOperator(f.operator)
    value = f.value
    if op in _LIST_VALUED and not isinstance(value, list):
        raise ValueError(f"filters: operator {op.name} on key {f.key!r} needs a list value")
    if op in _ORDERING and not (_is_number(value) or isinstance(value, str)):
        raise ValueError(
            f"filters: operator {op.name} on key {f.key!r} needs a number or string value"
        )
    if op in _TEXT and not isinstance(value, str):
        raise ValueError(f"filters: operator {op.name} on key {f.key!r} needs a string value")


def _compare(op: FilterOperator, actual: Any, value: Any) -> bool:
    if op == FilterOperator.EQ:
        return bool(actual == value)
    if op == FilterOperator.NE:
        return bool(actual != value)
    if op == FilterOperator.GT:
        return bool(actual > value)
    if op == FilterOperator.GTE:
        return bool(actual >= value)
    if op == FilterOperator.LT:
        return bool(actual < value)
    if op == FilterOperator.LTE:
        return bool(actual <= value)
    if op == FilterOperator.IN:
        return actual in value
    if op == FilterOperator.NIN:
        return actual not in value
    if op == FilterOperator.CONTAINS:
        return isinstance(actual, (list, tuple, set, frozenset, str)) and value in actual
    if op == FilterOperator.ANY:
        return isinstance(actual, (list, tuple, set, frozenset)) and any(v in actual for v in value)
    if op == FilterOperator.ALL:
        return isinstance(actual, (list, tuple, set, frozenset)) and all(v in actual for v in value)
    if op == FilterOperator.TEXT_MATCH:
        return isinstance(actual, str) and value in actual
    if op == FilterOperator.TEXT_MATCH_INSENSITIVE:
        return isinstance(actual, str) and value.lower() in actual.lower()
    raise ValueError(f"filters: unsupported operator {op!r}")  # pragma: no cover


def _leaf_predicate(f: MetadataFilter) -> Predicate:
    _check_leaf(f)
    op = FilterOperator(f.operator)
    key = f.key
    value = f.value

    if op == FilterOperator.IS_EMPTY:

        def is_empty(metadata: Mapping[str, Any]) -> bool:
            actual = metadata.get(key)
            return actual is None or actual == "" or actual == []

        return is_empty

    def match(metadata: Mapping[str, Any]) -> bool:
        actual = metadata.get(key)
        if actual is None:
            return op in (FilterOperator.NE, FilterOperator.NIN)
        try:
            return _compare(op, actual, value)
        except TypeError:
            return False

    return match


def _node_predicate(filters: MetadataFilters) -> Predicate:
    if not isinstance(filters, MetadataFilters):
        raise ValueError(
            f"filters must be llama_index MetadataFilters, got {type(filters).__name__}"
        )
    parts: list[Predicate] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            parts.append(_node_predicate(item))
        else:
            parts.append(_leaf_predicate(item))
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    if condition == FilterCondition.AND:
        return lambda metadata: all(p(metadata) for p in parts)
    if condition == FilterCondition.OR:
        return lambda metadata: any(p(metadata) for p in parts)
    if condition == FilterCondition.NOT:
        return lambda metadata: not any(p(metadata) for p in parts)
    raise ValueError(f"filters: unsupported condition {condition!r}")  # pragma: no cover


def metadata_filters_to_predicate(filters: MetadataFilters) -> Predicate:
    """A predicate over a metadata dict that is true when the document passes ``filters``.

    Raises ValueError for a malformed filter (e.g. ``IN`` without a list value).
    """
    return _node_predicate(filters)


def metadata_filters_to_mapping(filters: MetadataFilters) -> dict[str, Any] | None:
    """The filters as a dict of metadata equalities, or None when they are not only that.

    Only ``EQ`` leaves joined by ``AND`` (nested ``AND`` groups included) qualify; two
    different values for one key make the filter unsatisfiable, which has no mapping form.
    """
    out: dict[str, Any] = {}

    def walk(node: MetadataFilters) -> bool:
        if FilterCondition(node.condition or FilterCondition.AND) != FilterCondition.AND:
            return False
        for item in node.filters:
            if isinstance(item, MetadataFilters):
                if not walk(item):
                    return False
                continue
            if FilterOperator(item.operator) != FilterOperator.EQ or item.value is None:
                return False
            if isinstance(item.value, list):
                return False
            if item.key in out and out[item.key] != item.value:
                return False
            out[item.key] = item.value
        return True

    if not filters.filters:
        return None
    return out if walk(filters) else None


def to_store_filter(filters: MetadataFilters | None) -> Filter | None:
    """The rankwise search filter for ``filters``: a mapping where possible, else a predicate."""
    if filters is None:
        return None
    predicate = metadata_filters_to_predicate(filters)  # validates every leaf
    if not filters.filters:
        return None
    mapping = metadata_filters_to_mapping(filters)
    if mapping is not None:
        return mapping

    def accept(metadata: dict[str, Any]) -> bool:
        return predicate(metadata)

    return accept


__all__ = [
    "metadata_filters_to_mapping",
    "metadata_filters_to_predicate",
    "to_store_filter",
]
