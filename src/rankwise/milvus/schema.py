"""The collection shape of :class:`~rankwise.milvus.MilvusBM25Store`, and its validation.

One collection holds:

========================  ========================================================================
field                     type
========================  ========================================================================
``id``                    ``VARCHAR`` primary key (user string ids)
``text``                  ``VARCHAR`` with ``enable_analyzer=True`` and the ``analyzer_params``
                          (when text is pre-analyzed on the client: the original text, and the
                          analyzed field is ``analyzed_text``)
``metadata``              ``JSON``
``sparse``                ``SPARSE_FLOAT_VECTOR``, the output of ``Function(BM25)``, indexed with
                          ``SPARSE_INVERTED_INDEX`` / metric ``BM25``
``dense`` (optional)      ``FLOAT_VECTOR(dense_dim)`` for hybrid search
========================  ========================================================================

Opening an existing collection compares it with the requested shape and raises
:class:`SchemaMismatchError` on any difference that would change what is stored or how it is
scored, so nothing is ever written into a collection of the wrong shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rankwise._checks import MAX_ID_BYTES, int_arg, number_arg, optional_int

__all__ = [
    "ANALYZED_FIELD",
    "BM25_FUNCTION",
    "DENSE_FIELD",
    "DENSE_METRICS",
    "ID_FIELD",
    "INVERTED_INDEX_ALGOS",
    "LITE_INVERTED_INDEX_ALGO",
    "METADATA_FIELD",
    "SPARSE_FIELD",
    "TEXT_FIELD",
    "CollectionSpec",
    "SchemaMismatchError",
    "build_index_params",
    "build_schema",
    "validate_collection",
]

ID_FIELD = "id"
TEXT_FIELD = "text"
ANALYZED_FIELD = "analyzed_text"
METADATA_FIELD = "metadata"
SPARSE_FIELD = "sparse"
DENSE_FIELD = "dense"
BM25_FUNCTION = "bm25"

INVERTED_INDEX_ALGOS = ("TAAT_NAIVE", "DAAT_WAND", "DAAT_MAXSCORE")
#: Milvus Lite 3.2.x scores every posting (it rejects the DAAT algorithms); the results equal the
#: server's exact algorithms, so on Lite the index is always created with this one.
LITE_INVERTED_INDEX_ALGO = "TAAT_NAIVE"
DENSE_METRICS = ("COSINE", "IP", "L2")


class SchemaMismatchError(ValueError):
    """An existing collection does not have the shape this store needs."""


@dataclass(frozen=True)
class CollectionSpec:
    """Everything that fixes the shape of a collection and the scoring of its BM25 index."""

    analyzer_params: dict[str, Any]
    k1: float = 1.2
    b: float = 0.75
    inverted_index_algo: str = "DAAT_MAXSCORE"
    dense_dim: int | None = None
    dense_metric: str = "COSINE"
    pre_analyzed: bool = False
    max_text_length: int = 65535
    max_id_length: int = MAX_ID_BYTES
    lite: bool = True

    def __post_init__(self) -> None:
        number_arg(self.k1, "k1", minimum=0.0, exclusive_minimum=True)
        number_arg(self.b, "b", minimum=0.0, maximum=1.0)
        if self.inverted_index_algo not in INVERTED_INDEX_ALGOS:
            raise ValueError(
                f"inverted_index_algo must be one of {', '.join(INVERTED_INDEX_ALGOS)}, "
                f"got {self.inverted_index_algo!r}"
            )
        optional_int(self.dense_dim, "dense_dim")
        if self.dense_metric not in DENSE_METRICS:
            raise ValueError(
                f"dense_metric must be one of {', '.join(DENSE_METRICS)}, got {self.dense_metric!r}"
            )
        for name in ("max_text_length", "max_id_length"):
            int_arg(getattr(self, name), name, maximum=65535)
        if not isinstance(self.analyzer_params, dict):
            raise ValueError(f"analyzer_params must be a dict, got {self.analyzer_params!r}")

    @property
    def analyzed_field(self) -> str:
        """The VARCHAR field the BM25 function reads."""
        return ANALYZED_FIELD if self.pre_analyzed else TEXT_FIELD

    @property
    def index_algo(self) -> str:
        """The algorithm the index is created with (Lite only has TAAT_NAIVE)."""
        return LITE_INVERTED_INDEX_ALGO if self.lite else self.inverted_index_algo

    def sparse_index_params(self) -> dict[str, Any]:
        return {
            "inverted_index_algo": self.index_algo,
            "bm25_k1": float(self.k1),
            "bm25_b": float(self.b),
        }


#: Collection property that records the requested ``inverted_index_algo``.
ALGO_PROPERTY = "rankwise.inverted_index_algo"


def collection_properties(spec: CollectionSpec) -> dict[str, str]:
    """Collection properties recording the settings Milvus itself does not keep.

    Milvus Lite always builds its index with TAAT_NAIVE, so the ``inverted_index_algo`` asked
    for is recorded here, and a reopen with another one is refused like any other setting.
    """
    return {ALGO_PROPERTY: spec.inverted_index_algo}


def recorded_settings(description: Mapping[str, Any]) -> dict[str, Any]:
    """The settings :func:`collection_properties` recorded ({} for collections made without)."""
    properties = _as_dict(description.get("properties"))
    algo = properties.get(ALGO_PROPERTY)
    return {"inverted_index_algo": algo} if isinstance(algo, str) else {}


def build_schema(client: Any, spec: CollectionSpec, pymilvus: Any) -> Any:
    """A pymilvus ``CollectionSchema`` for ``spec``."""
    dt = pymilvus.DataType
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, dt.VARCHAR, is_primary=True, max_length=spec.max_id_length)
    if spec.pre_analyzed:
        schema.add_field(TEXT_FIELD, dt.VARCHAR, max_length=spec.max_text_length)
    schema.add_field(
        spec.analyzed_field,
        dt.VARCHAR,
        max_length=spec.max_text_length,
        enable_analyzer=True,
        analyzer_params=spec.analyzer_params,
    )
    schema.add_field(METADATA_FIELD, dt.JSON)
    schema.add_field(SPARSE_FIELD, dt.SPARSE_FLOAT_VECTOR)
    if spec.dense_dim is not None:
        schema.add_field(DENSE_FIELD, dt.FLOAT_VECTOR, dim=spec.dense_dim)
    schema.add_function(
        pymilvus.Function(
            name=BM25_FUNCTION,
            function_type=pymilvus.FunctionType.BM25,
            input_field_names=[spec.analyzed_field],
            output_field_names=[SPARSE_FIELD],
        )
    )
    return schema


def build_index_params(client: Any, spec: CollectionSpec) -> Any:
    """Index params: the BM25 sparse index (and the dense one, if any).

    The BM25 parameters go nested under ``params``: Milvus servers accept both forms, while
    Milvus Lite silently ignores flat ``bm25_k1``/``bm25_b`` (and would then score with k1=1.5).
    """
    index_params = client.prepare_index_params()
    index_params.add_index(
        field_name=SPARSE_FIELD,
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"params": spec.sparse_index_params()},
    )
    if spec.dense_dim is not None:
        index_params.add_index(
            field_name=DENSE_FIELD, index_type="AUTOINDEX", metric_type=spec.dense_metric
        )
    return index_params


# ----------------------------------------------------------------------------------- validation


def _as_dict(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (str, bytes)) and value:
        try:
            decoded = json.loads(value)
        except (TypeError, ValueError):
            return {}
        return dict(decoded) if isinstance(decoded, Mapping) else {}
    return {}


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _type_name(value: object) -> str:
    name = getattr(value, "name", None)
    return str(name) if name is not None else str(value)


def _flatten_index_params(info: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key == "params":
            out.update(_as_dict(value))
        else:
            out[key] = value
    return out


def _same_number(a: object, b: float) -> bool:
    try:
        return math.isclose(float(a), b, rel_tol=1e-6, abs_tol=1e-9)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def validate_collection(
    name: str,
    description: Mapping[str, Any],
    indexes: Mapping[str, Mapping[str, Any]],
    spec: CollectionSpec,
) -> None:
    """Raise :class:`SchemaMismatchError` listing how collection ``name`` differs from ``spec``.

    ``description`` is ``MilvusClient.describe_collection(name)``; ``indexes`` maps field name to
    ``MilvusClient.describe_index(...)`` for the indexed fields.
    """
    problems: list[str] = []
    fields = {str(f.get("name")): f for f in description.get("fields", [])}

    def field_type(fname: str) -> str | None:
        f = fields.get(fname)
        return None if f is None else _type_name(f.get("type"))

    def expect(fname: str, type_name: str) -> Mapping[str, Any] | None:
        actual = field_type(fname)
        if actual is None:
            problems.append(f"field {fname!r} ({type_name}) is missing")
            return None
        if actual != type_name:
            problems.append(f"field {fname!r} is {actual}, expected {type_name}")
            return None
        found: Mapping[str, Any] = fields[fname]
        return found

    def expect_length(fname: str, field: Mapping[str, Any] | None, want: int, setting: str) -> None:
        if field is None:
            return
        got = _as_dict(field.get("params")).get("max_length")
        try:
            same = int(got) == want  # type: ignore[arg-type]
        except (TypeError, ValueError):
            same = False
        if not same:
            problems.append(f"field {fname!r} has max_length {got!r}, expected {setting}={want}")

    pk = expect(ID_FIELD, "VARCHAR")
    if pk is not None and not pk.get("is_primary"):
        problems.append(f"field {ID_FIELD!r} is not the primary key")
    text = expect(spec.analyzed_field, "VARCHAR")
    expect_length(spec.analyzed_field, text, spec.max_text_length, "max_text_length")
    if text is not None:
        params = _as_dict(text.get("params"))
        if not _truthy(params.get("enable_analyzer")):
            problems.append(f"field {spec.analyzed_field!r} has no analyzer enabled")
        actual_analyzer = _as_dict(params.get("analyzer_params"))
        if actual_analyzer != spec.analyzer_params:
            problems.append(
                f"analyzer_params are {actual_analyzer or None!r}, "
                f"expected {spec.analyzer_params!r}"
            )
    if spec.pre_analyzed:
        original = expect(TEXT_FIELD, "VARCHAR")
        expect_length(TEXT_FIELD, original, spec.max_text_length, "max_text_length")
    elif ANALYZED_FIELD in fields:
        problems.append(
            f"the collection stores client-analyzed text ({ANALYZED_FIELD!r}); "
            "open it with the same pre_analyzer"
        )
    expect(METADATA_FIELD, "JSON")
    expect(SPARSE_FIELD, "SPARSE_FLOAT_VECTOR")
    if spec.dense_dim is None:
        if DENSE_FIELD in fields:
            dim = _as_dict(fields[DENSE_FIELD].get("params")).get("dim")
            problems.append(
                f"the collection has a dense field {DENSE_FIELD!r} (dim {dim}); pass "
                f"dense_dim={dim} and an embedding function"
            )
    else:
        dense = expect(DENSE_FIELD, "FLOAT_VECTOR")
        if dense is not None:
            dim = _as_dict(dense.get("params")).get("dim")
            try:
                same = int(dim) == spec.dense_dim  # type: ignore[arg-type]
            except (TypeError, ValueError):
                same = False
            if not same:
                problems.append(f"dense field has dim {dim}, expected {spec.dense_dim}")

    bm25 = [
        fn
        for fn in description.get("functions", []) or []
        if _type_name(fn.get("type")) == "BM25"
        and list(fn.get("input_field_names", [])) == [spec.analyzed_field]
        and list(fn.get("output_field_names", [])) == [SPARSE_FIELD]
    ]
    if not bm25:
        problems.append(
            f"no BM25 function reads {spec.analyzed_field!r} and writes {SPARSE_FIELD!r}"
        )

    sparse_index = indexes.get(SPARSE_FIELD)
    if not sparse_index:
        problems.append(f"field {SPARSE_FIELD!r} has no index")
    else:
        params = _flatten_index_params(sparse_index)
        if params.get("index_type") != "SPARSE_INVERTED_INDEX":
            problems.append(
                f"sparse index is {params.get('index_type')!r}, expected SPARSE_INVERTED_INDEX"
            )
        if params.get("metric_type") != "BM25":
            problems.append(f"sparse index metric is {params.get('metric_type')!r}, expected BM25")
        for key, want in (("bm25_k1", float(spec.k1)), ("bm25_b", float(spec.b))):
            got = params.get(key)
            if got is None or not _same_number(got, want):
                problems.append(f"sparse index {key} is {got!r}, expected {want}")
        algo = params.get("inverted_index_algo")
        if not spec.lite and algo is not None and algo != spec.index_algo:
            problems.append(
                f"sparse index inverted_index_algo is {algo!r}, expected {spec.index_algo!r}"
            )
    recorded_algo = recorded_settings(description).get("inverted_index_algo")
    if (
        recorded_algo is not None
        and recorded_algo != spec.inverted_index_algo
        and not any("inverted_index_algo" in p for p in problems)
    ):
        problems.append(
            f"the collection was created with inverted_index_algo {recorded_algo!r}, "
            f"expected {spec.inverted_index_algo!r}"
        )
    if spec.dense_dim is not None and DENSE_FIELD in fields:
        dense_index = indexes.get(DENSE_FIELD)
        metric = None if not dense_index else _flatten_index_params(dense_index).get("metric_type")
        if metric != spec.dense_metric:
            problems.append(f"dense index metric is {metric!r}, expected {spec.dense_metric!r}")

    if problems:
        raise SchemaMismatchError(
            f"collection {name!r} exists with a different shape: "
            + "; ".join(problems)
            + ". Open it with matching settings, or use another collection name."
        )
