"""Translate rankwise search filters into Milvus boolean expressions.

A metadata filter ``{"lang": "en", "year": 2024}`` becomes
``metadata["lang"] == "en" and metadata["year"] == 2024``; an allowed-id set becomes
``id in ["a", "b"]``. Every key and value is written as a quoted, escaped literal, so a filter
value such as ``x" or id != "`` stays one string literal and can never change the expression.

A ``str`` filter is a Milvus boolean expression the caller wrote, passed through as is.
Predicates (callables) cannot run inside Milvus and are rejected with
:class:`~rankwise.types.FilterNotSupportedError` (a ``ValueError``). Nothing here imports
pymilvus.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from rankwise._checks import has_lone_surrogate, text_arg
from rankwise.types import FilterKind, check_filter

__all__ = [
    "MILVUS_FILTER_KINDS",
    "filter_to_expr",
    "ids_expr",
    "literal",
    "metadata_expr",
    "quote",
]

#: Escapes understood by both the Milvus server's expression grammar and Milvus Lite's parser.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def quote(value: str) -> str:
    """``value`` as a double-quoted Milvus string literal, with every special character escaped."""
    if not isinstance(value, str):
        raise ValueError(f"quote() takes a string, got {type(value).__name__}")
    if has_lone_surrogate(value):
        raise ValueError(
            f"{value!r} contains a lone surrogate code point: it can't be sent to Milvus"
        )
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def _literal(value: Any, *, where: str) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{where}: integer {value} does not fit in 64 bits")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} cannot be compared in a Milvus filter")
        return repr(value)
    raise ValueError(
        f"{where}: unsupported value type {type(value).__name__}; Milvus metadata filters "
        "compare str, int, float or bool"
    )


def literal(value: Any, *, where: str = "filter") -> str:
    """``value`` (str, int, float or bool) as a Milvus literal, strings quoted and escaped."""
    return _literal(value, where=where)


def _field(field: str, key: str) -> str:
    return f"{field}[{quote(key)}]"


def metadata_expr(filter: Mapping[str, Any], field: str = "metadata") -> str:
    """Expression matching documents whose metadata equals every ``key: value`` of ``filter``.

    Values are str, int, float or bool (as in the embedded index, ``True == 1``). ``None`` is
    refused: Milvus treats a JSON null like a missing key, while the embedded index matches only a
    stored ``None``. An empty mapping gives ``""`` (no filter).
    """
    parts: list[str] = []
    for key, value in filter.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"filter keys must be non-empty strings, got {key!r}")
        where = f"filter[{key!r}]"
        if value is None:
            raise ValueError(
                f"{where}: Milvus cannot filter on None (it treats a JSON null like a missing "
                "key, so results would differ from the embedded index)"
            )
        parts.append(f"{_field(field, key)} == {_literal(value, where=where)}")
    return " and ".join(parts)


def ids_expr(ids: Iterable[str], field: str = "id") -> str:
    """Expression matching documents whose primary key is one of ``ids`` (sorted, deduplicated)."""
    values = set(ids)
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"filter ids must be strings, got {type(value).__name__}")
    return f"{field} in [{', '.join(quote(v) for v in sorted(values))}]"


#: The filter forms a Milvus collection can apply inside its top-k.
MILVUS_FILTER_KINDS: tuple[FilterKind, ...] = ("mapping", "ids", "expression")


def filter_to_expr(
    filter: object,
    *,
    id_field: str = "id",
    metadata_field: str = "metadata",
    store: str = "Milvus",
) -> str:
    """Translate a rankwise ``Filter`` (or ``None``) into a Milvus expression; ``""`` = no filter.

    An empty id set yields ``id in []``, which matches nothing (as the embedded index does); a
    ``str`` is the caller's own Milvus expression. A predicate raises
    :class:`~rankwise.types.FilterNotSupportedError` naming ``store``.
    """
    kind = check_filter(filter, store, MILVUS_FILTER_KINDS)
    if kind is None:
        return ""
    if kind == "expression":
        assert isinstance(filter, str)
        text_arg(filter, "filter")
        return filter.strip()
    if kind == "ids":
        assert isinstance(filter, (set, frozenset))
        return ids_expr(filter, field=id_field)
    assert isinstance(filter, Mapping)
    return metadata_expr(filter, field=metadata_field)
