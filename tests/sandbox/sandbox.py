"""A Lambda-like sandbox: AWS's RIE and the layer's wrapper in a chroot that looks like Lambda.

What a function sees, as on a managed python3.12 runtime: the layer read-only at
``/opt``, the function read-only at ``/var/task``, the interpreter at ``/var/lang``
(with Lambda's ``LD_LIBRARY_PATH``), ``/var/runtime/bootstrap`` (a stand-in of the
managed runtime's, which execs ``$AWS_LAMBDA_EXEC_WRAPPER`` with the interpreter and
``/var/runtime/bootstrap.py``), a read-only root holding only ``/usr`` and ``/etc``
of this machine, a writable ``/tmp``, uid 993 without capabilities, a 128 MB memory
limit for everything in the sandbox (a cgroup v1 memory group), and only Lambda's
variables (``env -i``). No ``HOME``, no ``/root``, no ``/work``: nothing of the
development machine's Python is reachable.

Built with a mount namespace (``unshare -m``), bind mounts and ``chroot``, as root.
:func:`missing` says what this machine lacks; the tier's conftest skips (or, in CI,
fails) on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.rie import (
    INVOKE_PATH,
    INVOKE_TIMEOUT_S,
    SKIP_REASON,
    START_ATTEMPTS,
    START_TIMEOUT_S,
    Finished,
    Reply,
    _children,
    free_port,
    lost_port_race,
    rie_path,
)

PYTHON = "3.12"
UID = 993  # an unprivileged uid, as Lambda's sbx_user1051 is
GID = 990
MEMORY_MB = 128
MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
RIE_IN_SANDBOX = "/var/rapid/aws-lambda-rie"
# Lambda's own values on the python3.12 runtime.
LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"

# A stand-in of the managed runtime's /var/runtime/bootstrap (written for these tests).
BOOTSTRAP = """\
#!/bin/sh
if [ -z "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
    exec /var/lang/bin/python3.12 /var/runtime/bootstrap.py
fi
if [ ! -f "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
    echo "$AWS_LAMBDA_EXEC_WRAPPER: does not exist"
    exit 127
fi
if [ ! -x "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
    echo "$AWS_LAMBDA_EXEC_WRAPPER: is not an executable"
    exit 126
fi
exec "$AWS_LAMBDA_EXEC_WRAPPER" /var/lang/bin/python3.12 /var/runtime/bootstrap.py
"""
# Stands in for the stock runtime loop: aiolambda's wrapper must never let it run.
BOOTSTRAP_PY = "import sys\nsys.exit('the stock runtime (/var/runtime/bootstrap.py) ran')\n"

# Run as root by `unshare -m sh -c SCRIPT sh ROOT CGROUP OPT TASK LANG RUNTIME RIE UID GID --
# VARIABLE=VALUE... COMMAND...`: join the memory group, build the new root, then start
# COMMAND (RIE) in it, unprivileged, with only those variables.
_SCRIPT = """\
set -eu
root=$1 cgroup=$2 opt=$3 task=$4 lang=$5 runtime=$6 rie=$7 uid=$8 gid=$9
shift 10
echo $$ > "$cgroup/cgroup.procs"
mount -t tmpfs -o mode=0755 sandbox-root "$root"
cd "$root"
mkdir -p usr etc dev proc tmp opt var/task var/lang var/runtime var/rapid
touch var/rapid/aws-lambda-rie
for link in bin lib lib64 sbin; do
    if [ -L "/$link" ]; then ln -s "$(readlink "/$link")" "$link"; fi
done
ro_bind() {
    mount --rbind "$1" "$2"
    mount -o remount,bind,ro "$2"
}
ro_bind /usr usr
ro_bind /etc etc
ro_bind "$opt" opt
ro_bind "$task" var/task
ro_bind "$lang" var/lang
ro_bind "$runtime" var/runtime
ro_bind "$rie" var/rapid/aws-lambda-rie
mount --rbind /dev dev
mount -t proc proc proc
mount -t tmpfs -o mode=1777,size=512m sandbox-tmp tmp
mount -o remount,ro "$root"
exec chroot "$root" setpriv --reuid="$uid" --regid="$gid" --clear-groups \\
    --inh-caps=-all --bounding-set=-all env -i "$@"
"""


def interpreter_prefix() -> Path | None:
    """pyenv's Python 3.12 installation (bound at /var/lang), or None."""
    found = shutil.which("pyenv")
    if found is not None:
        done = subprocess.run(
            [found, "prefix", PYTHON], capture_output=True, text=True, timeout=60, check=False
        )
        prefix = Path(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
        if prefix is not None and (prefix / "bin" / f"python{PYTHON}").is_file():
            return prefix
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(root.glob(f"versions/{PYTHON}.*/bin/python{PYTHON}"), reverse=True)
    return candidates[0].parents[1] if candidates else None


def memory_parent() -> Path | None:
    """This process's own memory cgroup (v1), under which the sandbox's group is made."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                parent = MEMORY_ROOT / path.lstrip("/")
                return parent if (parent / "memory.limit_in_bytes").is_file() else None
    return None


def missing() -> str | None:
    """What this machine lacks for the sandbox, as one reason; None when it has it all."""
    if os.uname().sysname != "Linux":
        return "the sandbox needs Linux"
    if os.geteuid() != 0:
        return "the sandbox needs root (mount namespaces, bind mounts, chroot, a cgroup)"
    for tool in ("unshare", "setpriv", "chroot", "mount"):
        if shutil.which(tool) is None:
            return f"the sandbox needs {tool} (util-linux / coreutils) on PATH"
    if rie_path() is None:
        return SKIP_REASON
    if interpreter_prefix() is None:
        return f"no Python {PYTHON} to bind at /var/lang (pyenv install {PYTHON})"
    if memory_parent() is None:
        return f"no cgroup v1 memory controller under {MEMORY_ROOT} for the {MEMORY_MB} MB limit"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs probe /mnt"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"unshare -m cannot mount here: {probe.stderr.strip()}"
    return None


def lambda_variables(handler: str, timeout_s: int, **extra: str) -> dict[str, str]:
    """Lambda's environment on python3.12 with the layer's wrapper, and nothing else."""
    name = "sandbox_function"
    env = {
        "PATH": PATH,
        "LD_LIBRARY_PATH": LD_LIBRARY_PATH,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{PYTHON}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]00000000000000000000000000000000",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/aiolambda",
    }
    env.update(extra)
    return env


def runtime_dir(directory: Path) -> Path:
    """The stand-in /var/runtime: bootstrap and bootstrap.py."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bootstrap").write_text(BOOTSTRAP)
    (directory / "bootstrap").chmod(0o755)
    (directory / "bootstrap.py").write_text(BOOTSTRAP_PY)
    return directory


class Sandbox:
    """One function under RIE in the sandbox: started, invoked one at a time, stopped.

    Every wait is bounded; :meth:`stop` kills RIE and the runtime and removes the
    memory group. ``finished`` then holds the replies and RIE's whole output.
    """

    def __init__(
        self,
        *,
        opt: Path,
        task: Path,
        runtime: Path,
        handler: str = "app.handler",
        timeout_s: int = 10,
        env: Mapping[str, str] | None = None,
    ) -> None:
        lang, rie = interpreter_prefix(), rie_path()
        parent = memory_parent()
        assert lang is not None and rie is not None and parent is not None, missing()
        self.port, self._api_port = free_port(), free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="aiolambda-sandbox-")
        self.cgroup = parent / f"aiolambda-sandbox-{os.getpid()}-{self.port}"
        self.cgroup.mkdir()
        limit = str(MEMORY_MB * 1024 * 1024)
        (self.cgroup / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(OSError):  # swap accounting may be off: then there is no swap
            (self.cgroup / "memory.memsw.limit_in_bytes").write_text(limit)
        root = Path(self._dir.name, "root")
        root.mkdir()
        variables = lambda_variables(handler, timeout_s, **(env or {}))
        rie_command = [
            RIE_IN_SANDBOX,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{self._api_port}",
            "/var/runtime/bootstrap",
        ]
        self.command = [
            "unshare", "-m", "--propagation", "private", "sh", "-c", _SCRIPT, "sh",
            str(root), str(self.cgroup), str(opt), str(task), str(lang), str(runtime), str(rie),
            str(UID), str(GID),
            "--", *(f"{k}={v}" for k, v in variables.items()), *rie_command,
        ]  # fmt: skip
        self.replies: list[Reply] = []
        self.finished: Finished | None = None
        self._lines: list[bytes] = []
        self._changed = threading.Condition()
        self._eof = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INVOKE_PATH}"

    def start(self) -> Sandbox:
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start()
            except RuntimeError as exc:
                if attempt == START_ATTEMPTS - 1 or not lost_port_race(str(exc)):
                    raise
            # Another process took a port between free_port() and RIE's bind: new ports.
            self._new_ports()
            self._lines.clear()
            self._eof = False
        raise AssertionError("unreachable")

    def _new_ports(self) -> None:
        old = {f"127.0.0.1:{self.port}", f"127.0.0.1:{self._api_port}"}
        self.port, self._api_port = free_port(), free_port()
        fresh = iter((f"127.0.0.1:{self.port}", f"127.0.0.1:{self._api_port}"))
        self.command = [next(fresh) if part in old else part for part in self.command]

    def _start(self) -> Sandbox:
        self._proc = subprocess.Popen(
            self.command,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self._proc,), daemon=True)
        self._reader.start()
        # RIE gives no readiness signal: connect until its port is open (bounded).
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                self._reader.join(10)
                raise RuntimeError(f"the sandbox exited at start:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"RIE did not listen:\n{self.output()}") from None
                time.sleep(0.02)

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return b"".join(self._lines).decode("utf-8", "replace")

    def wait_for_line(self, prefix: str, timeout: float = INVOKE_TIMEOUT_S) -> str:
        """The first output line starting with ``prefix`` (waited for, bounded)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for raw in self._lines:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    if line.startswith(prefix):
                        return line
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    raise AssertionError(f"no line starting {prefix!r} in:\n{self.output()}")
                self._changed.wait(remaining)

    def invoke(self, event: Any = None) -> Reply:
        import json

        request = urllib.request.Request(self.url, data=json.dumps(event).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_S) as response:
                reply = Reply(response.status, response.read())
        except urllib.error.HTTPError as exc:
            reply = Reply(exc.code, exc.read())
        self.replies.append(reply)
        return reply

    def pids(self) -> list[int]:
        """The processes in the sandbox's memory group (RIE, the runtime, their children)."""
        text = (self.cgroup / "cgroup.procs").read_text()
        return [int(pid) for pid in text.split()]

    def stop(self) -> Finished:
        if self.finished is not None:
            return self.finished
        if self._proc is not None:
            for pid in [*_children(self._proc.pid), *self.pids()]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)
            self._proc = None
        if self._reader is not None:
            self._reader.join(10)
        # A killed process leaves the group once it is reaped: bounded retries.
        deadline = time.monotonic() + 10
        while self.cgroup.exists():
            try:
                self.cgroup.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._dir.cleanup()
        self.finished = Finished(self.replies, self.output())
        return self.finished


@contextlib.contextmanager
def sandbox(**kwargs: Any) -> Iterator[Sandbox]:
    """A started :class:`Sandbox`, always stopped at the end."""
    box = Sandbox(**kwargs)
    try:
        yield box.start()
    finally:
        box.stop()
