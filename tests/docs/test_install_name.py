"""Every install instruction names the distribution `aiolambda-runtime`.

`aiolambda` on the package index is somebody else's project (an unrelated 2019
package), so a doc, example, Makefile, Dockerfile or requirements file that says
`pip install aiolambda` installs the wrong code.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The bare old name as a requirement: `aiolambda`, `aiolambda==0.1`, `aiolambda[x]`, quoted.
_OLD_NAME = re.compile(r"""^['"]?aiolambda(?:\s*[=<>!~\[;@].*)?['"]?$""")
_CHECKED_SUFFIXES = (".md", ".txt", ".py", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".sh")
_CHECKED_NAMES = ("Makefile", "Dockerfile", "run")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30
    ).stdout.decode()
    return [
        REPO / name
        for name in listed.split("\0")
        if name and (name.endswith(_CHECKED_SUFFIXES) or Path(name).name in _CHECKED_NAMES)
    ]


def old_name_installs(path: Path, text: str) -> list[str]:
    """The lines of ``text`` that would install the bare old name."""
    found = []
    requirements = path.name.startswith("requirements") and path.suffix == ".txt"
    for number, line in enumerate(text.splitlines(), 1):
        if requirements and _OLD_NAME.match(line.split("#", 1)[0].strip()):
            found.append(f"{path.name}:{number}: {line.strip()}")
        for command in re.findall(r"pip3? install ([^#`|&;]*)", line):
            if any(_OLD_NAME.match(word) for word in command.split()):
                found.append(f"{path.name}:{number}: {line.strip()}")
    return found


def test_no_file_tells_anyone_to_pip_install_the_old_name() -> None:
    found = []
    for path in _tracked_files():
        if path.is_file() and path != Path(__file__).resolve():
            found += old_name_installs(path, path.read_text(encoding="utf-8", errors="replace"))
    assert not found, "\n".join(found)


def test_the_check_sees_each_form_of_the_old_name() -> None:
    docs = Path("deploy.md")
    assert old_name_installs(docs, "pip install aiolambda")
    assert old_name_installs(docs, "  pip install -U 'aiolambda[x]' boto3")
    assert old_name_installs(docs, "RUN pip install aiolambda==0.1.0 && true")
    assert old_name_installs(Path("requirements.txt"), "aiolambda>=0.1  # runtime")
    assert not old_name_installs(docs, "pip install aiolambda-runtime aws-sam-cli")
    assert not old_name_installs(docs, "pip install -e . && aiolambda invoke app.handler")
    assert not old_name_installs(Path("requirements.txt"), "aiolambda-runtime==0.1.0")
