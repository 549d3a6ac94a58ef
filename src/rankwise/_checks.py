"""Argument checks shared across the package: one rule per kind of argument, one wording.

Every store (``BM25Index``, ``DenseIndex``, the Milvus stores, ``rankwise.testing.stores``), the
rerankers, the CLI, the server and the LangChain/LlamaIndex integrations apply these rules, so an
argument is accepted or refused alike wherever it is passed (see the README's "Guarantees"). A
refused argument is a ValueError or TypeError whose message starts with the argument's name,
raised by the call that received it.

* **Counts** (``k``, ``top_k``, ``top_n``, ``batch_size``, ``n_threads``, ``max_concurrency``,
  ``max_length``, ...): an ``int`` or a NumPy integer (returned as ``int``); never a ``bool``,
  a float or a numeric string. :func:`positive_int` for ``>= 1``, :func:`int_arg` for other
  bounds, :func:`optional_int` where ``None`` means "the default". A value of the wrong type is
  a :class:`ArgumentTypeError`, which is both a TypeError and a ValueError (callers written
  against either keep working); a value out of range is a ValueError.
* **Numbers** (weights, constants, timeouts): :func:`number_arg`, a real number that is finite
  and within the given bounds; ``bool`` is refused.
* **Text** (documents, queries, metadata strings): a ``str`` that encodes to UTF-8; a lone
  surrogate such as ``"\\ud800"`` is refused with a ValueError naming the argument, since it
  could be saved but never read back strictly, sent to Milvus or tokenised. :func:`text_arg`
  for one, :func:`texts_arg` for a list of them.
* **Ids** (:func:`id_arg`, :func:`ids_arg`): text (the rule above) that is not empty and holds at
  most :data:`MAX_ID_BYTES` UTF-8 bytes, the length of the VARCHAR primary key the Milvus stores
  create, so a document written to any store can be moved to any other one. An ``int`` id is
  refused rather than turned into a string: ``7`` and ``"7"`` would otherwise be one document
  in one store and two in another.
* **Lists** (texts, ids, metadatas, queries): any iterable but a single ``str``/``bytes`` (or a
  single dict, for metadatas) — those are refused, as is ``None`` where a list is required.
* **Metadata** must be JSON-representable, so a filter that matches before a save/load round trip
  matches after it: ``str`` keys; values ``None``, ``bool``, ``int``, finite ``float``, ``str``,
  lists of these and dicts of these. NumPy scalars are converted to the Python scalar they hold;
  tuples, sets, arrays, datetimes, NaN and infinities are refused (TypeError for a type, ValueError
  for a value), naming the key. The checked value is a fresh copy, so the caller's object is never
  aliased by the store.

The sibling distributions ``langchain-rankwise`` and ``llama-index-*-rankwise`` use this module
too; they are released with the core and pinned to its minor version, so the names here stay
stable within a minor release.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

#: Nested JSON metadata deeper than this is refused (guards against self-referencing lists).
MAX_METADATA_DEPTH = 32
#: Longest id in UTF-8 bytes: the ``max_length`` of the VARCHAR primary key of the Milvus stores.
MAX_ID_BYTES = 512


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Both a TypeError and a ValueError: the stores used to
    disagree on which one a wrong type raised, and code catching either keeps working."""


def _is_integer(value: object) -> bool:
    # numbers.Integral covers NumPy integers (an np.int64 read from an array, say); not np.bool_
    return type(value) is int or (
        not isinstance(value, bool) and isinstance(value, numbers.Integral)
    )


def int_rule(minimum: int | None = 1, maximum: int | None = None) -> str:
    """How the messages word the bounds: "a positive integer", "an integer in [0, 65535]"."""
    if maximum is not None:
        low = "" if minimum is None else f"{minimum}"
        return f"an integer in [{low}, {maximum}]" if low else f"an integer <= {maximum}"
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    if minimum is None:
        return "an integer"
    return f"an integer >= {minimum}"


def int_arg(
    value: object, name: str, *, minimum: int | None = 1, maximum: int | None = None
) -> int:
    """``value`` as an ``int`` if it is an integer within ``[minimum, maximum]``; else an error
    naming ``name`` (ArgumentTypeError for a non-integer, ValueError for one out of range)."""
    return _int(value, name, minimum, maximum, "")


def optional_int(
    value: object, name: str, *, minimum: int | None = 1, maximum: int | None = None
) -> int | None:
    """:func:`int_arg` where ``None`` is allowed (it means "the default"); None is returned."""
    return None if value is None else _int(value, name, minimum, maximum, " or None")


def _int(value: object, name: str, minimum: int | None, maximum: int | None, alt: str) -> int:
    if not _is_integer(value):
        raise ArgumentTypeError(f"{name} must be {int_rule(minimum, maximum)}{alt}, got {value!r}")
    number = operator.index(value)  # type: ignore[arg-type]
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueError(f"{name} must be {int_rule(minimum, maximum)}{alt}, got {number!r}")
    return number


def positive_int(value: object, name: str = "k") -> int:
    """``value`` as an ``int`` if it is a positive integer (not a bool); else an error naming it."""
    return int_arg(value, name, minimum=1)


def number_arg(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """``value`` as a ``float`` if it is a finite real number within the bounds; else an error
    naming ``name`` (ArgumentTypeError for a non-number or a bool, ValueError otherwise).
    ``exclusive_minimum``: ``minimum`` itself is refused (a timeout of 0, say)."""
    rule = number_rule(minimum, maximum, exclusive_minimum)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be {rule}, got {value!r}")
    number = float(value)
    low_ok = minimum is None or (number > minimum if exclusive_minimum else number >= minimum)
    if not (math.isfinite(number) and low_ok and (maximum is None or number <= maximum)):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return number


def number_rule(
    minimum: float | None = None, maximum: float | None = None, exclusive_minimum: bool = False
) -> str:
    """How the messages word the bounds of a number: "a finite number in [0, 1]"."""
    if minimum is not None and maximum is not None:
        return f"a finite number in {'(' if exclusive_minimum else '['}{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f"a finite number {'>' if exclusive_minimum else '>='} {minimum:g}"
    if maximum is not None:
        return f"a finite number <= {maximum:g}"
    return "a finite number"


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
        raise ArgumentTypeError(f"{name} must be a str, got {type(value).__name__}")
    if has_lone_surrogate(value):
        raise ValueError(
            f"{name} contains a lone surrogate code point (not valid Unicode text): "
            "decode its bytes with errors='replace' or remove it"
        )
    return value


def as_list(values: object, name: str) -> list[Any]:
    """``values`` as a new list: any iterable but a single ``str``/``bytes``/dict, or ``None``."""
    if isinstance(values, (str, bytes)):
        single = "string" if isinstance(values, str) else "bytes object"
        raise ValueError(f"{name} must be a list, not a single {single}")
    if values is None or isinstance(values, Mapping) or not isinstance(values, Iterable):
        raise ArgumentTypeError(f"{name} must be a list, got {type(values).__name__}")
    return list(values)


def texts_arg(values: object, name: str = "texts") -> list[str]:
    """A list of texts (:func:`text_arg` for each, named ``name[i]``)."""
    out = as_list(values, name)
    with contextlib.suppress(TypeError):  # TypeError: an item is not a str
        if all(map(str.isascii, out)):  # all ASCII strings: valid, checked without a call each
            return out
    for i, text in enumerate(out):
        text_arg(text, f"{name}[{i}]")
    return out


def id_arg(value: object, name: str = "id", *, max_bytes: int = MAX_ID_BYTES) -> str:
    """``value`` if it is a valid id (the rule in this module's doc); else an error naming it."""
    text_arg(value, name)
    assert isinstance(value, str)
    if not value:
        raise ValueError(f"{name} must be a non-empty str")
    if len(value) * 4 > max_bytes and len(value.encode("utf-8")) > max_bytes:
        raise ValueError(
            f"{name} is {len(value.encode('utf-8'))} bytes in UTF-8; an id holds at most "
            f"{max_bytes} (the Milvus primary key length)"
        )
    return value


def ids_arg(
    values: object,
    name: str = "ids",
    *,
    count: int | None = None,
    unique: bool = False,
    max_bytes: int = MAX_ID_BYTES,
) -> list[str]:
    """A list of ids (:func:`id_arg` for each). ``count``: the number of texts they name;
    ``unique``: refuse a repeated id (on writes)."""
    out = as_list(values, name)
    for i, doc_id in enumerate(out):
        id_arg(doc_id, f"{name}[{i}]", max_bytes=max_bytes)
    if count is not None and len(out) != count:
        raise ValueError(f"{name} has {len(out)} entries for {count} texts")
    if unique and len(set(out)) != len(out):
        dup = next(i for i, c in Counter(out).items() if c > 1)
        raise ValueError(f"{name} contains the duplicate id {dup!r}")
    return out


def metadatas_arg(values: object, count: int, name: str = "metadatas") -> list[dict[str, Any]]:
    """Checked fresh copies of one metadata dict (or None = ``{}``) per text."""
    if values is None:
        return [{} for _ in range(count)]
    out = as_list(values, name)
    if len(out) != count:
        raise ValueError(f"{name} has {len(out)} entries for {count} texts")
    return [{} if m is None else json_metadata(m, f"{name}[{i}]") for i, m in enumerate(out)]


def json_metadata(value: object, name: str = "metadata") -> dict[str, Any]:
    """A checked, fresh copy of one metadata dict (the JSON rule in this module's doc)."""
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{name} must be a dict or None, got {type(value).__name__}")
    return _json_dict(dict(value), name, 0)


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


#: Value types a metadata copy may share: immutable, so a flat dict of them copies shallowly.
_SHARED_TYPES = frozenset({str, int, float, bool, type(None)})


def copy_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of metadata already checked by :func:`json_metadata` (cheap: no re-checks).

    Lists and dicts inside are copied too. One ``dict(value)`` copies the keys and the
    immutable scalars; only the other values (lists, dicts) are copied one by one: a search
    pays this per hit, and flat metadata costs about half the value-by-value copy."""
    out = dict(value)
    for key, item in value.items():
        if type(item) not in _SHARED_TYPES:  # a list, a dict or anything unexpected
            out[key] = _copy_json(item)
    return out


def _copy_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    return value
