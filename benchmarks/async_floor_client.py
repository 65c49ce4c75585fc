"""The asyncio floor: the least an event-loop runtime can do per invocation.

An ``asyncio.Protocol`` on uvloop, one keep-alive connection, pre-built requests,
minimal parsing (find the head's end, Content-Length, the request id) and orjson
``loads``/``dumps`` of each event. By default a poller coroutine awaits one future
per request, the shape of a real runtime; ``--callbacks`` drives everything from
``data_received`` instead (no task switch at all). Compared with ``floor_client.py``
(blocking socket) it prices the event loop; compared with aiolambda it leaves
aiolambda's own work (HTTP parsing and checks, context, deadline, error handling).
"""

from __future__ import annotations

import asyncio
import os
import sys

import orjson

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"
POST_PREFIX = b"POST /2018-06-01/runtime/invocation/"
POST_MIDDLE = (
    b"/response HTTP/1.1\r\nHost: runtime\r\nContent-Type: application/json\r\nContent-Length: "
)
REQUEST_ID = b"\r\nlambda-runtime-aws-request-id:"
CONTENT_LENGTH = b"\r\ncontent-length:"


class _Client(asyncio.Protocol):
    def __init__(self, callbacks: bool) -> None:
        self.callbacks = callbacks
        self.buf = bytearray()
        self.need = -1  # body bytes still expected; -1 while reading a head
        self.head = b""
        self.waiter: asyncio.Future[tuple[bytes, bytes]] | None = None
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.posting = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.callbacks:
            self.transport.write(NEXT)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self.head = bytes(buf[: end + 2]).lower()
                del buf[: end + 4]
                at = self.head.find(CONTENT_LENGTH)
                self.need = (
                    int(self.head[at + len(CONTENT_LENGTH) : self.head.find(b"\r\n", at + 2)])
                    if at >= 0
                    else 0
                )
            if len(buf) < self.need:
                return
            body = bytes(buf[: self.need])
            del buf[: self.need]
            self.need = -1
            if self.callbacks:
                self._step(self.head, body)
            elif self.waiter is not None:
                self.waiter.set_result((self.head, body))
                self.waiter = None

    def _step(self, head: bytes, body: bytes) -> None:
        if self.posting:
            self.posting = False
            self.transport.write(NEXT)
            return
        self.posting = True
        self.transport.write(_answer(head, body))

    async def request(self, data: bytes) -> tuple[bytes, bytes]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


def _answer(head: bytes, event: bytes) -> bytes:
    at = head.find(REQUEST_ID) + len(REQUEST_ID)
    request_id = head[at : head.find(b"\r\n", at)].strip()
    answer = orjson.dumps(orjson.loads(event))
    return b"%s%s%s%d\r\n\r\n%s" % (POST_PREFIX, request_id, POST_MIDDLE, len(answer), answer)


async def serve(host: str, port: int, callbacks: bool) -> None:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: _Client(callbacks), host, port)
    if callbacks:
        await client.lost
        return
    while True:
        head, event = await client.request(NEXT)
        await client.request(_answer(head, event))


def main() -> int:
    import uvloop

    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(host, int(port), "--callbacks" in sys.argv[1:]))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (ConnectionError, KeyboardInterrupt):
        raise SystemExit(0) from None
