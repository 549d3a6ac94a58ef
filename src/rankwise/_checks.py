"""Argument checks shared across the package, so every module words its errors alike.

Two input rules live here because every store, the CLI and the rerankers must apply the same
ones (see the README's "Guarantees"):

* **Text** (documents, queries, ids, metadata strings) must be a ``str`` that encodes to UTF-8:
  a lone surrogate such as ``"\\ud800"`` is refused with a ValueError naming the argument, since
  it could be saved but never read back strictly, sent to Milvus or tokenised.
* **Metadata** must be JSON-representable, so a filter that matches before a save/load round trip
  matches after it: ``str`` keys; values ``None``, ``bool``, ``int``, finite ``float``, ``str``,
  lists of these and dicts of these. NumPy scalars are converted to the Python scalar they hold;
  tuples, sets, arrays, datetimes, NaN and infinities are refused (TypeError for a type, ValueError
  for a value), naming the key. The checked value is a fresh copy, so the caller's object is never
  aliased by the store.
"""

from __future__ import annotations

import math
from typing import Any

#: Nested JSON metadata deeper than this is refused (guards against self-referencing lists).
MAX_METADATA_DEPTH = 32


def positive_int(value: object, name: str = "k") -> int:
    """Return ``value`` if it is a positive ``int`` (not a bool); else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def has_lone_surrogate(text: str) -> bool:
    """True where ``text`` holds a lone surrogate code point (it cannot be encoded as UTF-8)."""
    if text.isascii():  # the common case, checked without encoding a copy
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_arg(value: object, name: str) -> str:
    """Return ``value`` if it is a ``str`` without lone surrogates; else an error naming it."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if has_lone_surrogate(value):
        raise ValueError(
            f"{name} contains a lone surrogate code point (not valid Unicode text): "
            "decode its bytes with errors='replace' or remove it"
        )
    return value


def json_metadata(value: object, name: str = "metadata") -> dict[str, Any]:
    """A checked, fresh copy of one metadata dict (the JSON rule in this module's doc)."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict or None, got {type(value).__name__}")
    return _json_dict(value, name, 0)


def _json_dict(value: dict[Any, Any], name: str, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(
                f"{name} has the key {key!r} of type {type(key).__name__}: "
                "metadata keys must be str"
            )
        text_arg(key, f"{name} key {key!r}")
        out[key] = _json_value(item, f"{name}[{key!r}]", depth + 1)
    return out


def _json_value(value: Any, name: str, depth: int) -> Any:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"{name} is nested deeper than {MAX_METADATA_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # an int subclass (IntEnum) becomes the plain int JSON keeps
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name} is {value!r}: metadata numbers must be finite")
        return float(value)
    if isinstance(value, str):
        return str(text_arg(value, name))
    if isinstance(value, list):
        return [_json_value(v, f"{name}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _json_dict(value, name, depth)
    item = getattr(value, "item", None)
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and callable(item):
        return _json_value(item(), name, depth)  # a NumPy scalar: the Python scalar it holds
    raise TypeError(
        f"{name} has type {type(value).__name__}: metadata values must be JSON-representable "
        "(None, bool, int, finite float, str, list or dict of these)"
    )


def copy_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of metadata already checked by :func:`json_metadata` (cheap: no re-checks)."""
    return {k: _copy_json(v) for k, v in value.items()}


def _copy_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    return value
