"""AWS's Runtime Interface Emulator as an outside oracle for the emulator's fidelity items.

The same function, run by awslambdaric under RIE and under aiolambda's emulator, must
give the same oversized-response error word for word, the same REPORT fields (RIE's
figures for memory are placeholders; the fields are what is compared) and an END
line at the start of a line. Where RIE and Lambda's Invoke API differ (non-JSON
payloads, X-Amz-Function-Error, 502 for init errors), the emulator follows Lambda:
see docs/emulator.md and tests/emulator/test_fidelity.py.
"""

from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager

from aiolambda.emulator import Emulator
from tests.rie import AWSLAMBDARIC, RieFunction, require_rie, requires_rie, rie_function

from ._support import HERE, ric

pytestmark = requires_rie
FIELDS = re.compile(r"\t([A-Za-z ]+): ")


def _rie(handler: str) -> AbstractContextManager[RieFunction]:
    """awslambdaric running ``handler`` (a module under this directory) under RIE."""
    rie = require_rie()
    return rie_function(rie, handler, task_root=HERE, runtime=AWSLAMBDARIC, command=ric(handler))


async def test_oversized_response_error_is_word_for_word_rie_s() -> None:
    handler = "fn.sync_app.huge"
    with _rie(handler) as function:
        reply = function.invoke({})
    async with Emulator(handler, task_root=HERE, bootstrap=ric(handler)) as emu:
        result = await emu.invoke({})
    assert reply.status == 502  # RIE's status for a failed invoke; Lambda's Invoke API says 200
    assert result.json() == json.loads(reply.body)
    assert result.function_error == "Unhandled"


async def test_report_fields_and_end_line_match_rie() -> None:
    handler = "fn.fidelity_app.no_newline"
    with _rie(handler) as function:
        first = function.invoke({})
        # RIE prints END and REPORT after answering: wait for them before the next invoke.
        first_end = function.line_starting("END RequestId: ")
        first_report = function.line_starting("REPORT RequestId: ")
        second = function.invoke({})
        function.line_starting("END RequestId: ")
        second_report = function.line_starting("REPORT RequestId: ")
    assert function.finished is not None
    assert [(r.status, r.body) for r in (first, second)] == [(200, b'"ok"')] * 2
    assert "printed without a newline" in function.finished.output
    rie_fields = [set(FIELDS.findall(line)) for line in (first_report, second_report)]
    async with Emulator(handler, task_root=HERE, bootstrap=ric(handler)) as emu:
        results = [await emu.invoke({}), await emu.invoke({})]
    ours = [set(FIELDS.findall(r.logs.splitlines()[-1])) for r in results]
    assert ours == rie_fields  # Init Duration on the first only; Max Memory Used on both
    assert "Init Duration" in ours[0] and "Max Memory Used" in ours[1]
    assert first_end.split(":", 1)[0] == results[0].logs.splitlines()[-2].split(":", 1)[0]
