"""The three distributions as `python -m build` makes them: contents and metadata.

One module-scoped build (sdist, then the wheel built from that sdist, exactly as a release does)
per distribution; every check below reads the artefacts, not the source tree.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[2]
VERSION = re.search(
    r'^__version__ = "([^"]+)"$',
    (REPO / "src/rankwise/_version.py").read_text(encoding="utf-8"),
    re.MULTILINE,
)[1]  # type: ignore[index]
PROJECTS = {
    "rankwise": REPO,
    "langchain-rankwise": REPO / "integrations/langchain",
    "llama-index-rankwise": REPO / "integrations/llama-index",
}
URL_LABELS = {"Homepage", "Documentation", "Repository", "Issues", "Changelog"}
# a markdown link or image whose target is neither absolute nor an in-page anchor
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#)[^)]*\)")


class Built:
    def __init__(self, name: str, outdir: Path) -> None:
        stem = name.replace("-", "_")
        self.wheel = outdir / f"{stem}-{VERSION}-py3-none-any.whl"
        self.sdist = outdir / f"{stem}-{VERSION}.tar.gz"
        with zipfile.ZipFile(self.wheel) as zf:
            self.wheel_files = set(zf.namelist())
            meta = next(n for n in self.wheel_files if n.endswith(".dist-info/METADATA"))
            self.metadata: Message = Parser().parsestr(zf.read(meta).decode("utf-8"))
        prefix = f"{stem}-{VERSION}/"
        with tarfile.open(self.sdist) as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
            assert all(n.startswith(prefix) for n in names), names
            self.sdist_files = {n[len(prefix) :] for n in names}
            pkg_info = tf.extractfile(prefix + "PKG-INFO")
            assert pkg_info is not None
            self.sdist_metadata = Parser().parsestr(pkg_info.read().decode("utf-8"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    out = tmp_path_factory.mktemp("dist")
    for project in PROJECTS.values():
        # no isolation: hatchling and hatch-fancy-pypi-readme come from the dev extra, so the
        # build needs no index; the wheel is built from the unpacked sdist, as a release is
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(project)],
            check=True,
            capture_output=True,
            timeout=240,
        )
    return {name: Built(name, out) for name in PROJECTS}


@pytest.mark.parametrize("name", list(PROJECTS))
def test_license_and_metadata_are_complete(built: dict[str, Built], name: str) -> None:
    dist = built[name]
    for meta in (dist.metadata, dist.sdist_metadata):
        assert meta["Name"] == name
        assert meta["Version"] == VERSION
        assert meta["License-Expression"] == "MIT"
        assert meta.get_all("License-File") == ["LICENSE"]
        assert meta["Requires-Python"] == ">=3.10"
        assert meta["Summary"]
        urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
        assert set(urls) == URL_LABELS
        assert all(u.startswith("https://github.com/rankwise/rankwise") for u in urls.values())
    stem = name.replace("-", "_")
    assert f"{stem}-{VERSION}.dist-info/licenses/LICENSE" in dist.wheel_files
    assert "LICENSE" in dist.sdist_files
    assert (PROJECTS[name] / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()


@pytest.mark.parametrize("name", list(PROJECTS))
def test_pypi_description_starts_with_pip_install_and_links_absolutely(
    built: dict[str, Built], name: str
) -> None:
    meta = built[name].metadata
    assert meta["Description-Content-Type"] == "text/markdown"
    body = meta.get_payload()
    assert isinstance(body, str)
    opening = body.split("\n## ", 1)[0]  # title and install lines, before any section
    first_code = re.search(r"```bash\n(.*?)```", opening, re.DOTALL)
    assert first_code is not None
    assert first_code[1].startswith(f"pip install {name}")
    assert "make " not in opening  # the repo README's make commands are not the PyPI opening
    assert RELATIVE_LINK.findall(body) == []
    assert "download.pytorch.org/whl/cpu" in body  # the CPU torch line for the torch extras


def test_rankwise_wheel_holds_the_package_and_its_data_only(built: dict[str, Built]) -> None:
    files = built["rankwise"].wheel_files
    tops = {PurePosixPath(f).parts[0] for f in files}
    assert tops == {"rankwise", f"rankwise-{VERSION}.dist-info"}
    for needed in (
        "rankwise/py.typed",
        "rankwise/_version.py",
        "rankwise/datasets/cranfield/corpus.jsonl",
        "rankwise/datasets/cranfield/qrels/test.tsv",
        "rankwise/datasets/cranfield/README.md",
    ):
        assert needed in files
    entry_points = f"rankwise-{VERSION}.dist-info/entry_points.txt"
    assert entry_points in files


def test_rankwise_sdist_ships_its_own_tests_and_nothing_stray(built: dict[str, Built]) -> None:
    files = built["rankwise"].sdist_files
    tops = {PurePosixPath(f).parts[0] for f in files}
    assert tops <= {
        "src",
        "tests",
        "benchmarks",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
        ".gitignore",
    }, tops
    # every shipped test is one of the repository's own tests/ (never an integration's); the
    # cookbook tests stay out with the notebooks they execute, these with the repository they check
    tests = {f for f in files if f.startswith("tests/")}
    assert tests, "the sdist's pytest settings point at tests/"
    assert not any(f.startswith(("tests/cookbooks/", "tests/packaging/")) for f in tests)
    assert not any(f.startswith("cookbooks/") for f in files)
    assert all((REPO / f).is_file() for f in tests)
    repo_tests = {
        rel.as_posix()
        for rel in (p.relative_to(REPO) for p in (REPO / "tests").rglob("*.py"))
        if not {"cookbooks", "packaging", "__pycache__"} & set(rel.parts)
    }
    assert repo_tests <= tests
    assert {f for f in files if f.endswith("README.md")} == {
        "README.md",
        "src/rankwise/datasets/cranfield/README.md",
    }
    assert {f for f in files if f.startswith("benchmarks/")} == {
        p.relative_to(REPO).as_posix() for p in (REPO / "benchmarks/bm25_peers").glob("*.py")
    }


def test_rankwise_extras_keep_heavy_and_chinese_dependencies_optional(
    built: dict[str, Built],
) -> None:
    requires = [Requirement(r) for r in built["rankwise"].metadata.get_all("Requires-Dist") or []]
    core = {r.name.lower() for r in requires if r.marker is None}
    assert core == {"numpy", "scipy", "numba", "pystemmer", "tqdm", "filelock"}
    extras = set(built["rankwise"].metadata.get_all("Provides-Extra") or [])
    assert {"transformers", "bge", "embeddings", "chinese", "cli", "milvus", "all"} <= extras
    chinese = [r for r in requires if r.marker and r.marker.evaluate({"extra": "chinese"})]
    assert [r.name for r in chinese] == ["jieba"]


@pytest.mark.parametrize(
    ("name", "package_files"),
    [
        ("langchain-rankwise", {"langchain_rankwise/__init__.py", "langchain_rankwise/py.typed"}),
        (
            "llama-index-rankwise",
            {
                "llama_index/postprocessor/rankwise/__init__.py",
                "llama_index/postprocessor/rankwise/py.typed",
                "llama_index/retrievers/rankwise/__init__.py",
                "llama_index/retrievers/rankwise/py.typed",
            },
        ),
    ],
)
def test_integration_distributions(
    built: dict[str, Built], name: str, package_files: set[str]
) -> None:
    dist = built[name]
    top = next(iter(package_files)).split("/")[0]
    assert package_files <= dist.wheel_files
    wheel_code = {f for f in dist.wheel_files if ".dist-info/" not in f}
    assert all(f.startswith(f"{top}/") for f in wheel_code)
    # LlamaIndex's namespace layout: nothing may claim llama_index/ or its category folders
    assert not any(re.fullmatch(r"llama_index/(\w+/)?__init__\.py", f) for f in wheel_code)
    assert package_files <= dist.sdist_files
    assert not any(f.startswith("tests/") for f in dist.sdist_files)
    assert {PurePosixPath(f).parts[0] for f in dist.sdist_files} == {
        top,
        "README.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
        ".gitignore",
    }
    requires = {
        Requirement(r).name: Requirement(r)
        for r in dist.metadata.get_all("Requires-Dist") or []
        if Requirement(r).marker is None
    }
    major, minor = (int(x) for x in VERSION.split(".")[:2])
    compatible = SpecifierSet(f">={major}.{minor}.0,<{major}.{minor + 1}")
    assert requires["rankwise"].specifier == compatible
