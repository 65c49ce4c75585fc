"""``aiolambda invoke --layer dist/<zip>``: the built layer tried locally in one command."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.lambda_env import scrubbed

if TYPE_CHECKING:
    from pathlib import Path

    from aiolambda._layer import LayerBuild

APP = """\
import os

import aiolambda


def handler(event, context):
    return {
        "aiolambda": os.path.dirname(aiolambda.__file__),
        "opt": os.environ["AIOLAMBDA_OPT_DIR"],
        "wrapper": os.environ.get("AWS_LAMBDA_EXEC_WRAPPER"),
    }
"""


def test_invoke_with_the_built_layer_runs_its_aiolambda(
    host_layer: LayerBuild, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(APP)
    proc = subprocess.run(
        [sys.executable, "-m", "aiolambda.cli", "invoke", "--layer", str(host_layer.path),
         "app.handler"],
        cwd=tmp_path, env=scrubbed(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    # The layer's own copy of aiolambda ran (through its exec wrapper), not this checkout's.
    assert got["aiolambda"].startswith(got["opt"] + "/python/lib/")
    assert got["wrapper"] == "/opt/aiolambda"
    assert (
        "aiolambda: the layer ships aiolambda's exec wrapper: running with "
        "AWS_LAMBDA_EXEC_WRAPPER=/opt/aiolambda" in proc.stderr
    )
