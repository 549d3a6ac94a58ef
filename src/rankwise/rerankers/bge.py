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

Structure: a :class:`BGEReranker` holds one scorer (``scorer``) behind the ``_score`` contract of
:class:`~rankwise.rerankers.base.BaseReranker`: a :class:`CrossEncoderReranker` (the lean loop)
or a :class:`~rankwise.rerankers._flagembedding.FlagScorer` (the hand-off). The model config is
read once, here, and handed to the lean loop's model loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from rankwise._checks import positive_int
from rankwise._model_paths import check_device, check_model_path
from rankwise._optional import require
from rankwise.rerankers._flagembedding import FlagScorer
from rankwise.rerankers._local import FastMode, LocalReranker
from rankwise.rerankers.cross_encoder import CrossEncoderReranker, LongDocuments, resolve_device

__all__ = ["BGEReranker"]

Backend = Literal["auto", "lean", "flagembedding"]

#: Model types of decoder-only (LLM) rerankers that only FlagEmbedding knows how to score.
_DECODER_TYPES = {"gemma", "gemma2", "llama", "mistral", "qwen2", "qwen3", "minicpm", "phi3"}


class PairScorer(Protocol):
    """What a :class:`BGEReranker` delegates to: ``_score`` as :class:`BaseReranker` defines it
    (one score per document, input order) and the torch model it runs."""

    @property
    def model(self) -> Any: ...

    @property
    def tokenizer(self) -> Any: ...

    def _score(self, query: str, documents: list[str]) -> list[float]: ...


def flag_class_for(model_name: str, model_type: str | None) -> str:
    """Which FlagEmbedding class serves a decoder-only BGE reranker."""
    name = model_name.lower()
    if "layerwise" in name or model_type == "minicpm":
        return "LayerWiseFlagLLMReranker"
    if "lightweight" in name:
        return "LightWeightFlagLLMReranker"
    return "FlagLLMReranker"


def is_decoder(model_name: str, config: Any) -> bool:
    """Whether ``config`` (or the name) is a decoder-only reranker's, scored by FlagEmbedding."""
    model_type = str(getattr(config, "model_type", "") or "")
    archs = [str(a) for a in (getattr(config, "architectures", None) or [])]
    if model_type in _DECODER_TYPES or any("CausalLM" in a for a in archs):
        return True
    return "layerwise" in model_name.lower() or "gemma" in model_name.lower()


class BGEReranker(LocalReranker):
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
        trust_remote_code: as for ``transformers``' ``from_pretrained``.
        flag_kwargs: extra keyword arguments of FlagEmbedding's reranker class.
        score_kwargs: extra keyword arguments of FlagEmbedding's ``compute_score``.

    The scorer (``scorer``) is a :class:`CrossEncoderReranker` on the lean backend and a
    :class:`~rankwise.rerankers._flagembedding.FlagScorer` on the FlagEmbedding one.
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
        for module in ("torch", "transformers"):  # name the bge extra, not the transformers one
            require(module, "bge", feature="BGEReranker")
        self.model_name = model_name
        self.normalize = normalize
        self.batch_size = positive_int(batch_size, "batch_size")
        self.max_length = positive_int(max_length, "max_length")
        self.show_progress = show_progress
        self.score_kwargs = dict(score_kwargs or {})
        self.device = check_device(resolve_device(device))
        if use_fp16 is None:
            use_fp16 = self.device.startswith("cuda")
        self.use_fp16 = bool(use_fp16) and not self.device.startswith("cpu")
        config = self._read_config(backend, trust_remote_code)
        if backend == "auto":
            backend = "flagembedding" if is_decoder(model_name, config) else "lean"
        self.backend: Backend = backend
        self.activation = "sigmoid" if normalize else None
        self.scorer: PairScorer
        if backend == "flagembedding":
            if fast:
                raise ValueError(
                    "fast is for encoder-only models, not FlagEmbedding's LLM rerankers"
                )
            constructor: dict[str, Any] = {
                "use_fp16": self.use_fp16,
                "devices": self.device,
                "batch_size": batch_size,
                "max_length": max_length,
                "query_max_length": query_max_length,
                "normalize": normalize,
                "trust_remote_code": trust_remote_code,
                **(flag_kwargs or {}),
            }
            self.scorer = FlagScorer(
                model_name,
                flag_class_for(model_name, getattr(config, "model_type", None)),
                constructor,
                normalize=normalize,
                score_kwargs=self.score_kwargs,
                shows_progress=self._shows_progress,
            )
            self.fast_mode = None
            return
        lean = CrossEncoderReranker(
            model_name,
            device=self.device,
            batch_size=batch_size,
            max_length=max_length,
            activation=self.activation,
            dtype="float16" if self.use_fp16 else "float32",
            show_progress=show_progress,
            long_documents=long_documents,
            window_overlap=window_overlap,
            fast=fast,
            batch_overhead=batch_overhead,
            query_max_length=query_max_length,
            trust_remote_code=trust_remote_code,
            config=config,
        )
        self.scorer = lean
        self.fast_mode = lean.fast_mode

    def _read_config(self, backend: Backend, trust_remote_code: bool) -> Any:
        """The model's config, read once for the whole construction (``None`` on the lean
        backend, whose loader reads it; ``None`` too when a forced FlagEmbedding hand-off
        cannot read it: FlagEmbedding then reports the problem itself)."""
        if backend == "lean":
            return None
        transformers = require("transformers", "bge", feature="BGEReranker")
        try:
            return transformers.AutoConfig.from_pretrained(
                self.model_name, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError):
            if backend == "auto":
                raise
            return None

    # ----------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The torch model that scores (the lean loop's, or FlagEmbedding's)."""
        return self.scorer.model

    @property
    def tokenizer(self) -> Any:
        """The tokenizer of the model that scores."""
        return self.scorer.tokenizer

    @property
    def unpad(self) -> bool:
        """Whether the lean loop skips padding work (never on the FlagEmbedding backend)."""
        return isinstance(self.scorer, CrossEncoderReranker) and self.scorer.unpad

    def __repr__(self) -> str:
        return (
            f"BGEReranker({self.model_name!r}, device={self.device!r}, "
            f"normalize={self.normalize}, backend={self.backend!r})"
        )

    def _score(self, query: str, documents: list[str]) -> list[float]:
        return self.scorer._score(query, documents)
