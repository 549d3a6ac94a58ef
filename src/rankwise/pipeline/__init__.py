"""Retrieve-then-rerank pipelines with per-stage timing, and their evaluation on a dataset.

The stages live in :mod:`rankwise.pipeline.stages` (``Retrieve``, ``Hybrid``, ``Rerank``), the
evaluation reports in :mod:`rankwise.pipeline.reports` (``evaluate_pipelines``) and the disk
cache of document embeddings in :mod:`rankwise.embedding_cache`; every name stays importable
from ``rankwise.pipeline``.
"""

from __future__ import annotations

from rankwise.embedding_cache import default_cache_dir, embed_corpus
from rankwise.pipeline.reports import LatencyStats, PipelineReport, evaluate_pipelines
from rankwise.pipeline.stages import Hybrid, Pipeline, PipelineOutput, Rerank, Retrieve

__all__ = [
    "Hybrid",
    "LatencyStats",
    "Pipeline",
    "PipelineOutput",
    "PipelineReport",
    "Rerank",
    "Retrieve",
    "default_cache_dir",
    "embed_corpus",
    "evaluate_pipelines",
]
