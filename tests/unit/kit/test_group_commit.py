"""The kit's group commit on real PostgreSQL, with no service's rules: concurrent requests share one
transaction and each gets its own outcomes, requests about the same thing never share one, a request
that cannot be processed fails alone, and closing drains what is queued and refuses what comes after."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import text

from shared.messaging.db import Database
from shared.messaging.group_commit import GroupCommit, Stopping
from shared.messaging.uow import UnitOfWork


def _grouped(db: Database, sizes: list[int], **options) -> GroupCommit[UnitOfWork, str, str]:
    async def process(uow: UnitOfWork, items: Sequence[str]) -> list[str]:
        sizes.append(len(items))
        if "poison" in items:
            raise ValueError("cannot process poison")
        await uow.session.execute(text("select 1"))
        return [item.upper() for item in items]

    return GroupCommit(lambda: UnitOfWork(db, producer="kit"), process, max_records=100, service="kit", **options)


async def test_concurrent_requests_share_a_transaction_and_each_gets_its_own_outcomes(kit_db: Database) -> None:
    sizes: list[int] = []
    commit = _grouped(kit_db, sizes, max_in_flight=1)
    answers = await asyncio.gather(*(commit.submit([f"a{i}", f"b{i}"]) for i in range(6)))
    assert answers == [[f"A{i}", f"B{i}"] for i in range(6)]
    assert len(sizes) < 6 and sum(sizes) == 12, "the requests queued together were processed together"


async def test_requests_sharing_a_key_never_share_a_group(kit_db: Database) -> None:
    sizes: list[int] = []
    commit = _grouped(kit_db, sizes, max_in_flight=1, key=lambda item: item[0])
    first, second, other = await asyncio.gather(commit.submit(["x1"]), commit.submit(["x2"]), commit.submit(["y1"]))
    assert (first, second, other) == (["X1"], ["X2"], ["Y1"])
    assert sizes == [2, 1], "y1 joined x1's group, x2 waited for the next"


async def test_a_request_that_cannot_be_processed_fails_alone(kit_db: Database) -> None:
    sizes: list[int] = []
    commit = _grouped(kit_db, sizes, max_in_flight=1)
    results = await asyncio.gather(commit.submit(["ok1"]), commit.submit(["poison"]), commit.submit(["ok2"]),
                                   return_exceptions=True)
    assert results[0] == ["OK1"] and results[2] == ["OK2"]
    assert isinstance(results[1], ValueError)


async def test_closing_processes_what_is_queued_and_refuses_what_comes_after(kit_db: Database) -> None:
    commit = _grouped(kit_db, [], max_in_flight=1)
    queued = [asyncio.create_task(commit.submit([f"q{i}"])) for i in range(3)]
    await asyncio.sleep(0)
    await commit.close()
    assert [task.result() for task in queued] == [["Q0"], ["Q1"], ["Q2"]]
    with pytest.raises(Stopping, match="kit is shutting down"):
        await commit.submit(["late"])
