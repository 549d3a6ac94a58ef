"""Shared fixtures of the llama-index-rankwise tests: offline settings, corpus, fakes."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from llama_index.core import Settings
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.bridge.pydantic import Field
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, TextNode

from rankwise.rerankers.base import BaseReranker
from rankwise.testing.stores import WordCountStore

# Nothing in these tests may reach for OpenAI: every default model is a local mock.
Settings.llm = MockLLM()
Settings.embed_model = MockEmbedding(embed_dim=8)

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "n0",
        "The wing flutter of supersonic aircraft at high mach numbers.",
        {"year": 1961, "topic": "aero", "tags": ["flutter", "wing"]},
    ),
    (
        "n1",
        "Heat transfer in the laminar boundary layer of a flat plate.",
        {"year": 1958, "topic": "heat", "tags": ["boundary"]},
    ),
    (
        "n2",
        "Boundary layer transition on a cone at supersonic speeds.",
        {"year": 1963, "topic": "aero", "tags": ["boundary", "cone"]},
    ),
    (
        "n3",
        "Buckling of thin cylindrical shells under axial compression.",
        {"year": 1955, "topic": "structures", "tags": ["shell"]},
    ),
    (
        "n4",
        "Pressure distribution on a wing in hypersonic flow.",
        {"year": 1965, "topic": "aero", "tags": ["wing"]},
    ),
    (
        "n5",
        "Cooking pasta al dente takes about ten minutes.",
        {"year": 2020, "topic": "food", "tags": []},
    ),
    (
        "n6",
        "Vibration and flutter of panels in supersonic flow.",
        {"year": 1960, "topic": "structures", "tags": ["flutter"]},
    ),
    (
        "n7",
        "Skin friction and heat transfer in turbulent boundary layers.",
        {"year": 1959, "topic": "heat", "tags": ["boundary"]},
    ),
]


def make_nodes() -> list[TextNode]:
    nodes = []
    for node_id, text, metadata in CORPUS:
        node = TextNode(id_=node_id, text=text, metadata=dict(metadata))
        node.relationships[NodeRelationship.SOURCE] = TextNode(
            id_=f"doc-{node_id}"
        ).as_related_node_info()
        nodes.append(node)
    return nodes


@pytest.fixture
def nodes() -> list[TextNode]:
    return make_nodes()


class OverlapReranker(BaseReranker):
    """A deterministic reranker: the score is the number of query words found in the document."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[str, list[str]]] = []
        self.async_calls = 0

    @property
    def name(self) -> str:
        return "test:overlap"

    def _score(self, query: str, documents: list[str]) -> list[float]:
        self.calls.append((query, list(documents)))
        if self.delay:
            time.sleep(self.delay)
        q = set(words(query))
        return [float(sum(1 for w in words(d) if w in q)) for d in documents]

    async def _ascore(self, query: str, documents: list[str]) -> list[float]:
        self.async_calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        q = set(words(query))
        self.calls.append((query, list(documents)))
        return [float(sum(1 for w in words(d) if w in q)) for d in documents]


@pytest.fixture
def overlap_reranker() -> OverlapReranker:
    return OverlapReranker()


@pytest.fixture
def overlap_reranker_cls() -> type[OverlapReranker]:
    return OverlapReranker


@pytest.fixture
def fake_store_cls() -> type[WordCountStore]:
    """The in-memory TextStore double (it passes the TextStore contract suite too)."""
    return WordCountStore


class ListRetriever(BaseRetriever):
    """A retriever that returns a fixed ranking, optionally after a (sync or async) delay."""

    def __init__(self, ranking: list[tuple[str, float]], delay: float = 0.0) -> None:
        self.ranking = ranking
        self.delay = delay
        self.sync_calls = 0
        self.async_calls = 0
        super().__init__()

    def _results(self) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=TextNode(id_=node_id, text=f"text of {node_id}"), score=score)
            for node_id, score in self.ranking
        ]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.sync_calls += 1
        if self.delay:
            time.sleep(self.delay)
        return self._results()

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.async_calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._results()


@pytest.fixture
def list_retriever_cls() -> type[ListRetriever]:
    return ListRetriever


class EventCollector(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventCollector"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, kind: type[BaseEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def events() -> Iterator[EventCollector]:
    """Every instrumentation event emitted during the test, seen by a root event handler."""
    root = get_dispatcher()
    collector = EventCollector()
    root.add_event_handler(collector)
    try:
        yield collector
    finally:
        root.event_handlers.remove(collector)


class Stopwatch:
    """Wall time of a scenario, best of up to three runs.

    On a shared machine a run can only get slower than its true cost (a stall never makes
    sleeps shorter), so retrying keeps timing checks from flaking while an implementation that
    really serializes the work fails every attempt.
    """

    attempts = 3

    def best(self, run: Callable[[], Any], under: float) -> float:
        best = float("inf")
        for _ in range(self.attempts):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
            if best < under:
                break
        return best

    async def abest(self, run: Callable[[], Awaitable[Any]], under: float) -> float:
        best = float("inf")
        for _ in range(self.attempts):
            start = time.perf_counter()
            await run()
            best = min(best, time.perf_counter() - start)
            if best < under:
                break
        return best


@pytest.fixture
def stopwatch() -> Stopwatch:
    return Stopwatch()
