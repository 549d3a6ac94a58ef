"""What the local-model rerankers (cross-encoder, BGE, LLM) share: their label and name, the
``fast`` switch, ``repr`` and when a progress bar shows.

Why: each of them kept its own copy of these few lines; one base keeps the naming and the
progress rule the same for every local model.
"""

from __future__ import annotations

from typing import Literal

from rankwise.rerankers.base import BaseReranker

__all__ = ["PROGRESS_MIN_PAIRS", "Activation", "FastMode", "LocalReranker"]

Activation = Literal["sigmoid"] | None
FastMode = bool | Literal["bf16", "int8"]

#: Progress bars appear by default only for calls with at least this many pairs.
PROGRESS_MIN_PAIRS = 1000


class LocalReranker(BaseReranker):
    """Base of the rerankers that run a model in this process.

    A subclass sets ``_label`` (the spec kind, e.g. ``"cross-encoder"``) and, in its
    constructor, ``model_name``, ``device``, ``activation``, ``fast_mode`` and
    ``show_progress``.
    """

    _label = "local"
    model_name: str
    device: str
    activation: Activation
    fast_mode: Literal["bf16", "int8"] | None
    show_progress: bool | None

    @property
    def fast(self) -> bool:
        """Whether an approximate fast mode (``fast_mode``) is on."""
        return self.fast_mode is not None

    @property
    def name(self) -> str:
        return f"{self._label}:{self.model_name}"

    def _repr_details(self) -> str:
        """Settings shown in ``repr`` between the model name and the device (subclass hook)."""
        return ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.model_name!r}, {self._repr_details()}"
            f"device={self.device!r}, activation={self.activation!r}, "
            f"fast={self.fast_mode or False!r})"
        )

    def _shows_progress(self, pairs: int) -> bool:
        """``show_progress``, where ``None`` means: only for calls of many pairs."""
        if self.show_progress is None:
            return pairs >= PROGRESS_MIN_PAIRS
        return self.show_progress
