"""bench.ledger_append measures the ledger's append, not its own backlog (issue 17 part 5): the records it
generates are FeeCharged envelopes the consumer accepts, held as plain tuples the garbage collector stops
walking, so a full collection costs the same at 20,000 entries as at 200,000; and it reports the
collector's CPU by generation while appending."""
from __future__ import annotations

import gc
import json

from bench.ledger_append import _CollectorTime, records
from shared.contracts.billing import FeeCharged
from shared.messaging.consumer import RawRecord


def test_the_generated_records_are_distinct_fee_charges_the_consumer_can_take() -> None:
    recs = records(12, "t1")
    raws = [RawRecord(*r) for r in recs]
    envelopes = [json.loads(r.value) for r in raws]
    assert {e["type"] for e in envelopes} == {"FeeCharged"}
    assert len({e["event_id"] for e in envelopes}) == len({e["payload"]["charge_id"] for e in envelopes}) == 12
    FeeCharged.model_validate(envelopes[5]["payload"])
    assert raws[7].topic == "billing.events" and raws[7].key == envelopes[7]["payload"]["student_id"].encode()


def test_the_backlog_is_not_walked_by_the_garbage_collector() -> None:
    recs = records(50, "t2")
    gc.collect()
    assert not any(gc.is_tracked(r) for r in recs)


def test_the_collectors_time_is_counted_by_generation_only_inside_the_block() -> None:
    with _CollectorTime() as collector:
        gc.collect()
        gc.collect(0)
    gc.collect()
    assert collector.count[2] == 1 and collector.count[0] >= 1
    assert collector.cpu[2] >= 0 and "full collections 1 x" in collector.summary(1000)


def test_each_entry_waits_for_the_first_checkpoint_that_covers_its_whole_batch() -> None:
    from argparse import Namespace

    from bench.ledger_append import _until_covered

    args = Namespace(batch=2, entries=5)
    submitted = [(0, 10.0), (2, 11.0), (4, 12.0)]  # batches [0, 1], [2, 3], [4]
    covered = [(1, 10.5), (4, 12.0), (5, 13.5)]  # a checkpoint of size 4 covers entries 0-3
    assert _until_covered(submitted, covered, args) == [2.0, 2.0, 1.0, 1.0, 1.5]
