"""constraints.txt: the exact versions setup and CI install, in a form `make constraints` keeps."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"
PIN = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*)==([0-9][0-9A-Za-z.!]*)$")  # no local label


def _writer() -> ModuleType:
    path = REPO / "scripts/write_constraints.py"
    spec = importlib.util.spec_from_file_location("write_constraints", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pins() -> dict[str, str]:
    lines = CONSTRAINTS.read_text(encoding="utf-8").splitlines()
    body = [line for line in lines if not line.startswith("#")]
    matches = [PIN.match(line) for line in body]
    assert all(matches), [line for line, m in zip(body, matches, strict=True) if not m]
    names = [m[1] for m in matches if m]
    assert names == sorted(names), "sorted by normalised name, so a refresh diffs cleanly"
    return {m[1]: m[2] for m in matches if m}


def _install_targets() -> str:
    return (REPO / "scripts/install_targets.sh").read_text(encoding="utf-8")


def test_constraints_pin_the_tools_and_libraries_ci_uses() -> None:
    pins = _pins()
    for tool in ("ruff", "mypy", "pytest", "transformers", "langchain-core", "llama-index-core"):
        assert tool in pins, tool
    torch = re.search(r'TORCH_REQUIREMENT="torch==([^"]+)"', _install_targets())
    assert torch is not None
    assert pins["torch"] == torch[1]  # one torch pin, the one installed first
    assert not {"rankwise", "langchain-rankwise", "llama-index-rankwise"} & set(pins)
    assert not any(name.startswith("nvidia-") for name in pins)


def test_setup_installs_every_step_with_the_constraints() -> None:
    setup = (REPO / "scripts/setup.sh").read_text(encoding="utf-8")
    assert 'CONSTRAINTS="${CONSTRAINTS-constraints.txt}"' in setup
    installs = [line for line in setup.splitlines() if re.match(r'^"\$\{PIP\[@\]\}" install', line)]
    assert len(installs) == 3  # pip itself, torch, the three packages
    assert all('"${pins[@]}"' in line for line in installs)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = r"^constraints:\n\tPYTHON=\$\(PYTHON\) bash scripts/constraints.sh$"
    assert re.search(recipe, makefile, re.MULTILINE)
    assert "make test" in (REPO / ".ci/run").read_text(encoding="utf-8")


def test_this_environment_was_installed_from_the_constraints() -> None:
    header = re.search(r"^# python: (\d+\.\d+)$", CONSTRAINTS.read_text(encoding="utf-8"), re.M)
    assert header is not None
    here = "{}.{}".format(*sys.version_info[:2])
    if header[1] != here:
        pytest.skip(f"constraints.txt pins Python {header[1]}; setup.sh ignores them on {here}")
    pins = _pins()
    wrong = {}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        pinned = pins.get(name)
        if pinned is not None and dist.version.split("+", 1)[0] != pinned:
            wrong[name] = (dist.version, pinned)
    assert wrong == {}, "installed vs pinned; rerun `make setup` (or `make constraints`)"


def test_writer_sorts_normalises_and_drops_local_labels(tmp_path: Path) -> None:
    report = {
        "install": [
            {"metadata": {"name": "Torch", "version": "2.13.0+cpu"}},
            {"metadata": {"name": "pymilvus.model", "version": "0.3.4"}},
            {"metadata": {"name": "rankwise", "version": "0.1.0"}},
            {"metadata": {"name": "Aiohttp", "version": "3.14.5"}},
            {"metadata": {"name": "typing_extensions", "version": "4.15.0"}},
        ]
    }
    (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    writer = _writer()
    outputs = []
    for name in ("a.txt", "b.txt"):
        writer.main([str(tmp_path / "report.json"), str(tmp_path / name), "--exclude", "rankwise"])
        outputs.append((tmp_path / name).read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]  # no date, no ordering from the report
    body = [line for line in outputs[0].splitlines() if not line.startswith("#")]
    assert body == [
        "aiohttp==3.14.5",
        "pymilvus-model==0.3.4",
        "torch==2.13.0",
        "typing-extensions==4.15.0",
    ]
    assert "# python: {}.{}".format(*sys.version_info[:2]) in outputs[0]
