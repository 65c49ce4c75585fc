"""What AWS's Runtime Interface Emulator (v1.30) does with SnapStart, for both runtimes.

RIE registers ``/runtime/restore/next`` only with ``--enable-init-caching``; without
it the route is a 404, so a SnapStart runtime reports a before-snapshot failure and
exits 64. With it, RIE never restores anything: the pending ``/restore/next`` is
answered with the first invocation's event, the runtime takes that as the restore,
runs its after-restore hooks and polls ``/next``, and the invocation it swallowed
times out. aiolambda and awslambdaric behave alike in both cases.
"""

from __future__ import annotations

import pytest

from tests.rie import Reply, require_rie, requires_rie, rie_function

from ._support import HERE, RUNTIMES

pytestmark = [requires_rie, pytest.mark.usefixtures("driver")]  # over both drivers


def _invoke_once(
    runtime: str, handler: str, *flags: str, snapstart: bool = True
) -> tuple[Reply, str]:
    """Run RIE with ``python -m RUNTIME HANDLER``, invoke it once; the reply and RIE's output."""
    rie = require_rie()
    env = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"} if snapstart else {}
    with rie_function(
        rie, handler, task_root=HERE, runtime=runtime, rie_flags=flags, timeout_s=1, env=env
    ) as function:
        reply = function.invoke(raw=b'{"n": 1}')
    assert function.finished is not None
    return reply, function.finished.output


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rie_without_init_caching_has_no_restore_route(runtime: str) -> None:
    reply, log = _invoke_once(runtime, "fn.snap_hooks.handler")
    assert reply.status == 502, reply.body
    assert b"restore/next" in reply.body and b"404" in reply.body
    assert "hook before-2" in log and "hook after-1!" not in log
    assert "exited: exit status 64" in log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rie_with_init_caching_hands_the_event_to_restore_next(runtime: str) -> None:
    reply, log = _invoke_once(runtime, "fn.snap_hooks.handler", "--enable-init-caching")
    # The after-restore hooks ran, then the invocation (eaten by /restore/next) timed out.
    assert "hook after-2" in log
    assert (reply.status, reply.body) == (200, b"Task timed out after 1.00 seconds")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rie_without_snapstart_serves_the_function(runtime: str) -> None:
    reply, _ = _invoke_once(runtime, "fn.plain.handler", snapstart=False)
    assert reply.status == 200, reply.body
    assert b'"init_type":null' in reply.body.replace(b" ", b"")
