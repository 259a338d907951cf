"""What the in-memory units of work of attendance and notification share: a store holding the fake
database's state, and units of work that each work on their own copy of it, which only commit makes the
next one's, as a transaction's writes are."""
from __future__ import annotations

import copy
from typing import Any, Self


class SnapshotStore:
    """The fake database between units of work."""

    def __init__(self, state: Any) -> None:
        self.state = state


class SnapshotUoW:
    def __init__(self, store: SnapshotStore) -> None:
        self.store = store

    async def __aenter__(self) -> Self:
        self._state = copy.deepcopy(self.store.state)
        return self

    async def __aexit__(self, *exc: object) -> None:
        del self._state  # nothing left uncommitted is kept

    async def commit(self) -> None:
        self.store.state = copy.deepcopy(self._state)
