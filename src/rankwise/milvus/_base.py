"""Shared plumbing of the Milvus-backed stores: connection, validation, batched writes, reads."""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from tqdm.auto import tqdm

from rankwise._checks import (
    MAX_ID_BYTES,
    ArgumentTypeError,
    ids_arg,
    metadatas_arg,
    positive_int,
    texts_arg,
)
from rankwise._optional import require
from rankwise.milvus.analyzers import is_lite_uri
from rankwise.milvus.filters import MILVUS_FILTER_KINDS, ids_expr
from rankwise.milvus.schema import ID_FIELD, METADATA_FIELD, SPARSE_FIELD, TEXT_FIELD
from rankwise.types import FilterKind, Hit, Metadata

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

#: Largest ``limit`` a Milvus search accepts (``k`` is checked with ``int_arg(maximum=...)``).
MAX_TOP_K = 16384
_QUERY_CHUNK = 1000


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MilvusCollectionStore(ABC):
    """A Milvus collection of ``id``/``text``/``metadata`` rows plus some vector field(s).

    Subclasses say how to create/validate the collection (:meth:`_open_or_create`), which
    extra fields each row gets (:meth:`_extra_fields`) and how to search.
    """

    max_text_length: int = 65535
    max_id_length: int = MAX_ID_BYTES
    #: The filter forms Milvus applies inside its top-k (the TextStore contract).
    filter_kinds: tuple[FilterKind, ...] = MILVUS_FILTER_KINDS

    def _connect(
        self,
        uri: str,
        collection: str,
        token: str | None,
        db_name: str,
        show_progress: bool,
        batch_size: int,
        feature: str,
    ) -> None:
        if not isinstance(uri, str) or not uri:
            raise ValueError(f"uri must be a non-empty string, got {uri!r}")
        if not isinstance(collection, str) or not collection:
            raise ValueError(f"collection must be a non-empty string, got {collection!r}")
        positive_int(batch_size, "batch_size")
        self.uri = uri
        self.collection = collection
        self.lite = is_lite_uri(uri)
        self.show_progress = show_progress
        self.batch_size = batch_size
        self._dirty = False
        # one flush at a time: searches that find the store dirty together would otherwise
        # each flush, and Milvus Lite fails a flush that overlaps another ("current_seq is
        # monotonic")
        self._flush_lock = threading.Lock()
        self._pymilvus: Any = require("pymilvus", "milvus", feature=feature)
        if self.lite:
            require("milvus_lite", "milvus", feature="Milvus Lite (a .db uri)")
        self._client: Any = self._pymilvus.MilvusClient(uri=uri, token=token or "", db_name=db_name)
        try:
            self._open_or_create()
        except BaseException:
            self._client.close()
            raise

    @abstractmethod
    def _open_or_create(self) -> None: ...

    def _prepare(self, texts: Sequence[str]) -> list[dict[str, Any]] | None:
        """Extra fields for every row, computed (and validated) before anything is written."""
        return None

    def _extra_fields(self, texts: Sequence[str]) -> list[dict[str, Any]] | None:
        """Extra fields for one batch of rows (e.g. embeddings), or None."""
        return None

    def _properties(self) -> dict[str, str]:
        """Collection properties recorded at creation (settings Milvus does not keep itself)."""
        return {}

    def _describe(self) -> tuple[Mapping[str, Any], dict[str, Mapping[str, Any]]]:
        client, name = self._client, self.collection
        description = client.describe_collection(name)
        indexes: dict[str, Mapping[str, Any]] = {}
        for index_name in client.list_indexes(name):
            info = client.describe_index(name, index_name)
            if info:
                indexes[str(info.get("field_name", index_name))] = info
        return description, indexes

    def _create(
        self, schema: Any, index_params: Any, properties: Mapping[str, str] | None = None
    ) -> None:
        client, name = self._client, self.collection
        try:
            client.create_collection(
                name,
                schema=schema,
                consistency_level="Strong",
                properties={**self._properties(), **dict(properties or {})},
            )
            # Lite builds indexes lazily and lacks the AllocTimestamp call pymilvus' synchronous
            # wait uses (it logs a server error, then polls every 0.5 s): don't wait there.
            client.create_index(name, index_params, sync=not self.lite)
            client.load_collection(name)
        except self._pymilvus.MilvusException as exc:
            if client.has_collection(name):  # half-created: collection made, index refused
                client.drop_collection(name)
            raise ValueError(
                f"Milvus refused to create collection {name!r}: {exc.message}"
            ) from exc

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def client(self) -> Any:
        """The underlying ``pymilvus.MilvusClient``."""
        return self._client

    def close(self) -> None:
        """Close the client connection (Milvus Lite's data stays in the ``.db`` folder);
        closing twice is harmless."""
        if not getattr(self, "_closed", False):
            self._closed = True
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def drop(self) -> None:
        """Drop the whole collection (all documents); the store is unusable afterwards."""
        self._client.drop_collection(self.collection)

    def flush(self) -> None:
        """Seal pending writes into a segment.

        On Milvus Lite this makes searches much faster (a sealed segment keeps its index, the
        write buffer is re-indexed on every search); the store does it lazily before the first
        search after a write. Each flush makes a segment with its own BM25 statistics on Lite.
        Flushes from several threads run one at a time.
        """
        with self._flush_lock:
            self._flush_now()

    def _flush_now(self) -> None:
        # cleared first: a write that lands while Milvus flushes marks the store dirty again
        self._dirty = False
        try:
            self._client.flush(self.collection)
        except BaseException:
            self._dirty = True
            raise

    def _before_search(self) -> None:
        if self._dirty and self.lite:
            with self._flush_lock:
                if self._dirty:  # not flushed meanwhile by a search that held the lock
                    self._flush_now()

    # ------------------------------------------------------------------------------- writing

    def _check_text_length(self, text: str, where: str) -> None:
        size = len(text.encode("utf-8"))
        if size > self.max_text_length:
            raise ValueError(
                f"{where} is {size} bytes; the Milvus VARCHAR field holds at most "
                f"{self.max_text_length} (split long documents into chunks)"
            )

    def _rows(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None,
        metadatas: Iterable[Metadata | None] | None,
        *,
        ids_required: bool,
    ) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        text_list = texts_arg(texts)
        for i, text in enumerate(text_list):
            self._check_text_length(text, f"texts[{i}]")
        if ids is None:
            if ids_required:
                raise ArgumentTypeError("ids must be given to upsert, got None")
            doc_ids = [uuid.uuid4().hex for _ in text_list]
        else:
            doc_ids = ids_arg(ids, count=len(text_list), unique=True, max_bytes=self.max_id_length)
        metas = metadatas_arg(metadatas, len(text_list))
        return text_list, doc_ids, metas

    def _existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(ids, _QUERY_CHUNK):
            rows = self._client.query(
                self.collection, filter=ids_expr(chunk), output_fields=[ID_FIELD]
            )
            found.update(str(r[ID_FIELD]) for r in rows)
        return found

    def _write(
        self,
        op: Literal["insert", "upsert"],
        texts: list[str],
        ids: list[str],
        metas: list[dict[str, Any]],
    ) -> None:
        prepared = self._prepare(texts)
        send = getattr(self._client, op)
        bar = tqdm(
            total=len(texts),
            desc=f"Milvus {op}",
            unit="doc",
            disable=not self.show_progress or len(texts) <= self.batch_size,
        )
        try:
            for start in range(0, len(texts), self.batch_size):
                stop = min(start + self.batch_size, len(texts))
                rows: list[dict[str, Any]] = [
                    {ID_FIELD: ids[i], TEXT_FIELD: texts[i], METADATA_FIELD: metas[i]}
                    for i in range(start, stop)
                ]
                if prepared is not None:
                    for row, fields in zip(rows, prepared[start:stop], strict=True):
                        row.update(fields)
                extra = self._extra_fields(texts[start:stop])
                if extra is not None:
                    for row, fields in zip(rows, extra, strict=True):
                        row.update(fields)
                send(self.collection, rows)
                self._dirty = True
                bar.update(stop - start)
        finally:
            bar.close()

    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[str] | None = None,
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        """Insert new documents (batched); returns their ids (generated when not given).

        An id that is already stored raises ``ValueError`` (use :meth:`upsert` to replace).
        """
        text_list, id_list, metas = self._rows(texts, ids, metadatas, ids_required=False)
        if not text_list:
            return []
        if ids is not None and len(self) > 0:
            taken = self._existing(id_list)
            if taken:
                shown = ", ".join(repr(i) for i in sorted(taken)[:5])
                raise ValueError(f"ids already stored: {shown}; use upsert() to replace them")
        self._write("insert", text_list, id_list, metas)
        return id_list

    def upsert(
        self,
        texts: Iterable[str],
        ids: Iterable[str],
        metadatas: Iterable[Metadata | None] | None = None,
    ) -> list[str]:
        """Insert or replace documents by id; returns the ids."""
        text_list, id_list, metas = self._rows(texts, ids, metadatas, ids_required=True)
        if text_list:
            self._write("upsert", text_list, id_list, metas)
        return id_list

    def delete(self, ids: Iterable[str]) -> int:
        """Delete documents by id; returns how many were stored (unknown ids are ignored).

        The ids reach Milvus as one escaped ``id in [...]`` expression per chunk
        (:func:`~rankwise.milvus.filters.ids_expr`), so any text is an id and nothing else.
        """
        wanted = list(dict.fromkeys(ids_arg(ids, max_bytes=self.max_id_length)))
        present = sorted(self._existing(wanted)) if wanted else []
        for chunk in chunks(present, _QUERY_CHUNK):
            self._client.delete(self.collection, filter=ids_expr(chunk))
            self._dirty = True
        return len(present)

    # ------------------------------------------------------------------------------- reading

    def get(self, ids: Iterable[str]) -> list[Hit]:
        """Stored documents by id, in the order asked (unknown ids are skipped; score 0)."""
        asked = ids_arg(ids, max_bytes=self.max_id_length)
        found: dict[str, Hit] = {}
        wanted = list(dict.fromkeys(asked))
        for chunk in chunks(wanted, _QUERY_CHUNK):
            rows = self._client.query(
                self.collection,
                filter=ids_expr(chunk),
                output_fields=[ID_FIELD, TEXT_FIELD, METADATA_FIELD],
            )
            for r in rows:
                doc_id = str(r[ID_FIELD])
                found[doc_id] = Hit(
                    id=doc_id,
                    score=0.0,
                    text=str(r[TEXT_FIELD]),
                    metadata=r.get(METADATA_FIELD) or {},
                )
        return [found[i] for i in asked if i in found]

    def __len__(self) -> int:
        rows = self._client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def ids(self) -> list[str]:
        """Every stored id (order unspecified)."""
        if self.lite:  # Lite has no result window; its query_iterator warns about timestamps
            rows = self._client.query(
                self.collection, filter=f'{ID_FIELD} != ""', output_fields=[ID_FIELD]
            )
            return [str(r[ID_FIELD]) for r in rows]
        out: list[str] = []
        iterator = self._client.query_iterator(
            self.collection, batch_size=_QUERY_CHUNK, filter="", output_fields=[ID_FIELD]
        )
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    break
                out.extend(str(r[ID_FIELD]) for r in batch)
        finally:
            iterator.close()
        return out

    def _search_batches(
        self,
        data: Sequence[Any],
        todo: Sequence[int],
        *,
        k: int,
        expr: str,
        metric: str,
    ) -> dict[int, list[Hit]]:
        """Search the sparse field for ``data[i]`` of every ``i`` in ``todo``, 64 per request.

        ``metric`` is ``"BM25"`` (text queries, Milvus's BM25 function) or ``"IP"``
        (client-side sparse vectors); only hits with a positive score are kept.
        """
        bm25 = metric == "BM25"
        out: dict[int, list[Hit]] = {}
        self._before_search()
        for chunk in chunks(todo, 64):
            results = self._client.search(
                self.collection,
                data=[data[i] for i in chunk],
                anns_field=SPARSE_FIELD,
                limit=k,
                filter=expr,
                output_fields=[TEXT_FIELD, METADATA_FIELD],
                search_params={"metric_type": metric},
            )
            for i, res in zip(chunk, results, strict=True):
                out[i] = [h for h in self._hits(res, bm25=bm25) if h.score > 0]
        return out

    @staticmethod
    def _hits(results: Sequence[Any], *, bm25: bool) -> list[Hit]:
        hits: list[Hit] = []
        for r in results:
            entity = r.get("entity", {}) or {}
            score = float(r["distance"])
            if bm25:
                # BM25 scores are positive; Milvus Lite reports them negated (as distances).
                score = abs(score)
                if score <= 0.0:
                    continue
            hits.append(
                Hit(
                    id=str(r["id"]),
                    score=score,
                    text=str(entity.get(TEXT_FIELD, "")),
                    metadata=entity.get(METADATA_FIELD) or {},
                )
            )
        return hits
