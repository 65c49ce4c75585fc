"""``aiolambda check``: does a handler give the same answers when invocations overlap?

The handler runs in the emulator, as ``aiolambda serve`` runs it: first one invocation
at a time (as on-demand Lambda does), then with ``--concurrency N`` invocations in
flight in one environment (Lambda Managed Instances), in several shuffled orders. Each
invocation's result and the log lines that carry its request id are compared with
those of the same event run alone.

What is compared, and what is not:

- Each invocation gets its own request id; in its result and its log lines that id
  reads as ``{request_id}``, so an answer naming its own invocation agrees, and one
  naming another invocation does not.
- The events run alone twice, in the same order: a value that changes between those
  two runs (a timestamp, a uuid, a duration, the cold start flag) is not compared; a
  field of JSON log lines that changes so for any event is not compared for any.
  A first concurrent round, not compared, warms the concurrent environment.
  Results and JSON log lines are compared field by field, other lines word by word.
- A log line belongs to the invocation whose request id it carries (aiolambda's log
  format and Powertools' ``inject_lambda_context`` put it on every line); lines with
  no request id (``print``) cannot be attributed when invocations overlap and are
  not compared.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from aiolambda.emulator import _limits as lim
from aiolambda.emulator._cli_common import add_function_options, emulator_kwargs, fail, int_option

if TYPE_CHECKING:
    import argparse

    from aiolambda.emulator import Emulator, InvokeResult

ROUNDS: Final = 3
DEFAULT_CONCURRENCY: Final = 8
OWN_ID: Final = "{request_id}"
_PLATFORM_LINE: Final = re.compile(r"^(START|END|REPORT) RequestId: ")
_WORDS: Final = re.compile(r"\S+")

Path = tuple[Any, ...]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` options to ``parser``."""
    parser.epilog = (
        "Exit status: 0 when every event's result and log lines agree, 1 naming each "
        "event that differs and its first differing field or line, 2 on bad usage. "
        "Example: aiolambda check app.handler --event a.json --event b.json"
    )
    add_function_options(parser)
    parser.add_argument(
        "--event",
        dest="events",
        action="append",
        required=True,
        metavar="FILE",
        help="a file holding a JSON event (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=int_option(2, lim.MAX_CONCURRENCY),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"invocations in flight at once (default: {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--seed",
        type=int_option(0, 2**32 - 1),
        default=None,
        metavar="S",
        help="seed of the shuffled orders (default: a random one, printed)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the check; 0 when everything agrees, 1 when something differs, 2 on bad usage."""
    from aiolambda.emulator._caller_api import json_problem

    events: list[tuple[str, bytes]] = []
    for path in args.events:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return fail(f"cannot read the event: {exc}")
        problem = json_problem(data)
        if problem is not None:
            return fail(f"the event in {path} is not valid JSON: {problem}")
        events.append((path, data))
    try:
        kwargs = emulator_kwargs(args)
    except ValueError as exc:
        return fail(str(exc))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    try:
        lines = asyncio.run(_check(args.handler, events, args.concurrency, seed, kwargs))
    except OSError as exc:
        return fail(f"cannot start the runtime: {exc}")
    for line in lines[1:]:
        print(line)
    print(lines[0])
    return 0 if lines[0].startswith("aiolambda check: ok") else 1


class _Run:
    """One invocation's normalised result and attributed log lines."""

    __slots__ = ("lines", "result")

    def __init__(self, result: Any, lines: list[Any]) -> None:
        self.result = result
        self.lines = lines


async def _check(
    handler: str,
    events: Sequence[tuple[str, bytes]],
    concurrency: int,
    seed: int,
    kwargs: dict[str, Any],
) -> list[str]:
    """The verdict first, then one line per event that differs and notes."""
    from aiolambda.emulator import Emulator

    alone: list[list[_Run]] = [[], []]
    async with Emulator(handler, **kwargs) as emu:
        for runs in alone:
            for _, body in events:
                rid = str(uuid.uuid4())
                result = await emu.invoke(body, request_id=rid)
                runs.append(_collect(emu, result, rid))
        if emu.init_error is not None:
            return [_refused(emu.init_error, None)]
    varying = _json_fields_that_vary(alone[0], alone[1])
    copies = max(1, math.ceil(concurrency / len(events)))
    rng = random.Random(seed)
    found: dict[int, str] = {}
    unattributed = 0
    async with Emulator(handler, concurrency=concurrency, **kwargs) as emu:
        # Round 0 warms the environment, as the first one was warm after its first
        # invocation: what only a cold start does (the flag, lazy set-up) is not compared.
        for round_no in range(ROUNDS + 1):
            order = [i for i in range(len(events)) for _ in range(copies)]
            rng.shuffle(order)
            rids = [str(uuid.uuid4()) for _ in order]
            results = await asyncio.gather(
                *(
                    emu.submit(events[i][1], request_id=rid)
                    for i, rid in zip(order, rids, strict=True)
                )
            )
            if emu.init_error is not None:
                return [_refused(emu.init_error, concurrency)]
            for i, rid, result in zip(order, rids, results, strict=True):
                if i in found or round_no == 0:
                    continue
                seen = _collect(emu, result, rid)
                difference = _compare(alone[0][i], alone[1][i], seen, varying)
                if difference is not None:
                    found[i] = f"  {events[i][0]}: {difference} (round {round_no})"
        unattributed = _unattributed(emu.logs)
    header = (
        f"{len(events)} event(s), each alone (twice) and in {ROUNDS} shuffled rounds of "
        f"{copies * len(events)} invocations at concurrency {concurrency} (seed {seed})"
    )
    notes = []
    if unattributed:
        notes.append(
            f"  note: {unattributed} log line(s) carry no request id (print?) and were not "
            "compared; log through logging or Powertools' Logger to have them checked"
        )
    if found:
        verdict = f"aiolambda check: {len(found)} of {len(events)} event(s) differ: {header}"
        return [verdict, *(found[i] for i in sorted(found)), *notes]
    return [f"aiolambda check: ok, results and logs agree: {header}", *notes]


def _refused(error: Any, concurrency: int | None) -> str:
    message = error.get("errorMessage", error) if isinstance(error, dict) else error
    kind = error.get("errorType", "init error") if isinstance(error, dict) else "init error"
    when = f"at concurrency {concurrency} " if concurrency else ""
    return f"aiolambda check: {when}the handler fails at init: {kind}: {message}"


def _collect(emu: Emulator, result: InvokeResult, rid: str) -> _Run:
    """The invocation's result and its log lines, its own request id replaced."""
    try:
        value: Any = json.loads(result.payload)
    except ValueError:
        value = result.payload.decode("utf-8", "replace")
    outcome = {"error": result.error_type, "payload": _own_id(value, rid)}
    lines = [
        _line(text.replace(rid, OWN_ID))
        for text in _log_lines(emu.logs)
        if rid in text and not _PLATFORM_LINE.match(text)
    ]
    return _Run(outcome, lines)


def _log_lines(logs: str) -> Iterator[str]:
    """The output's lines; JSON documents written back to back on one line (processes of
    a sync handler share the output here, and ``print`` writes the text and its newline
    apart) count as one line each."""
    decoder = json.JSONDecoder()
    for text in logs.splitlines():
        stripped = text.strip()
        pos, pieces = 0, []
        while stripped.startswith("{", pos):
            try:
                _, end = decoder.raw_decode(stripped, pos)
            except ValueError:
                break
            pieces.append(stripped[pos:end])
            pos = end
            while pos < len(stripped) and stripped[pos].isspace():
                pos += 1
        if pieces and pos == len(stripped):
            yield from pieces
        else:
            yield text


def _own_id(value: Any, rid: str) -> Any:
    if isinstance(value, str):
        return value.replace(rid, OWN_ID)
    if isinstance(value, dict):
        return {_own_id(k, rid): _own_id(v, rid) for k, v in value.items()}
    if isinstance(value, list):
        return [_own_id(v, rid) for v in value]
    return value


def _line(text: str) -> Any:
    """A log line as something to compare field by field: its JSON object, or its words."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            pass
        else:
            if isinstance(doc, dict):
                return doc
    return _WORDS.findall(text)


def _unattributed(logs: str) -> int:
    """Function output lines that name no request id (platform lines aside)."""
    uuid_like = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    return sum(
        1
        for text in _log_lines(logs)
        if text.strip() and not _PLATFORM_LINE.match(text) and not uuid_like.search(text)
    )


def _differences(a: Any, b: Any, path: Path = ()) -> Iterator[Path]:
    """Paths where ``a`` and ``b`` differ, in document order."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                yield (*path, key)
            else:
                yield from _differences(a[key], b[key], (*path, key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, (*path, index))
    elif a != b or type(a) is not type(b):
        yield path


def _masked(path: Path, volatile: set[Path]) -> bool:
    return any(path[:n] in volatile for n in range(len(path) + 1))


def _first(
    expected: Any, seen: Any, again: Any, also: frozenset[Path] = frozenset()
) -> Path | None:
    """The first path where ``seen`` differs from ``expected`` and ``again`` does not
    (nor is it in ``also``)."""
    volatile = set(_differences(expected, again)) | also
    for path in _differences(expected, seen):
        if not _masked(path, volatile):
            return path
    return None


def _at(value: Any, path: Path) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return "(absent)"
    return value


def _where(path: Path) -> str:
    return ".".join(str(key) for key in path) or "(the whole value)"


def _where_in_line(line: Any, path: Path) -> str:
    return f"word {path[0] + 1}" if isinstance(line, list) and path else _where(path)


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_fields_that_vary(first: Sequence[_Run], second: Sequence[_Run]) -> frozenset[Path]:
    """Fields of JSON log lines that changed between the runs alone, for any event
    (``cold_start``: with a sync handler each process of the environment has its own)."""
    varying: set[Path] = set()
    for a, b in zip(first, second, strict=True):
        if len(a.lines) == len(b.lines):
            for x, y in zip(a.lines, b.lines, strict=True):
                if isinstance(x, dict) and isinstance(y, dict):
                    varying.update(_differences(x, y))
    return frozenset(varying)


def _compare(first: _Run, second: _Run, seen: _Run, varying: frozenset[Path]) -> str | None:
    """How ``seen`` differs from the event run alone, or ``None``."""
    path = _first(first.result, seen.result, second.result)
    if path is not None:
        return (
            f"result differs at {_where(path[1:] if path[:1] == ('payload',) else path)}: "
            f"{_shown(_at(first.result, path))} alone, "
            f"{_shown(_at(seen.result, path))} concurrently"
        )
    if len(first.lines) != len(second.lines):
        return None  # its log lines vary even alone: not compared
    for index, expected in enumerate(first.lines):
        if index >= len(seen.lines):
            return (
                f"log line {index + 1} missing concurrently (no line carries its request "
                f"id): {_text(expected)}"
            )
        also = varying if isinstance(expected, dict) else frozenset()
        path = _first(expected, seen.lines[index], second.lines[index], also)
        if path is not None:
            return (
                f"log line {index + 1} differs at {_where_in_line(expected, path)}: "
                f"{_shown(_at(expected, path))} alone, {_shown(_at(seen.lines[index], path))} "
                f"concurrently: {_text(seen.lines[index])}"
            )
    if len(seen.lines) > len(first.lines):
        return (
            f"{len(seen.lines) - len(first.lines)} more log line(s) concurrently, "
            f"the first: {_text(seen.lines[len(first.lines)])}"
        )
    return None


def _text(line: Any) -> str:
    text = json.dumps(line) if isinstance(line, dict) else " ".join(line)
    return text if len(text) <= 160 else text[:157] + "..."
