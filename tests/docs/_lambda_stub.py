"""A stand-in for the Lambda control-plane API on 127.0.0.1, for the AWS CLI to talk to.

It answers ``GetFunctionConfiguration`` with a configuration the test chooses and
records the body of ``UpdateFunctionConfiguration``, so a test can run the exact
`aws` commands a doc prints and see what they would have asked Lambda to do. Only
what those two calls need; anything else is a 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_PREFIX = "/2015-03-31/functions/"


@dataclass
class LambdaStub:
    configuration: dict[str, Any]
    updates: list[dict[str, Any]] = field(default_factory=list)
    endpoint: str = ""


@contextmanager
def lambda_stub(configuration: dict[str, Any]) -> Iterator[LambdaStub]:
    stub = LambdaStub(configuration)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _is_configuration(self) -> bool:
            name = stub.configuration["FunctionName"]
            return self.path.split("?", 1)[0] == f"{_PREFIX}{name}/configuration"

        def do_GET(self) -> None:
            if self._is_configuration():
                self._answer(200, stub.configuration)
            else:
                self._answer(404, {"Type": "User", "message": "Function not found"})

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self._is_configuration():
                stub.updates.append(body)
                self._answer(200, stub.configuration)
            else:
                self._answer(404, {"Type": "User", "message": "Function not found"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def aws_env(base: dict[str, str], home: Path, endpoint: str) -> dict[str, str]:
    """``base`` with every AWS variable replaced: fake keys, and every call to ``endpoint``."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",  # fake: the stub checks no signature
        AWS_SECRET_ACCESS_KEY="not-a-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    return env
