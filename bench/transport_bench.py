"""The lean transport alone, shaped like ``bench.reference_client`` so their figures compare.

    python -m bench.transport_bench --url https://127.0.0.1:8443 --ca-file /tmp/fakepush.pem -n 10000

Sends ``n`` APNs-shaped POSTs through :class:`~django_push.transport.h2.H2Transport`
exactly as ``HTTPBackend`` does (build an ``httpx.Request``, ``handle_async_request``,
``aread``, ``aclose``), with ``connections`` × ``streams`` requests in flight, and prints the same
JSON figures as the reference client. Building the ``httpx.Request`` is timed too (the backend
pays it); ``--prebuilt`` builds them all before the clock starts, to time the transport alone.

``--compare`` also runs the reference client (same server), alternating the two ``--repeat``
times, and prints the medians and their ratios: on a 2-core machine the fake service competes for
CPU, and single runs vary by ±30 %. ``--profile out.html`` writes a pyinstrument profile.

CPU per request is the figure to compare: with thousands of requests in flight the client and the
server work in alternating bursts, so requests/s reflects the server's CPU as much as the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx

from django_push.transport.h2 import H2Transport

BODY = b'{"aps":{"alert":{"title":"Hello","body":"reference"}}}'


async def _run(
    url: str, ca_file: str, n: int, connections: int, streams: int, prebuilt: bool
) -> dict[str, Any]:
    transport = H2Transport(
        timeout=httpx.Timeout(30.0, connect=10.0), max_connections=connections, verify=ca_file
    )
    # Warm up: open the connections (the reference client also connects before its clock starts).
    await asyncio.gather(*(_one(transport, url, -i) for i in range(1, connections * 2)))
    semaphore = asyncio.Semaphore(connections * streams)
    requests = [_request(url, i) for i in range(n)] if prebuilt else None
    ok = 0

    async def one(i: int) -> None:
        nonlocal ok
        async with semaphore:
            request = requests[i] if requests is not None else _request(url, i)
            status = await _exchange(transport, request)  # not `ok += await …`: ok would be read first
        ok += status == 200

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    opened = transport.connections_opened
    await transport.aclose()
    return {
        "client": "h2transport" + (" (prebuilt requests)" if prebuilt else ""),
        "backend": getattr(transport, "h2_backend", "h2"),
        "requests": n,
        "ok": ok,
        "per_second": round(n / wall, 1),
        # CPU milliseconds per request, which is also CPU seconds per 1000 requests.
        "cpu_ms_per_request": round(1000 * cpu / n, 4),
        "wall_s": round(wall, 3),
        "connections_opened": opened,
    }


async def _one(transport: H2Transport, url: str, i: int) -> int:
    return await _exchange(transport, _request(url, i))


def _request(url: str, i: int) -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{url}/3/device/ref{i % (1 << 64):061x}",
        headers={
            "authorization": "bearer reference",
            "apns-topic": "com.example.app",
            "apns-push-type": "alert",
        },
        content=BODY,
    )


async def _exchange(transport: H2Transport, request: httpx.Request) -> int:
    """What ``HTTPBackend.send_one`` does around its pure hooks."""
    response = await transport.handle_async_request(request)
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response.status_code


def run(
    url: str, ca_file: str, n: int, connections: int = 4, streams: int = 1000, prebuilt: bool = False
) -> dict[str, Any]:
    """Send ``n`` requests through H2Transport; the same figures as the reference client."""
    return asyncio.run(_run(url, ca_file, n, connections, streams, prebuilt))


def _median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--prebuilt", action="store_true", help="build the requests before timing")
    parser.add_argument("--compare", action="store_true", help="run the reference client too")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each client (medians reported)")
    parser.add_argument("--profile", metavar="HTML", help="write a pyinstrument profile here")
    args = parser.parse_args()
    shape = (args.url, args.ca_file, args.n, args.connections, args.streams)
    if args.profile:
        from pyinstrument import Profiler

        with Profiler(interval=0.0005) as profiler:
            result = run(*shape, prebuilt=args.prebuilt)
        with open(args.profile, "w") as f:
            f.write(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        print(json.dumps(result))
        return
    from bench.reference_client import run as run_reference

    ours: list[dict[str, Any]] = []
    references: list[dict[str, Any]] = []
    for _ in range(max(1, args.repeat)):
        if args.compare:
            references.append(run_reference(*shape))
            print(json.dumps(references[-1]), flush=True)
        ours.append(run(*shape, prebuilt=args.prebuilt))
        print(json.dumps(ours[-1]), flush=True)
    if references:
        summary = {
            "runs": len(ours),
            "reference_per_second": _median(references, "per_second"),
            "reference_cpu_ms_per_request": _median(references, "cpu_ms_per_request"),
            "h2transport_per_second": _median(ours, "per_second"),
            "h2transport_cpu_ms_per_request": _median(ours, "cpu_ms_per_request"),
        }
        summary["rate_ratio"] = round(summary["h2transport_per_second"] / summary["reference_per_second"], 3)
        summary["cpu_ratio"] = round(
            summary["reference_cpu_ms_per_request"] / summary["h2transport_cpu_ms_per_request"], 3
        )
        print(json.dumps({"median": summary}))


if __name__ == "__main__":
    main()
