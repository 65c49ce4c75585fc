"""The docs agree with the code and with each other, and point only at committed files."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from aiolambda._layer import PYTHON_GLIBC

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DEPLOY = REPO / "docs" / "deploy.md"


def _supported() -> list[str]:
    """The package's Python versions, from pyproject.toml's classifiers: the one list."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    prefix = "Programming Language :: Python :: "
    versions = [c.removeprefix(prefix) for c in project["classifiers"] if c.startswith(prefix)]
    return [v for v in versions if "." in v]


def test_one_list_of_supported_python_versions() -> None:
    versions = _supported()
    assert versions == ["3.11", "3.12", "3.13", "3.14"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={versions[0]}"
    # The layer targets exactly the managed runtimes of those versions.
    assert list(PYTHON_GLIBC) == versions
    phrase = f"Python {', '.join(versions[:-1])} and {versions[-1]}"
    assert phrase in README.read_text()
    assert phrase in DEPLOY.read_text()
    assert f"[--python {'|'.join(versions)}]" in DEPLOY.read_text()
    runtimes = ", ".join(f"`python{v}`" for v in versions[:-1]) + f" or `python{versions[-1]}`"
    assert runtimes in " ".join(README.read_text().split())
    tox = (REPO / "tox.ini").read_text()
    assert "env_list = " + ", ".join("py" + v.replace(".", "") for v in versions) in tox


def test_no_doc_lists_a_subset_of_the_runtimes() -> None:
    """The README once said `python3.12`/`3.13`/`3.14` while the layer built 3.11 too."""
    for doc in (README, DEPLOY):
        text = " ".join(doc.read_text().split())
        for listed in re.findall(
            r"`python3\.1\d`(?:\s*(?:/|,|and|or)\s*`(?:python)?3\.1\d`)+", text
        ):
            found = re.findall(r"3\.1\d", listed)
            assert found == _supported(), f"{doc.name}: {listed}"


def _tracked() -> set[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
    ).stdout.decode()
    return {name for name in listed.split("\0") if name}


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links in ``text`` that point into the repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_every_relative_link_in_the_docs_is_a_committed_file() -> None:
    tracked = _tracked()
    docs = [README, *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for doc in docs:
        for target in relative_links(doc.read_text()):
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            relative = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else None
            if relative not in tracked:
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, "\n".join(broken)


def test_the_link_check_sees_an_ignored_file() -> None:
    """benchmarks/results/* is ignored by git: a link there is caught even if the file exists."""
    assert relative_links("[a](benchmarks/results/x.md) [b](#c) [d](https://e)") == [
        "benchmarks/results/x.md"
    ]
    assert "benchmarks/results/typed-events.md" not in _tracked()


def test_the_dockerfile_in_the_docs_is_the_example_s() -> None:
    """Every instruction deploy.md shows is in examples/container/Dockerfile, in order."""
    [block] = re.findall(r"^```dockerfile\n(.*?)^```$", DEPLOY.read_text(), re.M | re.S)
    shown = [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]
    real = [
        line.strip()
        for line in (REPO / "examples" / "container" / "Dockerfile").read_text().splitlines()
    ]
    positions = [real.index(line) for line in shown]
    assert positions == sorted(positions)
