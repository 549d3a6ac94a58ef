"""Document embeddings cached on disk, keyed by the model and the exact texts.

Used by ``rankwise eval`` and the evaluation cookbook so a second run over the same corpus
skips the embedding pass.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def default_cache_dir() -> Path:
    """``$RANKWISE_CACHE_DIR``, else ``$XDG_CACHE_HOME/rankwise``, else ``~/.cache/rankwise``."""
    env = os.environ.get("RANKWISE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rankwise"


def embed_corpus(
    embedder: Any,
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    show_progress: bool = False,
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Embed ``texts`` with ``embedder`` (a SentenceEmbedder), reusing a disk cache if given.

    The cache file is keyed by the embedder's fingerprint and a digest of the texts, so a
    changed model or corpus never reuses stale vectors. Loaded vectors are also put in the
    embedder's memory cache, so reranking these documents later costs nothing.
    """
    path: Path | None = None
    if cache_dir is not None:
        h = hashlib.sha256(embedder.fingerprint().encode())
        for t in texts:
            h.update(hashlib.sha256(t.encode("utf-8")).digest())
        path = Path(cache_dir) / "embeddings" / f"{h.hexdigest()[:32]}.npy"
        if path.is_file():
            try:
                vecs = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                vecs = None
            if vecs is not None and vecs.shape[0] == len(texts):
                loaded: np.ndarray[Any, np.dtype[np.float32]] = vecs.astype(np.float32)
                embedder.remember(list(texts), loaded)
                return loaded
    vecs = np.asarray(embedder.encode(list(texts), show_progress=show_progress), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, vecs, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache is not an error: the vectors are in memory
    return vecs


__all__ = ["default_cache_dir", "embed_corpus"]
