"""Repository of the checks' own state: anomalies (exactly once each), the checked-up-to cursor,
per-school books at the last checkpoint, and disclosure periods (R21, R25). A mixin of AuditUoW."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.audit.db.tables import anomalies, audit_cursor, disclosure_periods, disclosures, school_books
from services.audit.domain.findings import Finding
from services.audit.ledger import books


class FindingsStore:
    session: AsyncSession

    async def insert_finding(self, f: Finding, *, district_id: str | None, ledger_tree_size: int | None,
                             detected_at: datetime) -> bool:
        """Record a finding unless it was recorded before; True if it is new (then publish it)."""
        result = await self.session.execute(
            pg_insert(anomalies).values(
                anomaly_id=f.anomaly_id, dedup_key=f.dedup_key, check_name=f.check, severity=f.severity,
                school_id=f.school_id, district_id=district_id, student_id=f.student_id, period=f.period,
                amount_fen=f.amount_fen, subject_event_ids=list(f.subject_event_ids),
                ledger_indexes=list(f.ledger_indexes), ledger_tree_size=ledger_tree_size, detail=f.detail,
                evidence=dict(f.evidence), event_id=f.event_id, detected_at=detected_at,
            ).on_conflict_do_nothing().returning(anomalies.c.anomaly_id)
        )
        return result.first() is not None

    async def find_anomalies(self, *, school_id: str | None = None, district_id: str | None = None,
                             check: str | None = None, period: str | None = None,
                             schools: Sequence[str] | None = None, limit: int = 100, before: datetime | None = None
                             ) -> list[Any]:
        a = anomalies.c
        where = []
        if school_id:
            where.append(a.school_id == school_id)
        if district_id:
            where.append(a.district_id == district_id)
        if check:
            where.append(a.check_name == check)
        if period:
            where.append(a.period.startswith(period))
        if schools is not None:
            where.append(a.school_id.in_(list(schools)))
        if before is not None:
            where.append(a.detected_at < before)
        query = select(anomalies).where(and_(*where)).order_by(a.detected_at.desc(), a.anomaly_id).limit(limit)
        return list((await self.session.execute(query)).all())

    async def anomaly_counts(self, *, period_prefix: str, schools: Sequence[str] | None = None) -> list[Any]:
        where = [anomalies.c.period.startswith(period_prefix)]
        if schools is not None:
            where.append(anomalies.c.school_id.in_(list(schools)))
        return list((await self.session.execute(text(
            "select school_id, check_name, count(*) as n from anomalies where period like :p || '%'"
            + (" and school_id = any(:s)" if schools is not None else "") + " group by school_id, check_name"),
            {"p": period_prefix, **({"s": list(schools)} if schools is not None else {})})).all())

    async def anomaly_totals(self) -> dict[str, int]:
        """Anomalies recorded so far, by rule (for the metrics)."""
        rows = (await self.session.execute(
            text("select check_name, count(*) as n from anomalies group by check_name"))).all()
        return {r.check_name: int(r.n) for r in rows}

    # -- cursor -------------------------------------------------------------------------------
    async def checked_size(self) -> int:
        return (await self.session.execute(select(audit_cursor.c.checked_size).where(audit_cursor.c.id == 1))).scalar_one()

    async def set_checked_size(self, size: int) -> None:
        await self.session.execute(update(audit_cursor).where(audit_cursor.c.id == 1).values(checked_size=size))

    # -- books --------------------------------------------------------------------------------
    async def books_of(self, schools: Iterable[str]) -> dict[str, books.SchoolBooks]:
        rows = (await self.session.execute(select(school_books).where(school_books.c.school_id.in_(set(schools))))).all()
        return {r.school_id: books.SchoolBooks.from_json(r.books) for r in rows}

    async def save_books(self, touched: dict[str, books.SchoolBooks], as_of_size: int) -> None:
        rows = [{"school_id": s, "books": b.to_json(), "as_of_size": as_of_size} for s, b in sorted(touched.items())]
        for i in range(0, len(rows), 1000):
            stmt = pg_insert(school_books).values(rows[i:i + 1000])
            await self.session.execute(stmt.on_conflict_do_update(
                index_elements=["school_id"], set_={"books": stmt.excluded.books, "as_of_size": stmt.excluded.as_of_size}))

    # -- disclosures (R21) --------------------------------------------------------------------
    async def open_periods(self, periods: Iterable[tuple[str, str, date, date, date]]) -> None:
        rows = [{"school_id": s, "period": p, "starts_on": a, "ends_on": b, "due_on": d, "status": "open"}
                for s, p, a, b, d in sorted(set(periods))]
        for i in range(0, len(rows), 1000):
            await self.session.execute(pg_insert(disclosure_periods).values(rows[i:i + 1000]).on_conflict_do_nothing())

    async def due_periods(self, today: date, limit: int = 500) -> list[Any]:
        return list((await self.session.execute(
            select(disclosure_periods).where(disclosure_periods.c.status == "open", disclosure_periods.c.due_on < today)
            .order_by(disclosure_periods.c.due_on).limit(limit))).all())

    async def close_period(self, school_id: str, period: str, status: str) -> None:
        await self.session.execute(update(disclosure_periods).where(
            disclosure_periods.c.school_id == school_id, disclosure_periods.c.period == period).values(status=status))

    async def add_disclosure(self, disclosure_id: str, school_id: str, start: date, end: date) -> None:
        await self.session.execute(pg_insert(disclosures).values(
            disclosure_id=disclosure_id, school_id=school_id, period_start=start, period_end=end).on_conflict_do_nothing())

    async def disclosed_ranges(self, school_id: str) -> list[tuple[date, date]]:
        rows = (await self.session.execute(select(disclosures.c.period_start, disclosures.c.period_end)
                                           .where(disclosures.c.school_id == school_id))).all()
        return [(r.period_start, r.period_end) for r in rows]
