"""Convert the classic Cranfield files to the BEIR folder bundled in rankwise.datasets.

    python scripts/convert_cranfield.py SOURCE_DIR OUT_DIR

SOURCE_DIR holds ``cran.all.1400``, ``cran.qry`` and ``cranqrel`` (the copies used for the
bundled data come from github.com/Chetan-Prasad/IR-Lucene_Cran at commit
ff1bd825c1781e908fdcb8a20609ef779abb3d2a). OUT_DIR receives ``corpus.jsonl``,
``queries.jsonl``, ``qrels/test.tsv`` and ``conversion_meta.json``; run on those files it
reproduces the bundled folder byte for byte. The rules (why each one) are in the dataset's
README.md.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

SOURCE = {
    "source_repo": "github.com/Chetan-Prasad/IR-Lucene_Cran",
    "commit": "ff1bd825c1781e908fdcb8a20609ef779abb3d2a",
    "files": ["cran.all.1400", "cran.qry", "cranqrel"],
}
_FIELD = re.compile(r"^\.([A-Z])(?:\s+(\S+))?\s*$")


def records(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``(.I value, {field letter: text with whitespace collapsed})`` per record, in file order."""
    current: tuple[str, dict[str, list[str]]] | None = None
    field = ""
    for line in path.read_text(encoding="ascii").splitlines():
        match = _FIELD.match(line)
        if match and match[1] == "I":
            if current is not None:
                yield current[0], {k: " ".join(" ".join(v).split()) for k, v in current[1].items()}
            current, field = (match[2], {}), ""
        elif match and current is not None:
            field = match[1]
            current[1].setdefault(field, [])
        elif current is not None and field:
            current[1][field].append(line)
    if current is not None:
        yield current[0], {k: " ".join(" ".join(v).split()) for k, v in current[1].items()}


def convert(source: Path, out: Path) -> dict[str, object]:
    """Write the BEIR folder; return the metadata written to ``conversion_meta.json``."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    docs = list(records(source / "cran.all.1400"))
    with (out / "corpus.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for doc_id, fields in docs:
            # .T title, .W abstract (which repeats the title); .A authors and .B source dropped
            row = {"_id": doc_id, "title": fields.get("T", ""), "text": fields.get("W", "")}
            fh.write(json.dumps(row) + "\n")

    queries = list(records(source / "cran.qry"))
    with (out / "queries.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for position, (number, fields) in enumerate(queries, start=1):
            # cranqrel names queries by position (1..225), not by their gappy .I numbers
            row = {
                "_id": str(position),
                "text": fields.get("W", ""),
                "metadata": {"cran_qry_I": number},
            }
            fh.write(json.dumps(row) + "\n")

    codes: Counter[str] = Counter()
    kept = 0
    judged = set()
    with (out / "qrels" / "test.tsv").open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for line in (source / "cranqrel").read_text(encoding="ascii").splitlines():
            if not line.strip():
                continue
            query, doc, code = line.split()[:3]
            codes[code] += 1
            judged.add(query)
            if code in {"1", "2", "3", "4"}:  # 1 = complete answer ... 4 = minimum interest
                fh.write(f"{query}\t{doc}\t{5 - int(code)}\n")
                kept += 1
            # code -1: the paper the question was written from; not a relevance judgement

    meta: dict[str, object] = {
        **SOURCE,
        "n_docs": len(docs),
        "n_queries": len(queries),
        "n_queries_with_qrels": len(judged),
        "qrel_code_counts": dict(codes),
        "n_qrels_kept": kept,
        "gain_mapping": "gain = 5 - code for code in 1..4; code -1 dropped",
        "query_id_mapping": (
            "query _id = 1-based position in cran.qry (matches cranqrel); "
            "original .I in metadata.cran_qry_I"
        ),
        "doc_fields": "title = .T, text = .W (note .W repeats the title); .A/.B dropped",
    }
    (out / "conversion_meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with cran.all.1400, cran.qry, cranqrel")
    parser.add_argument("out", type=Path, help="BEIR folder to write")
    args = parser.parse_args(argv)
    meta = convert(args.source, args.out)
    print(
        f"{args.out}: {meta['n_docs']} documents, {meta['n_queries']} queries, "
        f"{meta['n_qrels_kept']} judgements"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
