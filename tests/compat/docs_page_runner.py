"""Run the Python blocks of a docs page in order, in one namespace, as a reader would.

Used by ``test_milvus_docs_page.py`` in a subprocess (so the Hugging Face cache location it
sets takes effect before transformers is imported). Input JSON: ``{"blocks": [...],
"vectors": [...], "flag_shim": bool}``; output JSON: one record per block with its stdout,
the ``repr`` of a trailing expression (as a REPL would show it), the ``index`` fields of that
value when it is a list of results, and the traceback of an error.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import sys
import traceback
from typing import Any


def run(spec: dict[str, Any]) -> list[dict[str, Any]]:
    if spec.get("flag_shim"):
        # pymilvus-model's BGE needs FlagEmbedding, which imports only through rankwise's shim
        # under transformers 5 (environment set-up, the page's code is not touched)
        from rankwise.rerankers._flagembedding import import_flagembedding

        import_flagembedding()
    vectors = spec["vectors"]
    namespace: dict[str, Any] = {"__name__": "__main__", "__vector__": lambda k: vectors[k]}
    records = []
    for source in spec["blocks"]:
        tree = ast.parse(source)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        record: dict[str, Any] = {"value": None, "indices": None, "error": None}
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                exec(compile(tree, "<docs page>", "exec"), namespace)
                if last is not None:
                    value = eval(compile(last, "<docs page>", "eval"), namespace)
                    record["value"] = repr(value)
                    if isinstance(value, list) and all(hasattr(v, "index") for v in value):
                        record["indices"] = [int(v.index) for v in value]
        except Exception:
            record["error"] = traceback.format_exc()
        record["stdout"] = buffer.getvalue()
        records.append(record)
    return records


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    result = run(spec)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(result, f)
