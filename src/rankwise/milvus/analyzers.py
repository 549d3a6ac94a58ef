r"""Map rankwise analyzer configs to Milvus ``analyzer_params``.

rankwise analyzers follow Milvus's ``analyzer_params`` semantics, so for a Milvus *server*
most configs pass through unchanged. Milvus Lite (the embedded ``.db`` mode) is a much smaller
engine. Measured on milvus-lite 3.2.2, its analyzer:

* knows only the ``standard`` and ``jieba`` tokenizers — ``{"type": "english"}``,
  ``{"type": "chinese"}`` and the ``whitespace`` tokenizer are rejected ("unknown tokenizer
  type");
* always lowercases, splits ``standard`` text on the regex ``\w+`` and honours ``stop``
  filters — and silently ignores every other filter (``stemmer``, ``asciifolding``, ``length``).

Its ``standard`` tokenizer (``\w+``) also differs slightly from rankwise's (runs of letters and
digits, one token per CJK character, like the Milvus server's): Lite keeps ``_`` inside tokens
(``snake_case`` is one token, two for rankwise) and keeps runs of CJK characters together. On
English text the tokens are the same; for exactly the rankwise tokens everywhere use
``pre_analyzer``.

:func:`analyzer_params_for` refuses, with a ``ValueError`` that says why, every config the
target cannot reproduce, instead of letting Milvus Lite index different tokens in silence.
For English stemming on Lite, analyze the text with rankwise first (``MilvusBM25Store(...,
pre_analyzer=Analyzer("english"))``) or use the client-side sparse route
(:mod:`rankwise.milvus.sparse`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

__all__ = [
    "LITE_TOKENIZERS",
    "SERVER_TOKENIZERS",
    "Target",
    "analyzer_params_for",
    "encode_token",
    "encode_tokens",
    "is_lite_uri",
]

Target = Literal["lite", "server"]

#: Tokenizers each target knows.
LITE_TOKENIZERS = ("standard", "jieba")
SERVER_TOKENIZERS = ("standard", "whitespace", "jieba")
_BUILTIN_TYPES = ("standard", "english", "chinese")
_SERVER_FILTERS = (
    "lowercase",
    "asciifolding",
    "alphanumonly",
    "cnalphanumonly",
    "cncharonly",
    "stop",
    "stemmer",
    "length",
)

_LITE_ALTERNATIVES = (
    "To get this analysis with Milvus Lite, analyze the text with rankwise on the client "
    "(MilvusBM25Store(..., pre_analyzer=rankwise.Analyzer(...))), use the client-side sparse "
    "route (rankwise.milvus.sparse), or use a Milvus server (http://... URI)."
)


def is_lite_uri(uri: str) -> bool:
    """True when pymilvus would start embedded Milvus Lite for ``uri`` (a local ``.db`` file)."""
    return str(uri).endswith(".db")


def _lite_error(what: str) -> ValueError:
    return ValueError(f"analyzer: Milvus Lite cannot {what}. {_LITE_ALTERNATIVES}")


def _config_of(analyzer: object) -> Mapping[str, Any] | str:
    if isinstance(analyzer, (str, Mapping)):
        return analyzer
    if hasattr(type(analyzer), "config"):  # a rankwise Analyzer
        try:
            config = analyzer.config  # type: ignore[attr-defined]
        except ValueError as exc:  # one wrapping a callable has no config
            raise ValueError(
                "analyzer: a Python callable analyzer cannot run inside Milvus; "
                "use MilvusBM25Store(..., pre_analyzer=...) to analyze on the client"
            ) from exc
        if isinstance(config, (str, Mapping)):
            return config
    if callable(analyzer):
        raise ValueError(
            "analyzer: a Python callable analyzer cannot run inside Milvus; "
            "use MilvusBM25Store(..., pre_analyzer=...) to analyze on the client"
        )
    raise ValueError(
        "analyzer must be a name ('standard', 'english', 'chinese'), an analyzer_params dict "
        f"or a rankwise Analyzer, got {type(analyzer).__name__}"
    )


def _filter_name(item: object) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping) and isinstance(item.get("type"), str):
        return str(item["type"])
    raise ValueError(f"analyzer: each filter must be a name or a dict with a 'type', got {item!r}")


def _stop_words(item: Mapping[str, Any]) -> list[str]:
    """The stop words spelled out: Milvus Lite knows no named lists such as ``_english_``."""
    from rankwise.bm25.stopwords import resolve_stop_words

    return sorted(resolve_stop_words(item.get("stop_words", []), argument="stop_words"))


def _tokenizer_name(tokenizer: object) -> str:
    if isinstance(tokenizer, str):
        return tokenizer
    if isinstance(tokenizer, Mapping) and isinstance(tokenizer.get("type"), str):
        return str(tokenizer["type"])
    raise ValueError(
        f"analyzer: tokenizer must be a name or a dict with a 'type', got {tokenizer!r}"
    )


def _for_server(config: Mapping[str, Any]) -> dict[str, Any]:
    if "type" in config and "tokenizer" not in config:
        if config["type"] not in _BUILTIN_TYPES:
            raise ValueError(
                f"analyzer: unknown analyzer type {config['type']!r}; "
                f"known: {', '.join(_BUILTIN_TYPES)}"
            )
        return copy.deepcopy(dict(config))
    if "tokenizer" not in config:
        raise ValueError(f"analyzer: config needs a 'type' or a 'tokenizer', got {dict(config)!r}")
    name = _tokenizer_name(config["tokenizer"])
    if name not in SERVER_TOKENIZERS:
        raise ValueError(
            f"analyzer: unknown tokenizer {name!r}; known: {', '.join(SERVER_TOKENIZERS)}"
        )
    for item in config.get("filter", []) or []:
        fname = _filter_name(item)
        if fname not in _SERVER_FILTERS:
            raise ValueError(
                f"analyzer: unknown filter {fname!r}; known: {', '.join(_SERVER_FILTERS)}"
            )
    return copy.deepcopy(dict(config))


def _for_lite(config: Mapping[str, Any]) -> dict[str, Any]:
    if "type" in config and "tokenizer" not in config:
        kind = config["type"]
        if kind == "english":
            raise _lite_error(
                "run the 'english' analyzer (it rejects {'type': 'english'} and ignores "
                "stemmer filters, so English stemming is not available)"
            )
        if kind == "chinese":
            raise _lite_error(
                "run the 'chinese' analyzer (it rejects {'type': 'chinese'}; its jieba "
                "tokenizer keeps punctuation, which Milvus's chinese analyzer drops)"
            )
        if kind != "standard":
            raise ValueError(
                f"analyzer: unknown analyzer type {kind!r}; known: {', '.join(_BUILTIN_TYPES)}"
            )
        extra = set(config) - {"type", "stop_words"}
        if extra:
            raise _lite_error(f"apply the standard analyzer options {sorted(extra)}")
        if "stop_words" in config:
            words = _stop_words(config)
            return {
                "tokenizer": "standard",
                "filter": ["lowercase", {"type": "stop", "stop_words": words}],
            }
        return {"type": "standard"}
    if "tokenizer" not in config:
        raise ValueError(f"analyzer: config needs a 'type' or a 'tokenizer', got {dict(config)!r}")
    tokenizer = config["tokenizer"]
    name = _tokenizer_name(tokenizer)
    if name not in LITE_TOKENIZERS:
        raise _lite_error(
            f"use the {name!r} tokenizer (it knows only {', '.join(LITE_TOKENIZERS)})"
        )
    lowercase = False
    out_filters: list[Any] = []
    for item in config.get("filter", []) or []:
        fname = _filter_name(item)
        if fname == "lowercase":
            lowercase = True
            out_filters.append("lowercase")
        elif fname == "stop":
            if not isinstance(item, Mapping):
                raise ValueError(
                    "analyzer: the 'stop' filter needs a dict with its stop_words, "
                    "e.g. {'type': 'stop', 'stop_words': ['the']}"
                )
            out_filters.append({"type": "stop", "stop_words": _stop_words(item)})
        elif fname in _SERVER_FILTERS:
            raise _lite_error(f"apply the {fname!r} filter (it ignores it silently)")
        else:
            raise ValueError(
                f"analyzer: unknown filter {fname!r}; known: {', '.join(_SERVER_FILTERS)}"
            )
    if not lowercase:
        raise _lite_error(
            "keep letter case (it always lowercases); add the 'lowercase' filter so both "
            "sides see the same tokens"
        )
    out: dict[str, Any] = {"tokenizer": copy.deepcopy(tokenizer)}
    if out_filters:
        out["filter"] = out_filters
    return out


def analyzer_params_for(analyzer: object, target: Target = "lite") -> dict[str, Any]:
    """Milvus ``analyzer_params`` that tokenize like the rankwise ``analyzer``, for ``target``.

    ``analyzer`` is a name (``"standard"``, ``"english"``, ``"chinese"``), a Milvus-style
    ``analyzer_params`` dict (``{"type": ...}`` or ``{"tokenizer": ..., "filter": [...]}``) or a
    rankwise ``Analyzer`` (its ``.config`` is used). ``target`` is ``"lite"`` (embedded Milvus
    Lite) or ``"server"`` (Milvus standalone/cluster, Zilliz Cloud).

    Raises ``ValueError`` naming what the target cannot do — e.g. English stemming on Lite.
    """
    if target not in ("lite", "server"):
        raise ValueError(f"target must be 'lite' or 'server', got {target!r}")
    config = _config_of(analyzer)
    if isinstance(config, str):
        if config not in _BUILTIN_TYPES:
            raise ValueError(
                f"analyzer: unknown analyzer name {config!r}; known: {', '.join(_BUILTIN_TYPES)}"
            )
        config = {"type": config}
    return _for_lite(config) if target == "lite" else _for_server(config)


_SAFE_TOKEN = re.compile(r"[a-z0-9]+")


def encode_token(token: str) -> str:
    """A spelling of ``token`` that Milvus's ``standard`` analyzer keeps as exactly one token.

    Lowercase ASCII letters/digits pass unchanged; anything else (capitals, accents, CJK,
    apostrophes, dots, ...) becomes ``_`` + the hex of its UTF-8 bytes. The mapping is
    one-to-one (kept tokens never start with ``_``), so distinct tokens stay distinct.
    """
    if _SAFE_TOKEN.fullmatch(token):
        return token
    return "_" + token.encode("utf-8").hex()


def encode_tokens(tokens: Iterable[str]) -> str:
    """Client-analyzed ``tokens`` as text that Milvus's ``standard`` analyzer splits back into
    the same tokens, in order (repeats kept, so term frequencies survive)."""
    return " ".join(encode_token(t) for t in tokens if t)
