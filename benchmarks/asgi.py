"""A FastAPI request through ``aiolambda.asgi.ASGIHandler`` against Mangum on awslambdaric.

Each contender is a real runtime process serving the same FastAPI app
(``handlers/asgi_app.py``) against the fast mock Runtime API (``_mock_api.py``), which
hands out API Gateway events and checks every answer's ``statusCode`` and ``body``.
Contenders alternate within each repetition; the table gives the median µs per
request (first ``/next`` to last answer), the median of the per-repetition ratios to
aiolambda's, and the same for the contender's own CPU time (10 ms ticks).

* aiolambda + ``ASGIHandler``: ``python -m aiolambda asgi_aiolambda.handler``;
  the app's lifespan runs once, at init.
* awslambdaric + Mangum (defaults): ``python -m awslambdaric asgi_mangum.handler``;
  Mangum runs the lifespan's startup and shutdown around every request.
* awslambdaric + Mangum ``lifespan="off"``: Mangum's floor (an app whose state needs
  no lifespan).

    python benchmarks/asgi.py [--reps 5] [--n 2000] [--quick] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import types

from _harness import HANDLERS, PYTHON, Contender, EventFile, placement, run_once

CONTENDERS = (
    Contender(
        "aiolambda",
        "aiolambda + ASGIHandler",
        (PYTHON, "-m", "aiolambda"),
        handler="asgi_aiolambda.handler",
    ),
    Contender(
        "mangum",
        "awslambdaric + Mangum",
        (PYTHON, "-m", "awslambdaric"),
        handler="asgi_mangum.handler",
        needs="mangum",
    ),
    Contender(
        "mangum_off",
        'awslambdaric + Mangum, lifespan="off"',
        (PYTHON, "-m", "awslambdaric"),
        handler="asgi_mangum.handler_no_lifespan",
        needs="mangum",
    ),
)

_HEADERS = {
    "accept": "application/json",
    "accept-encoding": "gzip, deflate, br",
    "host": "f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "x-amzn-trace-id": "Root=1-674c8a2e-2b3c4d5e6f7a8b9c0d1e2f3a",
    "x-forwarded-for": "198.51.100.23",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
}


def http_api_event() -> dict[str, object]:
    """GET /items/42?q=lamp from an HTTP API (payload 2.0), as API Gateway sends it."""
    return {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": "/items/42",
        "rawQueryString": "q=lamp",
        "cookies": ["session=abc123"],
        "headers": _HEADERS,
        "queryStringParameters": {"q": "lamp"},
        "pathParameters": {"proxy": "items/42"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "f6g7h8i9j0",
            "domainName": _HEADERS["host"],
            "domainPrefix": "f6g7h8i9j0",
            "http": {
                "method": "GET",
                "path": "/items/42",
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.23",
                "userAgent": _HEADERS["user-agent"],
            },
            "requestId": "CxZ3kh2vDoEEJ9Q=",
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "time": "01/Dec/2026:15:04:05 +0000",
            "timeEpoch": 1796137445123,
        },
        "isBase64Encoded": False,
    }


def rest_event() -> dict[str, object]:
    """The same request from a REST API (payload 1.0) on its $default-less stage."""
    headers = {name.title(): value for name, value in _HEADERS.items()}
    return {
        "resource": "/{proxy+}",
        "path": "/items/42",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {"q": "lamp"},
        "multiValueQueryStringParameters": {"q": ["lamp"]},
        "pathParameters": {"proxy": "items/42"},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "x7y8z9",
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": "/items/42",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "requestId": "0b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            "identity": {"sourceIp": "198.51.100.23", "userAgent": _HEADERS["user-agent"]},
            "domainName": "example.com",
            "apiId": "a1b2c3d4e5",
        },
        "body": None,
        "isBase64Encoded": False,
    }


EVENTS = {"http": ("HTTP API (2.0)", http_api_event), "rest": ("REST API (1.0)", rest_event)}


def expected_answer(event: dict[str, object]) -> dict[str, object]:
    """What every contender must answer: the app's own response, run here once."""
    if str(HANDLERS) not in sys.path:
        sys.path.append(str(HANDLERS))
    from asgi_aiolambda import handler
    from asgi_mangum import handler as mangum

    context = types.SimpleNamespace(aws_request_id="bench")
    loop = asyncio.new_event_loop()  # Mangum runs each call on the thread's current loop
    asyncio.set_event_loop(loop)
    try:
        theirs = mangum(event, context)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    ours = asyncio.run(handler(event, context))
    expect = {"statusCode": 200, "body": ours["body"], "isBase64Encoded": False}
    if any(theirs.get(key) != value for key, value in expect.items()):
        raise SystemExit(f"the contenders disagree: {ours} vs {theirs}")
    return expect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000, help="requests per run")
    parser.add_argument("--quick", action="store_true", help="3 repetitions of 300 requests")
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/asgi.{md,json}"
    )
    args = parser.parse_args()
    import _harness as h

    meta = h.start_meta()
    data: list[dict[str, object]] = []
    reps, n = (3, 300) if args.quick else (args.reps, args.n)
    where = placement(split=False)
    contenders = [c for c in CONTENDERS if not c.available()]
    rows = []
    for key, (label, make) in EVENTS.items():
        event = make()
        expect = expected_answer(event)
        with (
            EventFile(json.dumps(event).encode()) as event_file,
            tempfile.NamedTemporaryFile("w", suffix=".json") as expect_file,
        ):
            json.dump(expect, expect_file)
            expect_file.flush()
            wall: dict[str, list[float]] = {c.key: [] for c in contenders}
            cpu: dict[str, list[float]] = {c.key: [] for c in contenders}
            for rep in range(reps):
                # Alternate the order too, so no contender always runs first.
                order = contenders if rep % 2 == 0 else contenders[::-1]
                for contender in order:
                    result = run_once(
                        contender,
                        event_file,
                        n,
                        where,
                        size_key=key,
                        timeout_s=60 + n * 0.02,
                        mock_args=("--expect-file", expect_file.name),
                    )
                    if not result.ok:
                        raise SystemExit(f"{contender.label}: {result.error}")
                    wall[contender.key].append(result.us_per_inv)
                    cpu[contender.key].append(result.cpu_us_per_inv)
        for contender in contenders:
            # Ratios within each repetition: the contenders ran back to back, under the
            # same load, so these are steadier than a ratio of medians on a busy machine.
            ratios = [
                mine / ours
                for mine, ours in zip(wall[contender.key], wall["aiolambda"], strict=True)
            ]
            cpu_ratios = [
                mine / ours for mine, ours in zip(cpu[contender.key], cpu["aiolambda"], strict=True)
            ]
            runs = ", ".join(f"{v:.0f}" for v in wall[contender.key])
            data.append(
                {
                    "event": key,
                    "contender": contender.key,
                    "us_per_request": wall[contender.key],
                    "cpu_us_per_request": cpu[contender.key],
                    "ratio_to_aiolambda": statistics.median(ratios),
                    "cpu_ratio_to_aiolambda": statistics.median(cpu_ratios),
                }
            )
            rows.append(
                f"| {label} | {contender.label} | {statistics.median(wall[contender.key]):.0f} "
                f"| **{statistics.median(ratios):.2f}** "
                f"| {statistics.median(cpu[contender.key]):.0f} "
                f"| {statistics.median(cpu_ratios):.2f} | {runs} |"
            )
    lines = [
        f"FastAPI GET /items/42?q=lamp, {n} requests per run, {reps} alternating repetitions,",
        f"mock and contender on {where.label}; Python {sys.version.split()[0]}",
        "",
        "| event | contender | µs/request | x aiolambda | CPU µs/request | CPU x aiolambda "
        "| runs (µs) |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(lines))
    if args.write:
        h.write_results("asgi", "ASGI: aiolambda's ASGIHandler against Mangum", meta, lines, data)


if __name__ == "__main__":
    main()
