"""The one place tests and benchmarks build the environment a runtime process gets.

Lambda starts a runtime with its own variables and nothing of the machine it runs on:
in particular no ``PYTHONUNBUFFERED`` or ``PYTHONDONTWRITEBYTECODE``, which this
development machine sets and which would hide output buffering bugs. Every test that
starts a runtime process builds its environment here.

Kept free of aiolambda imports: ``benchmarks/_harness.py`` loads it by path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Python variables a test may pass on because the interpreter needs them to find its
# packages (a checkout run without installing, a pyenv shim); every other PYTHON*
# variable (PYTHONUNBUFFERED, PYTHONDONTWRITEBYTECODE, PYTHONWARNINGS, ...) is dropped.
_KEPT_PYTHON = frozenset({"PYTHONPATH"})
_KEPT_HOST = ("PATH", "HOME", "PYENV_VERSION", "VIRTUAL_ENV", "TMPDIR")
# Set by the suite's `driver` fixture (tests/conftest.py) to run a tier over both drivers.
_KEPT_AIOLAMBDA = ("AIOLAMBDA_DRIVER",)


def scrubbed(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: ours) without the PYTHON* variables Lambda never sets."""
    source = os.environ if environ is None else environ
    return {
        key: value
        for key, value in source.items()
        if not key.startswith("PYTHON") or key in _KEPT_PYTHON
    }


def lambda_environ(
    *,
    runtime_api: str | None = None,
    handler: str | None = None,
    task_root: str | None = None,
    function_name: str = "test_function",
    **extra: str,
) -> dict[str, str]:
    """Lambda's environment for a runtime process, built explicitly.

    Only ``PATH``, ``HOME`` and what the interpreter needs to find its packages come
    from this machine; no ``PYTHON*`` variable but ``PYTHONPATH``, no ``AWS_*``
    credential. ``extra`` overrides anything (``PYTHONPATH`` may be set through it).
    """
    env = {key: os.environ[key] for key in _KEPT_HOST + _KEPT_AIOLAMBDA if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(scrubbed({k: v for k, v in os.environ.items() if k in _KEPT_PYTHON}))
    env.update(
        {
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]00000000000000000000000000000000",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        }
    )
    if runtime_api is not None:
        env["AWS_LAMBDA_RUNTIME_API"] = runtime_api
    if handler is not None:
        env["_HANDLER"] = handler
    if task_root is not None:
        env["LAMBDA_TASK_ROOT"] = task_root
    env.update(extra)
    return env
