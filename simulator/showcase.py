"""The `make run` showcase: a small simulated city goes through every service (programmes, applications,
a school day, month-end billing, the audit ledger) and a summary a newcomer understands is printed."""
from __future__ import annotations

import asyncio
import time
import uuid

from local.platform import Platform

SHOWCASE_SCALE = 0.0005  # 2 schools, about 280 participating students: done in about a minute
SHOWCASE_SEED = 7


def run_demo(plat: Platform, kafka: str, *, scale: float = SHOWCASE_SCALE, seed: int = SHOWCASE_SEED,
             token_endpoint: str | None = None) -> bool:
    """Returns True when every phase worked; otherwise the summary says what could not be shown."""
    from simulator.city import generate
    from simulator.driver import Simulation, Urls, summary

    city = generate(scale, seed, prefix=f"s{uuid.uuid4().hex[:4]}-")
    print(f"\nShowcase: a simulated city of {len(city.schools)} schools and "
          f"{sum(len(s.students) for s in city.schools)} students (seed {seed})", flush=True)
    urls = Urls(**{n: plat[n].url for n in ("enrollment", "attendance", "billing", "notification", "audit")})
    sim = Simulation(city, urls, kafka=kafka, say=lambda line: print(line, flush=True), wait_timeout=90,
                     token_endpoint=token_endpoint)
    started = time.monotonic()
    asyncio.run(sim.run())
    print(summary(sim, time.monotonic() - started), flush=True)
    return not sim.report.problems
