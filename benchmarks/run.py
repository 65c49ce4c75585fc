# ruff: noqa: RUF001 - the report prints typographic signs (times, en dash, minus) on purpose
"""Per-invocation cost of aiolambda next to bash + curl, awslambdaric and a raw-socket floor.

    python benchmarks/run.py            # full run, ~10 minutes
    python benchmarks/run.py --quick    # smoke run, under a minute
    python benchmarks/run.py --split-cpu  # mock and contender on different CPUs
    python benchmarks/run.py --readme-table benchmarks/results/latest.json  # README's tables

Every contender is a real bootstrap process with the Lambda environment, served
by the fast mock Runtime API (``_mock_api.py``) in its own process; every answer
is checked against its event. Events: the tiny one, realistic batches (``_events.py``:
API Gateway v2, SQS 10, Kinesis 100 twice, DynamoDB Streams 100) and synthetic sizes.
Every repetition runs each contender once, in an order rotated per repetition
(A B C, B C A, C A B, …), so neither a slow phase of the host nor the one before it in
the order favours a contender. awslambdaric is compared as Lambda runs it on python3.12+
(``AWS_EXECUTION_ENV`` set, which changes its code path); its mode without it is a row
of its own, labelled. Memory is the PSS of the contender's real processes
(``/proc/PID/smaps_rollup``) at the end of a run, beside the peak RSS. Writes
``<tag>.md``, ``<tag>.png`` and ``<tag>.json`` to ``benchmarks/results/``: the JSON
records the date, commit, machine (CPU model, kernel, Python) and the exact command,
and ``--readme-table`` prints the README's tables from it. Exits 1 if any run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from typing import TYPE_CHECKING

import _harness as h
import _phases
from _harness import log

if TYPE_CHECKING:
    from collections.abc import Sequence

RESULTS = h.HERE / "results"
REFERENCE = "awslambdaric_312"  # as Lambda runs it on python3.12+ (AWS_EXECUTION_ENV set)
FLOOR = "floor"
FLOOR_ORJSON = "floor_orjson"
SUBJECT = "aiolambda"
QUICK_WARNING = (
    "QUICK RUN: few repetitions and small N, a smoke test of the harness. "
    "Not for quoting: take figures from a full run."
)


@dataclass(slots=True)
class Cell:
    """Figures of one contender on one event size, over all repetitions."""

    contender: str
    size: str
    n: int
    us: list[float] = field(default_factory=list)  # per repetition, None-free (failures dropped)
    us_by_rep: dict[int, float] = field(default_factory=dict)
    rss_kb: list[int] = field(default_factory=list)
    pss_kb: list[int] = field(default_factory=list)  # PSS of the live processes at the end
    cpu_us: list[float] = field(default_factory=list)  # the contender's CPU per invocation
    mock_cpu_us: list[float] = field(default_factory=list)  # the mock's CPU per invocation
    errors: list[str] = field(default_factory=list)
    ratio_ref: float = float("nan")
    ratio_floor: float = float("nan")
    ratio_floor_orjson: float = float("nan")

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.us)

    @property
    def median_us(self) -> float:
        return h.median(self.us)

    @property
    def cpu_txt(self) -> str:
        cpu, mock = h.median(self.cpu_us), h.median(self.mock_cpu_us)
        return f"{fmt_us(cpu)} / {fmt_us(mock)}" if cpu == cpu else f"– / {fmt_us(mock)}"

    @property
    def rss_mb(self) -> float:
        return h.median([k / 1024 for k in self.rss_kb])

    @property
    def pss_mb(self) -> float:
        return h.median([k / 1024 for k in self.pss_kb if k])


def rotated(items: Sequence[h.Contender], rep: int) -> list[h.Contender]:
    """The contenders in the order of repetition ``rep``: A B C, then B C A, C A B, …"""
    k = rep % len(items) if items else 0
    return [*items[k:], *items[:k]]


def pair_ratio(a: Cell, b: Cell) -> float:
    """Median over repetitions of a/b, each repetition's pair measured back to back."""
    ratios = [a.us_by_rep[r] / b.us_by_rep[r] for r in a.us_by_rep if r in b.us_by_rep]
    return h.median(ratios)


# -- the passes -------------------------------------------------------------------------
def timing_pass(
    contenders: Sequence[h.Contender],
    sizes: Sequence[h.Size],
    reps: int,
    where: h.Placement,
    quick: bool,
    skip_bash_large: bool,
    raw: list[dict[str, object]],
) -> dict[tuple[str, str], Cell]:
    cells: dict[tuple[str, str], Cell] = {}
    for size in sizes:
        with h.EventFile(size.event()) as event:
            for rep in range(reps):
                for c in rotated(contenders, rep):
                    if c.is_bash and skip_bash_large and size.key in {"1m", "6m"}:
                        continue
                    n = size.n_quick if quick else (size.n_bash if c.is_bash else size.n)
                    if quick and c.is_bash:
                        n = max(2, n // 5)
                    r = h.run_once(
                        c, event, n, where, size_key=size.key, timeout_s=size.timeout_s(n)
                    )
                    raw.append({"pass": "timing", "rep": rep, **asdict(r)})
                    cell = cells.setdefault((c.key, size.key), Cell(c.key, size.key, n))
                    if r.ok:
                        cell.us.append(r.us_per_inv)
                        cell.us_by_rep[rep] = r.us_per_inv
                        cell.rss_kb.append(r.peak_rss_kb)
                        cell.pss_kb.append(r.pss_kb)
                        cell.cpu_us.append(r.cpu_us_per_inv)
                        cell.mock_cpu_us.append(r.mock_cpu_s / r.n * 1e6)
                        log(
                            f"  {size.key:>4} rep {rep + 1}/{reps} {c.key:<18} "
                            f"{r.us_per_inv:10.1f} µs/inv"
                        )
                    else:
                        cell.errors.append(r.error)
                        log(f"  {size.key:>4} rep {rep + 1}/{reps} {c.key:<18} FAILED: {r.error}")
    for (_, size_key), cell in cells.items():
        ref, floor = cells.get((REFERENCE, size_key)), cells.get((FLOOR, size_key))
        floor_orjson = cells.get((FLOOR_ORJSON, size_key))
        if ref is not None:
            cell.ratio_ref = pair_ratio(cell, ref)
        if floor is not None:
            cell.ratio_floor = pair_ratio(cell, floor)
        if floor_orjson is not None:
            cell.ratio_floor_orjson = pair_ratio(cell, floor_orjson)
    return cells


def extra_ratio(cells: dict[tuple[str, str], Cell], who: str, size_key: str) -> float:
    """What ``size_key`` costs ``who`` over the tiny event, as a multiple of what it costs
    the orjson floor (median over repetitions, each repetition's four runs its own)."""
    a, at = cells.get((who, size_key)), cells.get((who, "tiny"))
    f, ft = cells.get((FLOOR_ORJSON, size_key)), cells.get((FLOOR_ORJSON, "tiny"))
    if a is None or at is None or f is None or ft is None:
        return float("nan")
    reps = set(a.us_by_rep) & set(at.us_by_rep) & set(f.us_by_rep) & set(ft.us_by_rep)
    return h.median(
        [(a.us_by_rep[r] - at.us_by_rep[r]) / (f.us_by_rep[r] - ft.us_by_rep[r]) for r in reps]
    )


def cold_start_pass(
    contenders: Sequence[h.Contender], count: int, where: h.Placement, raw: list[dict[str, object]]
) -> dict[str, list[float]]:
    """Exec -> first /next, ``count`` launches per contender, alternating."""
    cold: dict[str, list[float]] = {c.key: [] for c in contenders}
    with h.EventFile(h.TINY_EVENT) as event:
        for i in range(count):
            for c in rotated(contenders, i):
                r = h.run_once(c, event, 1, where, size_key="cold", timeout_s=30)
                raw.append({"pass": "cold", "rep": i, **asdict(r)})
                if r.ok:
                    cold[c.key].append(r.cold_start_s * 1000)
                else:
                    log(f"  cold start {c.key} FAILED: {r.error}")
    return cold


def profile_pass(
    sizes: Sequence[h.Size], cells: dict[tuple[str, str], Cell], where: h.Placement, quick: bool
) -> dict[str, object]:
    """In-process codec timings, a cProfile of the runtime, and -X importtime."""
    out: dict[str, object] = {}
    codec = []
    for size in sizes:
        codec.append(h.in_fresh_process(where, "_phases.py", size.key, "0.2" if quick else "0.6"))
    out["codec"] = codec
    subject = h.CONTENDER_BY_KEY[SUBJECT]
    if subject.available():
        out["note"] = f"{SUBJECT} not runnable: {subject.available()}"
        return out
    out["ablation"] = ablation_pass(subject, where, quick)
    out["syscalls"] = {
        key: h.syscalls_per_invocation(h.CONTENDER_BY_KEY[key], where, 500 if quick else 2000)
        for key in (SUBJECT, "aiolambda_aiohttp", REFERENCE, FLOOR)
        if not h.CONTENDER_BY_KEY[key].available() and not quick
    }
    profiles: dict[str, object] = {}
    for size_key in ("tiny",) if quick else ("tiny", "1m"):
        size = h.SIZE_BY_KEY[size_key]
        n = size.n_quick if quick else size.n // 2
        paths = {}
        error = ""
        for count in (1, n):
            prof_path = Path(tempfile.gettempdir()) / f"aiolambda-bench-{size_key}-{count}.prof"
            prof_path.unlink(missing_ok=True)
            paths[count] = prof_path
            wrapped = replace(
                subject,
                argv=(h.PYTHON, str(h.HERE / "_profile_wrapper.py"), str(prof_path), "aiolambda"),
            )
            with h.EventFile(size.event()) as event:
                r = h.run_once(
                    wrapped,
                    event,
                    count,
                    where,
                    size_key=size_key,
                    timeout_s=3 * size.timeout_s(count),
                    stop_signals=(signal.SIGTERM, signal.SIGINT),
                    capture_output=True,
                )
            if not r.ok or not prof_path.exists():
                error = r.error or (
                    "the runtime did not exit through Python on SIGTERM/SIGINT: no profile"
                    + (f" (output: {r.output[-300:]!r})" if r.output else "")
                )
                break
            us_under_profiler = r.us_per_inv
        if error:
            profiles[size_key] = {"error": error}
        else:
            rows = _phases.top_functions(str(paths[n]), str(paths[1]), n, limit=60)
            loop_us = sum(t for f, _, t, _ in rows if f.startswith("asyncio/runners.py"))
            # Rows called less than once per invocation are start-up noise left by the subtraction.
            rows = [row for row in rows if row[1] >= 0.5][:12]
            profiles[size_key] = {
                "n": n,
                "us_per_inv_under_cprofile": us_under_profiler,
                "loop_own_us_per_inv": loop_us,
                "top": [
                    {
                        "function": f,
                        "calls": c,
                        "tottime_us_per_inv": t,
                        "cumtime_us_per_inv": cu,
                    }
                    for f, c, t, cu in rows
                ],
            }
        for path in paths.values():
            path.unlink(missing_ok=True)
    out["cprofile"] = profiles
    imports: dict[str, object] = {}
    with h.EventFile(h.TINY_EVENT) as event:
        for key in (SUBJECT, REFERENCE):
            c = h.CONTENDER_BY_KEY[key]
            if c.available():
                continue
            traced = replace(c, argv=(c.argv[0], "-X", "importtime", *c.argv[1:]))
            r = h.run_once(
                traced, event, 1, where, size_key="importtime", timeout_s=30, capture_output=True
            )
            total, top = _phases.importtime_top(r.output)
            imports[key] = {
                "total_ms": total,
                "top": top,
                "cold_start_ms_traced": r.cold_start_s * 1000,
            }
    out["importtime"] = imports
    return out


ABLATIONS = (
    (
        "aiolambda_no_deadline",
        "AIOLAMBDA_TIMEOUT_MARGIN_MS=0 (no deadline timer)",
        "AIOLAMBDA_TIMEOUT_MARGIN_MS",
        "0",
    ),
    ("aiolambda_asyncio", "AIOLAMBDA_LOOP=asyncio (no uvloop)", "AIOLAMBDA_LOOP", "asyncio"),
)


def ablation_pass(subject: h.Contender, where: h.Placement, quick: bool) -> dict[str, object]:
    """aiolambda with one feature switched off at a time, alternating with the default."""
    variants = [subject, h.CONTENDER_BY_KEY[FLOOR], h.CONTENDER_BY_KEY["floor_orjson"]]
    variants += [c for c in h.EXTRA_CONTENDERS if not c.available()]
    for key, label, name, value in ABLATIONS:
        variants.append(replace(subject, key=key, label=label, env={**subject.env, name: value}))
    variants.append(h.CONTENDER_BY_KEY["aiolambda_sync"])
    reps = 1 if quick else 5
    cells = timing_pass(variants, [h.SIZE_BY_KEY["tiny"]], reps, where, quick, False, [])
    base = cells[(SUBJECT, "tiny")]
    rows = []
    for v in variants:
        cell = cells[(v.key, "tiny")]
        deltas = [
            cell.us_by_rep[i] - base.us_by_rep[i] for i in cell.us_by_rep if i in base.us_by_rep
        ]
        rows.append(
            {
                "key": v.key,
                "label": v.label,
                "ok": cell.ok,
                "median_us": cell.median_us,
                "delta_us": h.median(deltas),
                "ratio_floor": cell.ratio_floor,
                "cpu": cell.cpu_txt,
            }
        )
    return {"reps": reps, "rows": rows}


# -- report -----------------------------------------------------------------------------
def fmt_us(us: float) -> str:
    if us != us:  # NaN
        return "–"
    if us >= 1000:
        return f"{us:,.0f}".replace(",", " ")
    return f"{us:.1f}"


def fmt_x(x: float) -> str:
    if x != x:
        return "–"
    return f"{x:.2f}" if x < 10 else f"{x:.0f}"


def targets(
    cells: dict[tuple[str, str], Cell], cold: dict[str, list[float]]
) -> list[tuple[bool | None, str]]:
    """One (passed, line) per target (issues 4 and 24); passed is None when not measured.

    "awslambdaric" is the reference: awslambdaric as Lambda runs it (python3.12+).
    """
    lines: list[tuple[bool | None, str]] = []

    def cell(c: str, s: str) -> Cell | None:
        got = cells.get((c, s))
        return got if got is not None and got.ok else None

    def check(ok: bool | None, text: str) -> None:
        lines.append((ok, text))

    tiny = cell(SUBJECT, "tiny")
    if tiny is None:
        check(None, f"{SUBJECT} has no successful tiny-event runs: every target unmeasured")
        return lines
    x = tiny.ratio_ref
    check(x <= 0.5 if x == x else None, f"tiny event: {fmt_x(x)}× awslambdaric (target ≤ 0.5×)")
    x = tiny.ratio_floor
    check(x <= 1.25 if x == x else None, f"tiny event: {fmt_x(x)}× the floor (target ≤ 1.25×)")
    sync, floor_orjson = cell("aiolambda_sync", "tiny"), cell("floor_orjson", "tiny")
    if sync is not None and floor_orjson is not None:
        x = pair_ratio(sync, floor_orjson)
        check(
            x <= 1.2 if x == x else None,
            f"tiny event, sync handler (sync driver): {fmt_x(x)}× floor + orjson (target ≤ 1.2×)",
        )
    else:
        check(None, "sync handler vs floor + orjson not measured (target ≤ 1.2×)")
    bash = cell("bash_curl", "tiny")
    if bash is not None:
        x = pair_ratio(bash, tiny)
        check(
            x >= 400 if x == x else None,
            f"tiny event: {x:.0f}× faster than bash + curl (target ≥ 400×)",
        )
    else:
        check(None, "bash + curl not measured (target ≥ 400× faster)")
    for s, label in (("100k", "100 KB"), ("1m", "1 MB")):
        c = cell(SUBJECT, s)
        x = c.ratio_ref if c is not None else float("nan")
        check(
            x <= 0.35 if x == x else None,
            f"{label} event: {fmt_x(x)}× awslambdaric (target ≤ 0.35×)",
        )
    x = tiny.ratio_floor_orjson
    check(
        x <= 1.5 if x == x else None,
        f"tiny event: {fmt_x(x)}× the orjson floor (issue 24 target ≤ 1.5×)",
    )
    for key in ("kinesis100", "kinesis100-18"):
        x = extra_ratio(cells, SUBJECT, key)
        label = h.SIZE_BY_KEY[key].label
        check(
            x <= 1.3 if x == x else None,
            f"{label} over the tiny event: {fmt_x(x)}× what it costs the orjson floor "
            "(issue 24 target ≤ 1.3×)",
        )
    mine, ref = h.median(cold.get(SUBJECT, [])), h.median(cold.get(REFERENCE, []))
    check(
        mine <= ref if mine == mine and ref == ref else None,
        f"cold start: {mine:.0f} ms vs awslambdaric {ref:.0f} ms (target: no slower)",
    )
    ref_cell = cell(REFERENCE, "tiny")
    if ref_cell is not None:
        x = tiny.rss_mb / ref_cell.rss_mb
        check(
            x <= 1.5,
            f"peak RSS: {tiny.rss_mb:.1f} MB vs awslambdaric {ref_cell.rss_mb:.1f} MB "
            f"= {x:.2f}× (target ≤ 1.5×)",
        )
    return lines


def render_markdown(
    args: argparse.Namespace,
    contenders: Sequence[h.Contender],
    sizes: Sequence[h.Size],
    cells: dict[tuple[str, str], Cell],
    cold: dict[str, list[float]],
    prof: dict[str, object],
    where: h.Placement,
    skipped: dict[str, str],
    started: float,
) -> str:
    out: list[str] = []
    w = out.append
    w(f"# aiolambda benchmarks: {args.tag}\n")
    if args.quick:
        w(f"**{QUICK_WARNING}**\n")
    meta = args.meta
    w(
        f"`{meta['command']}` at commit `{meta['commit']}` on "
        f"{meta['date']}; Python {meta['python']}, {meta['cpu']}, "
        f"{meta['vcpus']} vCPUs, Linux {meta['kernel']}; "
        f"mock and contender on {where.label}; {args.reps} repetitions, order rotated; "
        f"run took {(time.time() - started) / 60:.1f} min; load average "
        f"{args.load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        "(other work on the machine inflates absolute times; ratios hold better).\n"
    )
    tiny = next((s for s in sizes if s.key == "tiny"), None)
    if tiny is not None:
        w(f"## Tiny event ({len(h.TINY_EVENT)} B): µs per invocation\n")
        w(
            "| contender | µs/inv median (min–max) | inv/s | × awslambdaric | × floor "
            "| × floor + orjson | CPU µs/inv: contender / mock | PSS MB | peak RSS MB "
            "| cold start ms |"
        )
        w("|---|---|---|---|---|---|---|---|---|---|")
        for c in contenders:
            cell = cells.get((c.key, "tiny"))
            if cell is None:
                continue
            cs = h.median(cold.get(c.key, []))
            cold_txt = f"{cs:.0f}" if cs == cs else "–"
            if not cell.ok:
                w(f"| {c.label} | FAILED ({len(cell.errors)} runs) | | | | | | | | {cold_txt} |")
                continue
            w(
                f"| {c.label} | {fmt_us(cell.median_us)} "
                f"({fmt_us(min(cell.us))}–{fmt_us(max(cell.us))}) "
                f"| {fmt_us(1e6 / cell.median_us)} | {fmt_x(cell.ratio_ref)} "
                f"| {fmt_x(cell.ratio_floor)} | {fmt_x(cell.ratio_floor_orjson)} | {cell.cpu_txt} "
                f"| {cell.pss_mb:.1f} | {cell.rss_mb:.1f} | {cold_txt} |"
            )
        w(
            f"\nN per run: {tiny.n_quick if args.quick else tiny.n} "
            f"(bash + curl: {_n(cells, 'bash_curl', 'tiny')}). × awslambdaric: as Lambda runs it "
            "(python3.12+, `AWS_EXECUTION_ENV` set). PSS: the contender's processes at the end "
            "of the run (`/proc/PID/smaps_rollup`, summed over its process group).\n"
        )
    larger = [s for s in sizes if s.key != "tiny"]
    if larger:
        w("## Realistic and larger events: µs per invocation, median (× awslambdaric)\n")
        w("| contender | " + " | ".join(s.label for s in larger) + " |")
        w("|---|" + "---|" * len(larger))
        for c in contenders:
            row = []
            for s in larger:
                cell = cells.get((c.key, s.key))
                if cell is None:
                    row.append("not run")
                elif not cell.ok:
                    row.append("FAILED")
                else:
                    row.append(f"{fmt_us(cell.median_us)} ({fmt_x(cell.ratio_ref)}×)")
            w(f"| {c.label} | " + " | ".join(row) + " |")
        realistic = [s for s in larger if s.build is not None]
        if realistic:
            w(
                "\nOver the tiny event, as a multiple of what the same event costs the orjson "
                "floor over its tiny one (median of per-repetition ratios): "
                + "; ".join(
                    f"{s.label} {fmt_x(extra_ratio(cells, SUBJECT, s.key))}×" for s in realistic
                )
                + "."
            )
        ns = ", ".join(
            f"{s.label}: {s.n_quick if args.quick else s.n} "
            f"({_n(cells, 'bash_curl', s.key)} for bash)"
            for s in larger
        )
        w(
            f"\nN per run: {ns}. Peak RSS, MB (median), "
            + "; ".join(
                f"{s.label}: "
                + ", ".join(
                    f"{c.key} {cells[(c.key, s.key)].rss_mb:.0f}"
                    for c in contenders
                    if (c.key, s.key) in cells and cells[(c.key, s.key)].ok
                )
                for s in larger
            )
            + ".\n"
        )
    w("## Targets (issues 4 and 24)\n")
    for ok, line in targets(cells, cold):
        w(f"- {'PASS' if ok else 'FAIL' if ok is False else 'N/A '} {line}")
    w("")
    w(render_profile(prof, cells, sizes))
    if skipped:
        w("## Not run\n")
        for key, why in skipped.items():
            w(f"- {key}: {why}")
        w("")
    w(METHOD)
    return "\n".join(out)


def _n(cells: dict[tuple[str, str], Cell], contender: str, size: str) -> str:
    cell = cells.get((contender, size))
    return str(cell.n) if cell is not None else "not run"


def render_profile(
    prof: dict[str, object], cells: dict[tuple[str, str], Cell], sizes: Sequence[h.Size]
) -> str:
    out: list[str] = ["## Where aiolambda's time goes\n"]
    w = out.append
    w(
        "Phases estimated from outside (the runtime has no profiling hook): decode/encode = "
        "orjson timed in-process on the same event; handler = one task of the async echo "
        "created and awaited on uvloop; receive + send = aiolambda's µs/inv − the floor's "
        "(which already pays the mock, the kernel and minimal socket I/O) − decode − encode − "
        "handler. simplejson columns show awslambdaric's codec on the same event.\n"
    )
    w(
        "| event | aiolambda µs/inv | floor µs/inv | decode (orjson) | handler "
        "| encode (orjson) | receive + send (rest) | simplejson loads + dumps |"
    )
    w("|---|---|---|---|---|---|---|---|")
    codec = {c["size"]: c for c in prof.get("codec", [])}  # type: ignore[union-attr]
    for s in sizes:
        ct = codec.get(s.key)
        mine, floor = cells.get((SUBJECT, s.key)), cells.get((FLOOR, s.key))
        if ct is None:
            continue
        total = mine.median_us if mine is not None and mine.ok else float("nan")
        base = floor.median_us if floor is not None and floor.ok else float("nan")
        rest = total - base - ct["orjson_loads_us"] - ct["orjson_dumps_us"] - ct["handler_task_us"]
        w(
            f"| {s.label} | {fmt_us(total)} | {fmt_us(base)} | {fmt_us(ct['orjson_loads_us'])} "
            f"| {fmt_us(ct['handler_task_us'])} | {fmt_us(ct['orjson_dumps_us'])} | {fmt_us(rest)} "
            f"| {fmt_us(ct['simplejson_loads_us'] + ct['simplejson_dumps_us'])} |"
        )
    w("")
    ablation = prof.get("ablation")
    if isinstance(ablation, dict):
        w(
            "Ablations, tiny event, alternating with the default runtime "
            f"({ablation['reps']} repetitions; Δ = median of per-repetition differences "
            "to the default, negative = faster without the feature):\n"
        )
        w("| variant | µs/inv | Δ µs vs default | × floor | CPU µs/inv: contender / mock |")
        w("|---|---|---|---|---|")
        for row in ablation["rows"]:
            if not row["ok"]:
                w(f"| {row['label']} | FAILED | | | |")
                continue
            w(
                f"| {row['label']} | {fmt_us(row['median_us'])} | {row['delta_us']:+.1f} "
                f"| {fmt_x(row['ratio_floor'])} | {row.get('cpu', '–')} |"
            )
        w("")
    syscalls = prof.get("syscalls")
    if isinstance(syscalls, dict) and any(syscalls.values()):
        w("System calls per tiny invocation (`strace -f -c`, start-up subtracted):\n")
        for key, per in syscalls.items():
            if per:
                detail = ", ".join(f"{name} {count:g}" for name, count in per.items())
                w(f"- {key}: {sum(per.values()):.1f} ({detail})")
        w("")
    cprof = prof.get("cprofile")
    if isinstance(cprof, dict):
        for size_key, data in cprof.items():
            if "error" in data:
                w(f"cProfile ({size_key}): not available: {data['error'][:300]}\n")
                continue
            w(
                f"cProfile of the runtime process, {size_key} event: a run of {data['n']} "
                "invocations minus a run of 1 (start-up cancels out), per invocation, by own "
                f"time ({data['us_per_inv_under_cprofile']:.0f} µs/inv under the profiler; "
                "time inside uvloop's C code, including socket writes, shows as the own time "
                "of the Python function that called into it):\n"
            )
            w(
                f"Inside the event loop's own C code (uvloop: epoll, socket reads, callbacks; "
                f"on one CPU this includes the mock's turn): {data['loop_own_us_per_inv']:.0f} "
                "µs/inv.\n"
            )
            w("| function | calls/inv | own µs/inv | cumulative µs/inv |")
            w("|---|---|---|---|")
            for row in data["top"]:
                w(
                    f"| `{row['function']}` | {row['calls']:.1f} "
                    f"| {row['tottime_us_per_inv']:.1f} "
                    f"| {row['cumtime_us_per_inv']:.1f} |"
                )
            w("")
    imports = prof.get("importtime")
    if isinstance(imports, dict) and imports:
        w("Cold start, `python -X importtime` (top-level imports, ms, cumulative):\n")
        for key, data in imports.items():
            top = ", ".join(f"{name} {ms:.1f}" for name, ms in data["top"][:8])
            w(f"- {key}: {data['total_ms']:.0f} ms of imports in total; biggest: {top}")
        w("")
    if "note" in prof:
        w(f"{prof['note']}\n")
    return "\n".join(out)


METHOD = """## Method

- **Mock Runtime API** (`benchmarks/_mock_api.py`): a raw `asyncio.Protocol` server on uvloop
  in its own process, keep-alive, pre-built response heads with a fresh request id per invocation
  and the usual headers (request id, deadline, function ARN, trace id, content type). It serves
  exactly N invocations and checks each answer against its event (byte-exact against the usual
  JSON renderings, else parsed-JSON-equal): a wrong answer, an unknown or repeated request id or
  an `/error` post fails the run. Time runs from the first `/next` to the N-th answer.
- **Contenders** are real processes started with the Lambda environment (`_HANDLER`,
  `LAMBDA_TASK_ROOT`, `AWS_LAMBDA_RUNTIME_API`, function name/version/memory, log group/stream,
  region; no credentials), echo handlers in `benchmarks/handlers/`.
- **CPU placement**: on these 2-vCPU VMs a wake-up across vCPUs costs far more than on bare
  metal, which would drown the differences, so the mock and the contender are pinned to the same
  CPU (`sched_setaffinity`, what `taskset -c` does) for the main table; `--split-cpu` puts them on
  different CPUs.
- **Repetitions**: every repetition runs each contender once, the order rotated from one
  repetition to the next (A B C, B C A, C A B, …), so slow phases of the host hit all of them
  and no contender always runs right after the same one; figures are medians over repetitions
  with min–max, ratios are medians of per-repetition ratios. Quote ratios, not absolute
  times: the host drifts.
- **awslambdaric** is the reference as Lambda runs it on python3.12 and later:
  `AWS_EXECUTION_ENV=AWS_Lambda_python3.12`, which switches it to another code path (a
  thread around every `/next`, another JSON encoder). Without the variable it is a row of
  its own, labelled as not how Lambda runs it.
- **CPU µs/inv** is the user + system time the contender (and, for comparison, the mock)
  spent between the first `/next` and the N-th answer, from `/proc/PID/stat` sampled by the
  mock at those two moments (10 ms ticks; all threads; not for bash, whose work is in its
  short-lived curl children). On one CPU the wall time is about the sum of the two; the
  mock's share grows with the contender's cache footprint, so the contender's CPU is the
  cleanest measure of its own cost.
- **Peak RSS** is `VmHWM` from `/proc/PID/status` of the contender, read just before it is
  killed, summed over its process group (for bash: bash plus the curl parked on `/next`). Not
  `ru_maxrss` from `wait4`: Linux carries the forking parent's high-water mark across `exec`, so
  it would report the harness's size. **PSS** (proportional set size: shared pages split
  between the processes that map them) is read from `/proc/PID/smaps_rollup` of every live
  process of the contender's group when the run ends, and summed: what the contender really
  occupies, measured, never a multiple of one process. **Cold start** is the time from just
  before `exec` of the contender to the mock receiving its first `/next` (median of the
  cold-start launches).
- bash + curl gets fewer invocations per run (it costs ~20 ms each).
"""


def render_chart(
    path: Path,
    contenders: Sequence[h.Contender],
    sizes: Sequence[h.Size],
    cells: dict[tuple[str, str], Cell],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(
        1, len(sizes), figsize=(4.2 * len(sizes), 0.45 * len(contenders) + 1.8), squeeze=False
    )
    for ax, s in zip(axes[0], sizes, strict=True):
        labels, med, lo, hi, colors = [], [], [], [], []
        for c in contenders:
            cell = cells.get((c.key, s.key))
            if cell is None or not cell.ok:
                continue
            labels.append(c.label)
            m = cell.median_us
            med.append(m)
            lo.append(m - min(cell.us))
            hi.append(max(cell.us) - m)
            colors.append(
                "#d62728"
                if c.key.startswith(SUBJECT)
                else "#7f7f7f"
                if c.key.startswith("floor")
                else "#1f77b4"
            )
        y = list(range(len(labels)))
        ax.barh(y, med, xerr=[lo, hi], color=colors, capsize=2)
        ax.set_yticks(y, labels if ax is axes[0][0] else [""] * len(labels))
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(f"{s.label} event")
        ax.set_xlabel("µs per invocation (log)")
        for yi, m, h_err in zip(y, med, hi, strict=True):
            ax.text((m + h_err) * 1.08, yi, fmt_us(m), va="center", fontsize=7)
        if med:
            ax.set_xlim(min(m - e for m, e in zip(med, lo, strict=True)) * 0.5, max(med) * 6)
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle("Per-invocation cost (median, min–max), lower is better")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the results file and the README --------------------------------------------------------
DEFAULT_SIZES = "tiny,apigw2,sqs10,kinesis100,kinesis100-18,ddb100,100k,1m,6m"
README_CONTENDERS = (
    "aiolambda",
    "aiolambda_aiohttp",
    "aiolambda_sync",
    "bash_curl",
    "awslambdaric_312",
    "awslambdaric",
    "floor",
    "floor_orjson",
)


def _int_keys(by_rep: dict[str, float]) -> dict[int, float]:
    return {int(rep): us for rep, us in by_rep.items()}  # JSON turned the keys into strings


def readme_tables(data: dict[str, object]) -> str:
    """The README's benchmark tables, every figure from one results file (``--readme-table``)."""
    meta = data.get("meta")
    if not isinstance(meta, dict):
        raise SystemExit("this results file has no meta block (older than --readme-table)")
    if meta.get("quick"):
        raise SystemExit(f"refusing a quick run: {QUICK_WARNING}")
    cells = {(c["contender"], c["size"]): c for c in data["cells"]}  # type: ignore[attr-defined]
    labels: dict[str, str] = data["contenders"]  # type: ignore[assignment]
    sizes: dict[str, dict[str, object]] = data["sizes"]  # type: ignore[assignment]
    by_rep = {
        k: Cell(c["contender"], c["size"], c["n"], us_by_rep=_int_keys(c["us_by_rep"]))
        for k, c in cells.items()
    }
    out = [
        f"From `benchmarks/results/{meta['tag']}.json`: `{meta['command']}`, {meta['date']}, "
        f"commit `{meta['commit']}`, Python {meta['python']}, {meta['cpu']} "
        f"({meta['vcpus']} vCPUs, Linux {meta['kernel']}), {meta['reps']} repetitions, "
        "order rotated; quote the ratios, not the µs.",
        "",
        f"| contender, {sizes['tiny']['bytes']} B event | µs/inv median | × awslambdaric "
        "| × floor + orjson | PSS MB |",
        "|---|---|---|---|---|",
    ]
    for key in README_CONTENDERS:
        c = cells.get((key, "tiny"))
        if c is None or not c["ok"]:
            continue
        pss = h.median([k / 1024 for k in c["pss_kb"] if k])
        out.append(
            f"| {labels[key]} | {fmt_us(c['median_us'])} | {fmt_x(c['ratio_ref'])} "
            f"| {fmt_x(c['ratio_floor_orjson'])} | {pss:.1f} |"
        )
    others = [k for k in sizes if k != "tiny"]
    out += [
        "",
        "| event | bytes | aiolambda µs/inv | × awslambdaric | × floor + orjson "
        "| over tiny, × the floor's |",
        "|---|---|---|---|---|---|",
    ]
    for key in others:
        c = cells.get((SUBJECT, key))
        if c is None or not c["ok"]:
            continue
        out.append(
            f"| {sizes[key]['label']} | {sizes[key]['bytes']:,} | {fmt_us(c['median_us'])} "
            f"| {fmt_x(c['ratio_ref'])} | {fmt_x(c['ratio_floor_orjson'])} "
            f"| {fmt_x(extra_ratio(by_rep, SUBJECT, key))} |"
        )
    return "\n".join(out)


# -- main -------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small N, 2 repetitions, < 1 minute"
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="alternating repetitions (default 5, quick 2)"
    )
    parser.add_argument(
        "--sizes", default=None, help="comma-separated: tiny,100k,1m,6m (quick: tiny,100k,1m)"
    )
    parser.add_argument("--contenders", default=",".join(c.key for c in h.CONTENDERS))
    parser.add_argument(
        "--split-cpu", action="store_true", help="mock and contender on different CPUs"
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="leave CPU placement to the scheduler"
    )
    parser.add_argument(
        "--cold-starts", type=int, default=None, help="launches per contender (default 10, quick 3)"
    )
    parser.add_argument(
        "--skip-bash-large", action="store_true", help="no bash + curl on 1 MB and 5.9 MB"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the per-phase profile")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--readme-table",
        type=Path,
        default=None,
        metavar="RESULTS_JSON",
        help="print the README's tables from a results file and exit",
    )
    parser.add_argument(
        "--tag", default=None, help="output file stem (default: latest, quick: quick)"
    )
    args = parser.parse_args(argv)
    if args.readme_table is not None:
        print(readme_tables(json.loads(args.readme_table.read_text())))
        return 0
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.reps = args.reps or (2 if args.quick else 5)
    args.tag = args.tag or (
        "quick" if args.quick else ("latest-split" if args.split_cpu else "latest")
    )
    cold_n = args.cold_starts if args.cold_starts is not None else (3 if args.quick else 10)
    default_sizes = "tiny,kinesis100,1m" if args.quick else DEFAULT_SIZES
    size_keys = (args.sizes or default_sizes).split(",")
    sizes = [h.SIZE_BY_KEY[k] for k in size_keys]
    where = h.placement(args.split_cpu, not args.no_pin)

    contenders, skipped = [], {}
    for key in args.contenders.split(","):
        c = h.CONTENDER_BY_KEY[key]
        why = c.available()
        if why:
            skipped[key] = why
        else:
            contenders.append(c)
    started = time.time()
    args.load_start = os.getloadavg()[0]
    args.meta = h.run_meta(" ".join(["python benchmarks/run.py", *args.argv]), started)
    if args.quick:
        log(QUICK_WARNING)
    log(f"benchmarking {', '.join(c.key for c in contenders)} on {where.label}")
    for key, why in skipped.items():
        log(f"  skipping {key}: {why}")
    raw: list[dict[str, object]] = []
    cells = timing_pass(contenders, sizes, args.reps, where, args.quick, args.skip_bash_large, raw)
    log("cold starts")
    cold = cold_start_pass(contenders, cold_n, where, raw)
    prof: dict[str, object] = {}
    if not args.no_profile:
        log("per-phase profile")
        prof = profile_pass(sizes, cells, where, args.quick)
    md = render_markdown(args, contenders, sizes, cells, cold, prof, where, skipped, started)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.tag}.md").write_text(md + "\n")
    data = {
        "meta": {
            **args.meta,
            "load_start": round(args.load_start, 2),
            "load_end": round(os.getloadavg()[0], 2),
            "quick": args.quick,
            "reps": args.reps,
            "tag": args.tag,
        },
        "contenders": {c.key: c.label for c in contenders},
        "sizes": {s.key: {"label": s.label, "bytes": len(s.event())} for s in sizes},
        "argv": args.argv,
        "started": started,
        "placement": asdict(where),
        "python": platform.python_version(),
        "cells": [asdict(c) | {"median_us": c.median_us, "ok": c.ok} for c in cells.values()],
        "cold_start_ms": cold,
        "profile": prof,
        "runs": raw,
    }
    (args.out / f"{args.tag}.json").write_text(json.dumps(data, indent=1, default=str))
    try:
        render_chart(args.out / f"{args.tag}.png", contenders, sizes, cells)
    except ImportError as exc:
        log(f"no chart: {exc}")
    print(md)
    if args.quick:
        log(QUICK_WARNING)
    failed = [f"{c.contender}/{c.size}" for c in cells.values() if c.errors]
    if failed:
        log(f"FAILED runs: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
