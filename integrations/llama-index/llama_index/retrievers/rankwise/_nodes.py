"""Node copies for the retrievers namespace.

LlamaIndex ships each kind (``llama_index.retrievers.*``, ``llama_index.postprocessor.*``) as
its own namespace, so this one keeps the little it needs instead of importing the
postprocessor's helper.
"""

from __future__ import annotations

from llama_index.core.schema import BaseNode


def copy_node(node: BaseNode) -> BaseNode:
    """A copy of ``node`` whose metadata and relationships can be changed safely.

    The text and embedding are shared (they are never mutated in place); the metadata dict
    and the relationships dict are new, so a caller writing into the copy's metadata leaves
    the retriever's node untouched.
    """
    return node.model_copy(
        update={"metadata": dict(node.metadata), "relationships": dict(node.relationships)}
    )


__all__ = ["copy_node"]
