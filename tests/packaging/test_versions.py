"""One version for the three distributions, kept in step, and a CHANGELOG that names it."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import rankwise

REPO = Path(__file__).resolve().parents[2]
INTEGRATIONS = {
    "langchain-rankwise": REPO / "integrations/langchain",
    "llama-index-rankwise": REPO / "integrations/llama-index",
}


def _bump_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bump_version", REPO / "scripts/bump_version.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pyproject(folder: Path) -> str:
    return (folder / "pyproject.toml").read_text(encoding="utf-8")


def _project_version(folder: Path) -> str:
    match = re.search(r'^version = "([^"]+)"$', _pyproject(folder), re.MULTILINE)
    assert match is not None, folder
    return match[1]


def _rankwise_requirement(folder: Path) -> Requirement:
    deps = re.search(r"^dependencies = \[(.*?)\]$", _pyproject(folder), re.MULTILINE | re.DOTALL)
    assert deps is not None, folder
    found = [Requirement(d) for d in re.findall(r'"([^"]+)"', deps[1])]
    return next(r for r in found if r.name == "rankwise")


def _check_in_step(root: Path) -> str:
    """The version of ``root``'s three distributions, after checking they agree."""
    version = _bump_module().current_version(root)
    major, minor = (int(x) for x in version.split(".")[:2])
    for folder in (root / "integrations/langchain", root / "integrations/llama-index"):
        assert _project_version(folder) == version, folder
        assert _rankwise_requirement(folder).specifier == SpecifierSet(
            f">={major}.{minor}.0,<{major}.{minor + 1}"
        ), folder
    return version


def test_the_three_distributions_share_one_version() -> None:
    version = _check_in_step(REPO)
    assert rankwise.__version__ == version
    assert importlib.metadata.version("rankwise") == version
    for name in INTEGRATIONS:
        assert importlib.metadata.version(name) == version


def test_cli_version_is_the_package_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rankwise", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == f"rankwise {importlib.metadata.version('rankwise')}"


def test_changelog_follows_keep_a_changelog_and_names_the_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "keepachangelog.com" in text
    headings = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert headings[0] == ("Unreleased", "")
    released = headings[1:]
    assert all(date for _, date in released), "every release heading has a date"
    assert released[0][0] == rankwise.__version__  # the newest release is the current version
    for name, _ in headings:  # each heading has its link reference at the bottom
        assert re.search(rf"^\[{re.escape(name)}\]: https://", text, re.MULTILINE), name
    sections = set(re.findall(r"^### (\w+)$", text, re.MULTILINE))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_bump_moves_every_version_and_the_rankwise_range(tmp_path: Path) -> None:
    for rel in [
        "src/rankwise/_version.py",
        "integrations/langchain/pyproject.toml",
        "integrations/llama-index/pyproject.toml",
        "CHANGELOG.md",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    old = _check_in_step(tmp_path)
    bump = _bump_module()
    bump.bump(tmp_path, "7.3.1", dt.date(2031, 2, 3))
    assert _check_in_step(tmp_path) == "7.3.1"
    assert str(_rankwise_requirement(tmp_path / "integrations/langchain").specifier) in {
        "<7.4,>=7.3.0",
        ">=7.3.0,<7.4",
    }
    changelog = (tmp_path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]\n\n## [7.3.1] - 2031-02-03\n" in changelog
    assert f"[7.3.1]: https://github.com/rankwise/rankwise/compare/v{old}...v7.3.1" in changelog
    assert "[Unreleased]: https://github.com/rankwise/rankwise/compare/v7.3.1...HEAD" in changelog
    with pytest.raises(ValueError, match=r"1\.2\.3"):
        bump.bump(tmp_path, "8.0", dt.date(2031, 2, 3))
