"""Stop-word lists known by name in analyzer configs (Milvus ``"_english_"`` syntax)."""

from __future__ import annotations

#: Lucene's English stop set (``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``), the list Milvus uses
#: for ``"_english_"``: 33 words. "we" and "who" are deliberately absent.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)

NAMED_STOP_LISTS: dict[str, frozenset[str]] = {"_english_": ENGLISH_STOP_WORDS}


def _is_list_name(word: str) -> bool:
    """``_name_`` is how a named list is written; no tokenizer emits such a token as a word."""
    return len(word) > 2 and word.startswith("_") and word.endswith("_")


def resolve_stop_words(words: object, *, argument: str = "stop_words") -> frozenset[str]:
    """Turn a ``stop_words`` config value (a list of words and/or named lists) into a set."""
    if isinstance(words, str):
        words = [words]
    if not isinstance(words, (list, tuple, set, frozenset)):
        raise ValueError(f"{argument} must be a list of strings, got {type(words).__name__}")
    out: set[str] = set()
    for word in words:
        if not isinstance(word, str):
            raise ValueError(f"{argument} must contain only strings, got {word!r}")
        named = NAMED_STOP_LISTS.get(word)
        if named is not None:
            out |= named
        elif _is_list_name(word):
            raise ValueError(
                f"{argument}: unknown stop-word list {word!r}; known: "
                f"{', '.join(sorted(NAMED_STOP_LISTS))} (or give the words themselves)"
            )
        else:
            out.add(word)
    return frozenset(out)


__all__ = ["ENGLISH_STOP_WORDS", "NAMED_STOP_LISTS", "resolve_stop_words"]
