"""Fresh virtual environments built from exactly what a document says to install.

Tests that check an install instruction (the wheel under its distribution name, an
example's requirements file) run their commands in one of these, never in the test
suite's own environment: that one holds every dev dependency and would hide a
missing requirement. No ``--system-site-packages`` for the same reason.

Creating one needs the package index (pip downloads what is not in its cache); the
tests that use them carry the ``index`` marker. Each distinct install is built once
per test session and shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.lambda_env import scrubbed

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints.txt"
PIP_TIMEOUT_S = 300


def venv_env(venv: Path) -> dict[str, str]:
    """This machine's environment with ``venv`` activated and nothing of ours leaking in."""
    env = scrubbed()
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return env


class VenvCache:
    """Virtual environments keyed by the pip arguments that filled them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[object, Path] = {}

    def get(self, *pip_args: str, key: object = None) -> Path:
        """A venv where ``pip install PIP_ARGS...`` ran in the repository's root.

        One venv per ``key`` (default: the arguments), so that installs which differ
        only in the path of identical requirement files share one.
        """
        key = key if key is not None else tuple(pip_args)
        if key not in self._made:
            venv = self.root / f"venv{len(self._made)}"
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                timeout=120,
                env=scrubbed(),
            )
            done = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *pip_args],
                capture_output=True,
                text=True,
                timeout=PIP_TIMEOUT_S,
                check=False,
                env=venv_env(venv),
                cwd=REPO,
            )
            assert done.returncode == 0, f"pip install {' '.join(pip_args)}:\n{done.stderr}"
            self._made[key] = venv
        return self._made[key]
