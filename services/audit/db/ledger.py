"""Repository of the ledger itself: gap-free appends, stored subtrees, checkpoints, proofs' inputs,
the auditor's entry queries and the export (R24, R26). A mixin of AuditUoW; SQL only, no rules."""
from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.audit.db.tables import (
    ledger_checkpoints,
    ledger_conflicts,
    ledger_disclosures,
    ledger_entries,
    ledger_nodes,
    school_districts,
)
from services.audit.ledger import books
from services.audit.ledger.commitments import SALT_SIZE, encode_opening, seal
from services.audit.ledger.merkle import leaf_hash
from services.audit.ledger.tree import StoredNode


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    peaks: tuple[bytes, ...]
    signed_note: str
    event_id: uuid.UUID
    published_at: datetime | None


@dataclass(frozen=True)
class StoredEntry:
    seq: int
    event_id: uuid.UUID
    event_type: str
    school_id: str
    district_id: str | None
    student_id: str | None
    category: str
    subcategory: str | None
    period: str
    amount_fen: int | None
    body: bytes
    leaf_hash: bytes
    recorded_at: datetime | None
    opening: bytes | None = None
    """Format 2: what opens the commitments in `body` (salt and values, JSON); None: format 1, `body` is
    the event as published."""


_ENTRY_COLUMNS = ["seq", "event_id", "event_type", "school_id", "district_id", "student_id", "category", "subcategory",
                  "period", "amount_fen", "body", "leaf_hash", "opening"]


def _checkpoint(row: Any) -> StoredCheckpoint:
    peaks = bytes(row.peaks)
    return StoredCheckpoint(row.tree_size, bytes(row.root_hash), tuple(peaks[i:i + 32] for i in range(0, len(peaks), 32)),
                            row.signed_note, row.event_id, row.published_at)


def _entry(row: Any) -> StoredEntry:
    return StoredEntry(row.seq, row.event_id, row.event_type, row.school_id, row.district_id, row.student_id,
                       row.category, row.subcategory, row.period, row.amount_fen, bytes(row.body),
                       bytes(row.leaf_hash), row.recorded_at, bytes(row.opening) if row.opening is not None else None)


class LedgerStore:
    session: AsyncSession

    def _init_ledger(self) -> None:
        self._staged: dict[uuid.UUID, tuple[dict[str, Any], books.Entry]] = {}

    # -- appends ------------------------------------------------------------------------------
    def stage_entry(self, event_id: uuid.UUID, document: dict[str, Any], entry: books.Entry) -> None:
        """Queue one entry (the event as published, as a JSON document, and what it says); it gets its
        sequence number, its salt and its sealed bytes (entry format 2) when the batch is written."""
        self._staged[event_id] = (document, entry)

    def staged(self, event_id: uuid.UUID) -> dict[str, Any] | None:
        item = self._staged.get(event_id)
        return item[0] if item else None

    async def lock(self, name: str) -> None:
        """A transaction-scoped lock per schema: one appender, one checkpointer, one checker at a time."""
        await self.session.execute(text("select pg_advisory_xact_lock(hashtext(:k || current_schema()))"),
                                   {"k": f"audit:{name}:"})

    async def write_staged_entries(self) -> list[tuple[int, uuid.UUID]]:
        """Number and insert the queued entries. The lock is held to commit, so numbers are gap-free and
        committed in order: a reader never sees entry n + 1 without entry n (R24)."""
        if not self._staged:
            return []
        await self.lock("append")
        start = (await self.session.execute(text("select coalesce(max(seq) + 1, 0) from ledger_entries"))).scalar_one()
        salts = os.urandom(SALT_SIZE * len(self._staged))  # one system call per batch
        rows = []
        disclosures = []
        for offset, (event_id, (document, e)) in enumerate(self._staged.items()):
            seq, salt = start + offset, salts[offset * SALT_SIZE:(offset + 1) * SALT_SIZE]
            body = seal(document, salt, seq)
            rows.append((seq, event_id, e.event_type, e.school_id, e.district_id, e.student_id, e.category,
                         e.subcategory, e.period, e.amount_fen, body, leaf_hash(body), encode_opening(document, salt)))
            if e.event_type == "DisclosurePublished":
                disclosures.append({"disclosure_id": e.payload["disclosure_id"], "seq": seq})
        # COPY writes a consumed batch in one round trip, inside this transaction (ARCHITECTURE: throughput
        # comes from batching); the lock above already holds.
        conn = await self.session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.copy_records_to_table("ledger_entries", records=rows, columns=_ENTRY_COLUMNS)
        if disclosures:  # the first entry of a disclosure id is the one its page shows
            await self.session.execute(
                text("insert into ledger_disclosures (disclosure_id, seq) values (:disclosure_id, :seq) "
                     "on conflict (disclosure_id) do nothing"), disclosures)
        self._staged.clear()
        return [(r[0], r[1]) for r in rows]

    async def recorded(self, event_id: uuid.UUID) -> tuple[int, str, str, bytes, bytes, bytes | None] | None:
        """(seq, type, school, body, leaf hash, opening) of the entry recorded for an event id, if any."""
        row = (await self.session.execute(
            select(ledger_entries.c.seq, ledger_entries.c.event_type, ledger_entries.c.school_id,
                   ledger_entries.c.body, ledger_entries.c.leaf_hash, ledger_entries.c.opening)
            .where(ledger_entries.c.event_id == event_id)
        )).first()
        return (row.seq, row.event_type, row.school_id, bytes(row.body), bytes(row.leaf_hash),
                bytes(row.opening) if row.opening is not None else None) if row else None

    async def record_conflict(self, event_id: uuid.UUID, body: bytes, leaf: bytes) -> None:
        await self.session.execute(
            text("insert into ledger_conflicts (event_id, body, leaf_hash) values (:e, :b, :h) "
                 "on conflict (event_id, leaf_hash) do nothing"),
            {"e": event_id, "b": body, "h": leaf},
        )

    async def ledger_size(self) -> int:
        return (await self.session.execute(text("select coalesce(max(seq) + 1, 0) from ledger_entries"))).scalar_one()

    async def entry_chunks(self, start: int, end: int, chunk: int = 5000) -> AsyncIterator[list[Any]]:
        """Entries [start, end) in order, `chunk` rows at a time: (seq, body, leaf_hash, event_id)."""
        at = start
        while at < end:
            rows = (await self.session.execute(
                select(ledger_entries.c.seq, ledger_entries.c.body, ledger_entries.c.leaf_hash,
                       ledger_entries.c.event_id)
                .where(ledger_entries.c.seq >= at, ledger_entries.c.seq < min(end, at + chunk))
                .order_by(ledger_entries.c.seq)
            )).all()
            if not rows:
                return
            yield rows
            at = rows[-1].seq + 1

    async def entries_to_check(self, start: int, end: int) -> list[Any]:
        """(seq, body, opening, recorded_at) of entries [start, end), in order."""
        return list((await self.session.execute(
            select(ledger_entries.c.seq, ledger_entries.c.body, ledger_entries.c.opening, ledger_entries.c.recorded_at)
            .where(ledger_entries.c.seq >= start, ledger_entries.c.seq < end).order_by(ledger_entries.c.seq)
        )).all())

    # -- tree and checkpoints -----------------------------------------------------------------
    async def insert_nodes(self, nodes: Sequence[StoredNode]) -> None:
        if nodes:
            await self.session.execute(insert(ledger_nodes),
                                       [{"level": n.level, "idx": n.index, "hash": n.hash} for n in nodes])

    async def fetch_nodes(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        levels, indexes = zip(*sorted(keys)) if keys else ((), ())
        rows = (await self.session.execute(
            text("select n.level, n.idx, n.hash from ledger_nodes n "
                 "join unnest(cast(:l as smallint[]), cast(:i as bigint[])) as k(level, idx) "
                 "on n.level = k.level and n.idx = k.idx"),
            {"l": list(levels), "i": list(indexes)},
        )).all()
        return {(r.level, r.idx): bytes(r.hash) for r in rows}

    async def fetch_leaves(self, indexes: set[int]) -> dict[int, bytes]:
        # One array parameter, however many leaves: a proof batch can need tens of thousands.
        rows = (await self.session.execute(
            text("select seq, leaf_hash from ledger_entries where seq = any(cast(:s as bigint[]))"),
            {"s": sorted(indexes)},
        )).all()
        return {r.seq: bytes(r.leaf_hash) for r in rows}

    async def insert_checkpoint(self, size: int, root_hash: bytes, peaks: Sequence[bytes], note: str,
                                event_id: uuid.UUID, published_at: datetime) -> None:
        await self.session.execute(insert(ledger_checkpoints).values(
            tree_size=size, root_hash=root_hash, peaks=b"".join(peaks), signed_note=note, event_id=event_id,
            published_at=published_at))

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = (await self.session.execute(
            select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size.desc()).limit(1))).first()
        return _checkpoint(row) if row else None

    async def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        row = (await self.session.execute(
            select(ledger_checkpoints).where(ledger_checkpoints.c.tree_size == size))).first()
        return _checkpoint(row) if row else None

    async def checkpoint_covering(self, size: int) -> StoredCheckpoint | None:
        """The smallest checkpoint whose tree includes the first `size` entries."""
        row = (await self.session.execute(
            select(ledger_checkpoints).where(ledger_checkpoints.c.tree_size >= size)
            .order_by(ledger_checkpoints.c.tree_size).limit(1))).first()
        return _checkpoint(row) if row else None

    async def checkpoints(self, after: int, limit: int) -> list[StoredCheckpoint]:
        rows = (await self.session.execute(
            select(ledger_checkpoints).where(ledger_checkpoints.c.tree_size > after)
            .order_by(ledger_checkpoints.c.tree_size).limit(limit))).all()
        return [_checkpoint(r) for r in rows]

    async def latest_checkpoint_size(self) -> int:
        return (await self.session.execute(
            text("select coalesce(max(tree_size), 0) from ledger_checkpoints"))).scalar_one()

    async def insert_cosigned(self, size: int, cosigned_note: str, witnesses: Sequence[str]) -> None:
        """Keep a checkpoint the witnesses' quorum cosigned (issue 17); a size kept already stays as it was."""
        await self.session.execute(
            text("insert into ledger_cosigned (tree_size, cosigned_note, witnesses) values (:s, :n, :w) "
                 "on conflict (tree_size) do nothing"),
            {"s": size, "n": cosigned_note, "w": list(witnesses)})

    async def latest_cosigned(self) -> tuple[int, str] | None:
        """(size, note with cosignature lines) of the newest checkpoint the quorum cosigned."""
        row = (await self.session.execute(text(
            "select tree_size, cosigned_note from ledger_cosigned order by tree_size desc limit 1"))).first()
        return (row.tree_size, row.cosigned_note) if row else None

    # -- reading entries ----------------------------------------------------------------------
    async def entry(self, seq: int) -> StoredEntry | None:
        row = (await self.session.execute(select(ledger_entries).where(ledger_entries.c.seq == seq))).first()
        return _entry(row) if row else None

    async def disclosure_entry(self, disclosure_id: str) -> StoredEntry | None:
        """The ledger entry of a disclosure (R21), by its id."""
        row = (await self.session.execute(
            select(ledger_entries).join(ledger_disclosures, ledger_disclosures.c.seq == ledger_entries.c.seq)
            .where(ledger_disclosures.c.disclosure_id == disclosure_id))).first()
        return _entry(row) if row else None

    async def entry_range(self, start: int, end: int) -> list[tuple[bytes, bool]]:
        """(body, format 2?) of entries [start, end), in order: their leaves, and whether they commit to
        their personal fields."""
        rows = (await self.session.execute(
            select(ledger_entries.c.body, ledger_entries.c.opening.is_not(None).label("committed"))
            .where(ledger_entries.c.seq >= start, ledger_entries.c.seq < end).order_by(ledger_entries.c.seq))).all()
        return [(bytes(r.body), bool(r.committed)) for r in rows]

    async def find_entries(self, *, below: int, school_id: str | None = None, district_id: str | None = None,
                           student_id: str | None = None, period: str | None = None, category: str | None = None,
                           schools: Sequence[str] | None = None, after: int = -1, limit: int = 100) -> list[StoredEntry]:
        """Entries under a tree size, filtered (R26). A district's entries are its schools' entries,
        whichever way each event named the district."""
        e = ledger_entries.c
        where = [e.seq < below, e.seq > after]
        if school_id:
            where.append(e.school_id == school_id)
        if student_id:
            where.append(e.student_id == student_id)
        if period:
            where.append(e.period.startswith(period) if len(period) == 4 else e.period == period)
        if category:
            where.append((e.category == category) | (e.subcategory == category))
        if schools is not None:
            where.append(e.school_id.in_(list(schools)))
        if district_id:
            in_district = select(school_districts.c.school_id).where(school_districts.c.district_id == district_id)
            where.append((e.district_id == district_id) | e.school_id.in_(in_district))
        rows = (await self.session.execute(select(ledger_entries).where(and_(*where)).order_by(e.seq).limit(limit))).all()
        return [_entry(r) for r in rows]

    async def export_rows(self, after: int, below: int, limit: int) -> list[StoredEntry]:
        rows = (await self.session.execute(
            select(ledger_entries).where(ledger_entries.c.seq > after, ledger_entries.c.seq < below)
            .order_by(ledger_entries.c.seq).limit(limit))).all()
        return [_entry(r) for r in rows]

    async def totals_by_school(self, *, below: int, period_prefix: str, schools: Sequence[str] | None = None
                               ) -> list[Any]:
        """Sum and count of amounts per school, category and sub-category over the entries of a month or
        year under a tree size (R29 reports)."""
        e = ledger_entries.c
        where = [e.seq < below, e.period.startswith(period_prefix)]
        if schools is not None:
            where.append(e.school_id.in_(list(schools)))
        query = (select(e.school_id, e.category, e.subcategory, func.count().label("entries"),
                        func.coalesce(func.sum(e.amount_fen), 0).label("amount_fen"))
                 .where(and_(*where)).group_by(e.school_id, e.category, e.subcategory))
        return list((await self.session.execute(query)).all())

    async def students_charged(self, *, below: int, period_prefix: str, schools: Sequence[str] | None = None
                               ) -> dict[str, int]:
        e = ledger_entries.c
        where = [e.seq < below, e.period.startswith(period_prefix), e.category == "charge"]
        if schools is not None:
            where.append(e.school_id.in_(list(schools)))
        rows = (await self.session.execute(select(e.school_id, func.count(func.distinct(e.student_id)).label("n"))
                                           .where(and_(*where)).group_by(e.school_id))).all()
        return {r.school_id: int(r.n) for r in rows}

    async def conflicts_of(self, event_id: uuid.UUID) -> list[bytes]:
        rows = (await self.session.execute(
            select(ledger_conflicts.c.body).where(ledger_conflicts.c.event_id == event_id))).all()
        return [bytes(r.body) for r in rows]
