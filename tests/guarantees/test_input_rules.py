"""What BM25Index accepts: JSON-representable metadata (copied in and out), text without lone
surrogates, manifests whose paths stay in the folder and whose numbers are in range, bounded
``k``; everything else is refused at the call that received it, naming the argument."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankwise.bm25 import Analyzer, BM25Index
from rankwise.bm25.persistence import MANIFEST

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
json_metadata = st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=5)


def _index(**kw: Any) -> BM25Index:
    return BM25Index(show_progress=False, **kw)


# ------------------------------------------------------------------ metadata (items 7, 8)


def test_metadata_is_copied_in_and_out() -> None:
    ix = _index()
    meta = {"tags": ["a"], "nested": {"n": 1}}
    ix.add(["alpha beta"], ids=["x"], metadatas=[meta])
    meta["tags"].append("caller")
    meta["nested"]["n"] = 2
    meta["new"] = True
    hit = ix.search("alpha")[0]
    hit.metadata["tags"].append("hit")
    hit.metadata["nested"]["n"] = 3
    got = ix.get(["x"])[0]
    got.metadata["tags"].clear()
    expected = {"tags": ["a"], "nested": {"n": 1}}
    assert ix.get(["x"])[0].metadata == expected
    assert ix.search("alpha")[0].metadata == expected
    assert [h.id for h in ix.search("alpha", filter={"nested": {"n": 1}})] == ["x"]
    seen: list[dict[str, Any]] = []

    def predicate(m: dict[str, Any]) -> bool:
        m["tags"].append("predicate")
        seen.append(m)
        return True

    ix.search("alpha", filter=predicate)
    assert seen
    assert ix.get(["x"])[0].metadata == expected


@settings(SETTINGS, max_examples=25)
@given(meta=json_metadata)
def test_accepted_metadata_round_trips_and_filters_alike(
    tmp_path: Path, meta: dict[str, Any]
) -> None:
    ix = _index()
    ix.add(["alpha"], ids=["x"], metadatas=[meta])
    folder = tmp_path / "ix"
    ix.save(folder)
    loaded = BM25Index.load(folder)
    assert loaded.get(["x"])[0].metadata == ix.get(["x"])[0].metadata == meta
    for key, value in meta.items():
        flt = {key: value}
        assert [h.id for h in ix.search("alpha", filter=flt)] == ["x"]
        assert [h.id for h in loaded.search("alpha", filter=flt)] == ["x"]


@pytest.mark.parametrize(
    ("meta", "error", "named"),
    [
        ({"t": (1, 2)}, TypeError, "'t'"),
        ({"s": {1, 2}}, TypeError, "'s'"),
        ({1: "int key"}, TypeError, "1"),
        ({"when": datetime.date(2024, 1, 1)}, TypeError, "'when'"),
        ({"x": float("nan")}, ValueError, "'x'"),
        ({"x": float("inf")}, ValueError, "'x'"),
        ({"arr": np.array([1, 2])}, TypeError, "'arr'"),
        ({"deep": {"ok": [1, {"bad": object()}]}}, TypeError, "'bad'"),
        ({"b": b"bytes"}, TypeError, "'b'"),
    ],
)
def test_metadata_outside_json_is_refused_at_add(meta: Any, error: type, named: str) -> None:
    ix = _index()
    ix.add(["kept"], ids=["k"])
    with pytest.raises(error, match=r"metadatas\[1\]") as info:
        ix.add(["alpha", "beta"], ids=["a", "b"], metadatas=[None, meta])
    assert named in str(info.value)
    assert ix.ids() == ["k"]
    with pytest.raises(error):
        ix.upsert(["beta"], ids=["k"], metadatas=[meta])
    assert ix.get(["k"])[0].text == "kept"


def test_numpy_scalars_are_stored_as_python_numbers(tmp_path: Path) -> None:
    ix = _index()
    ix.add(
        ["alpha"],
        ids=["x"],
        metadatas=[{"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True)}],
    )
    meta = ix.get(["x"])[0].metadata
    assert meta == {"i": 3, "f": 0.5, "b": True}
    assert [type(v) for v in meta.values()] == [int, float, bool]
    ix.save(tmp_path / "ix")
    assert BM25Index.load(tmp_path / "ix").get(["x"])[0].metadata == meta


def test_filter_values_follow_the_metadata_rule() -> None:
    ix = _index()
    ix.add(["alpha"], ids=["x"], metadatas=[{"n": 3, "tags": [1, 2]}])
    with pytest.raises(TypeError, match=r"filter\['tags'\]"):
        ix.search("alpha", filter={"tags": np.array([1, 2])})
    with pytest.raises(TypeError, match=r"filter\['tags'\]"):
        ix.search_many(["alpha"], filter={"tags": (1, 2)})
    assert [h.id for h in ix.search("alpha", filter={"n": np.int64(3)})] == ["x"]
    assert [h.id for h in ix.search("alpha", filter={"tags": [1, 2]})] == ["x"]


# ------------------------------------------------------------------ text (item 9)

surrogates = st.integers(0xD800, 0xDFFF).map(chr)


@st.composite
def with_lone_surrogate(draw: st.DrawFn) -> str:
    text = draw(st.text(max_size=10))
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(surrogates) + text[at:]


@SETTINGS
@given(bad=with_lone_surrogate(), where=st.sampled_from(["text", "id", "meta_value", "meta_key"]))
def test_lone_surrogates_are_refused_at_add_and_upsert(bad: str, where: str) -> None:
    ix = _index()
    ix.add(["alpha"], ids=["k"], metadatas=[{"m": "v"}])
    texts, ids, metas = ["beta"], ["n"], [{"m": "v"}]
    if where == "text":
        texts = [bad]
    elif where == "id":
        ids = [bad]
    elif where == "meta_value":
        metas = [{"m": ["ok", bad]}]
    else:
        metas = [{bad: 1}]
    for write in (ix.add, ix.upsert):
        with pytest.raises(ValueError, match="surrogate"):
            write(texts, ids=ids, metadatas=metas)
    assert ix.ids() == ["k"]


@SETTINGS
@given(bad=with_lone_surrogate())
def test_lone_surrogates_are_refused_in_queries_and_id_lookups(bad: str) -> None:
    ix = _index()
    ix.add(["alpha"], ids=["k"])
    with pytest.raises(ValueError, match="query"):
        ix.search(bad)
    with pytest.raises(ValueError, match="queries"):
        ix.search_many(["alpha", bad])
    with pytest.raises(ValueError, match="ids"):
        ix.get([bad])
    with pytest.raises(ValueError, match="ids"):
        ix.delete([bad])
    assert len(ix) == 1


def test_text_that_is_accepted_survives_save_and_search(tmp_path: Path) -> None:
    ix = _index()
    text = "naïve 🙂 pair \U0001f600 alpha"  # astral characters are fine; only lone halves are not
    ix.add([text], ids=["é🙂"], metadatas=[{"k🙂": "v\u2028"}])
    ix.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix")
    hit = loaded.search("alpha")[0]
    assert (hit.id, hit.text, hit.metadata) == ("é🙂", text, {"k🙂": "v\u2028"})


# ------------------------------------------------------------------ manifests (items 10, 13)


def _saved(tmp_path: Path) -> Path:
    ix = _index()
    ix.add(["alpha beta", "beta gamma", "gamma delta"], ids=["a", "b", "c"])
    root = tmp_path / "ix"
    ix.save(root)
    return root


def _edit_manifest(root: Path, **changes: Any) -> None:
    path = root / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_manifest_generation_cannot_leave_the_folder(tmp_path: Path) -> None:
    other = _saved(tmp_path / "other")
    other_gen = json.loads((other / MANIFEST).read_text())["generation"]
    root = _saved(tmp_path / "mine")
    escape = (
        f"{json.loads((root / MANIFEST).read_text())['generation']}/../../../other/ix/{other_gen}"
    )
    _edit_manifest(root, generation=escape)
    with pytest.raises(ValueError, match="generation"):
        BM25Index.load(root)
    _edit_manifest(root, generation=str(other / other_gen))
    with pytest.raises(ValueError, match="generation"):
        BM25Index.load(root)


def test_a_symlinked_generation_is_refused(tmp_path: Path) -> None:
    other = _saved(tmp_path / "other")
    other_gen = json.loads((other / MANIFEST).read_text())["generation"]
    root = _saved(tmp_path / "mine")
    fake = "gen-" + "0" * 32
    (root / fake).symlink_to(other / other_gen, target_is_directory=True)
    _edit_manifest(root, generation=fake)
    with pytest.raises(ValueError, match="outside"):
        BM25Index.load(root)


@pytest.mark.parametrize(
    "changes",
    [
        {"bound_avgdl": 0},
        {"bound_avgdl": -1.0},
        {"bound_avgdl": math.nan},
        {"bound_avgdl": math.inf},
        {"k1": math.nan},
        {"b": 1.5},
        {"n_docs": -1},
        {"nnz": -3},
        {"vocab_size": 2.5},
        {"total_len": "6"},
        {"block_size": 0},
        {"n_docs": True},
    ],
    ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()),
)
def test_manifest_numbers_out_of_range_are_refused(tmp_path: Path, changes: dict[str, Any]) -> None:
    root = _saved(tmp_path)
    _edit_manifest(root, **changes)
    key = next(iter(changes))
    with pytest.raises(ValueError, match=key):
        BM25Index.load(root)


# ------------------------------------------------------------------ clear errors (item 13)


def test_huge_k_is_capped_at_the_live_count() -> None:
    ix = _index()
    ix.add(
        ["alpha beta", "alpha", "gamma"],
        ids=["a", "b", "c"],
        metadatas=[{"n": 1}, {"n": 1}, {"n": 2}],
    )
    expected = ix.search("alpha", k=3)
    assert ix.search("alpha", k=10**12) == expected
    assert ix.search_many(["alpha"], k=10**12) == [expected]
    assert ix.search("alpha", k=10**12, filter={"n": 1}) == expected
    assert ix.search("alpha", k=10**12, filter={"a", "b"}) == expected
    assert ix.search("alpha", k=10**12, filter=lambda m: True) == expected


def test_encode_documents_on_an_index_of_empty_documents() -> None:
    ix = _index()
    ix.add(["", "   "], ids=["a", "b"])
    rows = ix.encode_documents(["alpha beta", ""])
    assert rows.shape[0] == 2
    assert rows.nnz == 0  # no known terms, and no ZeroDivisionError


def _returns_str(text: str) -> str:
    return text.lower()


def test_a_callable_analyzer_returning_a_str_is_refused() -> None:
    ix = _index(analyzer=_returns_str)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"_returns_str.*returned a str"):
        ix.add(["alpha beta"])
    assert len(ix) == 0
    with pytest.raises(TypeError, match="_returns_str"):
        Analyzer(_returns_str).analyze("alpha")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"tokenizer": {"type": "jieba", "moed": "exact"}}, "moed"),
        ({"tokenizer": {"type": "standard", "lowercase": True}}, "lowercase"),
        ({"tokenizer": {"type": "whitespace", "max_token_length": 5}}, "max_token_length"),
        ({"type": "english", "stop_words": ["_french_"]}, "_french_"),
        (
            {
                "tokenizer": "standard",
                "filter": [{"type": "stop", "stop_words": ["_spanish_", "a"]}],
            },
            "_spanish_",
        ),
    ],
)
def test_unknown_analyzer_params_are_refused_naming_the_key(
    params: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        Analyzer(params)
    with pytest.raises(ValueError, match=named):
        BM25Index(analyzer=params)


def test_named_and_plain_stop_words_still_work() -> None:
    a = Analyzer(
        {
            "tokenizer": "standard",
            "filter": ["lowercase", {"type": "stop", "stop_words": ["_english_", "alpha", "_"]}],
        }
    )
    assert a.analyze("The alpha beta") == ["beta"]
