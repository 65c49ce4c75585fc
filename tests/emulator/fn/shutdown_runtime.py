"""A standard-library runtime that watches what its pending ``/next`` gets at shutdown.

It registers an internal extension (so shutdown is SIGTERM, then SIGKILL after the
grace), answers one invocation, asks ``/next`` again and holds SIGTERM blocked until
that ``/next`` is pending. Lambda leaves the ``/next`` unanswered while it shuts the
runtime down: a runtime that reads an answer there says so and exits 3.
"""

from __future__ import annotations

import http.client
import os
import signal

NEXT = "/2018-06-01/runtime/invocation/next"


def main() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.request(
        "POST",
        "/2020-01-01/extension/register",
        body=b'{"events": []}',
        headers={"Lambda-Extension-Name": "shutdown-watcher"},
    )
    conn.getresponse().read()
    conn.request("GET", NEXT)
    reply = conn.getresponse()
    event = reply.read()
    request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=event)
    conn.getresponse().read()
    conn.request("GET", NEXT)
    signal.sigwait({signal.SIGTERM})
    print("SIGTERM with /next pending", flush=True)
    reply = conn.getresponse()  # blocks until SIGKILL unless the emulator answers
    print(f"/next answered during shutdown: {reply.status}", flush=True)
    raise SystemExit(3)


if __name__ == "__main__":
    main()
