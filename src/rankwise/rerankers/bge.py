"""BGE rerankers with FlagEmbedding's semantics.

Score convention (as FlagEmbedding's ``compute_score``): with ``normalize=True`` (the
default here) ``score = sigmoid(logit)`` in (0, 1) (e.g. 0.99 for a clear match); with
``normalize=False`` the raw logit.

Encoder-only BGE rerankers (``bge-reranker-base/large``, ``bge-reranker-v2-m3``: XLM-R /
BERT sequence classifiers) are scored by the same lean loop as
:class:`~rankwise.rerankers.cross_encoder.CrossEncoderReranker` with FlagEmbedding's
tokenization rules: the query is cut to ``query_max_length`` tokens (default
``max_length * 3 // 4``), the pair to ``max_length`` by truncating only the passage. Scores
equal ``FlagReranker(...).compute_score(pairs)``; the difference is speed: FlagReranker runs
every call's first batch twice (a batch-size probe) and batches 128 pairs padded to the longest,
where this loop plans length-sorted, padding-minimal batches.

The model families only FlagEmbedding defines (LLM rerankers such as ``bge-reranker-v2-gemma``,
layerwise ``bge-reranker-v2-minicpm-layerwise``, lightweight ``bge-reranker-v2.5-gemma2-
lightweight``) are delegated to FlagEmbedding's own classes (``rankwise[bge]``); pass
``flag_kwargs`` to their constructor and ``score_kwargs`` (e.g. ``cutoff_layers``) to
``compute_score``. Under transformers 5, FlagEmbedding 1.4.2 runs the LLM rerankers
(``FlagLLMReranker``) but not the layerwise and lightweight ones, whose model code needs
transformers 4 internals: those raise an ImportError at construction naming the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from rankwise._model_paths import check_device, check_model_path
from rankwise._optional import require
from rankwise.rerankers._flagembedding import (
    TRANSFORMERS_4_FIX,
    import_flagembedding,
    needs_transformers_4,
    progress_bars,
)
from rankwise.rerankers.cross_encoder import (
    CrossEncoderReranker,
    FastMode,
    LongDocuments,
    resolve_device,
)

__all__ = ["BGEReranker"]

Backend = Literal["auto", "lean", "flagembedding"]

#: Model types of decoder-only (LLM) rerankers that only FlagEmbedding knows how to score.
_DECODER_TYPES = {"gemma", "gemma2", "llama", "mistral", "qwen2", "qwen3", "minicpm", "phi3"}


def flag_class_for(model_name: str, model_type: str | None) -> str:
    """Which FlagEmbedding class serves a decoder-only BGE reranker."""
    name = model_name.lower()
    if "layerwise" in name or model_type == "minicpm":
        return "LayerWiseFlagLLMReranker"
    if "lightweight" in name:
        return "LightWeightFlagLLMReranker"
    return "FlagLLMReranker"


class BGEReranker(CrossEncoderReranker):
    """A BAAI BGE reranker (``BAAI/bge-reranker-v2-m3`` by default).

    Args:
        model_name: hub name or local path.
        device: ``None`` picks CUDA when present.
        use_fp16: ``None`` = fp16 on CUDA, fp32 on CPU (FlagEmbedding also forces fp32 on CPU).
        normalize: sigmoid scores (default) or raw logits.
        batch_size, max_length, query_max_length, show_progress, long_documents,
        window_overlap, fast, batch_overhead: as for ``CrossEncoderReranker``.
        backend: ``"auto"`` (lean loop for encoder-only models, FlagEmbedding for the rest),
            ``"lean"`` or ``"flagembedding"``.
    """

    _label = "bge"

    def __init__(
        self,
        model_name: str = "BAAI/bge-reranker-v2-m3",
        *,
        device: str | None = None,
        use_fp16: bool | None = None,
        normalize: bool = True,
        batch_size: int = 32,
        max_length: int = 512,
        query_max_length: int | None = None,
        show_progress: bool | None = None,
        long_documents: LongDocuments = "truncate",
        window_overlap: int = 64,
        fast: FastMode = False,
        batch_overhead: float | None = None,
        backend: Backend = "auto",
        trust_remote_code: bool = False,
        flag_kwargs: Mapping[str, Any] | None = None,
        score_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if backend not in ("auto", "lean", "flagembedding"):
            raise ValueError(f"backend must be 'auto', 'lean' or 'flagembedding', got {backend!r}")
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be True or False, got {normalize!r}")
        if not isinstance(model_name, str) or not model_name:
            raise ValueError("model_name must be a non-empty string")
        model_name = check_model_path(model_name, "model_name")
        self.normalize = normalize
        self._flag: Any = None
        self.score_kwargs = dict(score_kwargs or {})
        for module in ("torch", "transformers"):  # name the bge extra, not the transformers one
            require(module, "bge", feature="BGEReranker")
        resolved_device = check_device(resolve_device(device))
        if use_fp16 is None:
            use_fp16 = resolved_device.startswith("cuda")
        self.use_fp16 = bool(use_fp16) and not resolved_device.startswith("cpu")
        if backend == "auto":
            backend = "flagembedding" if self._is_decoder(model_name, trust_remote_code) else "lean"
        self.backend: Backend = backend
        if backend == "flagembedding":
            if fast:
                raise ValueError(
                    "fast is for encoder-only models, not FlagEmbedding's LLM rerankers"
                )
            self._init_flag(
                model_name,
                resolved_device,
                batch_size,
                max_length,
                query_max_length,
                show_progress,
                trust_remote_code,
                flag_kwargs or {},
            )
            return
        super().__init__(
            model_name,
            device=resolved_device,
            batch_size=batch_size,
            max_length=max_length,
            activation="sigmoid" if normalize else None,
            dtype="float16" if self.use_fp16 else "float32",
            show_progress=show_progress,
            long_documents=long_documents,
            window_overlap=window_overlap,
            fast=fast,
            batch_overhead=batch_overhead,
            query_max_length=query_max_length,
            trust_remote_code=trust_remote_code,
        )

    @staticmethod
    def _is_decoder(model_name: str, trust_remote_code: bool) -> bool:
        transformers = require("transformers", "bge", feature="BGEReranker")
        config = transformers.AutoConfig.from_pretrained(
            model_name, trust_remote_code=trust_remote_code
        )
        model_type = str(getattr(config, "model_type", "") or "")
        archs = [str(a) for a in (getattr(config, "architectures", None) or [])]
        if model_type in _DECODER_TYPES or any("CausalLM" in a for a in archs):
            return True
        return "layerwise" in model_name.lower() or "gemma" in model_name.lower()

    def _init_flag(
        self,
        model_name: str,
        device: str,
        batch_size: int,
        max_length: int,
        query_max_length: int | None,
        show_progress: bool | None,
        trust_remote_code: bool,
        flag_kwargs: Mapping[str, Any],
    ) -> None:
        model_type = None
        try:
            transformers = require("transformers", "bge")
            cfg = transformers.AutoConfig.from_pretrained(
                model_name, trust_remote_code=trust_remote_code
            )
            model_type = getattr(cfg, "model_type", None)
        except (OSError, ValueError):
            pass
        class_name = flag_class_for(model_name, model_type)
        if needs_transformers_4(class_name):
            raise ImportError(
                f"{model_name} needs FlagEmbedding's {class_name}: {TRANSFORMERS_4_FIX}"
            )
        flag = import_flagembedding("BGEReranker (LLM/layerwise models)")
        cls = getattr(flag, class_name)
        kwargs: dict[str, Any] = {
            "use_fp16": self.use_fp16,
            "devices": device,
            "batch_size": batch_size,
            "max_length": max_length,
            "query_max_length": query_max_length,
            "normalize": self.normalize,
            "trust_remote_code": trust_remote_code,
        }
        kwargs.update(flag_kwargs)
        self._flag = cls(model_name, **kwargs)
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.fast_mode = None
        self.show_progress = show_progress
        self.activation = "sigmoid" if self.normalize else None

    @property
    def name(self) -> str:
        return f"bge:{self.model_name}"

    def __repr__(self) -> str:
        return (
            f"BGEReranker({self.model_name!r}, device={self.device!r}, "
            f"normalize={self.normalize}, backend={self.backend!r})"
        )

    def _score(self, query: str, documents: list[str]) -> list[float]:
        if self._flag is None:
            return super()._score(query, documents)
        pairs = [[query, d] for d in documents]
        with progress_bars(self._flag, self._shows_progress(len(pairs))):
            out = self._flag.compute_score(pairs, normalize=self.normalize, **self.score_kwargs)
        scores = [float(out)] if isinstance(out, (int, float)) else [float(s) for s in out]
        if len(scores) != len(documents) or not all(math.isfinite(s) for s in scores):
            raise RuntimeError(
                f"FlagEmbedding returned {len(scores)} scores for {len(documents)} documents"
            )
        return scores
