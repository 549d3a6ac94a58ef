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
    validate_collection("c", described(), {"sparse": server_index()}, SERVER)


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
