"""The outbox relay's wake-up: a commit made while a round is in flight is published by the next round at
once, not after the poll interval (at the evening peak that interval sat in every guardian's latency)."""
from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from shared.messaging.db import Database
from shared.messaging.relay import OutboxRelay
from shared.observability import KitMetrics


class _Rounds(OutboxRelay):
    """A relay whose rounds publish nothing but record themselves; the first one is 'committed into'."""

    def __init__(self) -> None:
        super().__init__(Database("postgresql://unused@127.0.0.1:1/none", "relay_test"), "127.0.0.1:1",
                         KitMetrics(CollectorRegistry()), poll_seconds=3600)
        self.rounds = 0
        self.second = asyncio.Event()

    async def publish_once(self, producer) -> int:  # noqa: ANN001 - no producer is used
        self.rounds += 1
        if self.rounds == 1:
            await asyncio.sleep(0)
            self.wake()  # a service commits outbox rows while this round is sending
        elif self.rounds == 2:
            self.second.set()
        return 0


async def test_a_commit_during_a_round_starts_the_next_round_without_waiting_for_the_poll() -> None:
    relay = _Rounds()
    loop = asyncio.create_task(relay._loop(producer=None))  # type: ignore[arg-type]
    try:
        # The poll interval is an hour: only the wake-up can bring the second round.
        await asyncio.wait_for(relay.second.wait(), timeout=30)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await relay.db.dispose()
    assert relay.rounds >= 2
