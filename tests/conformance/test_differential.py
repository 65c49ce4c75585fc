"""The same handlers under aiolambda and under awslambdaric 4.2.2, both behind AWS's RIE.

What each runtime posts (result bytes, error documents) and writes to the log (which
lines at each ``AWS_LAMBDA_LOG_LEVEL``, their shape in Text and JSON, over stdout and
over the telemetry FD) is compared. Every difference left is intended, listed in the
README's "Compatibility with the managed runtime" section, and pinned here by name:

* ``compact-json``: results and error documents are compact UTF-8 JSON (orjson);
  awslambdaric writes ``", "``/``": "`` separators. The parsed values are equal.
* ``json-level-names``: JSON records say ``WARN``/``FATAL`` (Lambda's level names, which
  its level filter reads) where awslambdaric says ``WARNING``/``CRITICAL``.
* ``one-record-one-line``: on stdout a multi-line Text record (a traceback, a message
  with newlines) stays one line, its newlines turned into ``\\r``; awslambdaric writes
  them as they are, so CloudWatch splits the record. Over the telemetry FD both are one
  frame. aiolambda also ends a record carrying an exception with a newline, which
  awslambdaric omits (its next line is glued onto the traceback's last one).
* ``no-runtime-update-warning``: on an init error awslambdaric first logs a
  ``LAMBDA_WARNING`` about managed-runtime updates, which does not apply to aiolambda.
* ``oversized-by-runtime``: aiolambda measures an oversized result and posts the
  ``Function.ResponseSizeTooLarge`` error itself (same type and message, plus
  ``requestId`` and ``stackTrace``) instead of sending 6 MB for the Runtime API to
  refuse; RIE answers that 200 where it answers its own 502.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.conftest import AIOLAMBDA, AWSLAMBDARIC, Finished, Frame, run

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TEXT_STAMP = re.compile(r"\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t")
_JSON_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LEVELS = (None, "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
FORMATS = ("Text", "JSON")
_LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "FATAL"}  # json-level-names


def both(rie: Path, handler: str, events: list[Any], **kwargs: Any) -> dict[str, Finished]:
    return {rt: run(rie, handler, events, runtime=rt, **kwargs) for rt in (AIOLAMBDA, AWSLAMBDARIC)}


def _ids(text: str) -> str:
    return _UUID.sub("<id>", text)


def _text(line: str) -> str:
    return _ids(_TEXT_STAMP.sub("\t<ts>\t", line))


def _json_record(line: str, runtime: str) -> dict[str, Any]:
    doc = json.loads(line)
    assert _JSON_STAMP.match(doc.pop("timestamp")), line  # whole seconds, as awslambdaric
    if runtime == AWSLAMBDARIC and "level" in doc:
        doc["level"] = _LEVEL_NAMES.get(doc["level"], doc["level"])  # json-level-names
    return json.loads(_ids(json.dumps(doc)))


def _stdout_records(done: Finished, runtime: str, log_format: str) -> list[Any]:
    """The runtime's log records of its invocations, one per record."""
    text = "\n".join(line for _, lines in done.segments() for line in lines)
    if runtime == AIOLAMBDA:
        text = text.replace("\r", "\n")  # one-record-one-line
    else:
        text = re.sub(r"(KeyError: 'k')(?=.)", r"\1\n", text)  # one-record-one-line
    lines = [line for line in text.split("\n") if line]
    if log_format == "JSON":
        return [_json_record(line, runtime) if line.startswith("{") else line for line in lines]
    return [_text(line) for line in lines]


def _frame_records(frames: list[Frame], runtime: str, log_format: str) -> list[Any]:
    out: list[Any] = []
    for frame in frames:
        message = frame.message.rstrip("\n")  # one-record-one-line (the exception record)
        as_json = log_format == "JSON" and message.startswith("{")  # not context.log's
        body = _json_record(message, runtime) if as_json else _text(message)
        out.append((hex(frame.kind), body))
    return out


# -- results and error documents -------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        ("app.echo", {"a": [1, 2.5, None, True], "s": "zażółć ✓"}),
        ("app.big_ints", {"n": 1}),
        ("app.echo", b'{"big": 18446744073709551617, "neg": -9223372036854775809}'),
        ("app.unicode", {}),
    ],
)
def test_results_are_the_same_values(rie: Path, handler: str, event: Any) -> None:
    runs = both(rie, handler, [event])
    ours, theirs = runs[AIOLAMBDA].replies[0], runs[AWSLAMBDARIC].replies[0]
    assert (ours.status, theirs.status) == (200, 200)
    assert json.loads(ours.body) == json.loads(theirs.body)
    # compact-json: orjson's compact UTF-8 rendering of the same value.
    assert (
        ours.body
        == json.dumps(json.loads(ours.body), separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert theirs.body == json.dumps(json.loads(theirs.body), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("handler", "event"),
    [
        ("app.raises", {}),
        ("app.raises", {"kind": "nested"}),
        ("app.echo", b"{not json"),
    ],
)
def test_error_documents_are_the_same(rie: Path, handler: str, event: Any) -> None:
    runs = both(rie, handler, [event])
    docs = {}
    for runtime, done in runs.items():
        (reply,) = done.replies
        assert reply.status == 200
        doc = reply.json()
        doc["requestId"] = _ids(doc["requestId"])
        docs[runtime] = doc
    ours, theirs = docs[AIOLAMBDA], docs[AWSLAMBDARIC]
    if ours["errorType"] == "Runtime.UnmarshalError":
        # The decoder's own words differ (orjson vs simplejson); README: Compatibility.
        assert theirs["errorType"] == "Runtime.UnmarshalError"
        assert ours["errorMessage"].startswith("Unable to unmarshal input: ")
        assert theirs["errorMessage"].startswith("Unable to unmarshal input: ")
        return
    assert ours == theirs


@pytest.mark.parametrize("handler", ["init_raises.handler", "init_import_error.handler"])
def test_init_errors_are_the_same(rie: Path, handler: str) -> None:
    runs = both(rie, handler, [{}])
    ours, theirs = (runs[rt].replies[0] for rt in (AIOLAMBDA, AWSLAMBDARIC))
    assert (ours.status, theirs.status) == (502, 502)
    assert ours.json() == theirs.json()
    our_lines = [_text(line) for line in runs[AIOLAMBDA].runtime_lines()]
    their_lines = [_text(line) for line in runs[AWSLAMBDARIC].runtime_lines()]
    warning = [line for line in their_lines if "LAMBDA_WARNING: Unhandled exception" in line]
    assert len(warning) == 1  # no-runtime-update-warning
    assert our_lines == [line for line in their_lines if line not in warning]


def test_init_sys_exit_is_the_same(rie: Path) -> None:
    runs = both(rie, "init_exits.handler", [{}])
    ours, theirs = runs[AIOLAMBDA], runs[AWSLAMBDARIC]
    assert [(r.status, r.body) for r in ours.replies] == [
        (r.status, r.body) for r in theirs.replies
    ]
    assert ours.runtime_lines() == theirs.runtime_lines() == ["init calls sys.exit"]


def test_sys_exit_in_a_handler_is_the_same(rie: Path) -> None:
    events = [{"code": 3}, {"code": None}, {"code": "bye"}]
    runs = both(rie, "app.exits", events)
    seen = {}
    for runtime, done in runs.items():
        seen[runtime] = [(r.status, _ids(r.body.decode())) for r in done.replies]
        seen[runtime].append(
            [_ids(line) for _, lines in done.segments() for line in lines]  # type: ignore[arg-type]
        )
    assert seen[AIOLAMBDA] == seen[AWSLAMBDARIC]
    assert seen[AIOLAMBDA][0] == (
        502,
        '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: <id> Error: '
        'Runtime exited with error: exit status 3"}',
    )


def test_crash_output_is_the_same(rie: Path) -> None:
    runs = both(rie, "app.print_then_exit", [{}])
    ours, theirs = runs[AIOLAMBDA], runs[AWSLAMBDARIC]
    assert [(r.status, _ids(r.body.decode())) for r in ours.replies] == [
        (r.status, _ids(r.body.decode())) for r in theirs.replies
    ]
    assert [_ids(x) for x in ours.runtime_lines()] == [_ids(x) for x in theirs.runtime_lines()]


def test_prints_land_in_the_same_invocations(rie: Path) -> None:
    runs = both(rie, "app.prints", [{"n": 1}, {"n": 2}])
    shapes = {
        rt: [(len(lines), _ids(" ".join(lines))) for _, lines in d.segments()]
        for rt, d in runs.items()
    }
    assert shapes[AIOLAMBDA] == shapes[AWSLAMBDARIC] == [(1, "print 1 <id>"), (1, "print 2 <id>")]


def test_oversized_result_has_the_same_error(rie: Path) -> None:
    runs = both(rie, "app.oversized", [{}])
    ours, theirs = runs[AIOLAMBDA].replies[0], runs[AWSLAMBDARIC].replies[0]
    # oversized-by-runtime: same type and message; the status RIE gives differs.
    assert (ours.status, theirs.status) == (200, 502)
    doc = ours.json()
    assert {k: doc[k] for k in ("errorType", "errorMessage")} == theirs.json()
    assert doc["stackTrace"] == []


# -- log lines at each level, Text and JSON, stdout and telemetry FD -------------------


def _log_env(level: str | None, log_format: str) -> dict[str, str]:
    env = {"AWS_LAMBDA_LOG_FORMAT": log_format}
    if level is not None:
        env["AWS_LAMBDA_LOG_LEVEL"] = level
    return env


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize("level", LEVELS)
def test_log_lines_over_stdout_are_the_same(rie: Path, level: str | None, log_format: str) -> None:
    runs = both(rie, "app.logs", [{}], env=_log_env(level, log_format))
    records = {rt: _stdout_records(d, rt, log_format) for rt, d in runs.items()}
    assert records[AIOLAMBDA] == records[AWSLAMBDARIC]
    if level is None:  # Python's default level, WARNING, in either format
        assert not any("info line" in str(r) for r in records[AIOLAMBDA])
        assert any("warning line" in str(r) for r in records[AIOLAMBDA])


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize("level", [None, "DEBUG", "WARN", "ERROR"])
@pytest.mark.parametrize("handler", ["app.logs", "app.raises"])
def test_log_frames_over_the_telemetry_fd_are_the_same(
    rie: Path, level: str | None, log_format: str, handler: str
) -> None:
    runs = both(rie, handler, [{}], env=_log_env(level, log_format), telemetry=True)
    frames = {rt: _frame_records(d.frames, rt, log_format) for rt, d in runs.items()}
    assert frames[AIOLAMBDA] == frames[AWSLAMBDARIC]
    assert frames[AIOLAMBDA]  # something was framed
    # Nothing of the log went to stdout: only what the handler printed.
    printed = ["end of logs"] if handler == "app.logs" else []
    for done in runs.values():
        assert [line for _, lines in done.segments() for line in lines] == printed
