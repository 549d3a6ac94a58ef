"""BM25Index against a plain dict under random add/upsert/delete/save/load sequences, including
ids deleted and added again; snapshots taken earlier must keep answering as they did."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from rankwise.bm25 import BM25Index
from rankwise.bm25.index import _State

IDS = [f"d{i}" for i in range(8)]
WORDS = ["alpha", "beta", "gamma", "delta"]

texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=4).map(" ".join)
batches = st.lists(
    st.tuples(st.sampled_from(IDS), texts), min_size=1, max_size=4, unique_by=lambda t: t[0]
)


class WriteModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ix = BM25Index("standard", show_progress=False)
        self.model: dict[str, tuple[str, dict[str, int]]] = {}
        self.version = 0
        self.snapshots: list[tuple[_State, dict[str, tuple[str, dict[str, int]]]]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="rankwise-model-"))

    def _batch(
        self, batch: list[tuple[str, str]]
    ) -> tuple[list[str], list[str], list[dict[str, int]]]:
        self.version += 1
        return [d for d, _ in batch], [t for _, t in batch], [{"v": self.version}] * len(batch)

    @rule(batch=batches)
    def add(self, batch: list[tuple[str, str]]) -> None:
        ids, txts, metas = self._batch(batch)
        if any(d in self.model for d in ids):
            with pytest.raises(ValueError, match="already"):
                self.ix.add(txts, ids=ids, metadatas=metas)
            return
        assert self.ix.add(txts, ids=ids, metadatas=metas) == ids
        self.model.update({d: (t, m) for d, t, m in zip(ids, txts, metas, strict=True)})

    @rule(batch=batches)
    def upsert(self, batch: list[tuple[str, str]]) -> None:
        ids, txts, metas = self._batch(batch)
        self.ix.upsert(txts, ids=ids, metadatas=metas)
        self.model.update({d: (t, m) for d, t, m in zip(ids, txts, metas, strict=True)})

    @rule(ids=st.lists(st.sampled_from(IDS), max_size=4))
    def delete(self, ids: list[str]) -> None:
        expected = len({d for d in ids if d in self.model})
        assert self.ix.delete(ids) == expected
        for d in ids:
            self.model.pop(d, None)

    @rule()
    def save_and_load(self) -> None:
        self.ix.save(self.tmp / "ix")
        self.ix = BM25Index.load(self.tmp / "ix")
        self.snapshots.clear()  # internal numbers of the old object no longer apply

    @rule()
    def hold_snapshot(self) -> None:
        self.snapshots.append((self.ix._state, dict(self.model)))

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    @invariant()
    def matches_the_model(self) -> None:
        ix = self.ix
        assert len(ix) == len(self.model)
        assert sorted(ix.ids()) == sorted(self.model)
        got = {h.id: (h.text, h.metadata) for h in ix.get(IDS)}
        assert got == self.model
        for d in IDS:
            assert (d in ix) == (d in self.model)
        words = ix.search("alpha", k=100, filter=set(IDS[:4]))
        assert all(d in self.model and "alpha" in self.model[d][0] for d in (h.id for h in words))
        assert {h.id for h in words} == {
            d for d in IDS[:4] if d in self.model and "alpha" in self.model[d][0].split()
        }

    @invariant()
    def old_snapshots_answer_as_they_did(self) -> None:
        for snap, model in self.snapshots:
            for d in IDS:
                i = self.ix._locate(snap, d)
                if d not in model:
                    assert i is None
                else:
                    assert i is not None
                    assert (snap.ids[i], snap.texts[i], snap.metas[i] or {}) == (d, *model[d])


WriteModel.TestCase.settings = settings(max_examples=20, stateful_step_count=20, deadline=None)
test_write_model = WriteModel.TestCase
