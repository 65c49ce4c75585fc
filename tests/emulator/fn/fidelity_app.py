"""Handlers for the emulator's fidelity tests (environment, log framing, REPORT figures).

``FIDELITY_INIT_SECONDS`` makes the module's init take that long, and
``FIDELITY_INIT_TEXT`` is written at import time without a newline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

if os.environ.get("FIDELITY_INIT_TEXT"):
    sys.stdout.write(os.environ["FIDELITY_INIT_TEXT"])
    sys.stdout.flush()
if os.environ.get("FIDELITY_INIT_SECONDS"):
    time.sleep(float(os.environ["FIDELITY_INIT_SECONDS"]))  # a slow init, to be measured

_children: list[subprocess.Popen[bytes]] = []


def python_env(event: Any, context: Any) -> dict[str, str]:
    """The PYTHON* variables the function process sees."""
    return {k: v for k, v in os.environ.items() if k.startswith("PYTHON")}


def no_newline(event: Any, context: Any) -> str:
    sys.stdout.write("printed without a newline")
    sys.stdout.flush()
    return "ok"


def work(event: Any, context: Any) -> float:
    """``{"by": N}`` divides 1 by N (0 fails); ``{"exit": N}`` ends the runtime mid-call."""
    if "exit" in event:
        os._exit(int(event["exit"]))
    return 1 / int(event.get("by", 0))


def allocate(event: Any, context: Any) -> int:
    """Hold ``event["mb"]`` MB of touched memory for the length of the call."""
    block = b"\x01" * (int(event["mb"]) * 1024 * 1024)
    return len(block) // (1024 * 1024)


def allocate_in_child(event: Any, context: Any) -> int:
    """Start a child that touches ``event["mb"]`` MB and stays alive after the call."""
    code = (
        "import sys\n"
        f"block = b'\\x01' * ({int(event['mb'])} * 1024 * 1024)\n"
        "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    child.stdout.readline()  # the child holds its memory from here on
    _children.append(child)
    return child.pid
