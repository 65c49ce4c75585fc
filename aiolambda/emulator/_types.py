"""Public value types of the emulator: what it recorded and what an invoke returned."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the runtime made to the Runtime or Extensions API.

    ``headers`` and ``trailers`` have lower-case names. ``status`` is the status the
    emulator answered; a long-poll cut short (the runtime hung up, or the emulator
    shut down) is recorded as 500. ``time`` is when the request arrived
    (``time.time()``); requests are recorded in the order they were answered.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int
    time: float
    trailers: Mapping[str, str] = field(default_factory=dict)
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """The outcome of one invocation, as a caller of the Invoke API would see it.

    ``status`` is the Invoke API status (200, or 202/204 for ``Event``/``DryRun``).
    ``function_error`` is ``"Unhandled"`` whenever the function failed (an error
    post, an init error, a timeout, a crashed runtime), else ``None``; ``error_type``
    names the failure (e.g. ``Sandbox.Timedout``). ``logs`` is the runtime's output
    during the invocation framed by ``START``/``END``/``REPORT`` lines (spawn mode).
    """

    status: int
    payload: bytes
    request_id: str
    content_type: str = "application/json"
    function_error: str | None = None
    error_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    logs: str = ""
    trailers: Mapping[str, str] = field(default_factory=dict)
    streamed: bool = False
    duration_ms: float = 0.0

    def json(self) -> Any:
        """The payload decoded as JSON (raises ``ValueError`` if it is not JSON)."""
        return json.loads(self.payload)

    @property
    def ok(self) -> bool:
        """True when the function succeeded."""
        return self.function_error is None
