"""Translate LlamaIndex ``MetadataFilters`` into the rankwise filter a store can apply.

Every ``TextStore`` applies its filter *inside* the top-k, in one of the forms it declares
(``store.filter_kinds``; see :class:`rankwise.types.TextStore`). A filter tree made only of
``EQ`` leaves joined by ``AND`` becomes a mapping of metadata equalities, which every store
takes. Anything else becomes a predicate over the metadata dict for stores that run Python
(the embedded indexes), or a Milvus boolean expression — every value quoted and escaped —
for the Milvus stores. A filter no form of the store can express raises
:class:`rankwise.types.FilterNotSupportedError`; nothing is ever filtered on the client.

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

from rankwise.milvus.filters import literal, quote
from rankwise.types import Filter, FilterKind, FilterNotSupportedError

#: What a store that declares no ``filter_kinds`` is taken to accept.
DEFAULT_FILTER_KINDS: tuple[FilterKind, ...] = ("mapping", "ids", "predicate")

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


def store_filter_kinds(store: object) -> tuple[FilterKind, ...]:
    """The filter forms ``store`` declares (``filter_kinds``), else mapping/ids/predicate."""
    kinds = getattr(store, "filter_kinds", None)
    return DEFAULT_FILTER_KINDS if kinds is None else tuple(kinds)


def _path(key: str) -> str:
    return f"metadata[{quote(key)}]"


def _list_literal(values: object, where: str) -> str:
    if not isinstance(values, list):  # pragma: no cover - _check_leaf refused it already
        raise ValueError(f"{where}: needs a list value")
    return "[" + ", ".join(literal(v, where=where) for v in values) + "]"


def _any_equal(path: str, values: object, where: str) -> str:
    # ``json_field["key"] in [...]`` is not understood by Milvus Lite: spell IN as equalities.
    if not isinstance(values, list):  # pragma: no cover - _check_leaf refused it already
        raise ValueError(f"{where}: needs a list value")
    if not values:
        return "false"
    return "(" + " or ".join(f"{path} == {literal(v, where=where)}" for v in values) + ")"


def _leaf_expr(f: MetadataFilter) -> str:
    _check_leaf(f)
    op = FilterOperator(f.operator)
    path = _path(f.key)
    where = f"filters[{f.key!r}]"
    value = f.value
    if op in (FilterOperator.IS_EMPTY, FilterOperator.TEXT_MATCH):
        raise FilterNotSupportedError("Milvus", f"{op.name} metadata", ["mapping", "expression"])
    if op == FilterOperator.TEXT_MATCH_INSENSITIVE:
        raise FilterNotSupportedError("Milvus", f"{op.name} metadata", ["mapping", "expression"])
    if value is None:
        raise ValueError(f"{where}: Milvus cannot compare with None (a JSON null is a missing key)")
    # A document without the key matches only NE and NIN, as LlamaIndex's in-memory store does.
    # Every other leaf says "exists and ...", so it is plainly false (not null) there and a
    # NOT above it stays two-valued.
    if op == FilterOperator.NE:
        return f"(not exists {path} or {path} != {literal(value, where=where)})"
    if op == FilterOperator.NIN:
        return f"(not exists {path} or not {_any_equal(path, value, where)})"
    if op == FilterOperator.IN:
        test = _any_equal(path, value, where)
    elif op == FilterOperator.CONTAINS:
        test = f"json_contains({path}, {literal(value, where=where)})"
    elif op == FilterOperator.ANY:
        test = f"json_contains_any({path}, {_list_literal(value, where)})"
    elif op == FilterOperator.ALL:
        test = f"json_contains_all({path}, {_list_literal(value, where)})"
    else:
        symbol = {
            FilterOperator.EQ: "==",
            FilterOperator.GT: ">",
            FilterOperator.GTE: ">=",
            FilterOperator.LT: "<",
            FilterOperator.LTE: "<=",
        }[op]
        test = f"{path} {symbol} {literal(value, where=where)}"
    return f"(exists {path} and {test})"


def metadata_filters_to_expr(filters: MetadataFilters) -> str:
    """The filters as a Milvus boolean expression over the ``metadata`` JSON field.

    Keys and values are quoted and escaped, so no filter value can change the expression.
    ``CONTAINS``/``ANY``/``ALL`` test membership in a list value; ``TEXT_MATCH`` and
    ``IS_EMPTY`` have no exact Milvus form and raise :class:`FilterNotSupportedError`.
    """
    if not isinstance(filters, MetadataFilters):
        raise ValueError(
            f"filters must be llama_index MetadataFilters, got {type(filters).__name__}"
        )
    parts = [
        metadata_filters_to_expr(item) if isinstance(item, MetadataFilters) else _leaf_expr(item)
        for item in filters.filters
    ]
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    if not parts:  # as the predicate: all([]) for AND, any([]) for OR, not any([]) for NOT
        return "false" if condition == FilterCondition.OR else "true"
    if condition == FilterCondition.NOT:
        return "not (" + " or ".join(parts) + ")"
    joiner = " and " if condition == FilterCondition.AND else " or "
    return "(" + joiner.join(parts) + ")"


def to_store_filter(
    filters: MetadataFilters | None, kinds: tuple[FilterKind, ...] = DEFAULT_FILTER_KINDS
) -> Filter | None:
    """The rankwise filter for ``filters`` in a form a store taking ``kinds`` applies itself:
    a mapping where possible, else a predicate, else a Milvus expression."""
    if filters is None:
        return None
    predicate = metadata_filters_to_predicate(filters)  # validates every leaf
    if not filters.filters:
        return None
    mapping = metadata_filters_to_mapping(filters)
    if mapping is not None and "mapping" in kinds:
        return mapping
    if "predicate" in kinds:

        def accept(metadata: dict[str, Any]) -> bool:
            return predicate(metadata)

        return accept
    if "expression" in kinds:
        return metadata_filters_to_expr(filters)
    raise FilterNotSupportedError("this store", "MetadataFilters", kinds)


__all__ = [
    "DEFAULT_FILTER_KINDS",
    "metadata_filters_to_expr",
    "metadata_filters_to_mapping",
    "metadata_filters_to_predicate",
    "store_filter_kinds",
    "to_store_filter",
]
