"""The forward pass of a decoder-only reranker: the prompt head once per query, then only what
each document adds, and only the two answer-token logits at its last position.

Why: every document of a query shares the same prompt head (system prompt, instruction, query),
often a third of the tokens. :func:`head_states` runs the head once and keeps its keys/values;
:class:`SharedPrefixCache` hands them to every document batch (broadcast over the batch, joined
with the batch's own keys/values per layer, and never stored, so memory stays that of one
layer). Documents are right-padded: with causal attention a real token never sees the padding
after it, so no mask is needed and the head's positions continue unchanged. The language-model
head runs on the last real token of each row only, and only for the scored token ids
(:class:`AnswerHead`): one ``[rows, hidden] x [hidden, 2]`` product instead of full-vocabulary
logits at every position. Same weights and the same operations as the plain forward, so the
same scores to float rounding (callers self-check against the plain forward at load).

Versions: :class:`SharedPrefixCache` builds on the per-layer KV cache API of transformers 4.56
and later (``cache_utils.DynamicLayer``, ``Cache(layers=...)``, ``DynamicCache().layers``; 4.54
and 4.55 had a first form of it with other constructor arguments, 4.53 and earlier kept
``key_cache``/``value_cache`` lists). :func:`prefix_sharing_available` tells whether the
installed version has it; where it does not, callers score every prompt in full (same scores).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Sequence
from typing import Any

__all__ = [
    "AnswerHead",
    "base_model",
    "cache_keyword",
    "head_states",
    "last_hidden",
    "prefix_sharing_available",
]


def base_model(model: Any) -> Any:
    """The decoder stack under a ``*ForCausalLM`` (the module that returns hidden states)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    if decoder is None:
        decoder = getattr(model, "model", None)
    if decoder is None:
        raise ValueError(f"{type(model).__name__}: cannot find the decoder under the LM head")
    return decoder


def cache_keyword(decoder: Any) -> str:
    """How the decoder's forward names its KV cache (``cache`` in transformers 5.2x,
    ``past_key_values`` before)."""
    params = inspect.signature(decoder.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class AnswerHead:
    """The LM head restricted to the scored token ids, in fp32: ``logit(yes) - logit(no)``, or
    ``logit(yes)`` for single-token families. Applies the model's final logit soft-capping
    (Gemma 2) where its config has one."""

    def __init__(self, model: Any, yes_id: int, no_id: int | None) -> None:
        import torch

        head = model.get_output_embeddings()
        ids = [yes_id] if no_id is None else [yes_id, no_id]
        self.weight = head.weight.detach()[ids].float().clone()
        bias = getattr(head, "bias", None)
        self.bias = None if bias is None else bias.detach()[ids].float().clone()
        config = (
            model.config.get_text_config()
            if hasattr(model.config, "get_text_config")
            else model.config
        )
        cap = getattr(config, "final_logit_softcapping", None)
        self.softcap = float(cap) if cap else None
        self.pair = no_id is not None
        self._torch = torch

    def to(self, device: Any) -> AnswerHead:
        self.weight = self.weight.to(device)
        if self.bias is not None:
            self.bias = self.bias.to(device)
        return self

    def __call__(self, hidden: Any) -> Any:
        torch = self._torch
        with torch.autocast(hidden.device.type, enabled=False):
            logits = torch.nn.functional.linear(hidden.float(), self.weight, self.bias)
            if self.softcap:
                logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits[:, 0] - logits[:, 1] if self.pair else logits[:, 0]


def prefix_sharing_available() -> bool:
    """Whether the installed transformers has the per-layer cache API (4.56+) that
    :class:`SharedPrefixCache` builds on."""
    try:
        cache_utils: Any = importlib.import_module("transformers.cache_utils")
        init = cache_utils.Cache.__init__
        cache_utils.DynamicLayer  # noqa: B018 - present from 4.54 on
        return "layers" in inspect.signature(init).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return False


@functools.cache
def _shared_prefix_cache_type() -> type:
    import torch

    cache_utils: Any = importlib.import_module("transformers.cache_utils")

    class SharedPrefixLayer(cache_utils.DynamicLayer):  # type: ignore[misc]
        """One layer's prefix keys/values ``[1, heads, p, d]``; each update returns them joined
        with the batch's new states and stores nothing."""

        def __init__(self, keys: Any, values: Any) -> None:
            super().__init__()
            self.device = keys.device
            self.keys = keys
            self.values = values
            self.is_initialized = True

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            rows = key_states.shape[0]
            keys = torch.cat([self.keys.expand(rows, -1, -1, -1), key_states], dim=-2)
            values = torch.cat([self.values.expand(rows, -1, -1, -1), value_states], dim=-2)
            return keys, values

    class SharedPrefixCache(cache_utils.Cache):  # type: ignore[misc]
        """A read-only cache of one prompt head, shared by every document batch of a query."""

        def __init__(self, prefix: Sequence[tuple[Any, Any]]) -> None:
            super().__init__(layers=[SharedPrefixLayer(k, v) for k, v in prefix])

    return SharedPrefixCache


def head_states(decoder: Any, head_ids: Any, keyword: str) -> list[tuple[Any, Any]]:
    """Per layer, the keys/values of the prompt head ``head_ids`` (``[1, p]``)."""
    cache_utils: Any = importlib.import_module("transformers.cache_utils")
    cache = (
        cache_utils.DynamicCache()
    )  # plain layers: the whole head is kept, also for sliding-window layers
    decoder(input_ids=head_ids, use_cache=True, **{keyword: cache})
    return [(layer.keys, layer.values) for layer in cache.layers]


def last_hidden(
    decoder: Any,
    input_ids: Any,
    lengths: Any,
    keyword: str,
    prefix: Sequence[tuple[Any, Any]] | None,
) -> Any:
    """Final hidden state at each row's last real token of a right-padded batch, after the
    shared ``prefix`` when given."""
    import torch

    kwargs: dict[str, Any] = {"use_cache": False}
    if prefix is not None:
        kwargs = {keyword: _shared_prefix_cache_type()(prefix), "use_cache": True}
    hidden = decoder(input_ids=input_ids, **kwargs).last_hidden_state
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, lengths - 1]
