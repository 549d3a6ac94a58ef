"""Collection validation on described shapes, including a Milvus server's string-valued params."""

from __future__ import annotations

from typing import Any

import pytest

from rankwise.milvus.schema import CollectionSpec, SchemaMismatchError, validate_collection


def described(
    *,
    analyzer: str = '{"type": "english"}',
    dense_dim: int | None = None,
    function: bool = True,
) -> dict[str, Any]:
    """What pymilvus' describe_collection returns from a server (params as strings)."""
    fields: list[dict[str, Any]] = [
        {"name": "id", "type": "VARCHAR", "params": {"max_length": "512"}, "is_primary": True},
        {
            "name": "text",
            "type": "VARCHAR",
            "params": {
                "max_length": "65535",
                "enable_analyzer": "true",
                "analyzer_params": analyzer,
            },
        },
        {"name": "metadata", "type": "JSON", "params": {}},
        {"name": "sparse", "type": "SPARSE_FLOAT_VECTOR", "params": {}},
    ]
    if dense_dim is not None:
        fields.append({"name": "dense", "type": "FLOAT_VECTOR", "params": {"dim": str(dense_dim)}})
    functions = [
        {
            "name": "bm25",
            "type": "BM25",
            "input_field_names": ["text"],
            "output_field_names": ["sparse"],
        }
    ]
    return {"fields": fields, "functions": functions if function else []}


def server_index(k1: str = "1.2", b: str = "0.75", algo: str = "DAAT_MAXSCORE") -> dict[str, Any]:
    # pymilvus' describe_index: string key/values from the server, "params" decoded from JSON
    return {
        "index_type": "SPARSE_INVERTED_INDEX",
        "metric_type": "BM25",
        "params": {"inverted_index_algo": algo, "bm25_k1": k1, "bm25_b": b},
        "field_name": "sparse",
    }


SERVER = CollectionSpec(analyzer_params={"type": "english"}, lite=False)


def test_a_matching_server_collection_passes() -> None:
    from pymilvus import DataType

    # the server's string-valued params, and the same collection as Milvus Lite or an older
    # pymilvus describes it (DataType members, numbers, analyzer params as a dict): all match
    native = described()
    for field in native["fields"]:
        field["type"] = DataType[field["type"]]
    text_params = native["fields"][1]["params"]
    text_params.update(enable_analyzer=True, analyzer_params={"type": "english"})
    native_index = server_index()
    native_index["params"].update(bm25_k1=1.2, bm25_b=0.75)
    for desc, index in [(described(), server_index()), (native, native_index)]:
        assert validate_collection("c", desc, {"sparse": index}, SERVER) is None
        # the same shapes with one setting changed are refused: the match above was checked
        index = {**index, "params": {**index["params"], "bm25_b": "0.5"}}
        with pytest.raises(SchemaMismatchError, match="bm25_b"):
            validate_collection("c", desc, {"sparse": index}, SERVER)


@pytest.mark.parametrize(
    ("desc", "index", "spec", "message"),
    [
        (described(), server_index(k1="1.5"), SERVER, "bm25_k1 is '1.5', expected 1.2"),
        (described(), server_index(b="0.5"), SERVER, "bm25_b"),
        (described(), server_index(algo="DAAT_WAND"), SERVER, "inverted_index_algo"),
        (described(analyzer='{"type": "standard"}'), server_index(), SERVER, "analyzer_params"),
        (described(function=False), server_index(), SERVER, "no BM25 function"),
        (described(dense_dim=8), server_index(), SERVER, "dense_dim=8"),
        (
            described(dense_dim=8),
            server_index(),
            CollectionSpec(analyzer_params={"type": "english"}, lite=False, dense_dim=16),
            "dense field has dim 8, expected 16",
        ),
        (described(), {}, SERVER, "has no index"),
    ],
)
def test_differences_are_reported(
    desc: dict[str, Any], index: dict[str, Any], spec: CollectionSpec, message: str
) -> None:
    indexes = {"sparse": index} if index else {}
    with pytest.raises(SchemaMismatchError, match=message):
        validate_collection("c", desc, indexes, spec)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(SchemaMismatchError) as info:
        validate_collection(
            "c", described(function=False), {"sparse": server_index(k1="2")}, SERVER
        )
    assert "no BM25 function" in str(info.value)
    assert "bm25_k1" in str(info.value)


def test_lite_ignores_the_algorithm_it_cannot_build() -> None:
    lite = CollectionSpec(analyzer_params={"type": "english"}, inverted_index_algo="DAAT_WAND")
    assert lite.sparse_index_params()["inverted_index_algo"] == "TAAT_NAIVE"
    validate_collection("c", described(), {"sparse": server_index(algo="TAAT_NAIVE")}, lite)
    server = CollectionSpec(analyzer_params={}, lite=False, inverted_index_algo="DAAT_WAND")
    assert server.sparse_index_params() == {
        "inverted_index_algo": "DAAT_WAND",
        "bm25_k1": 1.2,
        "bm25_b": 0.75,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k1": 0}, "k1"),
        ({"k1": float("nan")}, "k1"),
        ({"k1": True}, "k1"),
        ({"b": -0.1}, "b must"),
        ({"inverted_index_algo": "WAND"}, "inverted_index_algo"),
        ({"dense_dim": 0}, "dense_dim"),
        ({"dense_metric": "HAMMING"}, "dense_metric"),
        ({"max_text_length": 70000}, "max_text_length"),
    ],
)
def test_spec_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CollectionSpec(analyzer_params={"type": "standard"}, **kwargs)


def test_text_length_and_recorded_algorithm_are_checked_on_a_server_shape() -> None:
    spec = CollectionSpec(analyzer_params={"type": "english"}, lite=False, max_text_length=99)
    with pytest.raises(SchemaMismatchError, match="max_length '65535', expected max_text_length"):
        validate_collection("c", described(), {"sparse": server_index()}, spec)
    recorded = {**described(), "properties": {"rankwise.inverted_index_algo": "TAAT_NAIVE"}}
    lite = CollectionSpec(analyzer_params={"type": "english"}, inverted_index_algo="DAAT_WAND")
    with pytest.raises(SchemaMismatchError, match="created with inverted_index_algo 'TAAT_NAIVE'"):
        validate_collection("c", recorded, {"sparse": server_index(algo="TAAT_NAIVE")}, lite)
    # a collection made before the property existed is judged by its index alone
    validate_collection("c", described(), {"sparse": server_index(algo="TAAT_NAIVE")}, lite)


# ----------------------------------------------------------------- default analysis and route


def test_default_analysis_is_the_embedded_index_default_on_every_target() -> None:
    from rankwise import BM25Index
    from rankwise.milvus.analyzers import analyzer_params_for
    from rankwise.milvus.store import DEFAULT_ANALYZER, choose_route

    assert BM25Index(show_progress=False).analyzer.config == {"type": DEFAULT_ANALYZER}
    # a server runs Milvus's own english analyzer (the same analysis): the BM25 function route
    assert choose_route("auto", lite=False) == "milvus"
    assert analyzer_params_for(DEFAULT_ANALYZER, "server") == {"type": "english"}
    # Lite cannot (it rejects {"type": "english"}): rankwise analyses, exact statistics
    assert choose_route("auto", lite=True) == "exact"
    with pytest.raises(ValueError, match="Milvus Lite cannot run the 'english' analyzer"):
        analyzer_params_for(DEFAULT_ANALYZER, "lite")
    # what Milvus's analyzer cannot do at all is analysed by rankwise, on either target
    assert choose_route("auto", lite=False, analyzer=str.split) == "exact"
    assert choose_route("auto", lite=False, analyzer="standard", pre_analyzed=True) == "milvus"
    assert choose_route("milvus", lite=True) == "milvus"  # explicit: checked when built
    with pytest.raises(ValueError, match="route must be"):
        choose_route("fast", lite=True)


def exact_described(settings: str, *, properties: bool = True) -> dict[str, Any]:
    """An exact-route collection as a Milvus server describes it."""
    fields = [
        {"name": "id", "type": "VARCHAR", "params": {"max_length": "512"}, "is_primary": True},
        {"name": "text", "type": "VARCHAR", "params": {"max_length": "65535"}},
        {"name": "metadata", "type": "JSON", "params": {}},
        {"name": "sparse", "type": "SPARSE_FLOAT_VECTOR", "params": {}},
        {"name": "bm25_avgdl", "type": "FLOAT", "params": {}},
        {"name": "bm25_seq", "type": "INT64", "params": {}},
    ]
    out: dict[str, Any] = {"fields": fields, "functions": []}
    if properties:
        out["properties"] = {"rankwise.bm25": settings}
    return out


def test_exact_route_collections_are_validated_on_a_server_shape() -> None:
    from rankwise.milvus import exact

    spec = CollectionSpec(analyzer_params={"type": "english"}, lite=False)
    settings = exact.settings_property({"type": "english"}, spec)
    ip = {"sparse": {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP", "params": {}}}
    exact.validate_collection("c", exact_described(settings["rankwise.bm25"]), ip, spec, settings)
    other = exact.settings_property({"type": "standard"}, CollectionSpec({}, k1=1.5, lite=False))
    with pytest.raises(SchemaMismatchError, match=r"bm25_k1 is 1\.5, expected 1\.2") as info:
        exact.validate_collection("c", exact_described(other["rankwise.bm25"]), ip, spec, settings)
    assert "analyzer_params are {'type': 'standard'}" in str(info.value)
    with pytest.raises(SchemaMismatchError, match="records no rankwise exact-route settings"):
        exact.validate_collection("c", exact_described("", properties=False), ip, spec, settings)
    bm25 = {"sparse": server_index()}
    with pytest.raises(SchemaMismatchError, match="metric is 'BM25', expected 'IP'"):
        exact.validate_collection(
            "c", exact_described(settings["rankwise.bm25"]), bm25, spec, settings
        )
    with pytest.raises(SchemaMismatchError, match="route='milvus'"):
        exact.validate_collection("c", described(), bm25, spec, settings)
