"""`python -m simulator`: generate a city from a scale and a seed and drive it through the running
services (or a local platform it starts), printing progress per phase and a closing summary."""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

from simulator.city import generate
from simulator.driver import Simulation, Urls, as_json, summary

DEFAULT_URLS = {"enrollment": 8001, "attendance": 8002, "billing": 8003, "notification": 8004, "audit": 8005}


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.0005, help="1.0 = the whole city (508 schools, 557,000 students)")
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives the same city and the same day")
    parser.add_argument("--run-id", default=None, help="namespace for ids (default: random), so runs can share a database")
    parser.add_argument("--base-host", default="127.0.0.1", help="host of services already running on ports 8001-8005")
    parser.add_argument("--url", action="append", default=[], metavar="SERVICE=URL",
                        help="where a service runs, e.g. attendance=http://127.0.0.1:47645 (repeatable)")
    parser.add_argument("--kafka", default=None, help="broker address, to wait for consumers instead of sleeping")
    parser.add_argument("--start", action="store_true", help="start Kafka, PostgreSQL and the services locally first")
    parser.add_argument("--json", type=Path, default=None, help="also write ground truth and reports to this file")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        urls = {n: f"http://{args.base_host}:{p}" for n, p in DEFAULT_URLS.items()}
        urls.update(dict(item.split("=", 1) for item in args.url))
        kafka = args.kafka
        if args.start or not all(_healthy(u) for u in urls.values()):
            from local import infra
            from local.platform import Platform

            print("Starting Kafka, PostgreSQL and the five services …", flush=True)
            k = infra.kafka()
            stack.callback(k.stop)
            pg = infra.postgres()
            stack.callback(pg.stop)
            plat = Platform(k.address, pg.address, infra.REPO / ".local" / "logs")
            stack.callback(plat.stop)
            plat.start(timeout=180)
            urls = {n: plat[n].url for n in DEFAULT_URLS}
            kafka = k.address
        run_id = args.run_id or uuid.uuid4().hex[:4]
        city = generate(args.scale, args.seed, prefix=f"s{run_id}-")
        print(f"Simulating {len(city.schools)} schools, {sum(len(s.students) for s in city.schools)} students "
              f"(scale {args.scale}, seed {args.seed}, ids s{run_id}-…)", flush=True)
        sim = Simulation(city, Urls(**urls), kafka=kafka, say=lambda line: print(line, flush=True))
        started = time.monotonic()
        asyncio.run(sim.run())
        print(summary(sim, time.monotonic() - started), flush=True)
        if args.json:
            args.json.write_text(as_json(sim))
        return 1 if sim.report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
