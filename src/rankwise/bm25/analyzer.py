"""Text analysis with Milvus ``analyzer_params`` semantics: tokenizer + filter chain.

``Analyzer("english")`` = standard tokenizer, lowercase, Snowball English stemmer, Lucene English
stop words (the order Milvus documents for its built-in ``english`` analyzer). ``"standard"`` =
standard tokenizer + lowercase; ``"chinese"`` = jieba + ``cnalphanumonly``. Custom chains use
``{"tokenizer": ..., "filter": [...]}``; any callable ``str -> list[str]`` is accepted too (it
cannot be serialized, so an index using one must be given the callable again at load time).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from rankwise.bm25.stopwords import resolve_stop_words

AnalyzerParams: TypeAlias = "str | Mapping[str, Any] | Callable[[str], list[str]] | Analyzer"

Tokenizer: TypeAlias = Callable[[str], list[str]]
TokenFilter: TypeAlias = Callable[[list[str]], list[str]]

# The standard tokenizer follows tantivy's SimpleTokenizer, which Milvus uses: maximal runs of
# alphanumeric characters (underscore, apostrophe and full stop split words). Hiragana and CJK
# ideographs are emitted one character per token, as Unicode word segmentation (UAX #29) does.
_CJK = "\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_STANDARD_RE = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_CN_ALNUM_RE = re.compile(rf"^(?:[{_CJK}]|[^\W_])+$")
_CN_CHAR_RE = re.compile(rf"^[{_CJK}]+$")
_ASCII_ALNUM_RE = re.compile(r"^[A-Za-z0-9]+$")

BUILTIN_TYPES = ("standard", "english", "chinese")
TOKENIZERS = ("standard", "whitespace", "jieba")
_SIMPLE_FILTERS = ("lowercase", "asciifolding", "alphanumonly", "cnalphanumonly", "cncharonly")

_jieba_lock = threading.Lock()


def _standard_tokenize(text: str) -> list[str]:
    return _STANDARD_RE.findall(text)


def _whitespace_tokenize(text: str) -> list[str]:
    return text.split()


_JIEBA_KEYS = frozenset({"type", "mode", "hmm", "dict"})


def _make_jieba(params: Mapping[str, Any]) -> Tokenizer:
    extra = set(params) - _JIEBA_KEYS
    if extra:
        raise ValueError(
            f"analyzer params: unknown keys for the jieba tokenizer: {sorted(extra)}; "
            f"known: {sorted(_JIEBA_KEYS)}"
        )
    mode = params.get("mode", "search")
    hmm = params.get("hmm", True)
    dicts = params.get("dict", ["_default_"])
    if mode not in ("search", "exact"):
        raise ValueError(f"analyzer params: jieba 'mode' must be 'search' or 'exact', got {mode!r}")
    if not isinstance(hmm, bool):
        raise ValueError(f"analyzer params: jieba 'hmm' must be a bool, got {hmm!r}")
    if not isinstance(dicts, list) or not all(isinstance(w, str) for w in dicts):
        raise ValueError("analyzer params: jieba 'dict' must be a list of strings")
    extra_words = [w for w in dicts if w != "_default_"]
    from rankwise._optional import require

    jieba = require("jieba", "chinese", feature="the jieba tokenizer (Chinese analysis)")
    state: dict[str, Any] = {}

    def tokenizer() -> Any:
        tok = state.get("tok")
        if tok is None:
            with _jieba_lock:
                tok = state.get("tok")
                if tok is None:
                    import logging

                    jieba.setLogLevel(logging.WARNING)
                    tok = jieba.Tokenizer()
                    tok.initialize()
                    for word in extra_words:
                        tok.add_word(word)
                    state["tok"] = tok
        return tok

    def tokenize(text: str) -> list[str]:
        tok = tokenizer()
        words = tok.cut_for_search(text, HMM=hmm) if mode == "search" else tok.cut(text, HMM=hmm)
        return [w for w in words if w.strip()]

    return tokenize


def _lowercase(tokens: list[str]) -> list[str]:
    return [t.lower() for t in tokens]


def _ascii_fold_one(token: str) -> str:
    if token.isascii():
        return token
    decomposed = unicodedata.normalize("NFKD", token)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded


def _asciifolding(tokens: list[str]) -> list[str]:
    return [_ascii_fold_one(t) for t in tokens]


def _alphanumonly(tokens: list[str]) -> list[str]:
    return [t for t in tokens if _ASCII_ALNUM_RE.match(t)]


def _cnalphanumonly(tokens: list[str]) -> list[str]:
    return [t for t in tokens if _CN_ALNUM_RE.match(t)]


def _cncharonly(tokens: list[str]) -> list[str]:
    return [t for t in tokens if _CN_CHAR_RE.match(t)]


_SIMPLE_FILTER_FUNCS: dict[str, TokenFilter] = {
    "lowercase": _lowercase,
    "asciifolding": _asciifolding,
    "alphanumonly": _alphanumonly,
    "cnalphanumonly": _cnalphanumonly,
    "cncharonly": _cncharonly,
}

_MILVUS_STEMMER_NAMES = {"english": "english"}


class _StemFilter:
    """Snowball stemming through PyStemmer, cached per distinct token, thread-safe."""

    def __init__(self, language: str) -> None:
        import Stemmer

        name = _MILVUS_STEMMER_NAMES.get(language, language)
        if name not in Stemmer.algorithms():
            raise ValueError(
                f"analyzer params: unknown stemmer language {language!r}; "
                f"known: {', '.join(sorted(Stemmer.algorithms()))}"
            )
        self._name = name
        self._local = threading.local()
        self._cache: dict[str, str] = {}

    def _stemmer(self) -> Any:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = Stemmer.Stemmer(self._name)
            self._local.stemmer = stemmer
        return stemmer

    def __call__(self, tokens: list[str]) -> list[str]:
        cache = self._cache
        if len(cache) > 1_000_000:
            cache.clear()
        try:
            return [cache[t] for t in tokens]
        except KeyError:
            pass
        stemmer = self._stemmer()
        unique = list(dict.fromkeys(t for t in tokens if t not in cache))
        local = dict(zip(unique, stemmer.stemWords(unique), strict=True))
        cache.update(local)
        return [local[t] if t in local else cache.get(t) or stemmer.stemWord(t) for t in tokens]


class _StopFilter:
    def __init__(self, words: frozenset[str]) -> None:
        self.words = words

    def __call__(self, tokens: list[str]) -> list[str]:
        words = self.words
        return [t for t in tokens if t not in words]


class _LengthFilter:
    def __init__(self, max_len: int) -> None:
        self.max_len = max_len

    def __call__(self, tokens: list[str]) -> list[str]:
        m = self.max_len
        return [t for t in tokens if len(t) <= m]


def _normalize_params(params: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(params, str):
        if params not in BUILTIN_TYPES:
            raise ValueError(
                f"analyzer must be one of {', '.join(BUILTIN_TYPES)}, a dict of analyzer "
                f"params or a callable; got {params!r}"
            )
        return {"type": params}
    if not isinstance(params, Mapping):
        raise ValueError(f"analyzer params must be a str, dict or callable, got {params!r}")
    try:
        cfg: dict[str, Any] = json.loads(json.dumps(dict(params)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"analyzer params must be JSON-serializable: {exc}") from None
    return cfg


def _build_filter(spec: Any) -> TokenFilter:
    if isinstance(spec, str):
        func = _SIMPLE_FILTER_FUNCS.get(spec)
        if func is None:
            raise ValueError(
                f"analyzer params: unknown filter {spec!r}; known: "
                f"{', '.join(_SIMPLE_FILTERS)}, stop, stemmer, length"
            )
        return func
    if not isinstance(spec, Mapping):
        raise ValueError(f"analyzer params: a filter must be a str or a dict, got {spec!r}")
    kind = spec.get("type")
    keys = set(spec) - {"type"}
    if kind == "stop":
        if keys != {"stop_words"}:
            raise ValueError("analyzer params: a 'stop' filter takes exactly 'stop_words'")
        return _StopFilter(
            resolve_stop_words(spec["stop_words"], argument="analyzer params: stop_words")
        )
    if kind == "stemmer":
        language = spec.get("language")
        if keys != {"language"} or not isinstance(language, str):
            raise ValueError("analyzer params: a 'stemmer' filter takes a 'language' string")
        return _StemFilter(language.lower())
    if kind == "length":
        max_len = spec.get("max")
        if keys != {"max"} or not isinstance(max_len, int) or isinstance(max_len, bool):
            raise ValueError("analyzer params: a 'length' filter takes an integer 'max'")
        if max_len < 1:
            raise ValueError(f"analyzer params: length filter 'max' must be >= 1, got {max_len}")
        return _LengthFilter(max_len)
    if isinstance(kind, str) and kind in _SIMPLE_FILTER_FUNCS and not keys:
        return _SIMPLE_FILTER_FUNCS[kind]
    raise ValueError(f"analyzer params: unknown filter {spec!r}")


def _build_tokenizer(spec: Any) -> Tokenizer:
    params: Mapping[str, Any]
    kind: Any
    if isinstance(spec, str):
        kind, params = spec, {}
    elif isinstance(spec, Mapping):
        kind, params = spec.get("type"), spec
    else:
        raise ValueError(f"analyzer params: 'tokenizer' must be a str or dict, got {spec!r}")
    if kind in ("standard", "whitespace") and set(params) - {"type"}:
        raise ValueError(
            f"analyzer params: unknown keys for the {kind} tokenizer: "
            f"{sorted(set(params) - {'type'})}; it takes only 'type'"
        )
    if kind == "standard":
        return _standard_tokenize
    if kind == "whitespace":
        return _whitespace_tokenize
    if kind == "jieba":
        return _make_jieba(params)
    raise ValueError(f"analyzer params: unknown tokenizer {kind!r}; known: {', '.join(TOKENIZERS)}")


def _expand_builtin(cfg: Mapping[str, Any]) -> tuple[Any, list[Any]]:
    """(tokenizer spec, filter specs) of a ``{"type": ...}`` built-in analyzer."""
    kind = cfg["type"]
    extra = set(cfg) - {"type", "stop_words"}
    if extra:
        raise ValueError(f"analyzer params: unknown keys for type {kind!r}: {sorted(extra)}")
    stop = cfg.get("stop_words")
    if kind == "standard":
        filters: list[Any] = ["lowercase"]
        if stop is not None:
            filters.append({"type": "stop", "stop_words": stop})
        return "standard", filters
    if kind == "english":
        filters = ["lowercase", {"type": "stemmer", "language": "english"}]
        filters.append({"type": "stop", "stop_words": "_english_" if stop is None else stop})
        return "standard", filters
    if kind == "chinese":
        filters = ["cnalphanumonly"]
        if stop is not None:
            filters.append({"type": "stop", "stop_words": stop})
        return "jieba", filters
    raise ValueError(f"analyzer params: unknown analyzer type {kind!r}; known: {BUILTIN_TYPES}")


class Analyzer:
    """Turns text into the tokens that are indexed and searched.

    ``params`` is a built-in name (``"standard"``, ``"english"``, ``"chinese"``), a Milvus
    ``analyzer_params`` dict, a callable ``str -> list[str]``, or another Analyzer (copied).
    """

    def __init__(self, params: AnalyzerParams = "english") -> None:
        self._callable: Callable[[str], list[str]] | None = None
        self._config: dict[str, Any] | None = None
        self._filters: list[TokenFilter] = []
        if isinstance(params, Analyzer):
            self._callable = params._callable
            self._config = copy.deepcopy(params._config)
            self._tokenizer: Tokenizer = params._tokenizer
            self._filters = list(params._filters)
            return
        if params is None:
            raise ValueError("analyzer must not be None")
        if callable(params) and not isinstance(params, Mapping):
            self._callable = params
            self._tokenizer = _whitespace_tokenize
            return
        cfg = _normalize_params(params)
        if "type" in cfg:
            if not isinstance(cfg["type"], str):
                raise ValueError(f"analyzer params: 'type' must be a string, got {cfg['type']!r}")
            if "tokenizer" in cfg or "filter" in cfg:
                raise ValueError("analyzer params: give either 'type' or 'tokenizer'/'filter'")
            tok_spec, filter_specs = _expand_builtin(cfg)
        else:
            extra = set(cfg) - {"tokenizer", "filter"}
            if extra:
                raise ValueError(f"analyzer params: unknown keys {sorted(extra)}")
            if "tokenizer" not in cfg:
                raise ValueError("analyzer params: a custom analyzer needs a 'tokenizer'")
            tok_spec = cfg["tokenizer"]
            filter_specs = cfg.get("filter", [])
            if not isinstance(filter_specs, list):
                raise ValueError("analyzer params: 'filter' must be a list")
        self._tokenizer = _build_tokenizer(tok_spec)
        self._filters = [_build_filter(f) for f in filter_specs]
        self._config = cfg

    @property
    def config(self) -> dict[str, Any]:
        """The JSON-able analyzer params (raises ValueError for a callable analyzer)."""
        if self._config is None:
            raise ValueError(
                "a callable analyzer has no serializable config; pass the callable again "
                "as load(..., analyzer=...)"
            )
        return copy.deepcopy(self._config)

    @property
    def is_callable(self) -> bool:
        """True when this analyzer wraps a user callable (not serializable)."""
        return self._callable is not None

    @property
    def is_plain_whitespace(self) -> bool:
        """True for a whitespace tokenizer without filters (``str.split``), a fast path."""
        return self._callable is None and (
            self._tokenizer is _whitespace_tokenize and not self._filters
        )

    def analyze(self, text: str) -> list[str]:
        """Tokens of ``text`` as they are indexed (like Milvus ``run_analyzer``)."""
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        if self._callable is not None:
            out: object = self._callable(text)  # user code: checked, not trusted
            if isinstance(out, str):  # would be split into characters
                raise TypeError(
                    f"analyzer callable {self._callable!r} returned a str; it must return a "
                    "list of strings (the tokens)"
                )
            if not isinstance(out, Sequence) or not all(isinstance(t, str) for t in out):
                raise TypeError(
                    f"analyzer callable {self._callable!r} must return a list of strings "
                    f"(the tokens), got a {type(out).__name__} holding other values"
                    if isinstance(out, Sequence)
                    else f"analyzer callable {self._callable!r} must return a list of strings "
                    f"(the tokens), got {type(out).__name__}"
                )
            return [t for t in out if t]
        tokens = self._tokenizer(text)
        if not self._filters or not tokens:
            return [t for t in tokens if t] if tokens else tokens
        # every filter maps or drops one token at a time, so the chain is a per-token function:
        # one dict look-up per token once a token has been seen ("" = dropped)
        cache = self._token_cache()
        mapped = list(map(cache.get, tokens))
        if None in mapped:
            for i, t in enumerate(tokens):
                if mapped[i] is None:
                    mapped[i] = cache[t] = self._filter_token(t)
        return [t for t in mapped if t]

    __call__ = analyze

    #: distinct raw tokens remembered by the per-token cache before it starts over
    TOKEN_CACHE_SIZE = 1 << 18

    def _token_cache(self) -> dict[str, str]:
        cache: dict[str, str] | None = self.__dict__.get("_tokens")
        if cache is None or len(cache) > self.TOKEN_CACHE_SIZE:
            cache = self.__dict__["_tokens"] = {}
        return cache

    def _filter_token(self, token: str) -> str:
        """``token`` through the filter chain: its output token, or "" when it is dropped."""
        tokens = [token]
        for f in self._filters:
            tokens = f(tokens)
            if not tokens:
                return ""
        return tokens[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Analyzer):
            return NotImplemented
        if self._callable is not None or other._callable is not None:
            return self._callable is other._callable
        return self._config == other._config

    def __hash__(self) -> int:
        if self._callable is not None:
            return hash(self._callable)
        return hash(json.dumps(self._config, sort_keys=True))

    def __repr__(self) -> str:
        if self._callable is not None:
            return f"Analyzer({self._callable!r})"
        return f"Analyzer({self._config!r})"


__all__ = ["BUILTIN_TYPES", "TOKENIZERS", "Analyzer", "AnalyzerParams"]
