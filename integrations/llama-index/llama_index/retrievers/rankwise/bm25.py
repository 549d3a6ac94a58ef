"""A LlamaIndex BM25 retriever over rankwise's embedded BM25 index or any ``TextStore``."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.constants import DEFAULT_SIMILARITY_TOP_K
from llama_index.core.indices.base import BaseIndex
from llama_index.core.schema import (
    BaseNode,
    IndexNode,
    MetadataMode,
    NodeWithScore,
    QueryBundle,
    QueryType,
    TextNode,
)
from llama_index.core.settings import Settings
from llama_index.core.storage.docstore.types import BaseDocumentStore
from llama_index.core.storage.docstore.utils import doc_to_json, json_to_doc
from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.retrievers.rankwise._nodes import copy_node
from llama_index.retrievers.rankwise._persist import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    GEN_PREFIX,
    INDEX_DIR,
    LOAD_ATTEMPTS,
    NODES_FILE,
    SETTINGS_FILE,
    TMP_SUFFIX,
    fsync_dir,
    generation_dir,
    persist_lock,
    read_json,
    read_pointer,
    remove_unreferenced,
    write_json_durably,
)
from llama_index.retrievers.rankwise.filters import store_filter_kinds, to_store_filter

from rankwise._checks import ids_arg, positive_int, text_arg
from rankwise.types import Filter, Hit, TextStore

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from rankwise.bm25 import BM25Index

# Per-call filters given to ``retrieve(..., filters=...)``: (retriever id, filters).
_CALL_FILTERS: ContextVar[tuple[int, MetadataFilters] | None] = ContextVar(
    "rankwise_llama_index_call_filters", default=None
)

# Hits of the batch being run by ``retrieve_many``: (retriever id, filters, hits per query).
_PREFETCHED: ContextVar[tuple[int, object, dict[str, list[Hit]]] | None] = ContextVar(
    "rankwise_llama_index_prefetched", default=None
)


def _check_filters(filters: object) -> MetadataFilters | None:
    if filters is None or isinstance(filters, MetadataFilters):
        if filters is not None:
            to_store_filter(filters)  # validate every leaf now, not at query time
        return filters
    raise ValueError(f"filters must be llama_index MetadataFilters, got {type(filters).__name__}")


def _check_nodes(nodes: object, argument: str = "nodes") -> list[BaseNode]:
    if isinstance(nodes, (str, bytes, BaseNode)) or not isinstance(nodes, Iterable):
        raise ValueError(f"{argument} must be a sequence of llama_index nodes")
    out = list(nodes)
    seen: set[str] = set()
    for i, node in enumerate(out):
        if not isinstance(node, BaseNode):
            raise ValueError(
                f"{argument}[{i}] must be a llama_index node, got {type(node).__name__}"
            )
        if node.node_id in seen:
            raise ValueError(f"{argument} contains the node id {node.node_id!r} twice")
        seen.add(node.node_id)
    return out


def _bm25_index_class() -> type[BM25Index]:
    from rankwise.bm25 import BM25Index

    return BM25Index


def _settings_of(index: BM25Index) -> dict[str, Any]:
    # A callable analyzer has no JSON config: it is recorded as None and must be given again.
    analyzer = None if index.analyzer.is_callable else index.analyzer.config
    settings = {
        "analyzer": analyzer,
        "k1": index.k1,
        "b": index.b,
        "inverted_index_algo": index.inverted_index_algo,
    }
    loaded: dict[str, Any] = json.loads(json.dumps(settings))
    return loaded


def _is_embedded_index(store: object) -> bool:
    return isinstance(store, _bm25_index_class())


class RetrieverOptions(TypedDict, total=False):
    """The keyword settings of :class:`RankwiseBM25Retriever` (see its arguments), which
    :meth:`RankwiseBM25Retriever.from_defaults` passes on unchanged."""

    store: TextStore | None
    similarity_top_k: int
    filters: MetadataFilters | None
    analyzer: Any
    k1: float | None
    b: float | None
    inverted_index_algo: str | None
    text_metadata_mode: MetadataMode | str
    show_progress: bool
    callback_manager: CallbackManager | None
    objects: list[IndexNode] | None
    object_map: dict[str, Any] | None
    verbose: bool


class RankwiseBM25Retriever(BaseRetriever):
    """BM25 full-text retrieval for LlamaIndex, on rankwise's embedded index or any store.

    Build it with :meth:`from_defaults` from nodes, a docstore or an index. Results carry the
    BM25 score on ``NodeWithScore.score`` and are copies of the stored nodes, so downstream
    postprocessors can't alter the retriever's nodes.

    Args:
        nodes: nodes to index (optional with ``store=``, whose contents are then searched as is).
        store: a ``rankwise.types.TextStore`` backend, e.g. ``rankwise.milvus.MilvusBM25Store``;
            default: a new embedded ``rankwise.bm25.BM25Index``.
        similarity_top_k: how many nodes one query returns (LlamaIndex's default, 2).
        filters: default ``MetadataFilters`` applied by the store inside the top-k of every
            query — as a mapping, a predicate or an escaped Milvus expression, whichever the
            store takes (``store.filter_kinds``); one it cannot take raises
            ``rankwise.types.FilterNotSupportedError`` here. ``retrieve(query, filters=...)``
            overrides them for one call.
        analyzer, k1, b, inverted_index_algo: settings of the embedded index (analyzer:
            ``"english"``, an analyzer config dict, a callable, or a ``rankwise.bm25.Analyzer``).
            A ``store=`` has its own settings, so these can't be combined with it.
        text_metadata_mode: which content of a node is indexed; ``MetadataMode.NONE`` (the
            default) indexes the text only, ``MetadataMode.EMBED`` adds its embed metadata.
        show_progress: show progress bars while indexing.
    """

    def __init__(
        self,
        nodes: Sequence[BaseNode] | None = None,
        *,
        store: TextStore | None = None,
        similarity_top_k: int = DEFAULT_SIMILARITY_TOP_K,
        filters: MetadataFilters | None = None,
        analyzer: Any = None,
        k1: float | None = None,
        b: float | None = None,
        inverted_index_algo: str | None = None,
        text_metadata_mode: MetadataMode | str = MetadataMode.NONE,
        show_progress: bool = False,
        callback_manager: CallbackManager | None = None,
        objects: list[IndexNode] | None = None,
        object_map: dict[str, Any] | None = None,
        verbose: bool = False,
    ) -> None:
        self._similarity_top_k = positive_int(similarity_top_k, "similarity_top_k")
        self._filters = _check_filters(filters)
        try:
            self._text_metadata_mode = MetadataMode(text_metadata_mode)
        except ValueError:
            raise ValueError(
                f"text_metadata_mode must be one of {[m.value for m in MetadataMode]}, "
                f"got {text_metadata_mode!r}"
            ) from None
        self._show_progress = bool(show_progress)
        self._lock = threading.RLock()
        self._nodes: dict[str, BaseNode] = {}
        node_list = _check_nodes(nodes) if nodes is not None else []

        index_settings = {
            "analyzer": analyzer,
            "k1": k1,
            "b": b,
            "inverted_index_algo": inverted_index_algo,
        }
        if store is not None:
            given = [name for name, value in index_settings.items() if value is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)} configure the embedded BM25 index; a store= "
                    "backend has its own settings, so give one or the other"
                )
            if not isinstance(store, TextStore):
                raise ValueError(
                    "store must implement rankwise.types.TextStore "
                    "(add/upsert/delete/get/search/__len__), "
                    f"got {type(store).__name__}"
                )
            self._store: TextStore = store
            if node_list:
                self._write(node_list, fresh=False)
        else:
            # Settings left unset take the core's defaults (BM25Index's own), kept in one place.
            given_settings = {n: v for n, v in index_settings.items() if v is not None}
            self._store = _bm25_index_class()(**given_settings, show_progress=self._show_progress)
            if node_list:
                self._write(node_list, fresh=True)
        self._store_filter(self._filters)  # a filter the store can't apply fails here
        super().__init__(
            callback_manager=callback_manager or Settings.callback_manager,
            object_map=object_map,
            objects=objects,
            verbose=verbose,
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_defaults(
        cls,
        index: BaseIndex[Any] | None = None,
        nodes: Sequence[BaseNode] | None = None,
        docstore: BaseDocumentStore | None = None,
        **options: Unpack[RetrieverOptions],
    ) -> RankwiseBM25Retriever:
        """Index the nodes of exactly one of ``index``, ``nodes`` or ``docstore``.

        ``options`` are the constructor's keyword arguments. With ``store=`` no source is
        needed: the store's existing documents are searched.
        """
        sources = [
            name
            for name, value in (("index", index), ("nodes", nodes), ("docstore", docstore))
            if value is not None
        ]
        if len(sources) > 1:
            raise ValueError(f"give only one of index, nodes, docstore (got {', '.join(sources)})")
        if not sources and options.get("store") is None:
            raise ValueError("give one of index, nodes or docstore (or a store= to search)")
        node_list: list[BaseNode] | None = None
        if index is not None:
            if not isinstance(index, BaseIndex):
                raise ValueError(f"index must be a llama_index index, got {type(index).__name__}")
            node_list = list(index.docstore.docs.values())
            if not node_list:
                raise ValueError(
                    "index has no nodes in its docstore (its vector store keeps the text); "
                    "pass nodes= instead"
                )
        elif docstore is not None:
            if not isinstance(docstore, BaseDocumentStore):
                raise ValueError(
                    f"docstore must be a llama_index document store, got {type(docstore).__name__}"
                )
            node_list = list(docstore.docs.values())
        elif nodes is not None:
            node_list = _check_nodes(nodes)
        return cls(node_list, **options)

    # ------------------------------------------------------------------ properties
    @property
    def store(self) -> TextStore:
        """The full-text backend (the embedded ``BM25Index`` unless ``store=`` was given)."""
        return self._store

    @property
    def similarity_top_k(self) -> int:
        return self._similarity_top_k

    @similarity_top_k.setter
    def similarity_top_k(self, value: int) -> None:
        self._similarity_top_k = positive_int(value, "similarity_top_k")

    @property
    def filters(self) -> MetadataFilters | None:
        """Default filters of every query."""
        return self._filters

    @filters.setter
    def filters(self, value: MetadataFilters | None) -> None:
        checked = _check_filters(value)
        self._store_filter(checked)
        self._filters = checked

    @property
    def text_metadata_mode(self) -> MetadataMode:
        return self._text_metadata_mode

    @property
    def node_ids(self) -> list[str]:
        """Ids of the nodes this retriever holds (in insertion order)."""
        with self._lock:
            return list(self._nodes)

    def get_nodes(self, node_ids: Sequence[str] | None = None) -> list[BaseNode]:
        """Copies of the held nodes (all, or those of ``node_ids`` that exist)."""
        with self._lock:
            if node_ids is None:
                return [copy_node(n) for n in self._nodes.values()]
            ids = ids_arg(node_ids, "node_ids")
            return [copy_node(self._nodes[i]) for i in ids if i in self._nodes]

    def __len__(self) -> int:
        """Number of documents in the store."""
        return len(self._store)

    def __bool__(self) -> bool:
        # An empty retriever is still a retriever (``retriever or fallback`` must not skip it).
        return True

    # ------------------------------------------------------------------ updates
    def _text(self, node: BaseNode) -> str:
        return node.get_content(metadata_mode=self._text_metadata_mode)

    def _write(self, nodes: list[BaseNode], *, fresh: bool) -> None:
        texts = [self._text(n) for n in nodes]
        ids = [n.node_id for n in nodes]
        metadatas = [dict(n.metadata) for n in nodes]
        with self._lock:
            if fresh:
                self._store.add(texts, ids=ids, metadatas=metadatas)
            else:
                self._store.upsert(texts, ids, metadatas)
            for node in nodes:
                self._nodes.pop(node.node_id, None)
                self._nodes[node.node_id] = copy_node(node)

    def insert(self, nodes: Sequence[BaseNode]) -> None:
        """Add ``nodes`` to the index (replacing nodes with the same id), without a rebuild."""
        node_list = _check_nodes(nodes)
        if node_list:
            self._write(node_list, fresh=False)

    def delete(self, node_ids: Sequence[str]) -> int:
        """Remove the nodes with these ids, without a rebuild; returns how many were removed."""
        ids = ids_arg(node_ids, "node_ids")
        if not ids:
            return 0
        with self._lock:
            removed = self._store.delete(ids)
            for node_id in ids:
                self._nodes.pop(node_id, None)
        return removed

    def delete_ref_doc(self, ref_doc_id: str) -> int:
        """Remove every node that came from the source document ``ref_doc_id``."""
        text_arg(ref_doc_id, "ref_doc_id")
        with self._lock:
            ids = [i for i, n in self._nodes.items() if n.ref_doc_id == ref_doc_id]
        return self.delete(ids)

    # ------------------------------------------------------------------ retrieval
    def retrieve(
        self, str_or_query_bundle: QueryType, filters: MetadataFilters | None = None
    ) -> list[NodeWithScore]:
        """Retrieve nodes; ``filters`` (if given) replace the default filters for this call."""
        if filters is None:
            return super().retrieve(str_or_query_bundle)
        token = _CALL_FILTERS.set((id(self), self._validated(filters)))
        try:
            return super().retrieve(str_or_query_bundle)
        finally:
            _CALL_FILTERS.reset(token)

    async def aretrieve(
        self, str_or_query_bundle: QueryType, filters: MetadataFilters | None = None
    ) -> list[NodeWithScore]:
        """Async :meth:`retrieve`; the search runs in a worker thread."""
        if filters is None:
            return await super().aretrieve(str_or_query_bundle)
        token = _CALL_FILTERS.set((id(self), self._validated(filters)))
        try:
            return await super().aretrieve(str_or_query_bundle)
        finally:
            _CALL_FILTERS.reset(token)

    def _validated(self, filters: MetadataFilters) -> MetadataFilters:
        checked = _check_filters(filters)
        if checked is None:
            raise ValueError("filters must be llama_index MetadataFilters, got None")
        self._store_filter(checked)
        return checked

    def _active_filters(self) -> MetadataFilters | None:
        call = _CALL_FILTERS.get()
        if call is not None and call[0] == id(self):
            return call[1]
        return self._filters

    def _to_node(self, hit: Hit) -> NodeWithScore:
        node = self._nodes.get(hit.id)
        if node is None:
            # A document the store holds but this retriever never saw (e.g. a Milvus
            # collection filled elsewhere): rebuild a text node from the hit.
            node = TextNode(id_=hit.id, text=hit.text, metadata=dict(hit.metadata))
        else:
            node = copy_node(node)
        return NodeWithScore(node=node, score=float(hit.score))

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not isinstance(query, str):
            raise ValueError(f"query must be a string, got {type(query).__name__}")
        if not query.strip():
            return []
        # The store applies the filter inside its top-k and returns only positive scores
        # (the TextStore contract): nothing is filtered or re-ranked here. A batch run by
        # retrieve_many has searched already (one search_many call): use its answer.
        store_filter = self._store_filter(self._active_filters())
        prefetched = _PREFETCHED.get()
        found = None
        if prefetched is not None and prefetched[0] == id(self) and prefetched[1] == store_filter:
            found = prefetched[2].get(query)
        if found is None:
            found = self._store.search(query, k=self._similarity_top_k, filter=store_filter)
        return [self._to_node(hit) for hit in found]

    def _store_filter(self, filters: MetadataFilters | None) -> Filter | None:
        """``filters`` in a form the store applies itself (mapping, predicate or expression)."""
        return to_store_filter(filters, store_filter_kinds(self._store))

    def retrieve_many(
        self, queries: Sequence[QueryType], filters: MetadataFilters | None = None
    ) -> list[list[NodeWithScore]]:
        """:meth:`retrieve` for each query (same events and callbacks), with the searches of
        the whole batch run first as one ``store.search_many`` call, which the embedded index
        spreads over every core."""
        if not isinstance(queries, Sequence) or isinstance(queries, str):
            raise ValueError("queries must be a sequence of queries, not a single string")
        if filters is not None:
            token = _CALL_FILTERS.set((id(self), self._validated(filters)))
            try:
                return self.retrieve_many(queries)
            finally:
                _CALL_FILTERS.reset(token)
        prefetched = self._prefetch(queries)
        if prefetched is None:
            return [self.retrieve(q) for q in queries]
        token2 = _PREFETCHED.set(prefetched)
        try:
            return [self.retrieve(q) for q in queries]
        finally:
            _PREFETCHED.reset(token2)

    async def aretrieve_many(
        self, queries: Sequence[QueryType], filters: MetadataFilters | None = None
    ) -> list[list[NodeWithScore]]:
        """Async :meth:`retrieve_many` (it runs in a worker thread)."""
        return await asyncio.to_thread(self.retrieve_many, queries, filters)

    def _prefetch(
        self, queries: Sequence[QueryType]
    ) -> tuple[int, object, dict[str, list[Hit]]] | None:
        search_many = getattr(self._store, "search_many", None)
        store_filter = self._store_filter(self._active_filters())
        if not callable(search_many):
            return None
        texts = [q.query_str if isinstance(q, QueryBundle) else q for q in queries]
        distinct = list(dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip()))
        if len(distinct) < 2:
            return None
        try:
            results = search_many(distinct, k=self._similarity_top_k, filter=store_filter)
        except (TypeError, ValueError):
            return None  # each query then searches alone and reports its own error
        return id(self), store_filter, dict(zip(distinct, results, strict=True))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)

    # ------------------------------------------------------------------ persistence
    def _index_config(self) -> dict[str, Any] | None:
        store = self._store
        if not _is_embedded_index(store):
            return None
        index_class = _bm25_index_class()
        return _settings_of(store) if isinstance(store, index_class) else None

    def _snapshot(self, target: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Settings and nodes of this moment; the embedded index is saved into ``target``."""
        with self._lock:
            index_config = self._index_config()
            if index_config is not None:
                self._store.save(target / INDEX_DIR)  # type: ignore[attr-defined]
            nodes = [doc_to_json(n) for n in self._nodes.values()]
            config = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "similarity_top_k": self._similarity_top_k,
                "text_metadata_mode": self._text_metadata_mode.value,
                "filters": None if self._filters is None else self._filters.model_dump(mode="json"),
                "store": {
                    "kind": "embedded" if index_config is not None else "external",
                    "class": f"{type(self._store).__module__}.{type(self._store).__qualname__}",
                    "index": index_config,
                },
            }
        return config, nodes

    def persist(self, persist_dir: str | os.PathLike[str]) -> None:
        """Save settings, nodes (as JSON) and the embedded index under ``persist_dir``, atomically.

        One persist writes one new generation folder (``gen-<hex>/``: settings, nodes and the
        embedded index), then switches ``retriever.json`` to it with one ``os.replace``; a
        crash at any point leaves the previous persist loadable, and a later persist cleans up
        what the crash left. Generations no pointer names are removed; concurrent persists into
        one folder (threads or processes) are serialised by a file lock (last writer wins).

        With an external ``store=`` (e.g. Milvus) the store keeps its own data; the settings
        and nodes are saved, and :meth:`from_persist_dir` needs the store again.
        """
        path = Path(persist_dir)
        path.mkdir(parents=True, exist_ok=True)
        with persist_lock(path):
            if (path / CONFIG_FILE).exists():
                read_pointer(path)  # refuse to replace something that isn't ours
            generation = f"{GEN_PREFIX}{uuid.uuid4().hex}"
            staging = path / f"{generation}{TMP_SUFFIX}"
            try:
                staging.mkdir()
                config, nodes = self._snapshot(staging)
                write_json_durably(staging / NODES_FILE, nodes)
                write_json_durably(staging / SETTINGS_FILE, config)
                fsync_dir(staging)
                os.replace(staging, path / generation)
                fsync_dir(path)
                pointer = {"format": FORMAT, "version": FORMAT_VERSION, "generation": generation}
                pointer_tmp = path / f"{CONFIG_FILE}.{generation}{TMP_SUFFIX}"
                write_json_durably(pointer_tmp, pointer)
                os.replace(pointer_tmp, path / CONFIG_FILE)
                fsync_dir(path)
            finally:
                # Also after a failure: remove whatever the live pointer doesn't name (this
                # attempt's staging folder, or its generation if the switch never happened).
                remove_unreferenced(path)

    @classmethod
    def from_persist_dir(
        cls,
        persist_dir: str | os.PathLike[str],
        *,
        store: TextStore | None = None,
        analyzer: Any = None,
        mmap: bool = True,
        show_progress: bool = False,
        callback_manager: CallbackManager | None = None,
        objects: list[IndexNode] | None = None,
        object_map: dict[str, Any] | None = None,
        verbose: bool = False,
    ) -> RankwiseBM25Retriever:
        """Load a retriever saved by :meth:`persist`, with every setting it had.

        ``store=`` is required when it was saved with an external store, and replaces the
        saved embedded index otherwise. ``analyzer=`` is required (only) when the embedded
        index was built with a callable analyzer, which can't be saved. ``mmap`` maps the
        saved index arrays instead of reading them into memory.

        Only the complete generation ``retriever.json`` names is read. Folders written by the
        previous layout (``retriever.json`` version 1 next to ``nodes.json`` and
        ``bm25_index/``) still load; the next :meth:`persist` converts them.
        """
        path = Path(persist_dir)
        for attempt in range(LOAD_ATTEMPTS):
            pointer = read_pointer(path)
            try:
                data_dir = generation_dir(path, pointer)
                is_v1 = pointer["version"] == 1
                config = pointer if is_v1 else read_json(data_dir / SETTINGS_FILE)
                nodes_data = read_json(data_dir / NODES_FILE)
                loaded_store = cls._load_store(
                    data_dir, config, store, analyzer, mmap, show_progress
                )
                break
            except FileNotFoundError as exc:
                # A concurrent persist switched the pointer and removed this generation
                # between our reads: read the new pointer and start over.
                if attempt + 1 == LOAD_ATTEMPTS or read_pointer(path) == pointer:
                    raise ValueError(f"persist_dir {str(path)!r} is incomplete: {exc}") from None
        filters = (
            None if config["filters"] is None else MetadataFilters.model_validate(config["filters"])
        )
        retriever = cls(
            store=loaded_store,
            similarity_top_k=config["similarity_top_k"],
            filters=filters,
            text_metadata_mode=config["text_metadata_mode"],
            callback_manager=callback_manager,
            objects=objects,
            object_map=object_map,
            verbose=verbose,
        )
        for item in nodes_data:
            node = json_to_doc(item)
            retriever._nodes[node.node_id] = node
        return retriever

    @staticmethod
    def _load_store(
        data_dir: Path,
        config: dict[str, Any],
        store: TextStore | None,
        analyzer: Any,
        mmap: bool,
        show_progress: bool,
    ) -> TextStore:
        store_config = config["store"]
        if store is not None:
            if analyzer is not None:
                raise ValueError(
                    "analyzer= only applies to a saved embedded index, not with store="
                )
            return store
        if store_config["kind"] != "embedded":
            raise ValueError(
                f"this retriever was saved with an external store ({store_config['class']}); "
                "pass it as store="
            )
        expected = store_config["index"]
        if expected["analyzer"] is None and analyzer is None:
            raise ValueError(
                "this retriever's index was built with a callable analyzer, which can't be "
                "saved; pass the same callable as analyzer="
            )
        index = _bm25_index_class().load(
            data_dir / INDEX_DIR, mmap=mmap, analyzer=analyzer, show_progress=show_progress
        )
        actual = _settings_of(index)
        if expected["analyzer"] is None:
            expected = {**expected, "analyzer": actual["analyzer"]}
        if actual != expected:
            raise ValueError(
                f"the saved index settings {actual} differ from the retriever's {expected}"
            )
        return index


__all__ = ["RankwiseBM25Retriever"]
