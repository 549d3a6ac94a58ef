"""``RankwiseBM25Retriever``: BM25 full-text retrieval over any rankwise ``TextStore``."""

from __future__ import annotations

import contextvars
import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, field_validator

from langchain_rankwise._utils import check_query
from rankwise._checks import positive_int
from rankwise.types import Filter, Hit, Metadata, TextStore

if TYPE_CHECKING:
    from rankwise.bm25 import BM25Index

#: File written next to the index by :meth:`RankwiseBM25Retriever.save`.
CONFIG_FILE = "langchain_rankwise.json"
_FORMAT_VERSION = 1


def _new_index(**index_params: Any) -> BM25Index:
    from rankwise.bm25 import BM25Index

    return BM25Index(**index_params)


#: Metadata key of the score on every returned ``Document`` (never the user's ``"score"``).
SCORE_KEY = "rankwise_score"


def _empty_index() -> TextStore:
    return _new_index(show_progress=False)


class RankwiseBM25Retriever(BaseRetriever):
    """BM25 retriever over the embedded rankwise index, or any other ``TextStore``
    (e.g. ``rankwise.milvus.MilvusBM25Store``).

    A thin adapter over the :class:`rankwise.types.TextStore` contract: the store applies the
    filter inside its top-k and returns only documents that match (score > 0), best first.
    Each returned ``Document`` has ``id`` set and its BM25 score in
    ``metadata["rankwise_score"]`` (:data:`SCORE_KEY`; a ``"score"`` key of your own metadata is
    left as it is).

    Example:
        ```python
        from langchain_rankwise import RankwiseBM25Retriever

        retriever = RankwiseBM25Retriever.from_texts(["BM25 ranks by term statistics", ...], k=4)
        retriever.invoke("term statistics", k=2, filter={"lang": "en"})
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    store: TextStore = Field(default_factory=_empty_index)
    """The full-text backend: a ``rankwise.BM25Index`` (default: an empty one) or any other
    ``rankwise.types.TextStore`` such as ``rankwise.milvus.MilvusBM25Store``."""

    k: int = 4
    """How many documents to return; ``invoke(query, k=...)`` overrides it per call."""

    filter: Filter | None = None
    """Default filter: a dict of metadata equalities, a set of allowed ids, a predicate over the
    metadata dict (embedded stores) or a Milvus expression string (Milvus stores); see
    ``store.filter_kinds``. A form the store cannot apply raises
    ``rankwise.types.FilterNotSupportedError``. ``invoke(query, filter=...)`` overrides it."""

    @field_validator("k", mode="before")
    @classmethod
    def _check_k(cls, value: object) -> int:
        return positive_int(value, "k")

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
        ids: Iterable[str] | None = None,
        *,
        k: int = 4,
        filter: Filter | None = None,
        **index_params: Any,
    ) -> RankwiseBM25Retriever:
        """Build a new ``rankwise.BM25Index`` from ``texts`` and wrap it.

        ``index_params`` go to ``BM25Index`` (``analyzer``, ``k1``, ``b``,
        ``inverted_index_algo``, ``show_progress``).
        """
        index = _new_index(**index_params)
        retriever = cls(store=index, k=k, filter=filter)
        index.add(list(texts), ids=None if ids is None else list(ids), metadatas=metadatas)
        return retriever

    @classmethod
    def from_documents(
        cls,
        documents: Iterable[Document],
        *,
        k: int = 4,
        filter: Filter | None = None,
        **index_params: Any,
    ) -> RankwiseBM25Retriever:
        """Build a new ``rankwise.BM25Index`` from LangChain documents.

        ``Document.id`` becomes the index id; documents without one get a fresh UUID.
        """
        docs = list(documents)
        return cls.from_texts(
            [d.page_content for d in docs],
            [dict(d.metadata) for d in docs],
            _ids_for(docs),
            k=k,
            filter=filter,
            **index_params,
        )

    # -- mutation -----------------------------------------------------------------------

    def add_documents(
        self, documents: Sequence[Document], ids: Sequence[str] | None = None
    ) -> list[str]:
        """Add (or replace, for ids already present) documents; returns their ids.

        Ids come from ``ids``, else ``Document.id``, else a fresh UUID.
        """
        docs = list(documents)
        if ids is not None and len(ids) != len(docs):
            raise ValueError(f"ids has {len(ids)} entries for {len(docs)} documents")
        doc_ids = list(ids) if ids is not None else _ids_for(docs)
        if not docs:
            return []
        return self.store.upsert(
            [d.page_content for d in docs], doc_ids, [dict(d.metadata) for d in docs]
        )

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[str]:
        """Add texts to the store; returns their ids."""
        return self.store.add(texts, ids=ids, metadatas=metadatas)

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id; returns how many were removed."""
        return self.store.delete(ids)

    def get_by_ids(self, ids: Sequence[str]) -> list[Document]:
        """The stored documents with these ids (unknown ids are skipped)."""
        return [_to_document(hit, with_score=False) for hit in self.store.get(ids)]

    # -- persistence (no pickle) --------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Save the index and this retriever's settings to the directory ``path``.

        Only the embedded ``rankwise.BM25Index`` is saved here; a Milvus store persists
        itself. A callable ``filter`` is not saved.
        """
        from rankwise.bm25 import BM25Index

        if not isinstance(self.store, BM25Index):
            raise TypeError(
                f"save() needs the embedded rankwise.BM25Index store, not "
                f"{type(self.store).__name__} (that backend persists itself)"
            )
        directory = Path(path)
        self.store.save(directory)
        config: dict[str, Any] = {"format": _FORMAT_VERSION, "k": self.k}
        if isinstance(self.filter, (set, frozenset)):
            config["filter_ids"] = sorted(self.filter)
        elif isinstance(self.filter, dict):
            config["filter"] = self.filter
        (directory / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        mmap: bool = True,
        analyzer: Any = None,
        show_progress: bool = True,
        **kwargs: Any,
    ) -> RankwiseBM25Retriever:
        """Load a retriever saved with :meth:`save`.

        ``mmap``, ``analyzer`` (needed when the index was built with a callable analyzer) and
        ``show_progress`` go to ``BM25Index.load``; ``kwargs`` (``k``, ``filter``, ``tags``,
        ...) override the saved settings.
        """
        from rankwise.bm25 import BM25Index

        directory = Path(path)
        settings: dict[str, Any] = {}
        config_path = directory / CONFIG_FILE
        if config_path.exists():
            config = json.loads(config_path.read_text(encoding="utf-8"))
            settings["k"] = config.get("k", 4)
            if "filter_ids" in config:
                settings["filter"] = frozenset(config["filter_ids"])
            elif "filter" in config:
                settings["filter"] = config["filter"]
        settings.update(kwargs)
        index = BM25Index.load(directory, mmap=mmap, analyzer=analyzer, show_progress=show_progress)
        return cls(store=index, **settings)

    # -- retrieval ----------------------------------------------------------------------

    def _search(self, query: str, k: int | None, filter: Filter | None) -> list[Hit]:
        check_query(query)
        n = self.k if k is None else positive_int(k, "k")
        prefetched = _PREFETCHED.get()
        if prefetched is not None and prefetched[0] is self and k is None and filter is None:
            hits = prefetched[1].get(query)
            if hits is not None:
                return list(hits)
        return self.store.search(query, k=n, filter=self.filter if filter is None else filter)

    # -- batches: one search_many call (all cores on the embedded index) ------------------

    def _prefetch(self, inputs: Sequence[Any]) -> dict[str, list[Hit]] | None:
        """Hits of every distinct string query of a batch from one ``search_many`` call, or
        None when the store has no ``search_many`` or the batch is too small to gain."""
        search_many = getattr(self.store, "search_many", None)
        queries = list(dict.fromkeys(q for q in inputs if isinstance(q, str) and q.strip()))
        if not callable(search_many) or len(queries) < 2:
            return None
        try:
            results = search_many(queries, k=self.k, filter=self.filter)
        except (TypeError, ValueError):
            return None  # each input then searches alone and reports its own error
        return dict(zip(queries, results, strict=True))

    def batch(
        self,
        inputs: list[str],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[list[Document]]:
        """Like ``invoke`` per input (same callbacks and validation), but the searches of the
        whole batch run first as one ``store.search_many`` call, which the embedded index
        spreads over every core. Per-call ``k``/``filter`` keywords fall back to one search
        per input."""
        prefetched = None if kwargs else self._prefetch(inputs)
        if prefetched is None:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        token = _PREFETCHED.set((self, prefetched))
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        finally:
            _PREFETCHED.reset(token)

    async def abatch(
        self,
        inputs: list[str],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[list[Document]]:
        """Async :meth:`batch`: the one ``search_many`` call runs in a worker thread."""
        prefetched = None
        if not kwargs:
            prefetched = await run_in_executor(None, self._prefetch, inputs)
        if prefetched is None:
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        token = _PREFETCHED.set((self, prefetched))
        try:
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        finally:
            _PREFETCHED.reset(token)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: Filter | None = None,
    ) -> list[Document]:
        return _to_documents(self._search(query, k, filter))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: Filter | None = None,
    ) -> list[Document]:
        # Every TextStore searches synchronously (the embedded index, the Milvus client):
        # run the search in a worker thread so the event loop keeps going.
        hits = await run_in_executor(None, self._search, query, k, filter)
        return _to_documents(hits)


#: (retriever, hits per query) of the batch being run by ``batch``/``abatch``
_PREFETCHED: contextvars.ContextVar[tuple[RankwiseBM25Retriever, dict[str, list[Hit]]] | None] = (
    contextvars.ContextVar("langchain_rankwise_bm25_prefetched", default=None)
)


def _ids_for(docs: Sequence[Document]) -> list[str]:
    return [d.id if d.id else uuid.uuid4().hex for d in docs]


def _to_document(hit: Hit, *, with_score: bool = True) -> Document:
    metadata = dict(hit.metadata)
    if with_score:
        metadata[SCORE_KEY] = float(hit.score)
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)


def _to_documents(hits: Iterable[Hit]) -> list[Document]:
    return [_to_document(hit) for hit in hits]


__all__ = ["SCORE_KEY", "RankwiseBM25Retriever"]
