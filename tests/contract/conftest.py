"""The stores the TextStore contract suite runs over: one ``Backend`` line per implementation.

To put a new backend under the contract, add one line to ``BACKENDS``: a name, a factory
that returns a fresh empty store, and the optional traits it promises.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rankwise import BM25Index
from rankwise.testing.stores import WordCountStore
from rankwise.types import TextStore

#: Documents every contract test starts from: (id, text, metadata).
DOCS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "n0",
        "Wing flutter of supersonic aircraft at high mach numbers",
        {"topic": "aero", "year": 1961},
    ),
    (
        "n1",
        "Heat transfer in the laminar boundary layer of a flat plate",
        {"topic": "heat", "year": 1958},
    ),
    (
        "n2",
        "Boundary layer transition on a cone at supersonic speeds",
        {"topic": "aero", "year": 1963},
    ),
    (
        "n3",
        "Buckling of thin cylindrical shells under axial compression",
        {"topic": "structures", "year": 1955},
    ),
    ("n4", "Pressure distribution on a wing in hypersonic flow", {"topic": "aero", "year": 1965}),
    ("n5", "Cooking pasta al dente takes about ten minutes", {"topic": "food"}),
    (
        "n6",
        "Vibration and flutter of panels in supersonic flow",
        {"topic": "structures", "year": 1960},
    ),
    (
        "n7",
        "Skin friction and heat transfer in turbulent boundary layers",
        {"topic": "heat", "year": 1959},
    ),
]

#: Further texts the tests write (upserts, ties); MilvusSparseStore's index is fitted on all.
EXTRA_TEXTS = [
    "laminar wing panels",
    "identical twin text about shells",
    "a replaced document about wing buckling",
]


@dataclass(frozen=True)
class Backend:
    """One implementation under the contract.

    ``lexical``: a query sharing no term with any document returns ``[]``.
    ``insertion_ties``: equal scores come back in insertion order (upsert = newest).
    """

    name: str
    make: Callable[[Context], TextStore]
    lexical: bool = True
    insertion_ties: bool = True
    milvus: bool = False


class Context:
    """Shared, module-scoped resources: one Milvus Lite file, one embedder, one fitted index."""

    def __init__(self, tmp: Path) -> None:
        self.lite_uri = str(tmp / "contract.db")
        self._names = itertools.count()
        self._embedder: Any = None
        self._fitted: BM25Index | None = None

    def collection(self) -> str:
        return f"c{next(self._names)}"

    def embedder(self) -> Any:
        if self._embedder is None:
            from rankwise.embeddings import shared_embedder

            self._embedder = shared_embedder()
        return self._embedder

    def fitted(self) -> BM25Index:
        if self._fitted is None:
            self._fitted = BM25Index(show_progress=False)
            self._fitted.add([t for _, t, _ in DOCS] + EXTRA_TEXTS)
        return self._fitted


def _dense(ctx: Context) -> TextStore:
    from rankwise.dense import DenseIndex

    return DenseIndex(ctx.embedder())


def _milvus_exact(ctx: Context) -> TextStore:
    from rankwise.milvus import MilvusBM25Store

    return MilvusBM25Store(uri=ctx.lite_uri, collection=ctx.collection(), show_progress=False)


def _milvus_function(ctx: Context) -> TextStore:
    from rankwise.milvus import MilvusBM25Store

    return MilvusBM25Store(
        uri=ctx.lite_uri,
        collection=ctx.collection(),
        analyzer_params="standard",
        route="milvus",
        show_progress=False,
    )


def _milvus_sparse(ctx: Context) -> TextStore:
    from rankwise.milvus import MilvusSparseStore

    return MilvusSparseStore(
        ctx.fitted(), uri=ctx.lite_uri, collection=ctx.collection(), show_progress=False
    )


BACKENDS = [
    Backend("bm25-index", lambda ctx: BM25Index(show_progress=False)),
    Backend("dense-index", _dense, lexical=False),
    Backend("milvus-bm25-exact", _milvus_exact, milvus=True),
    Backend("milvus-bm25-function", _milvus_function, insertion_ties=False, milvus=True),
    Backend("milvus-sparse", _milvus_sparse, insertion_ties=False, milvus=True),
    Backend("word-count-double", lambda ctx: WordCountStore()),
]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Context:
    return Context(tmp_path_factory.mktemp("contract"))


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    b: Backend = request.param
    if b.milvus:
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
    return b


@pytest.fixture
def empty(backend: Backend, context: Context) -> Iterator[TextStore]:
    """A fresh empty store of the backend under test."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Lite's route="milvus" warning
        store = backend.make(context)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def store(empty: TextStore) -> TextStore:
    """A store holding ``DOCS``."""
    empty.add([t for _, t, _ in DOCS], ids=[i for i, _, _ in DOCS], metadatas=[m for *_, m in DOCS])
    return empty
