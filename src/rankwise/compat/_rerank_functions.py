"""pymilvus-model's rerank functions, with its constructor parameters, over rankwise backends.

Each class takes the arguments of its pymilvus-model namesake (same names, same defaults),
reads the same environment variables, and returns the same result objects: a list of
:class:`RerankResult` with ``text``, ``score`` and ``index``, best first, ``top_k=5`` unless
told otherwise. Underneath it is a rankwise reranker (:attr:`reranker`), so calls get
rankwise's length-sorted batching, retries with backoff, request splitting, strict response
validation and an async twin (:meth:`arerank`).

Extensions (not in pymilvus-model): the API functions take ``base_url=`` (a compatible server
or a proxy) and pass any rankwise keyword (``timeout``, ``retry``, ...) to the backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rankwise._checks import optional_int
from rankwise.rerankers.base import BaseReranker
from rankwise.types import RerankResult as _RankwiseResult

__all__ = [
    "BGERerankFunction",
    "BaseRerankFunction",
    "CohereRerankFunction",
    "CrossEncoderRerankFunction",
    "JinaRerankFunction",
    "RerankResult",
    "TEIRerankFunction",
    "VoyageRerankFunction",
]

#: pymilvus-model's default ``top_k`` of every ``__call__``.
DEFAULT_TOP_K = 5


@dataclass(frozen=True, slots=True, repr=False)
class RerankResult(_RankwiseResult):
    """A rankwise :class:`~rankwise.types.RerankResult` with pymilvus-model's ``to_dict`` and
    ``repr`` (``RerankResult(text=..., score=..., index=...)``)."""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": self.score, "index": self.index}

    def __str__(self) -> str:
        return f"RerankResult(text={self.text!r}, score={self.score}, index={self.index})"

    __repr__ = __str__


def _top_k(top_k: object) -> int | None:
    """pymilvus-model keeps everything for a falsy ``top_k`` (``None`` or 0)."""
    if top_k is None or (top_k == 0 and not isinstance(top_k, bool)):
        return None
    return optional_int(top_k, "top_k", minimum=0) or None


class BaseRerankFunction:
    """What every compat rerank function shares: ``__call__``, ``arerank``, ``reranker``."""

    #: Whether results carry the document text (Cohere's ``return_documents=False`` does not).
    _return_text = True

    def __init__(self, reranker: BaseReranker) -> None:
        self.reranker = reranker

    def _convert(self, results: Sequence[_RankwiseResult]) -> list[RerankResult]:
        return [
            RerankResult(text=r.text if self._return_text else "", score=r.score, index=r.index)
            for r in results
        ]

    def __call__(
        self, query: str, documents: list[str], top_k: int | None = DEFAULT_TOP_K
    ) -> list[RerankResult]:
        """Rerank ``documents`` for ``query``; the best ``top_k`` (all when 0 or None)."""
        return self._convert(self.reranker.rerank(query, documents, top_k=_top_k(top_k)))

    async def arerank(
        self, query: str, documents: list[str], top_k: int | None = DEFAULT_TOP_K
    ) -> list[RerankResult]:
        """Async twin of ``__call__`` (native async clients for the APIs)."""
        results = await self.reranker.arerank(query, documents, top_k=_top_k(top_k))
        return self._convert(results)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reranker!r})"


def _device(device: object) -> str | None:
    """pymilvus-model's ``""``/``None`` mean "pick one"; a list (FlagEmbedding's multi-device
    form) uses its first device: rankwise runs one model on one device."""
    if isinstance(device, (list, tuple)):
        if not device:
            return None
        device = device[0]
    if device is None or device == "":
        return None
    if not isinstance(device, str):
        raise ValueError(f"device must be a string like 'cpu' or 'cuda:0', got {device!r}")
    return device


class BGERerankFunction(BaseRerankFunction):
    """pymilvus-model's ``BGERerankFunction`` on :class:`rankwise.rerankers.BGEReranker`.

    Scores are FlagEmbedding's: sigmoid-normalised with ``normalize=True`` (the default).
    ``use_fp16`` applies on GPU only (FlagEmbedding also runs fp32 on CPU). Further keyword
    arguments go to ``BGEReranker`` (e.g. ``long_documents="window"``).
    """

    def __init__(
        self,
        model_name: str = "BAAI/bge-reranker-v2-m3",
        use_fp16: bool = True,
        batch_size: int = 32,
        normalize: bool = True,
        device: str | list[str] | None = None,
        query_max_length: int = 256,
        max_length: int = 512,
        **kwargs: Any,
    ) -> None:
        from rankwise.rerankers.bge import BGEReranker

        if "devices" in kwargs:  # FlagEmbedding's spelling, accepted by pymilvus-model too
            device = kwargs.pop("devices")
        self.model_name = model_name
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device
        super().__init__(
            BGEReranker(
                model_name,
                device=_device(device),
                use_fp16=use_fp16,
                normalize=normalize,
                batch_size=batch_size,
                query_max_length=query_max_length,
                max_length=max_length,
                **kwargs,
            )
        )


def _activation(
    activation_fct: Any, model_name: str
) -> tuple[str | None, Callable[..., Any] | None]:
    """(rankwise activation, extra callable) for a sentence-transformers activation.

    ``None`` follows sentence-transformers: the activation saved in the model's config
    (ms-marco cross-encoders save ``Identity``: raw logits), else sigmoid for one-label models.
    """
    if activation_fct is None:
        return _saved_activation(model_name), None
    if isinstance(activation_fct, str):
        name = activation_fct.rsplit(".", 1)[-1].lower()
        if name in ("sigmoid", "identity"):
            return ("sigmoid" if name == "sigmoid" else None), None
        raise ValueError(
            f"activation_fct must be a torch module or callable, got {activation_fct!r}"
        )
    kind = activation_fct if isinstance(activation_fct, type) else type(activation_fct)
    if kind.__name__ == "Sigmoid":
        return "sigmoid", None
    if kind.__name__ == "Identity":
        return None, None
    if not callable(activation_fct):
        raise ValueError(f"activation_fct must be callable, got {activation_fct!r}")
    return None, activation_fct


def _saved_activation(model_name: str) -> str | None:
    import json
    from pathlib import Path

    config_file = Path(model_name) / "config.json"
    config: dict[str, Any] = {}
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
    else:
        try:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(model_name).to_dict()
        except (OSError, ValueError, ImportError):
            config = {}
    saved = config.get("sbert_ce_default_activation_function")
    st = config.get("sentence_transformers")
    if saved is None and isinstance(st, dict):
        saved = st.get("activation_fn")
    if isinstance(saved, str):
        return "sigmoid" if saved.rsplit(".", 1)[-1].lower() == "sigmoid" else None
    return "sigmoid" if int(config.get("num_labels", 1) or 1) == 1 else None


class CrossEncoderRerankFunction(BaseRerankFunction):
    """pymilvus-model's ``CrossEncoderRerankFunction`` on
    :class:`rankwise.rerankers.CrossEncoderReranker`.

    ``activation_fct`` is sentence-transformers' ``default_activation_function``: ``None``
    uses the model's saved choice (raw logits for the ms-marco cross-encoders), a
    ``torch.nn.Sigmoid()`` / ``torch.nn.Identity()`` maps to rankwise's activations, and any
    other callable is applied to the tensor of raw scores. Further keyword arguments go to
    ``CrossEncoderReranker`` (``max_length``, ``long_documents``, ...).
    """

    def __init__(
        self,
        model_name: str = "",
        device: str = "",
        batch_size: int = 32,
        activation_fct: Any = None,
        **kwargs: Any,
    ) -> None:
        from rankwise.rerankers.cross_encoder import CrossEncoderReranker

        if not isinstance(model_name, str) or not model_name:
            raise ValueError("model_name must name a cross-encoder (hub id or local folder)")
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.activation_fct = activation_fct
        activation, self._custom = _activation(activation_fct, model_name)
        reranker: BaseReranker = CrossEncoderReranker(
            model_name,
            device=_device(device),
            batch_size=batch_size,
            activation=activation,  # type: ignore[arg-type]
            **kwargs,
        )
        if self._custom is not None:
            reranker = _Activated(reranker, self._custom)
        super().__init__(reranker)


class _Activated(BaseReranker):
    """A reranker whose raw scores go through a user's activation (as sentence-transformers'
    ``CrossEncoder.predict`` applies ``activation_fct`` to the logits tensor)."""

    def __init__(self, inner: BaseReranker, fn: Callable[..., Any]) -> None:
        self.inner = inner
        self.fn = fn

    @property
    def name(self) -> str:
        return self.inner.name

    def _apply(self, scores: list[float]) -> list[float]:
        import torch

        out = self.fn(torch.tensor(scores, dtype=torch.float32))
        return [float(s) for s in torch.as_tensor(out).reshape(-1).tolist()]

    def _score(self, query: str, documents: list[str]) -> list[float]:
        return self._apply(self.inner._score(query, documents))


def _key(api_key: str | None, env_vars: Sequence[str], provider: str) -> str:
    """``api_key``, else the first set of ``env_vars`` (pymilvus-model's, then rankwise's)."""
    if api_key is not None:
        if not isinstance(api_key, str):
            raise ValueError(f"api_key must be a string, got {type(api_key).__name__}")
        if api_key.strip():
            return api_key
    for name in env_vars:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    names = " or ".join(f"`{n}`" for n in env_vars)
    raise ValueError(
        f"Did not find an api_key for {provider}: pass `api_key` or set the environment "
        f"variable {names}"
    )


class CohereRerankFunction(BaseRerankFunction):
    """pymilvus-model's ``CohereRerankFunction`` on :class:`rankwise.rerankers.CohereReranker`.

    The key comes from ``api_key``, else ``$CO_API_KEY`` (what the Cohere SDK reads), else
    ``$COHERE_API_KEY``. With ``return_documents=False`` result ``text`` is ``""``, as in
    pymilvus-model. ``base_url`` (extension) points at Cohere-compatible servers (vLLM, ...)
    serving ``/v2/rerank``; ``max_tokens_per_doc`` and rankwise keywords pass through.
    """

    def __init__(
        self,
        model_name: str = "rerank-english-v3.0",
        api_key: str | None = None,
        return_documents: bool = True,
        *,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        from rankwise.rerankers.cohere import CohereReranker

        self.model_name = model_name
        self._return_text = bool(return_documents)
        key = _key(api_key, ("CO_API_KEY", "COHERE_API_KEY"), "Cohere")
        super().__init__(CohereReranker(model_name, api_key=key, base_url=base_url, **kwargs))


class VoyageRerankFunction(BaseRerankFunction):
    """pymilvus-model's ``VoyageRerankFunction`` on :class:`rankwise.rerankers.VoyageReranker`.

    The key comes from ``api_key``, else ``$VOYAGE_API_KEY``. ``base_url`` (extension) is the
    API root including ``/v1``.
    """

    def __init__(
        self,
        model_name: str = "rerank-2",
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        from rankwise.rerankers.voyage import VoyageReranker

        self.model_name = model_name
        key = _key(api_key, ("VOYAGE_API_KEY",), "Voyage AI")
        super().__init__(VoyageReranker(model_name, api_key=key, base_url=base_url, **kwargs))


class JinaRerankFunction(BaseRerankFunction):
    """pymilvus-model's ``JinaRerankFunction`` on :class:`rankwise.rerankers.JinaReranker`.

    The key comes from ``api_key``, else ``$JINAAI_API_KEY`` (pymilvus-model's variable), else
    ``$JINA_API_KEY`` (rankwise's). ``base_url`` (extension) replaces
    ``https://api.jina.ai`` (requests go to ``{base_url}/v1/rerank``).
    """

    def __init__(
        self,
        model_name: str = "jina-reranker-v2-base-multilingual",
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        from rankwise.rerankers.jina import JinaReranker

        self.model_name = model_name
        self.api_key = _key(api_key, ("JINAAI_API_KEY", "JINA_API_KEY"), "Jina AI")
        super().__init__(
            JinaReranker(model_name, api_key=self.api_key, base_url=base_url, **kwargs)
        )


class TEIRerankFunction(BaseRerankFunction):
    """pymilvus-model's ``TEIRerankFunction`` on :class:`rankwise.rerankers.TEIReranker`.

    ``api_url`` is the server root (``/rerank`` is added). Unlike pymilvus-model, which always
    returns five results, ``top_k`` is honoured. Keywords (``api_key``, ``timeout``,
    ``truncate``, ...) go to ``TEIReranker``.
    """

    def __init__(self, api_url: str, **kwargs: Any) -> None:
        from rankwise.rerankers.tei import TEIReranker

        reranker = TEIReranker(api_url, **kwargs)
        self.api_url = f"{reranker.base_url}/rerank"
        super().__init__(reranker)
