"""The forward pass of BERT / RoBERTa / XLM-R sequence classifiers without padding work.

Why: a reranker call scores pairs of very different lengths. The stock forward pads every
batch to its longest pair and runs every layer on the padding. Here the per-token layers
(the fused Q/K/V projection, attention output, feed-forward, layer norms: most of the
compute) run on the real tokens only, packed into one ``[tokens, hidden]`` matrix. And since
only the first token ([CLS] / ``<s>``) reaches the classifier, the last layer computes keys
and values for every token but the query, attention output and feed-forward for that token
alone. Same weights, same operations, so the same scores as the stock forward (to float
rounding). Callers check :func:`supported` and compare against the stock forward once at load.
:func:`packed_logits` takes the pairs already packed: no padded batch is ever built, the
embeddings included.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PER_PAIR_MAX_HEAD_DIM",
    "fused_qkv",
    "packed_logits",
    "position_offset",
    "supported",
]

_CLASSES = {
    "BertForSequenceClassification",
    "XLMRobertaForSequenceClassification",
    "RobertaForSequenceClassification",
}

#: Largest attention head size for which attention runs pair by pair on CPU, on views of the
#: packed Q/K/V (no padded copy at all); larger heads, and GPUs (where many small kernel
#: launches cost more than padding), use one masked, padded attention call per layer.
#: Measured on CPU (AVX-512, 2 threads, 100 pairs): pair by pair is faster at head size 32
#: (MiniLM) and 64 (bge-base).
PER_PAIR_MAX_HEAD_DIM = 64


def supported(model: Any) -> bool:
    """Whether :func:`packed_logits` knows this model's structure."""
    if type(model).__name__ not in _CLASSES:
        return False
    config = model.config
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return False
    if getattr(config, "chunk_size_feed_forward", 0):
        return False
    if getattr(config, "position_embedding_type", "absolute") not in (None, "absolute"):
        return False
    base = getattr(model, "base_model", None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if base is None or layers is None or not hasattr(base, "embeddings"):
        return False
    needed = ("attention", "intermediate", "output")
    return all(all(hasattr(layer, n) for n in needed) for layer in layers)


def fused_qkv(model: Any) -> list[tuple[Any, Any]]:
    """Per layer, the query/key/value projections stacked into one ``[3 * hidden, hidden]``
    weight (and bias), so one GEMM replaces three."""
    import torch

    fused = []
    for layer in model.base_model.encoder.layer:
        sa = layer.attention.self
        weight = torch.cat([sa.query.weight, sa.key.weight, sa.value.weight], dim=0).detach()
        bias = torch.cat([sa.query.bias, sa.key.bias, sa.value.bias], dim=0).detach()
        fused.append((weight, bias))
    return fused


class _PaddedAttention:
    """One masked attention call per layer on a zero-padded ``[batch, heads, len, d]`` copy."""

    def __init__(self, mask: Any, keep: Any) -> None:
        self.mask = mask[:, None, None, :]
        self.keep = keep
        self.batch, self.width = mask.shape

    def _heads(self, packed: Any, heads: int) -> Any:
        full = packed.new_zeros(self.batch * self.width, packed.shape[-1])
        full.index_copy_(0, self.keep, packed)
        return full.view(self.batch, self.width, heads, -1).transpose(1, 2)

    def every_token(self, qkv: Any, heads: int, scale: float) -> Any:
        import torch

        q, k, v = self._heads(qkv, 3 * heads).split(heads, dim=1)
        ctx = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=self.mask, scale=scale
        )
        size = ctx.shape[1] * ctx.shape[-1]
        return ctx.transpose(1, 2).reshape(-1, size).index_select(0, self.keep)

    def first_token(self, q: Any, kv: Any, heads: int, scale: float) -> Any:
        import torch

        k, v = self._heads(kv, 2 * heads).split(heads, dim=1)
        qh = q.view(self.batch, 1, heads, -1).transpose(1, 2)
        ctx = torch.nn.functional.scaled_dot_product_attention(
            qh, k, v, attn_mask=self.mask, scale=scale
        )
        return ctx.transpose(1, 2).reshape(self.batch, -1)


class _PerPairAttention:
    """Attention pair by pair on strided views of the packed rows: no padding, no mask."""

    def __init__(self, lengths: Any) -> None:
        self.spans: list[tuple[int, int]] = []
        pos = 0
        for n in lengths.tolist():
            self.spans.append((pos, pos + n))
            pos += n

    def every_token(self, qkv: Any, heads: int, scale: float) -> Any:
        import torch

        sdpa = torch.nn.functional.scaled_dot_product_attention
        tokens = qkv.shape[0]
        packed = qkv.view(tokens, 3, heads, -1)
        ctx = qkv.new_empty(tokens, heads, packed.shape[-1])
        for s, e in self.spans:
            pair = packed[s:e].permute(1, 2, 0, 3)  # [3, heads, n, d]
            out = sdpa(pair[0:1], pair[1:2], pair[2:3], scale=scale)
            ctx[s:e].copy_(out[0].transpose(0, 1))
        return ctx.view(tokens, -1)

    def first_token(self, q: Any, kv: Any, heads: int, scale: float) -> Any:
        import torch

        sdpa = torch.nn.functional.scaled_dot_product_attention
        packed = kv.view(kv.shape[0], 2, heads, -1)
        queries = q.view(q.shape[0], heads, 1, -1)
        ctx = q.new_empty(q.shape[0], heads, packed.shape[-1])
        for j, (s, e) in enumerate(self.spans):
            pair = packed[s:e].permute(1, 2, 0, 3)  # [2, heads, n, d]
            out = sdpa(queries[j : j + 1], pair[0:1], pair[1:2], scale=scale)
            ctx[j].copy_(out[0, :, 0])
        return ctx.view(q.shape[0], -1)


def position_offset(model: Any) -> int:
    """Position id of a pair's first token: 0 for BERT; RoBERTa and XLM-R count from
    ``padding_idx + 1``."""
    embeddings = model.base_model.embeddings
    if hasattr(embeddings, "create_position_ids_from_input_ids"):
        return int(embeddings.padding_idx) + 1
    return 0


def packed_logits(
    model: Any,
    ids: Any,
    types: Any,
    positions: Any,
    lengths: Any,
    qkv: list[tuple[Any, Any]] | None = None,
) -> Any:
    """Logits of a BERT/RoBERTa/XLM-R sequence classifier over packed pairs.

    ``ids``, ``types`` (``None``: all 0) and ``positions`` hold every pair's tokens one pair
    after the other (1-D, no padding anywhere); ``lengths`` each pair's token count. Position
    ids are the ones the model would give the pair on its own (see :func:`position_offset`).
    """
    import torch

    linear = torch.nn.functional.linear
    qkv = qkv if qkv is not None else fused_qkv(model)
    base = model.base_model
    if types is None:
        types = torch.zeros_like(ids)
    h = base.embeddings(
        input_ids=ids[None], token_type_ids=types[None], position_ids=positions[None]
    )[0]
    size = h.shape[-1]
    starts = torch.cumsum(lengths, 0) - lengths  # row of each pair's first token in ``h``
    layers = base.encoder.layer
    heads = layers[0].attention.self.num_attention_heads
    attention: _PaddedAttention | _PerPairAttention
    if h.device.type == "cpu" and size // heads <= PER_PAIR_MAX_HEAD_DIM:
        attention = _PerPairAttention(lengths)
    else:
        width = int(lengths.max())
        mask = torch.arange(width, device=h.device)[None, :] < lengths[:, None]
        attention = _PaddedAttention(mask, mask.reshape(-1).nonzero().squeeze(1))
    last = len(layers) - 1
    for i, layer in enumerate(layers):
        sa = layer.attention.self
        weight, bias = qkv[i]
        if i < last:
            ctx = attention.every_token(linear(h, weight, bias), heads, sa.scaling)
            residual = h
        else:  # only the first token goes on to the classifier
            residual = h.index_select(0, starts)
            q = linear(residual, weight[:size], bias[:size])
            kv = linear(h, weight[size:], bias[size:])
            ctx = attention.first_token(q, kv, heads, sa.scaling)
        attn_out = layer.attention.output(ctx, residual)
        h = layer.output(layer.intermediate(attn_out), attn_out)
    # [batch, 1, hidden]: what the pooler / head read as position 0. The head runs in its own
    # precision even under autocast: it is tiny, and it sets the scores' resolution.
    first = h.unsqueeze(1).to(next(model.classifier.parameters()).dtype)
    with torch.autocast(first.device.type, enabled=False):
        if type(model).__name__ == "BertForSequenceClassification":
            return model.classifier(model.dropout(base.pooler(first)))
        return model.classifier(first)
