"""``aiolambda serve --reload``: an edit reaches the next invocation through a new init."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from ._serve import serve

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.timeout(90)

APP = """\
import os
import socket

VERSION = "v1"


def handler(event, context):
    if "port" in event:  # hold the invocation until the test lets it go
        with socket.create_connection(("127.0.0.1", event["port"])) as conn:
            conn.sendall(b"in")
            conn.recv(2)
    return {"version": VERSION, "pid": os.getpid()}
"""


async def _invoke(http: aiohttp.ClientSession, url: str, event: Any = None) -> Any:
    async with http.post(url, json=event or {}) as response:
        assert response.status == 200
        return await response.json()


def _edit(app: Path, new: str) -> None:
    # A save within the second the first runtime compiled the file, keeping its size:
    # to the import system (bytecode records size and whole seconds) it looks unchanged.
    text, before = app.read_text(), app.stat()
    assert len(new) == len('"v1"')
    app.write_text(text.replace('"v1"', new))
    os.utime(app, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.aiolambda_runtime
async def test_an_edit_reaches_the_next_invocation_through_a_new_init(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    args = ("app.handler", "--reload", "--task-root", str(tmp_path))
    async with serve(*args) as served, aiohttp.ClientSession() as http:
        await served.wait_line("aiolambda: watching ")
        first = await _invoke(http, served.url)
        assert first["version"] == "v1"
        _edit(app, '"v2"')
        line = await served.wait_line("aiolambda: reloading: ")
        assert line.startswith("aiolambda: reloading: app.py changed;"), line
        second = await _invoke(http, served.url)
        assert second["version"] == "v2" and second["pid"] != first["pid"]
    assert served.stderr.decode().count("Init Duration: ") == 2  # two inits, one each


@pytest.mark.aiolambda_runtime
async def test_an_invocation_in_flight_finishes_on_the_old_code(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    arrived: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readexactly(2) == b"in"
        await arrived.put(writer)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    args = ("app.handler", "--reload", "--task-root", str(tmp_path), "--timeout", "60")
    async with server, serve(*args) as served, aiohttp.ClientSession() as http:
        await served.wait_line("aiolambda: watching ")
        held = asyncio.create_task(_invoke(http, served.url, {"port": port}))
        writer = await arrived.get()  # the handler is running
        _edit(app, '"v2"')
        await served.wait_line("aiolambda: reloading: ")
        queued = asyncio.create_task(_invoke(http, served.url))
        writer.write(b"go")
        await writer.drain()
        old, new = await held, await queued
        writer.close()
        assert old["version"] == "v1"
        assert new["version"] == "v2" and new["pid"] != old["pid"]


@pytest.mark.aiolambda_runtime
async def test_reload_dir_watches_another_directory(tmp_path: Path) -> None:
    code, conf = tmp_path / "code", tmp_path / "conf"
    code.mkdir()
    conf.mkdir()
    (conf / "settings.json").write_text('{"greeting": "hi"}')
    (code / "app.py").write_text(
        "import json, os\n"
        "SETTINGS = json.load(open(os.environ['IL_SETTINGS']))\n"
        "def handler(event, context):\n"
        "    return SETTINGS\n"
    )
    args = (
        "app.handler", "--reload", "--reload-dir", str(conf), "--task-root", str(code),
        "--env", f"IL_SETTINGS={conf / 'settings.json'}",
    )  # fmt: skip
    async with serve(*args) as served, aiohttp.ClientSession() as http:
        watching = await served.wait_line("aiolambda: watching ")
        assert watching.strip() == f"aiolambda: watching {conf} for changes"
        assert await _invoke(http, served.url) == {"greeting": "hi"}
        (conf / "settings.json").write_text('{"greeting": "hello"}')
        line = await served.wait_line("aiolambda: reloading: ")
        assert "settings.json changed" in line
        assert await _invoke(http, served.url) == {"greeting": "hello"}


def _run(*args: str, prelude: str = "") -> tuple[int, str]:
    code = f"{prelude}import sys; from aiolambda.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return proc.returncode, proc.stderr


def test_reload_without_watchfiles_is_one_clear_line() -> None:
    # None in sys.modules is how Python marks a module as unimportable.
    code, err = _run(
        "serve", "app.handler", "--reload", prelude="import sys; sys.modules['watchfiles'] = None; "
    )
    assert code == 2
    assert err == (
        "aiolambda: --reload needs the watchfiles package: "
        "pip install 'aiolambda-runtime[reload]'\n"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--reload-dir", "."], "--reload-dir needs --reload"),
        (["--reload", "--no-spawn"], "cannot go with --no-spawn"),
        (["--reload", "--reload-dir", "/nonexistent"], "must be an existing directory"),
    ],
)
def test_reload_usage_errors(args: list[str], words: str) -> None:
    code, err = _run("serve", "app.handler", *args)
    assert code == 2 and err.count("\n") == 1 and words in err, err
