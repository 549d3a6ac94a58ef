"""scripts/convert_cranfield.py: the classic Cranfield files -> the bundled BEIR folder.

The full conversion was checked once against the source files (github.com/Chetan-Prasad/
IR-Lucene_Cran at ff1bd825) and reproduced src/rankwise/datasets/cranfield byte for byte; the
repository does not carry those files, so this test converts a verbatim excerpt (document 1) and
records shaped like the source's quirks, and compares with the bundled rows.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "src/rankwise/datasets/cranfield"

# cran.all.1400's first record, verbatim (the .A line ends in a tab)
DOC_1 = """.I 1
.T
experimental investigation of the aerodynamics of a
wing in a slipstream .
.A
brenckman,m.\t
.B
j. ae. scs. 25, 1958, 324.
.W
experimental investigation of the aerodynamics of a
wing in a slipstream .
  an experimental study of a wing in a propeller slipstream was
made in order to determine the spanwise distribution of the lift
increase due to slipstream at different angles of attack of the wing
and at different free stream to slipstream velocity ratios .  the
results were intended in part as an evaluation basis for different
theoretical treatments of this problem .
  the comparative span loading curves, together with
supporting evidence, showed that a substantial part of the lift increment
produced by the slipstream was due to a /destalling/ or
boundary-layer-control effect .  the integrated remaining lift
increment, after subtracting this destalling lift, was found to agree
well with a potential flow theory .
  an empirical evaluation of the destalling effects was made for
the specific configuration of the experiment .
"""
# record 471 of the source: every field empty
EMPTY_DOC = ".I 471\n.T\n.A\n.B\n.W\n"
# cran.qry uses CRLF line ends and gappy .I numbers
QUERIES = (
    ".I 001\r\n.W\r\nwhat similarity laws must be obeyed when constructing aeroelastic models\r\n"
    "of heated high speed aircraft .\r\n"
    ".I 004\r\n.W\r\nwhat problems of heat conduction in composite slabs have been solved so\r\n"
    "far .\r\n"
)
# query positions, documents, codes 1..4 and -1 (the paper the question came from)
QRELS = "1 184 2 \n1 486 -1 \n2 12 1\n2 13 4\n2 471 3"


def _converter() -> ModuleType:
    path = REPO / "scripts/convert_cranfield.py"
    spec = importlib.util.spec_from_file_location("convert_cranfield", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_conversion_matches_the_bundled_rows_and_the_documented_rules(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "cran.all.1400").write_text(DOC_1 + EMPTY_DOC, encoding="ascii", newline="")
    (source / "cran.qry").write_bytes(QUERIES.encode("ascii"))
    (source / "cranqrel").write_text(QRELS, encoding="ascii", newline="")
    out = tmp_path / "beir"
    meta = _converter().convert(source, out)

    corpus = (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    bundled_corpus = (BUNDLED / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    assert corpus[0] == bundled_corpus[0]  # byte for byte, title and abstract joined
    assert json.loads(corpus[1]) == {"_id": "471", "title": "", "text": ""}
    assert json.loads(bundled_corpus[470]) == json.loads(corpus[1])

    queries = [
        json.loads(q) for q in (out / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    bundled_queries = (BUNDLED / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    assert queries[0] == json.loads(bundled_queries[0])
    assert queries[1]["_id"] == "2"  # position, as cranqrel counts, not the .I number
    assert queries[1]["metadata"] == {"cran_qry_I": "004"}
    assert queries[1] == json.loads(bundled_queries[2]) | {"_id": "2"}

    qrels = (out / "qrels/test.tsv").read_text(encoding="utf-8").splitlines()
    assert qrels == ["query-id\tcorpus-id\tscore", "1\t184\t3", "2\t12\t4", "2\t13\t1", "2\t471\t2"]
    assert (BUNDLED / "qrels/test.tsv").read_text(encoding="utf-8").splitlines()[1] == "1\t184\t3"
    assert meta["qrel_code_counts"] == {"2": 1, "-1": 1, "1": 1, "4": 1, "3": 1}
    assert meta["n_qrels_kept"] == 4

    bundled_meta = json.loads((BUNDLED / "conversion_meta.json").read_text(encoding="utf-8"))
    written = json.loads((out / "conversion_meta.json").read_text(encoding="utf-8"))
    assert list(written) == list(bundled_meta)  # same keys, same order
    for key in ("source_repo", "commit", "files", "gain_mapping", "query_id_mapping", "doc_fields"):
        assert written[key] == bundled_meta[key], key
