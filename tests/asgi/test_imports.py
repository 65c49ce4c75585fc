"""``aiolambda.asgi`` stays off the runtime's path and imports no framework."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = f"import sys; {code}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_the_runtime_path_does_not_import_the_adapter() -> None:
    modules = _modules_after(
        "import aiolambda.__main__, aiolambda._core.bootstrap, aiolambda._core.runtime, "
        "aiolambda._core.invocation, aiolambda._core.transport_lean"
    )
    assert "aiolambda._core.runtime" in modules
    assert "aiolambda.asgi" not in modules


def test_the_adapter_imports_no_framework() -> None:
    modules = _modules_after("import aiolambda.asgi")
    assert "aiolambda.asgi" in modules
    frameworks = {
        m for m in modules if m.split(".")[0] in {"fastapi", "starlette", "mangum", "anyio"}
    }
    assert frameworks == set()
