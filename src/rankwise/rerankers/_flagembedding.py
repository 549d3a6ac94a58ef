"""Importing FlagEmbedding under transformers 5.

Why: FlagEmbedding 1.4.2 imports all its model code from its package ``__init__``, and two
of those modules (the layerwise MiniCPM and the lightweight Gemma rerankers) import
``transformers.modeling_attn_mask_utils``, which transformers 5 removed. So ``import
FlagEmbedding`` fails there, even for the rerankers that never touch that module
(``FlagReranker``, ``FlagLLMReranker``). :func:`import_flagembedding` puts a placeholder
module in ``sys.modules`` for the duration of the import only (when the real one is
missing) and takes it out again; the placeholder's functions raise, naming the fix, if the
two affected rerankers ever call them. :func:`needs_transformers_4` tells callers to refuse
those two up front instead. :class:`FlagScorer` is the hand-off itself: one FlagEmbedding
reranker behind the ``_score`` contract that :class:`~rankwise.rerankers.bge.BGEReranker`
delegates to.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from rankwise._optional import require

__all__ = [
    "TRANSFORMERS_4_FIX",
    "TRANSFORMERS_4_ONLY",
    "FlagScorer",
    "import_flagembedding",
    "mask_utils_missing",
    "needs_transformers_4",
    "progress_bars",
]

_MASK_UTILS = "transformers.modeling_attn_mask_utils"

#: FlagEmbedding classes whose model code uses transformers-4-only internals.
TRANSFORMERS_4_ONLY = frozenset({"LayerWiseFlagLLMReranker", "LightWeightFlagLLMReranker"})

TRANSFORMERS_4_FIX = (
    "FlagEmbedding's layerwise and lightweight rerankers use "
    f"{_MASK_UTILS}, which transformers 5 removed; "
    'run them in an environment with pip install "transformers<5"'
)


def _placeholder(name: str) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name}: {TRANSFORMERS_4_FIX}")

    fn.__name__ = name
    return fn


def _placeholder_module() -> ModuleType:
    module = types.ModuleType(_MASK_UTILS)
    module.AttentionMaskConverter = type(  # type: ignore[attr-defined]
        "AttentionMaskConverter", (), {"__init__": _placeholder("AttentionMaskConverter")}
    )
    for name in (
        "_prepare_4d_attention_mask",
        "_prepare_4d_causal_attention_mask",
        "_prepare_4d_causal_attention_mask_for_sdpa",
    ):
        setattr(module, name, _placeholder(name))
    return module


def mask_utils_missing() -> bool:
    """Whether the installed transformers lacks ``modeling_attn_mask_utils`` (transformers 5)."""
    require("transformers", "bge", feature="BGEReranker")
    return importlib.util.find_spec(_MASK_UTILS) is None


def needs_transformers_4(flag_class: str) -> bool:
    """Whether ``flag_class`` cannot run with the installed transformers."""
    return flag_class in TRANSFORMERS_4_ONLY and mask_utils_missing()


def import_flagembedding(feature: str = "BGEReranker") -> ModuleType:
    """``import FlagEmbedding`` (``rankwise[bge]``), under transformers 4 or 5."""
    loaded = sys.modules.get("FlagEmbedding")
    if loaded is not None:
        return loaded
    placed = mask_utils_missing() and _MASK_UTILS not in sys.modules
    if placed:
        sys.modules[_MASK_UTILS] = _placeholder_module()
    try:
        return require("FlagEmbedding", "bge", feature=feature)
    finally:
        if placed:
            sys.modules.pop(_MASK_UTILS, None)


_BARS_LOCK = threading.Lock()


@contextmanager
def progress_bars(scorer: Any, show: bool) -> Iterator[None]:
    """Let FlagEmbedding's ``compute_score`` draw its tqdm bars only when ``show`` is true.

    Why: its LLM rerankers call ``tqdm``/``trange`` with no switch to turn them off, and a
    library call must not print. While ``show`` is false, the bar functions in the modules
    that define ``scorer``'s class are swapped for disabled ones, under a lock (concurrent
    hand-offs run one at a time), and put back afterwards.
    """
    if show:
        yield
        return
    modules = {
        sys.modules[c.__module__]
        for c in type(scorer).__mro__
        if c.__module__.startswith("FlagEmbedding") and c.__module__ in sys.modules
    }
    with _BARS_LOCK:
        saved: list[tuple[ModuleType, str, Any]] = []
        for module in modules:
            for name in ("tqdm", "trange"):
                bar = getattr(module, name, None)
                if callable(bar):
                    saved.append((module, name, bar))
                    setattr(module, name, _disabled(bar))
        try:
            yield
        finally:
            for module, name, bar in saved:
                setattr(module, name, bar)


def _disabled(bar: Any) -> Any:
    def quiet(*args: Any, **kwargs: Any) -> Any:
        return bar(*args, **{**kwargs, "disable": True})

    return quiet


class FlagScorer:
    """One of FlagEmbedding's own rerankers (``FlagLLMReranker``, ...) for the decoder-only BGE
    families, scoring as :meth:`BaseReranker._score <rankwise.rerankers.base.BaseReranker._score>`
    does: one score per document, in input order, with its progress bars off unless asked.

    Args:
        model_name: hub name or local path.
        class_name: the FlagEmbedding class to build (see ``bge.flag_class_for``).
        constructor: keyword arguments of that class (``flag_kwargs`` already merged in).
        normalize: sigmoid scores (FlagEmbedding's ``normalize``).
        score_kwargs: further keyword arguments of ``compute_score``.
        shows_progress: whether a call of this many pairs may draw FlagEmbedding's bars.
    """

    def __init__(
        self,
        model_name: str,
        class_name: str,
        constructor: Mapping[str, Any],
        *,
        normalize: bool,
        score_kwargs: Mapping[str, Any],
        shows_progress: Callable[[int], bool],
    ) -> None:
        if needs_transformers_4(class_name):
            raise ImportError(
                f"{model_name} needs FlagEmbedding's {class_name}: {TRANSFORMERS_4_FIX}"
            )
        flag = import_flagembedding("BGEReranker (LLM/layerwise models)")
        self.flag = getattr(flag, class_name)(model_name, **constructor)
        self.normalize = normalize
        self.score_kwargs = dict(score_kwargs)
        self.shows_progress = shows_progress

    @property
    def model(self) -> Any:
        """The torch model FlagEmbedding loaded."""
        return getattr(self.flag, "model", None)

    @property
    def tokenizer(self) -> Any:
        """The tokenizer FlagEmbedding loaded."""
        return getattr(self.flag, "tokenizer", None)

    def _score(self, query: str, documents: list[str]) -> list[float]:
        pairs = [[query, d] for d in documents]
        with progress_bars(self.flag, self.shows_progress(len(pairs))):
            out = self.flag.compute_score(pairs, normalize=self.normalize, **self.score_kwargs)
        scores = [float(out)] if isinstance(out, (int, float)) else [float(s) for s in out]
        if len(scores) != len(documents) or not all(math.isfinite(s) for s in scores):
            raise RuntimeError(
                f"FlagEmbedding returned {len(scores)} scores for {len(documents)} documents"
            )
        return scores
