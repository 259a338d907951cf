"""The garbage collector's share of a service's CPU, kept small once the service has started.

CPython's cycle collector runs a young collection every 700 net allocations and a full one whenever
the objects promoted since the last one reach a quarter of the long-lived heap. A started service's
long-lived heap is its modules, its app and its connections: tens of thousands of objects that never
die, walked by every full collection. And a consumed batch keeps hundreds of documents alive until it
commits, so a young collection every 700 allocations walks the same live batch again and again.
Measured on audit's append (bench/ledger_append.py, 100,000 entries): the collector took a quarter of
the process's CPU (full collections 48 ms each, 42 of them).

So, once started: collect once, then freeze what is left (`gc.freeze()`: the start-up heap moves to a
generation no collection walks, as Instagram's Django fleet does), and collect young objects every
`threshold[0]` net allocations instead of 700. Reference counting still frees almost everything at once;
only cycles wait for the collector, and a young collection of 20,000 objects takes a few milliseconds.
On shutdown the heap is unfrozen (by then a stopping service may free what start-up built).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def settled_heap(threshold: tuple[int, int, int]) -> Iterator[None]:
    """While inside: the heap as it was on entry collected and frozen, and the collector's thresholds
    (gen0 net allocations, then gen1 and gen2 collections) set. On exit the heap is unfrozen and the
    thresholds restored, so a process that starts and stops services (the tests) collects their garbage."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
