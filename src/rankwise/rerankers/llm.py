"""Decoder-only LLM rerankers (Qwen3-Reranker, bge-reranker-v2-gemma, mxbai-rerank-v2) on
``transformers`` directly.

A decoder-only reranker reads a fixed prompt holding the query and one document and answers
with a token ("yes"/"no", "1"/"0", "Yes"); the logits of those tokens at the last position are
the relevance. Each family's prompt is reproduced token for token from its authors' code (see
``_llm_templates`` for the sources); the template is picked from the model name when it names a
known family (``Qwen3-Reranker-*``, ``bge-reranker-v2-gemma``, ``mxbai-rerank-*-v2``) and given
with ``template=`` otherwise (a local folder with another name needs it).

Score convention (``score`` field): the raw log-odds ``logit(yes) - logit(no)`` where the family
has a "no" token (Qwen3: yes/no; mxbai-v2: 1/0), the raw ``logit("Yes")`` otherwise (bge-gemma),
as ``CrossEncoderReranker`` gives raw logits. ``activation="sigmoid"`` gives the probability
the official code prints: Qwen3's ``softmax([no, yes])[yes]`` (= sigmoid of the log-odds),
FlagEmbedding's ``compute_score(normalize=True)`` for bge-gemma, and the plain sigmoid of
mxbai's logit (its ``normalize=True`` further shifts the logit by a per-model constant).

Truncation: only the document is cut (the prompt, the query and the suffix that ends in the
scored position always reach the model). ``max_length`` means what it means in each family's
code: the whole prompt for ``qwen3`` (default 8192), the query + document part for
``bge-gemma`` (default 512; query cut to 3/4 of it, as FlagEmbedding does) and ``mxbai-v2``
(default 8192; same 3/4 query rule). A query that alone leaves no room for the document raises
``ValueError`` (``qwen3``).

Speed (the scores stay those of the plain forward, to float rounding): the prompt head and
query are computed once per query and their keys/values reused by every document batch
(``share_prefix``); documents are length-sorted into batches (``_batching.plan_batches``) and
right-padded, so no position is masked and little is padding; only the last position's hidden
state meets the LM head, and only the rows of the scored tokens. ``fast=True`` (CPU, opt-in)
picks the mode as ``CrossEncoderReranker(fast=True)`` does: ``"bf16"`` where the CPU has native
bfloat16 (the decoder runs in bfloat16, the answer head in fp32; the scores move by ~1e-2 and the
order can change), dynamic int8 linear layers elsewhere; on CUDA the model runs in bf16 (fp16
without bf16 support) with PyTorch SDPA attention.

Versions: prefix sharing builds on the per-layer KV cache API of transformers 4.56 and later.
With transformers 4.44-4.55 (which the ``transformers`` extra still allows) every prompt is
scored in full instead (the same scores, slower), after a ``RuntimeWarning`` at load; a
load-time self-check does the same for any model whose attention the shared head does not fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from rankwise._checks import optional_int, positive_int, text_arg
from rankwise._model_paths import check_device
from rankwise._optional import require
from rankwise.rerankers._batching import plan_batches
from rankwise.rerankers._llm_forward import (
    AnswerHead,
    base_model,
    cache_keyword,
    head_states,
    last_hidden,
    prefix_sharing_available,
)
from rankwise.rerankers._llm_templates import (
    TEMPLATES,
    Layout,
    Template,
    detect_template,
    make_template,
)
from rankwise.rerankers._local import Activation, FastMode, LocalReranker
from rankwise.rerankers.cross_encoder import (
    _sigmoid,
    resolve_device,
    resolve_dtype,
    resolve_fast,
)

__all__ = ["LLMReranker"]

#: Most token slots (rows x padded width) in one document batch, bounding activation memory.
MAX_BATCH_TOKENS = 16384


class LLMReranker(LocalReranker):
    """A decoder-only LLM reranker scored at its answer token (see the module docstring).

    Args:
        model_name: hub name or local folder of a ``*ForCausalLM`` reranker.
        template: ``"qwen3"``, ``"bge-gemma"`` or ``"mxbai-v2"``; ``None`` picks it from the
            model name (an unknown model then raises ``ValueError`` listing the templates).
        instruction: the family's task text: Qwen3's ``<Instruct>`` (default "Given a web search
            query, retrieve relevant passages that answer the query"), bge-gemma's prompt,
            mxbai-v2's ``instruction:`` line (none by default).
        device: ``None`` picks CUDA when present.
        dtype: ``None`` (fp32 on CPU; bf16 on CUDA, fp16 where bf16 is unsupported),
            ``"float32"``, ``"bfloat16"``, ``"float16"`` (CUDA only) or a ``torch.dtype``.
        max_length: token budget as the family's code defines it (module docstring).
        batch_size: most documents per forward call.
        activation: ``None`` (raw logit / log-odds) or ``"sigmoid"`` (the official probability).
        show_progress: ``None`` shows a bar only for calls of >= 1000 documents.
        fast: opt-in approximate CPU speed-up: ``True`` (bf16 with native bfloat16, else int8),
            ``"bf16"`` or ``"int8"``; changes the scores slightly.
        share_prefix: compute the prompt head once per query (default); ``False`` runs every
            pair in full (same scores; for checks and benchmarks). A load-time self-check turns
            it off, with a ``RuntimeWarning``, where the installed transformers (before 4.56)
            or the model cannot share the head exactly.
        batch_overhead: cost of one forward call in token-equivalents for batch planning
            (``None``: 256 on CPU, unbounded on GPU).
    """

    _label = "llm"

    def __init__(
        self,
        model_name: str,
        *,
        template: str | None = None,
        instruction: str | None = None,
        device: str | None = None,
        dtype: Any = None,
        max_length: int | None = None,
        batch_size: int = 16,
        activation: Activation = None,
        show_progress: bool | None = None,
        fast: FastMode = False,
        share_prefix: bool = True,
        batch_overhead: float | None = None,
        trust_remote_code: bool = False,
        model: Any = None,
        tokenizer: Any = None,
    ) -> None:
        if not isinstance(model_name, str) or not model_name.strip():
            raise ValueError("model_name must be a non-empty string")
        if template is not None and template not in TEMPLATES:
            raise ValueError(
                f"template must be one of {sorted(TEMPLATES)} or None, got {template!r}"
            )
        if instruction is not None:
            text_arg(instruction, "instruction")
            if not instruction.strip():
                raise ValueError("instruction must be None or a non-empty string")
        optional_int(max_length, "max_length")
        self.batch_size = positive_int(batch_size, "batch_size")
        if activation not in (None, "sigmoid"):
            raise ValueError(f"activation must be None or 'sigmoid', got {activation!r}")
        if show_progress not in (None, True, False):
            raise ValueError(f"show_progress must be None, True or False, got {show_progress!r}")
        if share_prefix not in (True, False):
            raise ValueError(f"share_prefix must be True or False, got {share_prefix!r}")
        torch = require("torch", "transformers", feature=type(self).__name__)
        transformers = require("transformers", "transformers", feature=type(self).__name__)

        self.model_name = model_name
        self.instruction = instruction
        self.activation = activation
        self.show_progress = show_progress
        self.share_prefix = share_prefix
        self.device = _check_device(torch, resolve_device(device))
        self.fast_mode = resolve_fast(fast, self.device)
        self.dtype = self._resolve_dtype(torch, dtype)

        config = (
            model.config
            if model is not None
            else transformers.AutoConfig.from_pretrained(
                model_name, trust_remote_code=trust_remote_code
            )
        )
        archs = list(getattr(config, "architectures", None) or [])
        if archs and not any(a.endswith("ForCausalLM") for a in archs):
            raise ValueError(
                f"{model_name} is a {archs[0]}, not a causal LM; load it with "
                "'cross-encoder:<name>' (CrossEncoderReranker) instead"
            )
        name = template or detect_template(model_name, getattr(config, "_name_or_path", None))
        if name is None:
            raise ValueError(
                f"cannot tell the prompt template of {model_name!r} from its name; pass "
                f"template= one of {sorted(TEMPLATES)} (qwen3: Qwen3-Reranker; bge-gemma: "
                "bge-reranker-v2-gemma; mxbai-v2: mxbai-rerank-base/large-v2)"
            )
        self.template_name = name

        self.tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(
            model_name, trust_remote_code=trust_remote_code
        )
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(f"{model_name}: a fast (Rust) tokenizer is required")
        model_max = int(getattr(config, "max_position_embeddings", 0) or 0) or 1 << 30
        self.template: Template = make_template(
            name,
            self.tokenizer,
            max_length=max_length,
            instruction=instruction,
            model_max_length=model_max,
        )
        self.max_length = self.template.max_length

        net = model or transformers.AutoModelForCausalLM.from_pretrained(
            model_name, trust_remote_code=trust_remote_code
        )
        net.eval()
        net.to(device=self.device, dtype=self.dtype)
        self.model = net
        self.decoder = base_model(net)
        self._cache_kw = cache_keyword(self.decoder)
        pad = self.tokenizer.pad_token_id
        self._pad_id = 0 if pad is None else int(pad)
        self.head = AnswerHead(net, self.template.yes_id, self.template.no_id).to(self.device)
        self._check_answer_head(torch)
        if share_prefix:
            # checked on the unquantized model: dynamic int8 scales depend on the batch
            problem = self._prefix_sharing_problem(torch)
            if problem is not None:
                warnings.warn(
                    f"{model_name}: {problem}; every prompt is scored in full (same scores, "
                    "slower)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self.share_prefix = False
        if self.fast_mode == "int8":
            with warnings.catch_warnings():  # torch marks eager quantization as deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                torch.ao.quantization.quantize_dynamic(
                    self.decoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
                )
        if batch_overhead is None:
            batch_overhead = 256.0 if self.device.startswith("cpu") else float("inf")
        self.batch_overhead = float(batch_overhead)

    # ----------------------------------------------------------------------------------
    def _repr_details(self) -> str:
        return f"template={self.template_name!r}, "

    def _resolve_dtype(self, torch: Any, dtype: Any) -> Any:
        if self.fast_mode is not None:
            if dtype is not None:
                raise ValueError(f"fast={self.fast_mode!r} sets the precision; leave dtype unset")
            # bf16: the whole decoder in bfloat16 (measured ~3x the fp32 default on a CPU with
            # native bf16, where autocast over fp32 weights gave ~1.6x); int8: fp32 + dynamic
            # int8 linear layers. The answer head stays fp32 either way.
            return torch.bfloat16 if self.fast_mode == "bf16" else torch.float32
        if dtype is None:
            if self.device.startswith("cuda"):
                return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.float32
        resolved = resolve_dtype(dtype, self.device)
        if resolved == torch.float16 and self.device.startswith("cpu"):
            raise ValueError("dtype='float16' is not supported on CPU; use 'bfloat16' or fast=True")
        if resolved not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be a floating point type, got {dtype!r}")
        return resolved

    def _tolerance(self, torch: Any) -> float:
        """Relative tolerance of the load-time self-checks at the model's precision."""
        return 1e-3 if self.dtype == torch.float32 else 5e-2

    def _check_answer_head(self, torch: Any) -> None:
        """Load-time self-check: the two-token head on the last hidden state equals the model's
        own logits (catches architectures that scale or cap logits in ways not reproduced).

        The tolerance is relative to the answer logits themselves, not to their difference:
        in fp16/bf16 each logit the model computes is rounded at its own magnitude (~0.4% in
        bf16), so ``yes - no`` of two large, close logits carries their rounding error."""
        text = self.template.document_text("a b c")
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])[:8] or [0]
        probe = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            full = self.model(input_ids=probe).logits[0, -1].float()
            lens = torch.tensor([len(ids)], device=self.device)
            hidden = last_hidden(self.decoder, probe, lens, self._cache_kw, None)
            got = float(self.head(hidden)[0])
        yes, no = self.template.yes_id, self.template.no_id
        want = float(full[yes] - full[no]) if no is not None else float(full[yes])
        scale = max(1.0, abs(float(full[yes])), abs(float(full[no])) if no is not None else 0.0)
        if abs(got - want) > self._tolerance(torch) * scale:
            raise ValueError(
                f"{type(self.model).__name__}: scoring the answer tokens from the last hidden "
                f"state does not reproduce the model's logits ({got} vs {want}); unsupported "
                "architecture"
            )

    def _prefix_sharing_problem(self, torch: Any) -> str | None:
        """Load-time self-check of prefix sharing: ``None`` when the head's shared keys/values
        give the last hidden states of the full prompts, else why not (an older transformers
        without the cache API it needs, or a model whose attention it does not fit)."""
        if not prefix_sharing_available():
            version = getattr(require("transformers", "transformers"), "__version__", "?")
            return f"prefix sharing needs transformers>=4.56 (installed: {version})"
        text = self.template.document_text("a b c d e f g h i j k l")
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])[:16]
        cut = max(1, len(ids) // 2)
        head, parts = ids[:cut], [ids[cut:] or [0], ids[cut : cut + 1] or [0]]
        try:
            with torch.inference_mode():
                prefix = head_states(
                    self.decoder, torch.tensor([head], device=self.device), self._cache_kw
                )
                shared = self._last_hidden(parts, prefix)
                full = self._last_hidden([head + p for p in parts], None)
        except (AttributeError, IndexError, KeyError, RuntimeError, TypeError, ValueError) as exc:
            return f"prefix sharing failed ({type(exc).__name__}: {exc})"
        shared, full = shared.float(), full.float()
        tol = self._tolerance(torch) * max(1.0, float(full.abs().max()))
        if shared.shape != full.shape or float((shared - full).abs().max()) > tol:
            return "prefix sharing does not reproduce the full prompts' hidden states"
        return None

    # ----------------------------------------------------------------------------------
    def encode(self, query: str, documents: Sequence[str]) -> tuple[Layout, list[list[int]]]:
        """The query's layout and each document's tokens after the head (document, cut to the
        budget, then the tail): the exact ids the model reads."""
        layout = self.template.layout(query)
        texts = [self.template.document_text(d) for d in documents]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        limit = layout.doc_limit
        return layout, [list(ids[:limit]) + layout.tail for ids in encoded]

    def plan(self, lengths: Sequence[int]) -> list[list[int]]:
        """Length-sorted batches of document indices, split where rows x width gets large."""
        batches: list[list[int]] = []
        for batch in plan_batches(lengths, self.batch_size, self.batch_overhead):
            width = max(lengths[i] for i in batch)
            rows = max(1, MAX_BATCH_TOKENS // max(1, width))
            batches.extend(batch[s : s + rows] for s in range(0, len(batch), rows))
        return batches

    def _last_hidden(self, rows: Sequence[Sequence[int]], prefix: Any) -> Any:
        """Final hidden state at the last token of each of ``rows`` (one right-padded batch),
        after the shared ``prefix`` keys/values when given."""
        import numpy as np

        torch = require("torch", "transformers")
        lengths = [len(r) for r in rows]
        arr = np.full((len(rows), max(lengths)), self._pad_id, dtype=np.int64)
        for i, row in enumerate(rows):
            arr[i, : lengths[i]] = row
        ids = torch.from_numpy(arr).to(self.device)
        lens = torch.tensor(lengths, device=self.device)
        return last_hidden(self.decoder, ids, lens, self._cache_kw, prefix)

    def _raw_scores(self, query: str, documents: list[str]) -> list[float]:
        torch = require("torch", "transformers")
        layout, parts = self.encode(query, documents)
        head = layout.head if self.share_prefix else []
        rows_ids = parts if self.share_prefix else [layout.head + p for p in parts]
        batches = self.plan([len(p) for p in rows_ids])
        out = [0.0] * len(documents)
        iterator: Any = batches
        if self._shows_progress(len(documents)):
            from tqdm.auto import tqdm

            iterator = tqdm(batches, desc=f"rerank {self.model_name}", unit="batch")
        with torch.inference_mode():
            prefix = None
            if head:
                ids = torch.tensor([head], device=self.device)
                prefix = head_states(self.decoder, ids, self._cache_kw)
            for batch in iterator:
                hidden = self._last_hidden([rows_ids[i] for i in batch], prefix)
                for i, value in zip(batch, self.head(hidden).cpu().tolist(), strict=True):
                    out[i] = float(value)
        return out

    def _score(self, query: str, documents: list[str]) -> list[float]:
        raw = self._raw_scores(query, documents)
        if self.activation == "sigmoid":
            return [_sigmoid(s) for s in raw]
        return raw


def _check_device(torch: Any, device: str) -> str:
    """A device string torch understands and this machine has, else a ValueError naming it."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device {device!r} is not a torch device ('cpu', 'cuda', 'cuda:1')"
        ) from exc
    if kind not in ("cpu", "cuda", "mps", "xpu"):
        raise ValueError(f"device {device!r}: use 'cpu' or 'cuda[:N]'")
    return check_device(device)
