"""The docs agree with the code and with each other, and point only at committed files."""

from __future__ import annotations

import json
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
    assert "benchmarks/results/quick.md" not in _tracked()


# -- performance figures trace to committed results files ----------------------------------
RESULTS = "benchmarks/results/"
# The header every results file opens with (benchmarks/_harness.py's header_line, and
# run.py's and concurrency.py's own): the command, when, which commit, which machine, load.
HEADER = {
    "command": r"`python benchmarks/[\w.]+\.py[^`]*`",
    "commit": r"at commit `[0-9a-f]{7,}",
    "date": r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC",
    "machine": r"Python 3\.\d+\.\d+, [^;]+, \d+ vCPUs, Linux \S+",
    "load": r"load average \d+\.\d at the start, \d+\.\d at the end",
}
META = ("command", "commit", "date", "python", "cpu", "vcpus", "kernel", "load_start", "load_end")


def results_quoted(text: str) -> list[str]:
    """The results files ``text`` names (``benchmarks/results/x.md``, ``results/x.{md,json}``)."""
    names = []
    for name in re.findall(r"(?<![\w.-])(?:benchmarks/)?results/([\w.{},*-]+\w)", text):
        stem, brace, rest = name.partition("{")
        options, _, tail = rest.partition("}")
        for option in options.split(",") if brace else [""]:
            names.append(RESULTS + stem + option + tail)
    return names


def header_problems(name: str, text: str) -> list[str]:
    """What a results file's opening lines lack of HEADER (markdown) or META (json)."""
    if name.endswith(".json"):
        meta = json.loads(text).get("meta", {})
        return [f"{name}: no meta[{key!r}]" for key in META if meta.get(key) in (None, "")]
    head = " ".join(text.splitlines()[:4])
    return [
        f"{name}: no {what} in its header" for what, rx in HEADER.items() if not re.search(rx, head)
    ]


def test_every_results_file_the_docs_quote_is_committed() -> None:
    """A figure traces to a results file only if the file is in the repository."""
    tracked = _tracked()
    docs = [README, *sorted((REPO / "docs").glob("*.md"))]
    missing = [
        f"{doc.relative_to(REPO)}: {name}"
        for doc in docs
        for name in results_quoted(doc.read_text())
        if name not in tracked
    ]
    assert not missing, "\n".join(missing)


def test_every_committed_results_file_says_where_it_comes_from() -> None:
    committed = sorted(
        n for n in _tracked() if n.startswith(RESULTS) and n.endswith((".md", ".json"))
    )
    assert committed, "no committed results file"
    problems = [p for n in committed for p in header_problems(n, (REPO / n).read_text())]
    assert not problems, "\n".join(problems)


def test_the_results_checks_see_what_they_are_meant_to() -> None:
    """The two checks above fail on an uncommitted quote and on a header that lacks a part."""
    assert results_quoted("see `benchmarks/results/soak.md`, results/cold_start.{md,json}.") == [
        "benchmarks/results/soak.md",
        "benchmarks/results/cold_start.md",
        "benchmarks/results/cold_start.json",
    ]
    assert results_quoted("writes to `benchmarks/results/` and ../results/x.md") == [
        "benchmarks/results/x.md"
    ]
    good = (
        "# t\n\n`python benchmarks/x.py --write` at commit `0123456789ab` on 2026-12-08 02:10 UTC; "
        "Python 3.11.7, AMD EPYC, 2 vCPUs, Linux 6.1; load average 1.2 at the start, 2.0 at "
        "the end.\n"
    )
    assert header_problems("x.md", good) == []
    assert header_problems("x.md", good.replace("at commit `0123456789ab` ", "")) == [
        "x.md: no commit in its header"
    ]
    assert header_problems("x.md", good.replace("load average", "load")) == [
        "x.md: no load in its header"
    ]
    assert header_problems("x.md", "FastAPI GET /items, 2000 requests per run\n") != []
    meta = {key: "1" for key in META}
    assert header_problems("x.json", json.dumps({"meta": meta})) == []
    assert header_problems("x.json", json.dumps({"meta": meta | {"commit": ""}})) == [
        "x.json: no meta['commit']"
    ]


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
