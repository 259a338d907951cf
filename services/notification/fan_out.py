"""The fan-out of emergency broadcasts (issue 16): a loop per process that queues each open broadcast's
recipients chunk by chunk (handlers/broadcasts.fan_out_chunk), leaving room for the messages behind."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal

from services.notification.db import NotificationUoW
from services.notification.handlers import Delivery
from services.notification.handlers.broadcasts import fan_out_chunk

log = logging.getLogger(__name__)

# The sender claims urgent messages first, so a city's 557,000 notices queued at once would hold back every
# pickup message behind them; and a fan-out that refilled the queue as soon as a round had claimed would
# keep every round full of notices. So a chunk is half a sender round, queued only when no urgent message
# is due: each round leaves at least half its claims to the messages behind.
class FanOut:
    """One per process: queues open broadcasts chunk by chunk (`chunk`: half the sender's round) while the
    sender keeps up. Replicas share the work through the broadcast row's lock; a restarted process picks up
    open broadcasts from their cursor."""

    def __init__(self, uow_factory: Callable[[], NotificationUoW], chunk: int, *, delivery: Delivery,
                 poll_seconds: float = 1.0) -> None:
        self.uow_factory = uow_factory
        self.delivery = delivery
        self.chunk = chunk
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notification-broadcast-fan-out")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                state = await self.run_once()
            except Exception:
                log.exception("broadcast fan-out round failed; retrying")
                state = "idle"
            if state == "queued":
                continue
            # While the queue is full the sender is draining it: look again soon, not at the next poll.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds if state == "idle" else 0.05)

    async def run_once(self) -> Literal["queued", "full", "idle"]:
        """Queue one chunk of each open broadcast, oldest first, if the queue has room: "queued" if it
        queued any, "full" if open broadcasts wait for room, "idle" if none is open."""
        async with self.uow_factory() as uow:
            open_ids = await uow.open_broadcasts()
            if not open_ids:
                return "idle"
            if await uow.urgent_due():
                return "full"
        queued = False
        for bid in open_ids:
            async with self.uow_factory() as uow:
                n = await fan_out_chunk(uow, bid, self.chunk, self.delivery)
                await uow.commit()
            queued = queued or bool(n)
        return "queued" if queued else "idle"
