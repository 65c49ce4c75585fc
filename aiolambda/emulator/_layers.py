"""``--layer``: a stand-in for Lambda's ``/opt``, merged from layer zips or directories.

Lambda extracts a function's layers into ``/opt`` in the configured order, a later layer's
file replacing an earlier one's. Without root there is no ``/opt`` to write to: the layers
are merged into a temporary directory instead, and the runtime finds it through
``AIOLAMBDA_OPT_DIR`` (``aiolambda._core.bootstrap.setup_sys_path``), the exec wrapper
through its mapped path, extensions by listing its ``extensions/`` directory.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import zipfile
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

LAMBDA_OPT: Final = "/opt"
EXEC_WRAPPER_ENV: Final = "AWS_LAMBDA_EXEC_WRAPPER"
# Where aiolambda's own layer puts its exec wrapper (``aiolambda layer build``).
AIOLAMBDA_WRAPPER: Final = "aiolambda"
# What the stock runtime's /var/runtime/bootstrap.py is here: aiolambda's runtime, which
# an exec wrapper receives as the script to run, as it gets Lambda's on Lambda.
_STOCK_BOOTSTRAP: Final = """\
# Stands in for the managed runtime's /var/runtime/bootstrap.py under aiolambda's emulator.
import sys

from aiolambda._core.bootstrap import main

sys.exit(main([]))
"""


class LayerError(ValueError):
    """A layer that cannot be used (one line, naming it)."""


def check_layer(path: str) -> str:
    """``path`` if it is a directory or a zip file, else ``LayerError``."""
    if os.path.isdir(path):
        return path
    if not os.path.isfile(path):
        raise LayerError(f"no such file or directory: {path!r}")
    if not zipfile.is_zipfile(path):
        raise LayerError(f"{path!r} is neither a directory nor a zip file")
    return path


def merge_layers(layers: Sequence[str], opt: str) -> None:
    """Unpack ``layers`` into ``opt`` in order, later files replacing earlier ones."""
    for layer in layers:
        if os.path.isdir(layer):
            shutil.copytree(layer, opt, symlinks=True, dirs_exist_ok=True)
        else:
            _extract(layer, opt)


def _extract(path: str, opt: str) -> None:
    # zipfile drops permissions and symbolic links, which layers rely on (executable
    # extensions and wrappers, versioned shared libraries): both are restored here.
    root = os.path.realpath(opt)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = os.path.realpath(os.path.join(root, info.filename))
            if target != root and not target.startswith(root + os.sep):
                raise LayerError(f"{path!r}: {info.filename!r} points outside the layer")
            mode = info.external_attr >> 16
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.lexists(target):
                os.unlink(target)
            if stat.S_ISLNK(mode):
                os.symlink(archive.read(info).decode(), target)
                continue
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            if mode & 0o777:
                os.chmod(target, mode & 0o777)


def local_path(value: str, opt: str) -> str:
    """A path the function names as on Lambda (``/opt/…``), in the stand-in."""
    if value == LAMBDA_OPT or value.startswith(LAMBDA_OPT + "/"):
        return opt + value[len(LAMBDA_OPT) :]
    return value


def extensions(opt: str) -> list[str]:
    """The executables in ``opt/extensions``, in the order Lambda starts them (by name)."""
    directory = os.path.join(opt, "extensions")
    if not os.path.isdir(directory):
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            found.append(path)
    return found


def wrapped_bootstrap(wrapper: str, scratch: str) -> list[str]:
    """The command Lambda's runtime runs with an exec wrapper: WRAPPER PYTHON BOOTSTRAP.py."""
    script = os.path.join(scratch, "bootstrap.py")
    with open(script, "w", encoding="utf-8") as fh:
        fh.write(_STOCK_BOOTSTRAP)
    return [wrapper, sys.executable, script]
