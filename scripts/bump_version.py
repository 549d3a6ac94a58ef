"""Set the version of all three distributions in one step (`make bump VERSION=x.y.z`).

The version lives in src/rankwise/_version.py (hatch reads it for rankwise, and for
`rankwise --version`). The two integration packages carry the same number in their
pyproject.toml and depend on rankwise within that minor release (``>=x.y.0,<x.(y+1)``);
tests/packaging/test_versions.py fails when any of them is out of step. The CHANGELOG's
``[Unreleased]`` section becomes the new release's section. See docs/CONTRIBUTING.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

VERSION_FILE = Path("src/rankwise/_version.py")
INTEGRATIONS = (Path("integrations/langchain"), Path("integrations/llama-index"))
CHANGELOG = Path("CHANGELOG.md")
REPO_URL = "https://github.com/rankwise/rankwise"
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def rankwise_range(version: str) -> str:
    """The rankwise requirement the integrations of ``version`` declare."""
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(f"version must look like 1.2.3, got {version!r}")
    major, minor = int(match[1]), int(match[2])
    return f"rankwise>={major}.{minor}.0,<{major}.{minor + 1}"


def _sub_once(pattern: str, replacement: str, text: str, where: Path) -> str:
    new, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise SystemExit(f"{where}: no match for {pattern!r}")
    return new


def current_version(root: Path) -> str:
    text = (root / VERSION_FILE).read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"{VERSION_FILE}: no __version__ line")
    return match[1]


def bump(root: Path, version: str, today: dt.date) -> None:
    old = current_version(root)
    rankwise_range(version)  # validates the form
    path = root / VERSION_FILE
    path.write_text(f'__version__ = "{version}"\n', encoding="utf-8")
    for folder in INTEGRATIONS:
        path = root / folder / "pyproject.toml"
        text = path.read_text(encoding="utf-8")
        text = _sub_once(r'^version = "[^"]+"$', f'version = "{version}"', text, path)
        text = _sub_once(r'"rankwise>=[^"]*"', f'"{rankwise_range(version)}"', text, path)
        path.write_text(text, encoding="utf-8")
    path = root / CHANGELOG
    text = path.read_text(encoding="utf-8")
    text = _sub_once(
        r"^## \[Unreleased\]$",
        f"## [Unreleased]\n\n## [{version}] - {today.isoformat()}",
        text,
        path,
    )
    text = _sub_once(
        r"^\[Unreleased\]: .*$",
        f"[Unreleased]: {REPO_URL}/compare/v{version}...HEAD\n"
        f"[{version}]: {REPO_URL}/compare/v{old}...v{version}",
        text,
        path,
    )
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the new version, e.g. 0.2.0")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    bump(args.root, args.version, dt.datetime.now(dt.timezone.utc).date())
    print(f"version {args.version}: {VERSION_FILE}, integrations' pyproject.toml, {CHANGELOG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
