"""Python-level allocations of a piece of code, traced in a fresh interpreter.

``tracemalloc`` counts the allocations of every thread, and a test process has others: the
query kernels' background compilation, Milvus Lite's gRPC client. A peak traced in the test
process moved by megabytes with what ran before it (a build's scratch measured 14.3 bytes a
posting in the full suite against 12.8 alone), so the tests that bound a peak run the code in a
child process where nothing else allocates."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any


def traced(code: str, **values: Any) -> dict[str, Any]:
    """Run ``code`` (which must set a dict ``result`` of JSON values) in a new interpreter with
    ``values`` (JSON) bound as globals; returns ``result``."""
    script = (
        "import json, sys\n"
        "globals().update(json.loads(sys.argv[1]))\n"
        + textwrap.dedent(code)
        + "\nprint(json.dumps(result))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(values)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out
