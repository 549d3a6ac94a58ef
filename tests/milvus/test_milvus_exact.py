"""MilvusBM25Store's exact route on Milvus Lite: the embedded index's scores and rankings under
any sequence of writes, including ones that move the average length far from the length the
stored weights were computed with (so the re-scoring must fetch deeper)."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rankwise import BM25Index
from rankwise.milvus import MilvusBM25Store, SchemaMismatchError
from rankwise.milvus import store as store_module
from rankwise.milvus.exact import ClientBM25, Stats, term_dimension
from rankwise.types import Hit

pytestmark = pytest.mark.milvus

VOCAB = [f"w{i}" for i in range(40)]


def _doc(rng: random.Random, length: int) -> str:
    # a Zipf-ish draw, so that some terms are frequent and ties are rare
    return " ".join(
        VOCAB[min(int(rng.paretovariate(1.2)) - 1, len(VOCAB) - 1)] for _ in range(length)
    )


def _same(got: list[Hit], want: list[Hit]) -> None:
    assert [h.id for h in got] == [h.id for h in want]
    assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)


def test_random_writes_keep_the_embedded_answers(tmp_path: Path) -> None:
    rng = random.Random(13)
    store = MilvusBM25Store(
        uri=str(tmp_path / "x.db"), analyzer_params="standard", show_progress=False
    )
    embedded = BM25Index("standard", show_progress=False)
    assert store.route == "exact"
    limits: list[int] = []
    real_search = store.client.search

    def counting_search(*args: object, **kwargs: object) -> object:
        limits.append(int(kwargs["limit"]))  # type: ignore[call-overload]
        return real_search(*args, **kwargs)

    store.client.search = counting_search  # type: ignore[method-assign]
    live: list[str] = []
    serial = 0
    for step in range(14):
        op = rng.choice(["add", "add", "upsert", "delete"]) if live else "add"
        if op == "add":
            # early batches short, later ones long: the average length drifts a lot
            n = rng.randint(1, 30)
            length = (3, 8) if step < 5 else (20, 60)
            texts = [_doc(rng, rng.randint(*length)) for _ in range(n)]
            ids = [f"d{serial + i}" for i in range(n)]
            serial += n
            metas = [{"even": int(i[1:]) % 2 == 0} for i in ids]
            for target in (store, embedded):
                target.add(texts, ids=ids, metadatas=metas)
            live += ids
        elif op == "upsert":
            ids = rng.sample(live, min(len(live), rng.randint(1, 5)))
            texts = [_doc(rng, rng.randint(1, 40)) for _ in ids]
            for target in (store, embedded):
                target.upsert(texts, ids=ids, metadatas=[{"even": False} for _ in ids])
        else:
            gone = rng.sample(live, min(len(live) - 1, rng.randint(1, 6)))
            for target in (store, embedded):
                assert target.delete(gone) == len(gone)
            live = [i for i in live if i not in gone]
        assert len(store) == len(embedded)
        for _ in range(6):
            query = " ".join(rng.sample(VOCAB[:25], rng.randint(1, 4)))
            k = rng.choice([1, 3, 10, 50])
            _same(store.search(query, k), embedded.search(query, k))
            _same(
                store.search(query, k, filter={"even": True}),
                embedded.search(query, k, filter={"even": True}),
            )
    # the drift made some searches fetch a deeper candidate list to stay exact
    assert max(limits) > max(2 * 50, 50 + 16)
    # reopening rebuilds the statistics from the collection: still the same answers
    store.close()
    again = MilvusBM25Store(
        uri=str(tmp_path / "x.db"), analyzer_params="standard", show_progress=False
    )
    for query in ("w0 w1", "w3", "w7 w2 w9"):
        _same(again.search(query, 10), embedded.search(query, 10))


def test_drift_bound_and_term_dimensions() -> None:
    engine = ClientBM25(str.split, 1.2, 0.75)
    short = Stats().changed([["a", "b"]] * 4, [])
    assert short.avgdl == 2.0
    assert short.min_ref_avgdl == 2.0
    longer = short.changed([["c"] * 20], [])
    assert longer.min_ref_avgdl == 2.0  # rows written earlier still carry the old length
    assert engine.drift_bound(longer) == pytest.approx(longer.avgdl / 2.0, rel=1e-4)
    assert engine.drift_bound(short) == pytest.approx(1.0, abs=1e-4)
    dims = {term_dimension(f"t{i}") for i in range(1000)}
    assert len(dims) >= 999  # a 32-bit hash: collisions are rare (and only widen the fetch)
    assert all(0 <= d < 2**32 - 2 for d in dims)


def test_route_milvus_on_lite_warns_once_loudly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "_warned_lite_segments", False)
    with pytest.warns(RuntimeWarning, match=r"0\.288"):
        MilvusBM25Store(
            uri=str(tmp_path / "a.db"),
            analyzer_params="standard",
            route="milvus",
            show_progress=False,
        ).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MilvusBM25Store(
            uri=str(tmp_path / "a.db"),
            collection="other",
            analyzer_params="standard",
            route="milvus",
            show_progress=False,
        ).close()


def test_the_route_is_recorded_and_checked(tmp_path: Path) -> None:
    uri = str(tmp_path / "r.db")
    exact = MilvusBM25Store(uri=uri, show_progress=False)
    assert (exact.route, exact.analysis, exact.analyzer_params) == (
        "exact",
        "client",
        {"type": "english"},
    )
    assert "route='exact'" in repr(exact)
    assert "analyzer_params={'type': 'english'}" in repr(exact)
    exact.close()
    with pytest.raises(SchemaMismatchError, match="BM25 function"):
        MilvusBM25Store(uri=uri, analyzer_params="standard", route="milvus", show_progress=False)
    with pytest.raises(SchemaMismatchError, match="analyzer_params are"):
        MilvusBM25Store(uri=uri, analyzer_params="standard", show_progress=False)
    with pytest.raises(SchemaMismatchError, match=r"bm25_b is 0\.75, expected 0\.5"):
        MilvusBM25Store(uri=uri, b=0.5, show_progress=False)
    milvus = MilvusBM25Store(
        uri=uri, collection="m", analyzer_params="standard", route="milvus", show_progress=False
    )
    assert (milvus.route, milvus.analysis) == ("milvus", "milvus")
    milvus.close()
    with pytest.raises(SchemaMismatchError, match="route='milvus'"):
        MilvusBM25Store(uri=uri, collection="m", analyzer_params="standard", show_progress=False)
    with pytest.raises(ValueError, match="route must be"):
        MilvusBM25Store(uri=uri, route="fast", show_progress=False)  # type: ignore[arg-type]
