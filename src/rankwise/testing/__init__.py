"""Test helpers shipped with rankwise.

- :mod:`rankwise.testing.fake_api`: a loopback fake of the Cohere / Voyage / Jina rerank APIs.
- :mod:`rankwise.testing.tiny_models`: tiny random cross-encoder models built offline.

Nothing here is imported by ``import rankwise``.
"""
