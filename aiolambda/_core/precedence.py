"""The function's own packages win over the layer's, as Lambda documents.

Lambda puts the task root (the deployment package) before the layers on ``sys.path``.
The runtime's own dependencies (orjson, uvloop) are imported before the handler, so
the task root must come before the layer (and every installed package) before the
first of those imports: afterwards a function that ships its own orjson would
silently get the layer's copy. Both the
runtime and the function then use the function's copy, which must be new enough for
the runtime; :func:`too_old` names the one that is not, and loading the handler
reports it as an init error.

Imported first by ``python -m aiolambda``: it imports nothing a function might ship.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Final

from aiolambda._core import protocol as p  # loaded by the runtime anyway; stdlib only

# The oldest versions the runtime works with; the same floors as pyproject's dependencies.
MINIMUM_VERSIONS: Final = {"orjson": (3, 10), "uvloop": (0, 19)}
_SITE_DIRS: Final = ("site-packages", "dist-packages")  # dist-packages: Debian's Pythons


def lambda_sys_path(task_root: str, opt_dir: str) -> list[str]:
    """The managed runtime's first ``sys.path`` entries, in its order, those that exist.

    ``LAMBDA_TASK_ROOT``, then ``/opt/python/lib/pythonX.Y/site-packages``, then ``/opt/python``.
    """
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    wanted = [
        task_root,
        os.path.join(opt_dir, "python", "lib", version, "site-packages"),
        os.path.join(opt_dir, "python"),
    ]
    return [path for path in wanted if path and os.path.isdir(path)]


def ahead_of_site_packages(paths: Sequence[str]) -> None:
    """Move ``paths`` just ahead of the first site-packages on ``sys.path``, in that order.

    Ahead of every installed package, so the function's copy of one is found first; but
    after the standard library, so the runtime's many stdlib imports do not search the
    task root and the layer first (a directory scanned per import costs cold start time).
    """
    rest = [entry for entry in sys.path if entry not in paths]
    at = next((i for i, entry in enumerate(rest) if entry.endswith(_SITE_DIRS)), len(rest))
    sys.path[:] = [*rest[:at], *paths, *rest[at:]]


def task_root_first(environ: Mapping[str, str]) -> None:
    """Before any runtime import: the task root, then the layer, ahead of installed packages.

    Reads the two paths straight from the environment because it runs before the
    runtime's configuration can be built (building it imports the transport). Before
    the handler is imported, the bootstrap lays ``sys.path`` out from that configuration
    in the managed runtime's full order (the task root first of all).
    """
    task_root = environ.get(p.ENV_TASK_ROOT, "")
    ahead_of_site_packages(lambda_sys_path(task_root, environ.get("AIOLAMBDA_OPT_DIR", "/opt")))


def too_old() -> str | None:
    """One line naming the first runtime dependency loaded in a version the runtime cannot use.

    Only modules already imported are checked (uvloop is not, under asyncio's loop).
    """
    for name, minimum in MINIMUM_VERSIONS.items():
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None)
        if not isinstance(version, str):
            continue
        found = _release(version)
        if found is not None and found < minimum:
            where = getattr(module, "__file__", None) or name
            wanted = ".".join(map(str, minimum))
            return (
                f"aiolambda needs {name}>={wanted}, but {name} {version} comes first on "
                f"sys.path ({os.path.dirname(where)}): ship {name}>={wanted} with the "
                f"function, or leave it out to use the one installed with aiolambda"
            )
    return None


def _release(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
