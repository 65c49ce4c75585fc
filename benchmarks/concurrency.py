# ruff: noqa: RUF001, RUF002 - the report prints typographic signs (times, en dash) on purpose
"""One aiolambda process, N invocations in flight: throughput and memory (Managed Instances).

    python benchmarks/concurrency.py           # N = 1, 16, 64, 256; ~3 minutes
    python benchmarks/concurrency.py --quick   # fewer rounds and repetitions

The handler is I/O-bound (``await asyncio.sleep(0.05)``), so the ideal throughput
of N concurrent invocations is N / 0.05 s. The mock Runtime API keeps N × rounds
invocations queued and serves every connection that polls ``/next``; aiolambda
runs with ``AWS_LAMBDA_MAX_CONCURRENCY=N``. Every answer is checked: a lost,
repeated or wrong answer fails the run.

Throughput is sustained throughput: it is timed from the answer that ends the first
``--warmup`` rounds (N × warmup answers) to the last one. All N × rounds invocations
are queued at the start, so the first round starts as one burst: N connections, then N
handlers whose 50 ms sleeps end within a few milliseconds of each other. At N = 256 on
one CPU that burst is ~25 ms of work, and it takes the first 3 or so rounds (one cycle
72 ms, then 62, 56, then ~53) to spread out. The whole run, burst included, is shown
beside it.

The process-per-request model (AWS's Python runtime on Managed Instances) needs
one process per concurrent invocation. Its memory is measured, never computed:
awslambdaric's own multi-concurrent mode (N forked worker processes, run as Lambda
runs it on python3.12+, ``AWS_EXECUTION_ENV`` set) serves the blocking twin of the
handler, up to ``--ric-max``, and the PSS of its real processes (``smaps_rollup``,
shared pages split between the workers, summed) is set beside aiolambda's.

Writes ``concurrency.md`` and ``concurrency.json`` (``concurrency-split.*`` with
``--split-cpu``) to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
from _harness import log

SLEEP_S = 0.05  # handlers/sleep.py
WARMUP_ROUNDS = 5
LEVELS = (1, 16, 64, 256)


def _run(
    contender: h.Contender,
    n_conc: int,
    rounds: int,
    where: h.Placement,
    handler: str,
    env: dict[str, str] | None = None,
    full_at: int = 0,
    warmup: int = 0,
) -> h.RunResult:
    total = n_conc * rounds
    with h.EventFile(h.TINY_EVENT) as event:
        return h.run_once(
            contender,
            event,
            total,
            where,
            size_key=f"N={n_conc}",
            timeout_s=60 + 10 * rounds * SLEEP_S,
            env_extra={"AWS_LAMBDA_MAX_CONCURRENCY": str(n_conc), **(env or {})},
            handler=handler,
            full_at=full_at,
            warm_after=n_conc * warmup,
        )


# Sync handlers (blocking time.sleep(0.05)): the default, one process per concurrent
# invocation, and the opt-in, threads in one process.
SYNC_MODES = {
    "processes (default)": {},
    "threads (AIOLAMBDA_SYNC_THREADS=1)": {"AIOLAMBDA_SYNC_THREADS": "1"},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="10 rounds, 1 repetition")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)))
    parser.add_argument("--rounds", type=int, default=None, help="invocations per poller")
    parser.add_argument(
        "--warmup", type=int, default=None, help=f"untimed rounds (default {WARMUP_ROUNDS})"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3)")
    parser.add_argument("--split-cpu", action="store_true", help="mock and runtime on two CPUs")
    parser.add_argument("--ric-max", type=int, default=64, help="largest N for awslambdaric's mode")
    parser.add_argument("--sync-levels", default="16,64", help="N for sync handlers ('' skips)")
    parser.add_argument(
        "--sync-rounds", type=int, default=None, help="invocations per slot, sync (default 60)"
    )
    parser.add_argument("--out", type=Path, default=h.HERE / "results")
    parser.add_argument("--tag", default=None, help="file stem (concurrency[-split])")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    rounds = args.rounds or (10 if args.quick else 40)
    warmup = args.warmup if args.warmup is not None else (3 if args.quick else WARMUP_ROUNDS)
    if not 0 <= warmup < rounds:
        parser.error("--warmup must be below --rounds")
    reps = args.reps or (1 if args.quick else 3)
    levels = [int(x) for x in args.levels.split(",")]
    sync_levels = [int(x) for x in args.sync_levels.split(",") if x]
    sync_rounds = args.sync_rounds or (10 if args.quick else 60)
    where = h.placement(args.split_cpu)
    subject = h.CONTENDER_BY_KEY["aiolambda"]
    ric = h.CONTENDER_BY_KEY["awslambdaric_312"]
    if subject.available():
        log(f"aiolambda not runnable: {subject.available()}")
        return 2
    started = time.time()
    args.load_start = os.getloadavg()[0]

    runs: dict[int, list[h.RunResult]] = {n: [] for n in levels}
    sync_runs: dict[tuple[str, int], list[h.RunResult]] = {
        (mode, n): [] for mode in SYNC_MODES for n in sync_levels
    }
    ric_runs: dict[int, h.RunResult] = {}
    failures: list[str] = []
    for rep in range(reps):
        for n_conc in levels:
            r = _run(subject, n_conc, rounds, where, "sleep.handler", warmup=warmup)
            runs[n_conc].append(r)
            tput = _sustained(r) if r.ok else 0.0
            log(
                f"  rep {rep + 1}/{reps} N={n_conc:<4} "
                + (
                    f"{tput:8.0f} inv/s ({tput / (n_conc / SLEEP_S):.1%} of ideal; "
                    f"whole run {r.n / r.elapsed_s / (n_conc / SLEEP_S):.1%}), "
                    f"max in flight {r.max_in_flight}, {r.peak_rss_kb / 1024:.1f} MB"
                    if r.ok
                    else f"FAILED: {r.error}"
                )
            )
            if not r.ok:
                failures.append(f"aiolambda N={n_conc}: {r.error}")
        for mode, env in SYNC_MODES.items():
            for n_conc in sync_levels:
                r = _run(subject, n_conc, sync_rounds, where, "sleep_sync.handler", env, n_conc)
                sync_runs[mode, n_conc].append(r)
                tput = r.n / r.elapsed_s if r.ok and r.elapsed_s else 0.0
                log(
                    f"  rep {rep + 1}/{reps} sync {mode} N={n_conc:<4} "
                    + (
                        f"{tput:8.0f} inv/s ({tput / (n_conc / SLEEP_S):.1%} of ideal), "
                        f"warm {_warm(r) / (n_conc / SLEEP_S):.1%}, "
                        f"{r.processes} processes, {r.peak_rss_kb / 1024:.1f} MB"
                        if r.ok
                        else f"FAILED: {r.error}"
                    )
                )
                if not r.ok:
                    failures.append(f"aiolambda sync {mode} N={n_conc}: {r.error}")
    if not ric.available():
        for n_conc in sorted({*levels, *sync_levels}):
            if n_conc > args.ric_max:
                continue
            r = _run(ric, n_conc, rounds, where, "sleep_sync.handler", warmup=warmup)
            ric_runs[n_conc] = r
            log(
                f"  awslambdaric N={n_conc}: "
                + (
                    f"{_sustained(r):.0f} inv/s, {r.processes} processes, "
                    f"PSS {r.pss_kb / 1024:.0f} MB, Σ peak RSS {r.peak_rss_kb / 1024:.0f} MB"
                    if r.ok
                    else f"FAILED: {r.error}"
                )
            )

    md = render(args, levels, rounds, warmup, reps, where, runs, ric_runs, started)
    md += "\n" + render_sync(sync_runs, sync_rounds, ric_runs)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = args.tag or ("concurrency-split" if args.split_cpu else "concurrency")
    (args.out / f"{tag}.md").write_text(md + "\n")
    data = {
        "meta": {
            **h.run_meta(" ".join(["python benchmarks/concurrency.py", *args.argv]), started),
            "load_start": round(args.load_start, 2),
            "load_end": round(os.getloadavg()[0], 2),
        },
        "argv": args.argv,
        "placement": asdict(where),
        "rounds": rounds,
        "warmup_rounds": warmup,
        "aiolambda": {str(n): [asdict(r) for r in rs] for n, rs in runs.items()},
        "awslambdaric_multi": {str(n): asdict(r) for n, r in ric_runs.items()},
        "aiolambda_sync": {
            f"{mode} N={n}": [asdict(r) for r in rs] for (mode, n), rs in sync_runs.items()
        },
    }
    (args.out / f"{tag}.json").write_text(json.dumps(data, indent=1))
    print(md)
    if failures:
        log("FAILED: " + "; ".join(failures))
        return 1
    return 0


def render(
    args: argparse.Namespace,
    levels: list[int],
    rounds: int,
    warmup: int,
    reps: int,
    where: h.Placement,
    runs: dict[int, list[h.RunResult]],
    ric_runs: dict[int, h.RunResult],
    started: float,
) -> str:
    out: list[str] = []
    w = out.append
    w("# One aiolambda process, N concurrent invocations\n")
    meta = h.run_meta(" ".join(["python benchmarks/concurrency.py", *args.argv]), started)
    w(
        f"`{meta['command']}` at commit `{meta['commit']}` on {meta['date']}; "
        f"Python {meta['python']}, {meta['cpu']}, {meta['vcpus']} vCPUs, Linux {meta['kernel']}; "
        f"mock and runtime on {where.label}; "
        f"throughput timed after the first {warmup} rounds (N × {warmup} answers), "
        f"whole run beside it; "
        f"handler `await asyncio.sleep({SLEEP_S})`; {rounds} invocations per poller "
        f"(N × {rounds} per run, all queued from the start); median of {reps} runs; "
        f"load average {args.load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n"
    )
    w(
        "| N in flight | inv/s (min–max) | ideal N/0.05 s | % of ideal | whole run: % of ideal "
        "| max in flight seen | runtime CPU µs/inv | mock CPU µs/inv "
        "| aiolambda peak RSS MB | aiolambda PSS MB | awslambdaric, N processes: PSS MB "
        "| aiolambda / awslambdaric (PSS) |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n_conc in levels:
        ok = [r for r in runs[n_conc] if r.ok]
        if not ok:
            w(f"| {n_conc} | FAILED | | | | | | | | | | |")
            continue
        tputs = [_sustained(r) for r in ok]
        tput = h.median(tputs)
        whole = h.median([r.n / r.elapsed_s for r in ok])
        ideal = n_conc / SLEEP_S
        rss = h.median([r.peak_rss_kb / 1024 for r in ok])
        pss = h.median([r.pss_kb / 1024 for r in ok])
        ric = ric_runs.get(n_conc)
        ric_pss = ric.pss_kb / 1024 if ric is not None and ric.ok and ric.pss_kb else 0.0
        if not ric_pss:
            ric_txt, ratio = "not measured", "–"
        else:
            ric_txt = f"{ric_pss:,.0f}"
            ratio = f"1/{ric_pss / pss:.1f}" if ric_pss >= pss else f"{pss / ric_pss:.1f}×"
        w(
            f"| {n_conc} | {tput:,.0f} ({min(tputs):,.0f}–{max(tputs):,.0f}) | {ideal:,.0f} "
            f"| {tput / ideal:.1%} | {whole / ideal:.1%} | {max(r.max_in_flight for r in ok)} "
            f"| {_cpu_txt(ok)} | {_mock_cpu_txt(ok)} "
            f"| {rss:.1f} | {pss:.1f} "
            f"| {ric_txt} | {ratio} |".replace(",", " ")
        )
    w("")
    if ric_runs:
        w(
            "Cross-check, awslambdaric's own multi-concurrent mode "
            "(`AWS_LAMBDA_MAX_CONCURRENCY=N`: N forked worker processes, blocking "
            "`time.sleep(0.05)` handler), one run each:\n"
        )
        w("| N | inv/s | % of ideal | processes | Σ PSS MB | Σ peak RSS MB |")
        w("|---|---|---|---|---|---|")
        for n_conc, r in sorted(ric_runs.items()):
            if not r.ok:
                w(f"| {n_conc} | FAILED | | | | |")
                continue
            tput = _sustained(r)
            w(
                f"| {n_conc} | {tput:,.0f} | {tput / (n_conc / SLEEP_S):.1%} | {r.processes} "
                f"| {r.pss_kb / 1024:,.0f} | {r.peak_rss_kb / 1024:,.0f} |".replace(",", " ")
            )
        w("")
    w("## Targets (issues 6 and 24)\n")
    for ok_, line in targets(runs, ric_runs):
        w(f"- {'PASS' if ok_ else 'FAIL' if ok_ is False else 'N/A '} {line}")
    w("")
    w(
        "Method: throughput = answers after the first N × warmup / (that answer → last answer), "
        "as timed by the mock; whole run = all invocations / (first `/next` → last answer). "
        "CPU per invocation: over the whole run; the mock's counts against the ideal too, "
        "as it shares the runtime's CPU. "
        "Peak RSS = `VmHWM` of the process(es) read from `/proc` just before the run ends. "
        "PSS = proportional set size of every live process of the runtime's group, from "
        "`/proc/PID/smaps_rollup` when the run ends, summed (shared pages split between the "
        "processes that map them). awslambdaric's memory is that of its real N-process mode "
        "(as Lambda runs it: `AWS_EXECUTION_ENV=AWS_Lambda_python3.12`), measured, up to "
        "`--ric-max`; never N × one process."
    )
    return "\n".join(out)


def render_sync(
    sync_runs: dict[tuple[str, int], list[h.RunResult]],
    rounds: int,
    ric_runs: dict[int, h.RunResult],
) -> str:
    """The sync-handler table: one process per concurrent invocation vs threads."""
    if not sync_runs:
        return ""
    out = [
        "## Sync handlers (`time.sleep(0.05)`)\n",
        f"Same mock, {rounds} invocations per slot, median of the runs. *inv/s* counts from "
        "the first `/next` to the last answer, so in processes mode it includes the init of "
        "the N − 1 workers, which start after the first process's init (all pinned to the "
        "runtime's one CPU); *warm* counts from the moment N invocations were first in "
        "flight. Memory is summed over the runtime's process group.\n",
        "| mode | N | inv/s | % of ideal | warm % of ideal | processes | Σ peak RSS MB "
        "| Σ PSS MB | MB per process (PSS) | awslambdaric, N processes: Σ PSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (mode, n_conc), rs in sync_runs.items():
        ok = [r for r in rs if r.ok]
        if not ok:
            out.append(f"| {mode} | {n_conc} | FAILED | | | | | | | |")
            continue
        tput = h.median([r.n / r.elapsed_s for r in ok])
        rss = h.median([r.peak_rss_kb / 1024 for r in ok])
        pss = h.median([r.pss_kb / 1024 for r in ok])
        procs = max(r.processes for r in ok)
        warm = h.median([_warm(r) for r in ok]) / (n_conc / SLEEP_S)
        ric = ric_runs.get(n_conc)
        ric_txt = f"{ric.pss_kb / 1024:,.0f}" if ric is not None and ric.ok else "not measured"
        out.append(
            f"| {mode} | {n_conc} | {tput:,.0f} | {tput / (n_conc / SLEEP_S):.1%} "
            f"| {warm:.1%} | {procs} "
            f"| {rss:,.0f} | {pss:,.0f} | {pss / max(procs, 1):.1f} "
            f"| {ric_txt} |".replace(",", " ")
        )
    return "\n".join(out) + "\n"


def _sustained(r: h.RunResult) -> float:
    """Answers per second after the warm-up rounds (the whole run's if there were none)."""
    return _warm(r) or (r.n / r.elapsed_s if r.elapsed_s else 0.0)


def _warm(r: h.RunResult) -> float:
    return r.warm_n / r.warm_elapsed_s if r.warm_elapsed_s else 0.0


def _mock_cpu_txt(runs: list[h.RunResult]) -> str:
    # Exact (process_time), but its fixed costs (reading /proc at both ends) need a long run.
    if any(r.n < 1000 for r in runs):
        return "–"
    return f"{h.median([r.mock_cpu_s / r.n * 1e6 for r in runs]):.0f}"


def _cpu_txt(runs: list[h.RunResult]) -> str:
    # /proc counts CPU time in 10 ms ticks: below ~0.2 s in total the figure is noise.
    if any(r.client_cpu_s < 0.2 for r in runs):
        return "–"
    return f"{h.median([r.cpu_us_per_inv for r in runs]):.0f}"


def targets(
    runs: dict[int, list[h.RunResult]], ric_runs: dict[int, h.RunResult]
) -> list[tuple[bool | None, str]]:
    lines: list[tuple[bool | None, str]] = []
    failed = [n for n, rs in runs.items() if any(not r.ok for r in rs)]
    lines.append(
        (
            not failed,
            "no invocation lost or answered twice at any N"
            + (f" (failed at N = {failed})" if failed else ""),
        )
    )
    at256 = [r for r in runs.get(256, []) if r.ok]
    if at256:
        eff = h.median([_sustained(r) / (256 / SLEEP_S) for r in at256])
        lines.append((eff >= 0.9, f"N = 256: {eff:.1%} of ideal throughput (target ≥ 90 %)"))
    at64 = [r for r in runs.get(64, []) if r.ok]
    if not at64:
        lines.append((None, "N = 64 not measured"))
        return lines
    eff = h.median([_sustained(r) / (64 / SLEEP_S) for r in at64])
    lines.append((eff >= 0.9, f"N = 64: {eff:.1%} of ideal throughput (target ≥ 90 %)"))
    ric = ric_runs.get(64)
    if ric is not None and ric.ok and ric.pss_kb:
        pss = h.median([float(r.pss_kb) for r in at64])
        frac = pss / ric.pss_kb
        lines.append(
            (
                frac <= 0.1,
                f"N = 64: {pss / 1024:.1f} MB PSS vs {ric.pss_kb / 1024:.0f} MB PSS for "
                f"awslambdaric's 64 processes = 1/{1 / frac:.1f} (target ≤ 1/10)",
            )
        )
    else:
        lines.append((None, "N = 64: awslambdaric's 64-process mode not measured"))
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
