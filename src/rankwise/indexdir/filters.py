"""Metadata conditions of ``search --filter`` and of the server's ``/v1/search``.

``key=value`` keeps exactly what the Python dict filter ``{key: value}`` keeps on every store
(the key is present and its value ``==`` the given one; ``True == 1`` as in Python and Milvus).
The other operators extend that rule:

- ``key!=value``: the key is present and its value differs (a document without the key is not
  kept, as Milvus treats a missing JSON key);
- ``key>v``, ``key>=v``, ``key<v``, ``key<=v``: the key is present and both sides are numbers
  (bool excluded) or both are strings (compared by code point); anything else is not kept.

A value that reads as a JSON number, ``true``, ``false`` or a quoted JSON string is that value;
any other text is a string (``lang=en``). ``year="1956"`` compares with the string ``"1956"``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rankwise._checks import text_arg

OPERATORS = ("!=", ">=", "<=", "=", ">", "<")
_CONDITION_RE = re.compile(r"^\s*([^=!<>]+?)\s*(!=|>=|<=|=|>|<)(.*)$", re.DOTALL)


class FilterError(ValueError):
    """A condition that cannot be parsed; the message quotes it."""


@dataclass(frozen=True)
class Condition:
    """One ``key <op> value`` test on a document's metadata."""

    key: str
    op: str
    value: Any

    def __call__(self, meta: Mapping[str, Any]) -> bool:
        if self.key not in meta:
            return False
        have = meta[self.key]
        if self.op == "=":
            return bool(have == self.value)
        if self.op == "!=":
            return bool(have != self.value)
        if not _comparable(have, self.value):
            return False
        if self.op == ">":
            return bool(have > self.value)
        if self.op == ">=":
            return bool(have >= self.value)
        if self.op == "<":
            return bool(have < self.value)
        return bool(have <= self.value)

    def __str__(self) -> str:
        return f"{self.key}{self.op}{json.dumps(self.value, ensure_ascii=False)}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _comparable(a: object, b: object) -> bool:
    if _is_number(a) and _is_number(b):
        return not (isinstance(a, float) and math.isnan(a))
    return isinstance(a, str) and isinstance(b, str)


def parse_value(text: str) -> Any:
    """A JSON number, ``true``/``false`` or quoted string as that value; other text as is."""
    stripped = text.strip()
    if stripped:
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            return text
        if isinstance(value, (bool, str)) or (_is_number(value) and math.isfinite(value)):
            return value
    return text


def parse_condition(text: str) -> Condition:
    """``"year>=1950"`` -> ``Condition("year", ">=", 1950)``."""
    text_arg(text, "filter")
    match = _CONDITION_RE.match(text)
    if match is None or not match.group(1).strip():
        raise FilterError(
            f"filter {text!r} is not KEY=VALUE (or KEY!=VALUE, KEY>VALUE, KEY>=VALUE, "
            "KEY<VALUE, KEY<=VALUE)"
        )
    key, op, raw = match.group(1).strip(), match.group(2), match.group(3)
    value = parse_value(raw)
    if op in (">", ">=", "<", "<=") and not (_is_number(value) or isinstance(value, str)):
        raise FilterError(f"filter {text!r}: {op} compares numbers or strings")
    return Condition(key, op, value)


def conditions_from_json(value: object) -> list[Condition]:
    """The ``filter`` of a JSON request: ``{"key": value, ...}`` (equalities, as the Python dict
    filter), a list of ``"key<op>value"`` strings, or null."""
    if value is None:
        return []
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if not key:
                raise FilterError("filter keys must be non-empty strings")
            if item is None or isinstance(item, (dict, list)):
                raise FilterError(
                    f"filter[{key!r}] must be a string, number or boolean, got "
                    f"{'null' if item is None else type(item).__name__}"
                )
            out.append(Condition(key, "=", item))
        return out
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise FilterError('filter must be an object or a list of "key<op>value" strings')
        return [parse_condition(v) for v in value]
    raise FilterError(
        'filter must be an object of metadata equalities or a list of "key<op>value" strings'
    )


def equalities(conditions: list[Condition]) -> dict[str, Any]:
    """The ``=`` conditions as a dict filter every store evaluates itself (first per key)."""
    out: dict[str, Any] = {}
    for c in conditions:
        if c.op == "=":
            out.setdefault(c.key, c.value)
    return out


def only_equalities(conditions: list[Condition]) -> bool:
    """True when the conditions are exactly the dict filter :func:`equalities` gives."""
    keys = [c.key for c in conditions]
    return all(c.op == "=" for c in conditions) and len(set(keys)) == len(keys)


def predicate(conditions: list[Condition]) -> Callable[[Mapping[str, Any]], bool]:
    """True for metadata that meets every condition."""
    conds = list(conditions)

    def keep(meta: Mapping[str, Any]) -> bool:
        return all(c(meta) for c in conds)

    return keep


__all__ = [
    "OPERATORS",
    "Condition",
    "FilterError",
    "conditions_from_json",
    "equalities",
    "only_equalities",
    "parse_condition",
    "parse_value",
    "predicate",
]
