"""A local AWS Lambda: the Runtime API, the Invoke API and a supervised runtime process.

Used by ``aiolambda serve``/``aiolambda invoke``, by :mod:`aiolambda.testing` and by
this project's tests and benchmarks. Never imported by the runtime itself.
"""

from __future__ import annotations

from aiolambda.emulator._emulator import Emulator
from aiolambda.emulator._types import InvokeResult, RecordedRequest

__all__ = ["Emulator", "InvokeResult", "RecordedRequest"]
