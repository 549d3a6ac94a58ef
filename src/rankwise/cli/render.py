"""Plain-text tables and the evaluation plot of the command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rankwise._optional import require
from rankwise.pipeline import PipelineReport

STAGE_ORDER = ("bm25", "dense", "fusion", "rerank")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A space-aligned text table; ``align`` holds ``l``/``r`` per column (default left)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            right = i < len(align) and align[i] == "r"
            out.append(cell.rjust(widths[i]) if right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines.extend(fmt(r) for r in rows)
    return "\n".join(lines)


def metric_label(name: str) -> str:
    base, _, k = name.partition("@")
    label = {
        "ndcg": "nDCG",
        "recall": "Recall",
        "mrr": "MRR",
        "map": "MAP",
        "p": "P",
        "precision": "P",
    }.get(base, base)
    return f"{label}@{k}"


def _ms(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def eval_table(reports: Sequence[PipelineReport], metrics: Sequence[str]) -> str:
    """One row per pipeline: metrics, then latency ``mean / p95`` in ms per stage and total."""
    stages = [s for s in STAGE_ORDER if any(s in r.latency for r in reports)]
    extra = sorted({s for r in reports for s in r.stages} - set(stages))
    stages += extra
    headers = ["pipeline", *(metric_label(m) for m in metrics)]
    headers += [f"{s} ms" for s in stages] + ["total ms (mean / p95)"]
    rows = []
    for r in reports:
        row = [r.name, *(f"{r.metrics[m]:.4f}" for m in metrics)]
        for s in stages:
            st = r.latency.get(s)
            row.append("-" if st is None else f"{_ms(st.mean_ms)} / {_ms(st.p95_ms)}")
        tot = r.latency["total"]
        row.append(f"{_ms(tot.mean_ms)} / {_ms(tot.p95_ms)}")
        rows.append(row)
    align = "l" + "r" * (len(headers) - 1)
    return table(headers, rows, align)


def eval_plot(
    reports: Sequence[PipelineReport], metrics: Sequence[str], path: Path, title: str
) -> None:
    """Bar charts: quality metrics per pipeline (left), mean latency with p95 (right)."""
    matplotlib = require("matplotlib", "cli", feature="--plot")
    matplotlib.use("Agg", force=True)
    plt = require("matplotlib.pyplot", "cli", feature="--plot")
    import numpy as np

    names = [r.name for r in reports]
    fig, (ax_q, ax_t) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(len(reports), 1)
    x = np.arange(len(metrics))
    for i, r in enumerate(reports):
        vals = [r.metrics[m] for m in metrics]
        bars = ax_q.bar(x + (i - (len(reports) - 1) / 2) * width, vals, width, label=r.name)
        ax_q.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax_q.set_xticks(x, [metric_label(m) for m in metrics])
    ax_q.set_ylim(0, 1)
    ax_q.set_ylabel("score")
    ax_q.set_title("quality (higher is better)")
    ax_q.legend(fontsize=8, loc="upper left")
    means = [r.latency["total"].mean_ms for r in reports]
    p95 = [r.latency["total"].p95_ms for r in reports]
    y = np.arange(len(reports))
    ax_t.barh(y, means, color=[f"C{i}" for i in range(len(reports))])
    ax_t.errorbar(p95, y, fmt="|", color="black", markersize=12, label="p95")
    ax_t.set_yticks(y, names, fontsize=8)
    ax_t.invert_yaxis()
    ax_t.set_xlabel("ms per query (bar: mean, tick: p95)")
    ax_t.set_title("latency (lower is better)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["eval_plot", "eval_table", "metric_label", "table"]
