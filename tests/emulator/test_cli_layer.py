"""``--layer``: a function runs with its layers where Lambda puts them, through the real CLI.

The layers are built here: a ``python/`` package the handler imports, an exec wrapper
that exports a variable, and an extension that registers for INVOKE and SHUTDOWN and
writes every event it gets to a file.
"""

from __future__ import annotations

import json
import sys
import zipfile
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from ._serve import serve
from .test_cli import run_cli

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.timeout(90), pytest.mark.aiolambda_runtime]

APP = """\
import os
import sys

import greeting
import sitepkg


def handler(event, context):
    if event.get("hang"):
        import time

        time.sleep(60)  # past the function's timeout
    opt = os.environ["AIOLAMBDA_OPT_DIR"]
    return {
        "greeting": greeting.GREETING,
        "sitepkg": sitepkg.__file__.startswith(opt),
        "wrapped": os.environ.get("IL_WRAPPED"),
        "path": [p.replace(opt, "/opt") for p in sys.path[:3]],
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "bin_on_path": os.environ["PATH"].endswith(opt + "/bin"),
        "request_id": context.aws_request_id,
    }
"""

WRAPPER = '#!/bin/sh\nexport IL_WRAPPED="by the wrapper, for $1"\nexec "$@"\n'

EXTENSION = f"""\
#!{sys.executable}
import json, os, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
body = json.dumps({{"events": ["INVOKE", "SHUTDOWN"]}}).encode()
request = urllib.request.Request(
    api + "/register", data=body, method="POST", headers={{"Lambda-Extension-Name": "recorder"}}
)
with urllib.request.urlopen(request) as response:
    ext_id = response.headers["Lambda-Extension-Identifier"]
    registered = json.load(response)
with open(os.environ["IL_EVENTS"], "a") as log:
    log.write(json.dumps({{"eventType": "REGISTERED", **registered}}) + "\\n")
    while True:
        request = urllib.request.Request(
            api + "/event/next", headers={{"Lambda-Extension-Identifier": ext_id}}
        )
        with urllib.request.urlopen(request) as response:
            event = json.load(response)
        log.write(json.dumps(event) + "\\n")
        log.flush()
        if event["eventType"] == "SHUTDOWN":
            break
"""


def _add(archive: zipfile.ZipFile, name: str, text: str, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
    archive.writestr(info, text)


def _layer_zip(path: Path, greeting: str, *, extension: bool = True) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    with zipfile.ZipFile(path, "w") as archive:
        _add(archive, "python/greeting.py", f"GREETING = {greeting!r}\n")
        _add(archive, f"python/lib/{version}/site-packages/sitepkg.py", "")
        _add(archive, "wrapper.sh", WRAPPER, 0o755)
        if extension:
            _add(archive, "extensions/recorder", EXTENSION, 0o755)
    return path


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_invoke_runs_with_the_layer_as_lambda_lays_it_out(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    layer = _layer_zip(tmp_path / "layer.zip", "from the layer")
    events = tmp_path / "events.jsonl"
    code, out, err = run_cli(
        "invoke", "app.handler", "--task-root", str(tmp_path), "--layer", str(layer),
        "--env", "AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper.sh", "--env", f"IL_EVENTS={events}",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert got["greeting"] == "from the layer" and got["sitepkg"]
    # Lambda's order: the task root, the layer's versioned site-packages, then python/.
    assert got["path"] == [
        got["task_root"],
        f"/opt/python/lib/{version}/site-packages",
        "/opt/python",
    ]
    assert got["wrapped"] == f"by the wrapper, for {sys.executable}"
    assert got["bin_on_path"]
    seen = _events(events)
    assert [e["eventType"] for e in seen] == ["REGISTERED", "INVOKE", "SHUTDOWN"]
    assert seen[0]["handler"] == "app.handler"
    assert seen[1]["requestId"] == got["request_id"]
    assert seen[2]["shutdownReason"] == "SPINDOWN"


def test_later_layers_win_and_directories_work_too(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    first = _layer_zip(tmp_path / "first.zip", "first", extension=False)
    second = tmp_path / "second"
    (second / "python").mkdir(parents=True)
    (second / "python" / "greeting.py").write_text("GREETING = 'second'\n")
    for order, expected in (([first, second], "second"), ([second, first], "first")):
        layers = [arg for layer in order for arg in ("--layer", str(layer))]
        code, out, err = run_cli("invoke", "app.handler", "--task-root", str(tmp_path), *layers)
        assert code == 0, err
        got = json.loads(out)
        assert got["greeting"] == expected and got["wrapped"] is None


async def test_serve_drives_the_extension_through_every_invocation(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    layer = _layer_zip(tmp_path / "layer.zip", "served")
    events = tmp_path / "events.jsonl"
    args = ("app.handler", "--task-root", str(tmp_path), "--layer", str(layer),
            "--env", f"IL_EVENTS={events}")  # fmt: skip
    async with serve(*args) as served, aiohttp.ClientSession() as http:
        ids = []
        for _ in range(3):
            async with http.post(served.url, json={}) as response:
                ids.append((await response.json())["request_id"])
    assert served.proc.returncode == 0, served.stderr.decode()
    seen = _events(events)
    kinds = [e["eventType"] for e in seen]
    assert kinds == ["REGISTERED", "INVOKE", "INVOKE", "INVOKE", "SHUTDOWN"]
    assert [e["requestId"] for e in seen[1:4]] == ids


async def test_a_runtime_exit_resets_the_extensions_with_it(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    layer = _layer_zip(tmp_path / "layer.zip", "served")
    events = tmp_path / "events.jsonl"
    args = ("app.handler", "--task-root", str(tmp_path), "--layer", str(layer),
            "--env", f"IL_EVENTS={events}", "--timeout", "1")  # fmt: skip
    async with serve(*args) as served, aiohttp.ClientSession() as http:
        async with http.post(served.url, json={"hang": True}) as response:
            # aiolambda answers in time, then exits: its handler thread cannot be stopped.
            assert (await response.json())["errorType"] == "Function.Timeout"
        async with http.post(served.url, json={}) as response:
            assert (await response.json())["greeting"] == "served"
    seen = _events(events)
    assert [(e["eventType"], e.get("shutdownReason")) for e in seen] == [
        ("REGISTERED", None), ("INVOKE", None), ("SHUTDOWN", "FAILURE"),
        ("REGISTERED", None), ("INVOKE", None), ("SHUTDOWN", "SPINDOWN"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda tmp: tmp / "missing.zip", "argument --layer: no such file or directory"),
        (lambda tmp: _text(tmp / "not.zip"), "is neither a directory nor a zip file"),
    ],
)
def test_a_bad_layer_is_one_line_and_exit_2(tmp_path: Path, make: Any, words: str) -> None:
    code, out, err = run_cli("invoke", "app.handler", "--layer", str(make(tmp_path)))
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err


def test_a_layer_reaching_outside_opt_is_refused(tmp_path: Path) -> None:
    layer = tmp_path / "evil.zip"
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("../../escaped.txt", "x")
    code, _, err = run_cli("invoke", "app.handler", "--layer", str(layer))
    assert code == 2 and "points outside the layer" in err and err.count("\n") == 1, err
    assert not (tmp_path / "escaped.txt").exists()


def test_an_extension_that_never_registers_is_named_and_the_function_still_runs(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.py").write_text(APP)
    layer = tmp_path / "broken.zip"
    with zipfile.ZipFile(layer, "w") as archive:
        _add(archive, "python/greeting.py", "GREETING = 'still here'\n")
        _add(
            archive,
            f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages/sitepkg.py",
            "",
        )
        _add(
            archive,
            "extensions/broken",
            "#!/bin/sh\necho broken extension starting\nexit 3\n",
            0o755,
        )
    code, out, err = run_cli(
        "invoke", "app.handler", "--task-root", str(tmp_path), "--layer", str(layer)
    )
    assert code == 0, err
    assert json.loads(out)["greeting"] == "still here"
    assert "broken extension starting" in err
    assert "aiolambda: 1 of 1 extensions did not register" in err


def _text(path: Path) -> Path:
    path.write_text("not a zip")
    return path


async def test_reload_ends_the_environment_extensions_included(tmp_path: Path) -> None:
    code = tmp_path / "code"  # the watched task root; the events file is outside it
    code.mkdir()
    app = code / "app.py"
    app.write_text(APP)
    layer = _layer_zip(tmp_path / "layer.zip", "reloaded")
    events = tmp_path / "events.jsonl"
    args = ("app.handler", "--task-root", str(code), "--layer", str(layer), "--reload",
            "--env", f"IL_EVENTS={events}")  # fmt: skip
    async with serve(*args) as served, aiohttp.ClientSession() as http:
        await served.wait_line("aiolambda: watching ")
        async with http.post(served.url, json={}) as response:
            first = await response.json()
        app.write_text(APP + "\n# edited\n")
        await served.wait_line("aiolambda: reloading: app.py changed")
        async with http.post(served.url, json={}) as response:
            second = await response.json()
    assert first["greeting"] == second["greeting"] == "reloaded"
    seen = _events(events)
    assert [(e["eventType"], e.get("shutdownReason")) for e in seen] == [
        ("REGISTERED", None), ("INVOKE", None), ("SHUTDOWN", "SPINDOWN"),
        ("REGISTERED", None), ("INVOKE", None), ("SHUTDOWN", "SPINDOWN"),
    ]  # fmt: skip
    assert [seen[1]["requestId"], seen[4]["requestId"]] == [
        first["request_id"],
        second["request_id"],
    ]
