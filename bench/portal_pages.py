"""Public pages of the portal under a burst of parents (issue 18): pages/s and latency p50/p99 for a cached
disclosure page and a school's page, beside a static file served by the same process as the raw baseline,
and the weight of each page type as a browser loads it (gzip, from tests/web/weight.py's table is measured
by the browser tests; here the HTML alone).

    .venv/bin/python -m bench.portal_pages --seconds 10 --clients 32

The portal runs in its own process (uvicorn, one worker, its read models seeded in a fresh database as in
the browser tests, audit answered from the ledger fixture); this process is the load: `--clients` HTTP/1.1
keep-alive connections, each asking again as soon as it is answered, on loopback. The two share the
machine's two cores."""
from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import statistics
import subprocess
import sys
import time
import uuid

import httpx

from bench.procstats import percentile, usage
from local import infra

GOAL_PAGES_PER_S = 500


def serve(database_url: str, port: int) -> None:
    """The portal process: seeded read models, no broker, uvicorn on loopback."""
    import uvicorn

    from tests.portal_js.ledger_fixture import build
    from tests.web import real_portal

    app = real_portal.portal_app(database_url, build())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)


async def _drive(port: int, path: str, seconds: float, clients: int) -> tuple[int, list[float], int]:
    """`clients` keep-alive connections asking for `path` again as soon as answered. A bare HTTP/1.1 client
    on asyncio streams: a general client (httpx) spends more CPU per request than the portal does, and would
    measure itself."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(clients)))
    return len(latencies), latencies, errors


def _line(name: str, n: int, latencies: list[float], errors: int, seconds: float) -> float:
    rate = n / seconds
    print(f"  {name:<34} {rate:8,.0f} pages/s   p50 {percentile(latencies, 50) * 1000:6.1f} ms   "
          f"p99 {percentile(latencies, 99) * 1000:6.1f} ms   errors {errors}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.portal_pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measured page (default 10)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    parser.add_argument("--serve", nargs=2, metavar=("DATABASE_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    pg = infra.postgres()
    database = infra.create_database(pg.address, f"beilei_bench_portal_{uuid.uuid4().hex[:8]}")
    port = infra.free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.portal_pages", "--serve", database, str(port)],
                              cwd=infra.REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/static/css/portal.css", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        pages = {"static file (raw baseline)": "/static/css/portal.css",
                 "disclosure page (cached)": "/d/dsc-0042-2025q3",
                 "school page (cached)": "/s/sch-0042",
                 "disclosure proof (cached)": "/api/disclosures/dsc-0042-2025q3/proof"}
        print(f"portal on one process, {args.clients} clients, {args.seconds:.0f} s each, load {os.getloadavg()[0]:.2f}")
        rates = {}
        for name, path in pages.items():
            httpx.get(base + path)  # warm the page cache
            before = usage(server.pid).cpu_s
            n, latencies, errors = asyncio.run(_drive(port, path, args.seconds, args.clients))
            rates[name] = _line(name, n, latencies, errors, args.seconds)
            print(f"  {'':<34} server CPU {(usage(server.pid).cpu_s - before) * 1000 / max(n, 1):.2f} ms per page")
        print("\nweight of each page's HTML (the disclosure page with its verifier and proof: tests/web, 44 KB gzip)")
        for name, path in {"schools": "/", "school": "/s/sch-0042", "disclosure": "/d/dsc-0042-2025q3"}.items():
            body = httpx.get(base + path).content
            print(f"  {name:<12} {len(body):7,} bytes, {len(gzip.compress(body)):6,} gzip")
        disclosure = rates["disclosure page (cached)"]
        print(f"\n  {'PASS' if disclosure >= GOAL_PAGES_PER_S else 'MISS'} cached disclosure page: {disclosure:,.0f} "
              f"pages/s (goal {GOAL_PAGES_PER_S}; the static file: {rates['static file (raw baseline)']:,.0f})")
        print(f"  mean of the four: {statistics.mean(rates.values()):,.0f} pages/s")
    finally:
        server.terminate()
        server.wait(10)
        pg.stop()


if __name__ == "__main__":
    main()
