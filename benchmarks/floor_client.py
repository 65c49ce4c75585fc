"""The floor: the least a Python process can do per invocation over the Runtime API.

One blocking keep-alive socket, requests assembled from pre-built byte strings,
the event echoed back untouched (or, with ``--orjson``, decoded and re-encoded
with orjson, as any real runtime must). No handler lookup, no context object, no
error handling beyond "stop": it is a yardstick, not a runtime.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"
POST_PREFIX = b"POST /2018-06-01/runtime/invocation/"
POST_MIDDLE = (
    b"/response HTTP/1.1\r\nHost: runtime\r\nContent-Type: application/json\r\nContent-Length: "
)
REQUEST_ID = b"\r\nlambda-runtime-aws-request-id:"
CONTENT_LENGTH = b"\r\ncontent-length:"


class _Reader:
    """Reads HTTP/1.1 responses (Content-Length framed) from a blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def response(self) -> tuple[bytes, bytes]:
        """Return (lower-cased head, body) of the next response, skipping 1xx ones."""
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                # 64 KiB stays below malloc's mmap threshold: no mmap/munmap per call.
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                buf += chunk
                end = buf.find(b"\r\n\r\n")
            head = bytes(buf[: end + 2]).lower()
            del buf[: end + 4]
            if not head.startswith(b"http/1.1 1"):
                break
        at = head.find(CONTENT_LENGTH)
        length = int(head[at + len(CONTENT_LENGTH) : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
        if len(buf) < length:
            # Read the rest of a large body straight into one buffer.
            body = bytearray(length)
            have = len(buf)
            body[:have] = buf
            buf.clear()
            view = memoryview(body)
            while have < length:
                got = self.sock.recv_into(view[have:])
                if not got:
                    raise ConnectionError("server closed the connection")
                have += got
            return head, bytes(body)
        body_bytes = bytes(buf[:length])
        del buf[:length]
        return head, body_bytes


def serve(address: str, transform: Callable[[bytes], bytes]) -> None:
    """Poll ``/next`` and echo each event through ``transform`` until the server goes."""
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = _Reader(sock)
    send, sendmsg = sock.sendall, sock.sendmsg
    while True:
        send(NEXT)
        head, event = reader.response()
        at = head.find(REQUEST_ID) + len(REQUEST_ID)
        request_id = head[at : head.find(b"\r\n", at)].strip()
        answer = transform(event)
        post = b"%s%s%s%d\r\n\r\n" % (POST_PREFIX, request_id, POST_MIDDLE, len(answer))
        sent = sendmsg((post, answer))
        if sent < len(post) + len(answer):
            send((post + answer)[sent:])
        reader.response()


def main() -> int:
    address = os.environ["AWS_LAMBDA_RUNTIME_API"]
    if "--orjson" in sys.argv[1:]:
        import orjson

        loads, dumps = orjson.loads, orjson.dumps
        serve(address, lambda event: dumps(loads(event)))
    else:
        serve(address, lambda event: event)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (ConnectionError, KeyboardInterrupt):
        raise SystemExit(0) from None
