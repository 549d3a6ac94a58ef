"""CrossEncoderReranker builds its pairs from one tokenization of each text: the same model
inputs as the tokenizer's own pair encoding, the same scores (bit for bit) as scoring those,
and the same scores (to 1e-6) as a plain transformers loop."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rankwise.rerankers import CrossEncoderReranker
from rankwise.testing.tiny_models import WORDS, build_tokenizer, random_text
from tests.rerankers.test_cross_encoder import reference_scores

QUERY = "capital of france river"
LONG_QUERY = " ".join(["wing", "flow", "pressure", "boundary"] * 6)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Documents of every length around the truncation points, some with words the tiny
    vocabulary spells letter by letter (``##`` pieces)."""
    rng = random.Random(11)
    out = [random_text(rng, 1, 120) for _ in range(30)]
    out += ["zyzzyva quux " + random_text(rng, 5, 40) + " xylophonic", "", "wing"]
    return out


def _model_dir(which: str, bert_dir: Path, bert2_dir: Path, xlmr_dir: Path) -> Path:
    return {"bert": bert_dir, "bert2": bert2_dir, "xlmr": xlmr_dir}[which]


def _tokenizer_pairs(ce: CrossEncoderReranker, query: str, docs: list[str]) -> Any:
    """The model inputs as the tokenizer encodes each (query, piece) pair itself (the path
    every call took before pairs were built from separate encodings)."""
    q_text, q_tokens = ce._prepare_query(query)
    pieces, owner = ce._pieces(q_tokens, docs)
    return ce._encode(q_text, pieces), owner


@pytest.mark.parametrize("which", ["bert", "bert2", "xlmr"])
@pytest.mark.parametrize("max_length", [512, 24])
@pytest.mark.parametrize("query", [QUERY, LONG_QUERY])
def test_pairs_equal_the_tokenizer_s_own_pair_encoding(
    which: str,
    max_length: int,
    query: str,
    bert_dir: Path,
    bert2_dir: Path,
    xlmr_dir: Path,
    texts: list[str],
) -> None:
    ce = CrossEncoderReranker(
        str(_model_dir(which, bert_dir, bert2_dir, xlmr_dir)), device="cpu", max_length=max_length
    )
    assert ce._template is not None
    built, owner = ce._pairs(query, texts)
    expected, expected_owner = _tokenizer_pairs(ce, query, texts)
    assert owner == expected_owner
    assert set(built) == set(expected)
    for key in expected:
        assert [list(map(int, row)) for row in built[key]] == [list(r) for r in expected[key]]
    assert max(len(r) for r in built["input_ids"]) <= max_length


def test_windows_are_slices_of_the_one_encoding(bert_dir: Path) -> None:
    """``long_documents="window"``: a long document's windows come from its one encoding; on
    whole-word tokens they are exactly the pieces the tokenizer path cut and re-encoded."""
    rng = random.Random(5)
    docs = [random_text(rng, 60, 140) for _ in range(6)] + ["paris france"]
    ce = CrossEncoderReranker(
        str(bert_dir), device="cpu", max_length=32, long_documents="window", window_overlap=5
    )
    built, owner = ce._pairs(QUERY, docs)
    expected, expected_owner = _tokenizer_pairs(ce, QUERY, docs)
    assert owner == expected_owner
    assert len(owner) > 3 * len(docs)  # long documents really are cut into windows
    assert [list(map(int, r)) for r in built["input_ids"]] == expected["input_ids"]
    assert [list(map(int, r)) for r in built["token_type_ids"]] == expected["token_type_ids"]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_length": 24},
        {"unpad": False},
        {"batch_size": 3, "batch_overhead": 64.0},
        {"activation": "sigmoid"},
        {"long_documents": "window", "max_length": 32, "window_overlap": 4},
    ],
)
@pytest.mark.parametrize("which", ["bert", "bert2", "xlmr"])
def test_scores_are_bit_identical_to_the_tokenizer_pair_path(
    which: str,
    options: dict[str, Any],
    bert_dir: Path,
    bert2_dir: Path,
    xlmr_dir: Path,
    texts: list[str],
) -> None:
    docs = texts if options.get("long_documents") != "window" else texts[:30]  # whole words
    ce = CrossEncoderReranker(
        str(_model_dir(which, bert_dir, bert2_dir, xlmr_dir)), device="cpu", **options
    )
    built = ce._score(QUERY, docs)
    ce._template = None  # the tokenizer encodes every pair itself, as before
    assert ce._score(QUERY, docs) == built


@pytest.mark.parametrize("which", ["bert", "bert2", "xlmr"])
@pytest.mark.parametrize("max_length", [512, 24])
def test_scores_match_a_plain_transformers_loop_to_1e_6(
    which: str, max_length: int, bert_dir: Path, bert2_dir: Path, xlmr_dir: Path, texts: list[str]
) -> None:
    path = _model_dir(which, bert_dir, bert2_dir, xlmr_dir)
    ce = CrossEncoderReranker(str(path), device="cpu", max_length=max_length)
    assert ce.unpad is True
    # not the empty document: ``tokenizer(query, "")`` alone drops the empty pair member (a
    # batch of pairs, the path every version scored with, keeps it)
    docs = [d for d in texts if d]
    got = ce._score(QUERY, docs)
    assert got == pytest.approx(reference_scores(path, QUERY, docs, max_length), abs=1e-6)


class CountingTokenizer:
    """A fast tokenizer that records the texts of every call (pairs apart)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.singles: list[str] = []
        self.pairs = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> Any:
        if text_pair is not None:
            self.pairs += 1
        else:
            self.singles.extend([text] if isinstance(text, str) else text)
        return self._inner(text, text_pair, **kwargs)

    def reset(self) -> None:
        self.singles.clear()
        self.pairs = 0


@pytest.fixture
def counted(bert_dir: Path) -> tuple[CrossEncoderReranker, CountingTokenizer]:
    tok = CountingTokenizer(AutoTokenizer.from_pretrained(bert_dir))
    model = AutoModelForSequenceClassification.from_pretrained(bert_dir)
    ce = CrossEncoderReranker("tiny", device="cpu", model=model, tokenizer=tok, max_length=48)
    tok.reset()  # construction probes the tokenizer
    return ce, tok


def test_each_text_is_tokenized_once(
    counted: tuple[CrossEncoderReranker, CountingTokenizer], texts: list[str], bert_dir: Path
) -> None:
    ce, tok = counted
    docs = texts[:12]
    first = ce._score(QUERY, docs)
    assert tok.pairs == 0  # no (query, document) pair goes through the tokenizer
    assert sorted(tok.singles) == sorted([QUERY, *docs])
    tok.reset()
    # documents met before are not tokenized again (the server's case: one corpus)
    again = ce._score("wing flow", [*docs[:5], "paris france"])
    assert tok.pairs == 0
    assert sorted(tok.singles) == ["paris france", "wing flow"]
    assert first[:5] != again[:5]  # a new query really was scored
    assert again == pytest.approx(
        reference_scores(bert_dir, "wing flow", [*docs[:5], "paris france"], 48), abs=1e-6
    )


def test_token_cache_is_bounded_and_can_be_off(bert_dir: Path, texts: list[str]) -> None:
    small = CrossEncoderReranker(str(bert_dir), device="cpu", token_cache_size=3, max_length=16)
    small._score(QUERY, texts[:10])
    assert len(small._tokens) == 3
    assert all(len(row) <= 16 for row in small._tokens._rows.values())  # no more than a pair uses
    off = CrossEncoderReranker(str(bert_dir), device="cpu", token_cache_size=0)
    off._score(QUERY, texts[:10])
    assert len(off._tokens) == 0
    with pytest.raises(ValueError, match="token_cache_size"):
        CrossEncoderReranker(str(bert_dir), device="cpu", token_cache_size=-1)


def test_cached_tokens_follow_a_changed_max_length(bert_dir: Path, texts: list[str]) -> None:
    """Rows cut for one ``max_length`` are not reused for a longer one."""
    ce = CrossEncoderReranker(str(bert_dir), device="cpu", max_length=16)
    ce._score(QUERY, texts)
    for changes in ({"max_length": 64}, {"long_documents": "window", "max_length": 24}):
        for name, value in changes.items():
            setattr(ce, name, value)
        built, owner = ce._pairs(QUERY, texts[:30])
        expected, expected_owner = _tokenizer_pairs(ce, QUERY, texts[:30])
        assert owner == expected_owner
        assert [list(map(int, r)) for r in built["input_ids"]] == expected["input_ids"]


def test_no_cache_gives_the_same_scores(bert_dir: Path, texts: list[str]) -> None:
    cached = CrossEncoderReranker(str(bert_dir), device="cpu")
    off = CrossEncoderReranker(str(bert_dir), device="cpu", token_cache_size=0)
    cached._score("wing", texts)  # fills the cache
    assert cached._score(QUERY, texts) == off._score(QUERY, texts)


def test_concurrent_calls_from_threads_keep_their_answers(bert_dir: Path, texts: list[str]) -> None:
    ce = CrossEncoderReranker(str(bert_dir), device="cpu", token_cache_size=8)
    queries = [QUERY, "wing flow", "paris", "heat transfer", "shock wave", "red green"]
    expected = {q: ce._score(q, texts) for q in queries}
    barrier = threading.Barrier(6)

    def run(q: str) -> list[list[float]]:
        barrier.wait()
        return [ce._score(q, texts) for _ in range(3)]

    with ThreadPoolExecutor(6) as pool:
        got = dict(zip(queries, pool.map(run, queries), strict=True))
    assert got == {q: [scores] * 3 for q, scores in expected.items()}


def test_a_tokenizer_whose_pairs_cannot_be_rebuilt_encodes_pairs_itself(
    bert_dir: Path, texts: list[str]
) -> None:
    """Document first in the pair template: the template refuses it, the reranker falls back
    to the tokenizer's pair encoding and still scores exactly the plain loop's pairs."""
    import tokenizers

    tok = build_tokenizer("bert", WORDS)
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    tok.backend_tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $B:1 [SEP]:1 $A [SEP]",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    model = AutoModelForSequenceClassification.from_pretrained(bert_dir).eval()
    ce = CrossEncoderReranker("odd", device="cpu", model=model, tokenizer=tok)
    assert ce._template is None
    got = ce._score(QUERY, texts[:8])
    with torch.no_grad():
        ref = [float(model(**tok(QUERY, d, return_tensors="pt")).logits[0, 0]) for d in texts[:8]]
    assert got == pytest.approx(ref, abs=1e-6)


def test_no_room_for_the_document_is_a_value_error(bert_dir: Path) -> None:
    ce = CrossEncoderReranker(str(bert_dir), device="cpu", max_length=6, query_max_length=3)
    assert ce.rerank("wing flow pressure", [""])  # an empty document fits
    with pytest.raises(ValueError, match="max_length=6"):
        ce.rerank("wing flow pressure", ["the boundary layer flow"])
