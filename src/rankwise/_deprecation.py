"""Renamed arguments kept for one release: one warning text and one rule for old + new.

rankwise uses one name per setting (the glossary in docs/CONTRIBUTING.md). Where a name
changed, the old one still works for one minor release: it warns with a
``DeprecationWarning`` naming the new name, and giving both is a ``TypeError``. The
integrations use the same helper, since they are released together with the core.
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

T = TypeVar("T")


def warn_renamed(where: str, old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` (an argument, attribute or value of ``where``) is now ``new``."""
    warnings.warn(
        f"{where}: {old} is deprecated and will be removed in the next minor release; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed_argument(
    where: str,
    old: str,
    new: str,
    old_value: Any,
    new_value: T,
    new_default: object,
    *,
    stacklevel: int = 4,
) -> T:
    """The value of a renamed keyword argument.

    ``old_value`` is what the caller gave under the deprecated name ``old`` (``None`` when
    not given). When given it warns and is returned; when ``new`` was also changed from its
    ``new_default`` the call is ambiguous and raises ``TypeError`` naming both.
    """
    if old_value is None:
        return new_value
    warn_renamed(where, f"{old}=", f"{new}=", stacklevel=stacklevel)
    if new_value is not new_default and new_value != new_default:
        raise TypeError(f"{where}: give {new}= only, not both {new}= and its old name {old}=")
    return old_value  # type: ignore[no-any-return]


__all__ = ["renamed_argument", "warn_renamed"]
