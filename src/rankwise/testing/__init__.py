"""Test helpers shipped with rankwise: supported public API for testing code built on rankwise.

Supported (the names in each module's ``__all__``; they follow the package's semantic version and
their changes are recorded in CHANGELOG.md like any other public API):

- :mod:`rankwise.testing.fake_api`: a loopback fake of the Cohere / Voyage / Jina rerank APIs,
  for testing with the real SDKs and no network.
- :mod:`rankwise.testing.tiny_models`: tiny random cross-encoder and causal-LM reranker models
  and their tokenizers, built offline and saved with ``save_pretrained``.
- :mod:`rankwise.testing.stores`: ``WordCountStore``, a small in-memory ``TextStore`` that passes
  the store contract, for testing integrations without an index.

Not supported: :mod:`rankwise.testing.flagembedding_compat` (a re-export for rankwise's own
tests and benchmarks; it may change in any release).

Nothing here is imported by ``import rankwise``.
"""

#: The modules whose ``__all__`` is supported public API (tests/test_testing_api.py holds it).
SUPPORTED_MODULES = ("fake_api", "tiny_models", "stores")
