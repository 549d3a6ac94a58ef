"""Import FlagEmbedding under transformers 5 (test and benchmark helper only).

FlagEmbedding 1.4.2's package ``__init__`` imports its MiniCPM layerwise model, which imports
``transformers.modeling_attn_mask_utils`` - a module transformers 5 removed. The encoder-only
``FlagReranker`` does not use it. :func:`import_flagembedding` installs a stub for that module
(only when it is missing) so the package imports; the stubbed functions raise if called, so the
layerwise model stays unusable, which is honest. rankwise's own code never does this.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["import_flagembedding"]

_MODULE = "transformers.modeling_attn_mask_utils"


def _stub(name: str) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name} is a stub installed by rankwise.testing")

    fn.__name__ = name
    return fn


def import_flagembedding() -> Any:
    """``import FlagEmbedding``, stubbing the transformers-4-only module it needs if absent."""
    try:
        importlib.import_module(_MODULE)
    except ImportError:
        stub = types.ModuleType(_MODULE)
        stub.AttentionMaskConverter = type("AttentionMaskConverter", (), {})  # type: ignore[attr-defined]
        for name in (
            "_prepare_4d_attention_mask",
            "_prepare_4d_causal_attention_mask",
            "_prepare_4d_causal_attention_mask_for_sdpa",
        ):
            setattr(stub, name, _stub(name))
        sys.modules[_MODULE] = stub
    return importlib.import_module("FlagEmbedding")
