"""Lazy imports of optional dependencies, with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def install_hint(extra: str) -> str:
    """The exact pip line that installs ``extra``."""
    return f'pip install "rankwise[{extra}]"'


def require(module: str, extra: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ImportError naming the extra that provides it.

    Heavy backends (torch, transformers, SDKs, pymilvus) are imported only when a backend
    that needs them is used, so ``import rankwise`` stays light.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or module
        raise ImportError(
            f"{what} needs the optional dependency {module!r}, which is not installed. "
            f"Install it with: {install_hint(extra)}"
        ) from exc
