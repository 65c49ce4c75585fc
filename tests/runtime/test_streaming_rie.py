"""AWS's own RAPID (the Runtime Interface Emulator) accepts aiolambda's streamed responses.

RIE does not stream to its caller (it buffers the body and ignores the error trailers),
but its Runtime API is RAPID's code: it must accept the chunked ``/response`` with the
streaming mode header and the trailers, and keep the environment serving afterwards.
Skipped when the RIE binary is absent (set ``AIOLAMBDA_RIE``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RIE = Path(os.environ.get("AIOLAMBDA_RIE") or ROOT.parent / "shared" / "tools" / "aws-lambda-rie")

HANDLER = """
async def handler(event, context):
    yield b"hello "
    yield "world"
    if event.get("fail"):
        raise ValueError("mid-stream")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _invoke(port: int, body: bytes) -> bytes:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=20) as resp:
        return bytes(resp.read())


@pytest.mark.skipif(not RIE.is_file(), reason=f"RIE not found at {RIE} (set AIOLAMBDA_RIE)")
def test_rapid_accepts_streamed_responses_and_error_trailers(tmp_path: Path) -> None:
    (tmp_path / "sapp.py").write_text(HANDLER)
    invoke_port, api_port = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "AWS_LAMBDA_RUNTIME_API")
    }
    env.update(
        {"_HANDLER": "sapp.handler", "LAMBDA_TASK_ROOT": str(tmp_path),
         "AWS_LAMBDA_FUNCTION_TIMEOUT": "5", "PYTHONPATH": str(ROOT)}
    )  # fmt: skip
    log = (tmp_path / "rie.log").open("wb")
    proc = subprocess.Popen(
        [str(RIE), "--runtime-interface-emulator-address", f"127.0.0.1:{invoke_port}",
         "--runtime-api-address", f"127.0.0.1:{api_port}",
         sys.executable, "-m", "aiolambda", "sapp.handler"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(200):  # bounded: RIE listens within a few hundred ms
            try:
                socket.create_connection(("127.0.0.1", invoke_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert _invoke(invoke_port, b"{}") == b"hello world"
        # The error trailers are accepted (RIE's buffered invoke path ignores them) ...
        assert _invoke(invoke_port, b'{"fail": true}') == b"hello world"
        # ... and the same runtime process serves the next invocation.
        assert _invoke(invoke_port, b"{}") == b"hello world"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    text = (tmp_path / "rie.log").read_text(errors="replace")
    assert "[ERROR] ValueError: mid-stream" in text
    assert "was refused" not in text and "Runtime API failure" not in text
    assert text.count("INIT RTDONE") == 1  # one runtime process for all three
