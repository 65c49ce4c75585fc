"""AWS's own RAPID (the Runtime Interface Emulator) accepts aiolambda's streamed responses.

RIE does not stream to its caller (it buffers the body and ignores the error trailers),
but its Runtime API is RAPID's code: it must accept the chunked ``/response`` with the
streaming mode header and the trailers, and keep the environment serving afterwards.
Skipped when the RIE binary is absent (set ``AIOLAMBDA_RIE``).
"""

from __future__ import annotations

from pathlib import Path

from tests.rie import AIOLAMBDA, RieFunction, require_rie

HANDLER = """
async def handler(event, context):
    yield b"hello "
    yield "world"
    if event.get("fail"):
        raise ValueError("mid-stream")
"""


def test_rapid_accepts_streamed_responses_and_error_trailers(tmp_path: Path) -> None:
    (tmp_path / "sapp.py").write_text(HANDLER)
    rie = require_rie()
    function = RieFunction(rie, "sapp.handler", task_root=tmp_path, runtime=AIOLAMBDA, timeout_s=5)
    try:
        function.start()
        assert function.invoke(raw=b"{}").body == b"hello world"
        # The error trailers are accepted (RIE's buffered invoke path ignores them) ...
        assert function.invoke(raw=b'{"fail": true}').body == b"hello world"
        # ... and the same runtime process serves the next invocation.
        assert function.invoke(raw=b"{}").body == b"hello world"
    finally:
        text = function.stop().output
    assert [reply.status for reply in function.replies] == [200, 200, 200]
    assert "[ERROR] ValueError: mid-stream" in text
    assert "was refused" not in text and "Runtime API failure" not in text
    assert text.count("INIT RTDONE") == 1  # one runtime process for all three
