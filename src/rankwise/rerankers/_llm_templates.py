"""Prompt templates of decoder-only rerankers, token for token as their authors' code builds them.

Each family scores a (query, document) pair by the logit of an answer token at the last position
of a fixed prompt. A template turns one query into a :class:`Layout`: the ``head`` (every token
before the document: system prompt, instruction, query) that is identical for all documents of
the query and so can be computed once; the most document tokens kept (``doc_limit``); and the
``tail`` after the document (the prompt's end, whose last token is the scored position). Only
the document is ever cut, so the tail always reaches the model.

Sources (read for the facts; the code here is ours):

- ``qwen3`` — Qwen3-Reranker model card (huggingface.co/Qwen/Qwen3-Reranker-0.6B, "Transformers
  Usage") and ``examples/qwen3_reranker_transformers.py`` in github.com/QwenLM/Qwen3-Embedding:
  system/user chat prefix, ``<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {doc}``,
  assistant suffix with an empty ``<think>`` block; ``max_length`` (8192) counts the whole
  prompt; the formatted text is cut from its end; score ``softmax([logit("no"),
  logit("yes")])[1]``.
- ``bge-gemma`` — FlagEmbedding 1.4 ``inference/reranker/decoder_only/base.py``
  (github.com/FlagOpen/FlagEmbedding, ``BaseLLMReranker.compute_score_single_gpu``): ``<bos>``
  + ``"A: {query}"`` (cut to ``max_length * 3 // 4`` tokens) + ``"\\n"`` + ``"B: {passage}"``
  (cut to ``max_length`` tokens, then so that the pair fits ``max_length + len(sep) +
  len(prompt)``) + ``"\\n"`` + the prompt; score the raw logit of ``"Yes"`` (``normalize=True``:
  its sigmoid). Each piece is tokenized on its own, as there.
- ``mxbai-v2`` — ``mxbai_rerank/mxbai_rerank_v2.py`` in github.com/mixedbread-ai/mxbai-rerank:
  Qwen chat prefix, ``"query: {query}"`` (``"instruction: {instruction}\\nquery: {query}"`` with
  an instruction; cut to ``max_length * 3 // 4`` tokens), ``"\\n"``, ``"document: {doc}"``,
  ``"\\n"``, the task prompt ending in ``"Relevance:"``, the assistant suffix; score
  ``logit("1") - logit("0")``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["TEMPLATES", "Layout", "Template", "detect_template", "make_template"]


@dataclass(frozen=True)
class Layout:
    """One query's token plan (see the module docstring)."""

    head: list[int]
    doc_limit: int
    tail: list[int]


class Template(ABC):
    """A family's prompt: how a query becomes a :class:`Layout`, what text a document becomes,
    and which answer tokens are scored."""

    name: ClassVar[str]
    #: ``max_length`` of the family's reference code (what it means differs per family).
    default_max_length: ClassVar[int]
    #: Substrings of a model name (lower case) that identify the family.
    name_patterns: ClassVar[tuple[tuple[str, ...], ...]]

    yes_id: int
    no_id: int | None

    def __init__(
        self, tokenizer: Any, *, max_length: int, instruction: str | None, model_max_length: int
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.instruction = instruction
        self.model_max_length = model_max_length

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_id(self, token: str, *, first_of_text: bool = False) -> int:
        """The id of an answer token, checked to exist in the vocabulary."""
        if first_of_text:
            ids = self.ids(token)
            if not ids:
                raise ValueError(f"{self.name}: the tokenizer gives no token for {token!r}")
            return ids[0]
        tid = self.tokenizer.convert_tokens_to_ids(token)
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if not isinstance(tid, int) or (
            tid == unk and token != getattr(self.tokenizer, "unk_token", None)
        ):
            raise ValueError(
                f"template {self.name!r} scores the token {token!r}, which this tokenizer lacks"
            )
        return tid

    @abstractmethod
    def document_text(self, document: str) -> str:
        """The text tokenized (on its own) for one document."""

    @abstractmethod
    def layout(self, query: str) -> Layout:
        """The head, document budget and tail for ``query``."""

    def _room_error(self, query_tokens: int) -> ValueError:
        return ValueError(
            f"query: with the {self.name!r} prompt the query ({query_tokens} tokens) leaves no "
            f"room for the document under max_length={self.max_length}; shorten the query or raise "
            "max_length"
        )


class Qwen3Template(Template):
    name = "qwen3"
    default_max_length = 8192
    name_patterns = (("qwen3-reranker",),)

    PREFIX = (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
        'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
        "<|im_start|>user\n"
    )
    SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    DEFAULT_INSTRUCTION = (
        "Given a web search query, retrieve relevant passages that answer the query"
    )
    DOC_LABEL = "<Document>: "

    def __init__(self, tokenizer: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, **kwargs)
        self.prefix_ids = self.ids(self.PREFIX)
        self.suffix_ids = self.ids(self.SUFFIX)
        self.label_len = len(self.ids(self.DOC_LABEL))
        self.yes_id = self.token_id("yes")
        self.no_id = self.token_id("no")

    def document_text(self, document: str) -> str:
        return self.DOC_LABEL + document

    def layout(self, query: str) -> Layout:
        # The reference tokenizes "<Instruct>: ...\n<Query>: ...\n<Document>: ..." in one go; the
        # split after the "\n" that precedes "<Document>" is a pre-tokenizer boundary of Qwen's
        # byte-level BPE, so head + document tokens are the same ids.
        instruction = self.instruction or self.DEFAULT_INSTRUCTION
        query_ids = self.ids(f"<Instruct>: {instruction}\n<Query>: {query}\n")
        head = self.prefix_ids + query_ids
        limit = self.max_length - len(head) - len(self.suffix_ids)
        if limit <= self.label_len:
            raise self._room_error(len(query_ids))
        return Layout(head=head, doc_limit=limit, tail=self.suffix_ids)


class BGEGemmaTemplate(Template):
    name = "bge-gemma"
    default_max_length = 512
    name_patterns = (("bge-reranker-v2-gemma",),)

    DEFAULT_PROMPT = (
        "Given a query A and a passage B, determine whether the passage contains an answer to the "
        "query by providing a prediction of either 'Yes' or 'No'."
    )

    def __init__(self, tokenizer: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, **kwargs)
        self.sep_ids = self.ids("\n")
        self.prompt_ids = self.ids(self.instruction or self.DEFAULT_PROMPT)
        bos, pad = tokenizer.bos_token_id, tokenizer.pad_token_id
        self.bos_ids = [bos] if bos is not None and bos != pad else []
        self.yes_id = self.token_id("Yes", first_of_text=True)
        self.no_id = None

    def document_text(self, document: str) -> str:
        return "B: " + document

    def layout(self, query: str) -> Layout:
        query_ids = self.ids("A: " + query)[: self.max_length * 3 // 4]
        first = self.bos_ids + query_ids
        encode_max = self.max_length + len(self.sep_ids) + len(self.prompt_ids)
        limit = min(self.max_length, encode_max - len(first) - len(self.sep_ids))
        if limit <= 0:  # pragma: no cover - the 3/4 cut always leaves room
            raise self._room_error(len(query_ids))
        return Layout(
            head=first + self.sep_ids, doc_limit=limit, tail=self.sep_ids + self.prompt_ids
        )


class MxbaiV2Template(Template):
    name = "mxbai-v2"
    default_max_length = 8192
    name_patterns = (("mxbai-rerank", "v2"),)

    PREFIX = (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
        "assistant.<|im_end|>\n<|im_start|>user\n"
    )
    SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
    TASK = (
        "You are a search relevance expert who evaluates how well documents match search queries. "
        "For each query-document pair, carefully analyze the semantic relationship between them, "
        "then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\n"
        "Relevance:"
    )

    def __init__(self, tokenizer: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, **kwargs)
        self.prefix_ids = self.ids(self.PREFIX)
        self.suffix_ids = self.ids(self.SUFFIX)
        self.task_ids = self.ids(self.TASK)
        self.sep_ids = self.ids("\n")
        self.yes_id = self.token_id("1", first_of_text=True)
        self.no_id = self.token_id("0", first_of_text=True)
        fixed = len(self.prefix_ids) + len(self.task_ids) + len(self.suffix_ids) + len(self.sep_ids)
        self.fixed_len = fixed
        if self.max_length + fixed > self.model_max_length:  # the reference's own clamp
            self.max_length = max(1, self.model_max_length - fixed)

    def document_text(self, document: str) -> str:
        return "document: " + document

    def layout(self, query: str) -> Layout:
        text = f"query: {query}"
        if self.instruction:
            text = f"instruction: {self.instruction}\nquery: {query}"
        query_ids = self.ids(text)[: self.max_length * 3 // 4]
        limit = min(
            self.model_max_length - len(query_ids) - self.fixed_len,
            self.max_length,
            self.max_length - len(query_ids) - len(self.sep_ids),
        )
        if limit <= 0:  # pragma: no cover - the 3/4 cut always leaves room
            raise self._room_error(len(query_ids))
        return Layout(
            head=self.prefix_ids + query_ids + self.sep_ids,
            doc_limit=limit,
            tail=self.sep_ids + self.task_ids + self.suffix_ids,
        )


TEMPLATES: dict[str, type[Template]] = {
    t.name: t for t in (Qwen3Template, BGEGemmaTemplate, MxbaiV2Template)
}


def detect_template(*names: str | None) -> str | None:
    """The template whose name patterns all occur in one of ``names`` (model name or path, the
    config's ``_name_or_path``), or ``None``."""
    for raw in names:
        if not raw:
            continue
        low = raw.lower().replace("_", "-")
        for key, cls in TEMPLATES.items():
            if any(all(p in low for p in pattern) for pattern in cls.name_patterns):
                return key
    return None


def make_template(
    name: str,
    tokenizer: Any,
    *,
    max_length: int | None,
    instruction: str | None,
    model_max_length: int,
) -> Template:
    cls = TEMPLATES[name]
    return cls(
        tokenizer,
        max_length=max_length or cls.default_max_length,
        instruction=instruction,
        model_max_length=model_max_length,
    )
