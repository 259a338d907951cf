"""A school's month so far on actual attendance, read-only: what settling the month would charge and
waive on the facts recorded until now (R9, R17), by the settlement's own rule (`statement_of`), so
the preview and the statement the month-end makes cannot disagree. No writes, no events, no locks."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

from services.billing.db import BillingUoW
from services.billing.domain import DomainError, Statement, parse_period, spans_for
from services.billing.handlers.common import local_day, local_midnight_utc
from services.billing.handlers.settlement import statement_of


@dataclass
class Tally:
    """Sums over the statements the month would make: per programme, or for the whole school."""

    accounts: int = 0
    hardship_accounts: int = 0
    statements_made: int = 0  # accounts whose statement for the month already exists (a settled month)
    sessions_attended: int = 0
    extended_care_sessions: int = 0
    charged_fen: int = 0
    waived_fen: int = 0

    def add(self, statement: Statement, *, settled: bool) -> None:
        self.accounts += 1
        self.hardship_accounts += statement.hardship
        self.statements_made += settled
        self.sessions_attended += statement.sessions_attended
        self.extended_care_sessions += statement.extended_care_sessions
        self.charged_fen += statement.charged_fen
        self.waived_fen += statement.waived_fen

    def __iadd__(self, other: Tally) -> Tally:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


@dataclass
class MonthToDate:
    school_id: str
    period: str
    as_of: datetime
    through: date  # the last school-local day the figures cover
    month_over: bool
    programmes: dict[str, tuple[int, Tally]] = field(default_factory=dict)  # id -> (sessions provided, tally)
    skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> Tally:
        out = Tally()
        for _, tally in self.programmes.values():
            out += tally
        return out

    @property
    def provisional(self) -> bool:
        """Final only once the month is over and every statement of it has been made (R17)."""
        total = self.total
        return not self.month_over or total.statements_made < total.accounts

    @property
    def note(self) -> str:
        if not self.month_over:
            return (f"Provisional: {self.period} so far, on the attendance recorded through {self.through}. "
                    f"Statements are made once the month is over (R17); attendance still to come adds to these figures.")
        if self.provisional:
            return (f"Provisional: {self.period} has ended but is not settled yet; these are the charges and waivers "
                    f"its statements will carry on the attendance recorded (R17).")
        return f"{self.period} is settled: these are the figures of its statements (R17)."


async def month_to_date(uow: BillingUoW, *, school_id: str, period: str, now: datetime,
                        chunk_size: int = 2000) -> MonthToDate:
    """The school's month as settlement would see it now, per programme and in total."""
    try:
        first, last = parse_period(period)
    except ValueError as exc:
        raise DomainError(str(exc)) from exc
    today = local_day(now)
    if today < first:
        raise DomainError(f"{period} has not begun yet (school-local today is {today}); there is nothing to show")
    # One read-only snapshot: the programmes and chunks agree with each other, and nothing is written.
    await uow.read_only_snapshot()
    if not await uow.school_known(school_id):
        raise DomainError(f"billing knows no school {school_id}", status=404)
    out = MonthToDate(school_id, period, now, min(today, last), today > last)
    schedules = await uow.approved_schedules(school_id)
    # The settlement's cutoff: enrollments filed after the month ended have nothing in it.
    cutoff = local_midnight_utc(last + timedelta(days=1))
    for programme_id in await uow.programmes_with_accounts(school_id):
        spans = spans_for(period, schedules.get(programme_id, []))
        if not spans:
            # R18, as the month-end says it: nothing may be charged without an approved schedule.
            out.skipped.append(f"{programme_id}: no approved fee schedule in force in {period} (R10, R18)")
            continue
        provided = await uow.provided_mask(programme_id, period)
        tally, after = Tally(), ""
        while rows := await uow.accounts_in_month(programme_id, period, first, cutoff, after, chunk_size):
            for row in rows:
                tally.add(statement_of(row, provided, spans, period), settled=row.settled)
            after = rows[-1].student_id
        out.programmes[programme_id] = (provided.bit_count(), tally)
    return out
