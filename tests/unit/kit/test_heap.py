"""A started service's heap is collected and frozen, and young collections come every 20,000 net
allocations instead of 700 (shared/messaging/heap.py); stopping undoes both, so a process that starts
and stops services collects their garbage again."""
from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest

from shared.messaging import runtime as kit
from shared.messaging.db import Database
from shared.messaging.heap import settled_heap
from shared.messaging.runtime import build_runtime, create_app
from shared.settings import CommonSettings


def test_inside_the_heap_is_frozen_and_the_thresholds_set_and_both_are_undone_on_exit() -> None:
    before = gc.get_threshold()
    kept = [object() for _ in range(10)]
    with settled_heap((12_345, 7, 9)):
        assert gc.get_threshold() == (12_345, 7, 9)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert kept


def test_exit_restores_even_when_the_block_fails() -> None:
    before = gc.get_threshold()
    try:
        with settled_heap((5_000, 5, 5)):
            raise RuntimeError("stopping")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_default_thresholds_are_the_ones_the_benchmark_measured_and_the_environment_sets_others(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().gc_threshold == (20_000, 20, 20)
    monkeypatch.setenv("GC_THRESHOLD", "[50000, 10, 10]")
    assert CommonSettings().gc_threshold == (50_000, 10, 10)


async def test_a_started_service_runs_with_its_heap_settled_and_a_stopped_one_does_not(
        kit_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit, "make_broker", lambda *a, **k: SimpleNamespace(start=_nothing, stop=_nothing))
    rt = build_runtime("kit_heap", CommonSettings(database_url=kit_db.url, database_schema=kit_db.schema,
                                                  create_topics=False, gc_threshold=(30_000, 11, 12)))
    rt.kafka = None
    rt.relay = SimpleNamespace(start=_nothing, stop=_nothing, active=True, standing_by=False)  # type: ignore[assignment]
    app = create_app(rt, handlers={}, routers=[], title="t", description="d", migrate_with=_nothing)
    before = gc.get_threshold()
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (30_000, 11, 12) and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def _nothing() -> None:
    return None
