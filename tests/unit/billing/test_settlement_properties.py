"""Property-based tests of settlement on actuals (pure domain): a hardship student's total is zero,
nothing is charged above or outside the approved schedule, charges are sessions attended times the
rate, and refunds exactly cover prepaid sessions not delivered (R9, R17, R18)."""
from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.billing.domain import Account, ApprovedSchedule, Usage, settle, spans_for

PERIOD = "2025-09"  # 30 days
FULL = (1 << 30) - 1
masks = st.integers(min_value=0, max_value=FULL)
rates = st.integers(min_value=0, max_value=3000)


@st.composite
def schedules(draw) -> list[ApprovedSchedule]:
    """One to three approved schedules, some taking effect before the month, some within it."""
    starts = draw(st.lists(st.integers(min_value=-20, max_value=30), min_size=1, max_size=3, unique=True))
    out = []
    for i, offset in enumerate(sorted(starts)):
        start = date(2025, 9, offset) if offset >= 1 else date(2025, 8, 31 + offset if offset > -31 else 1)
        out.append(ApprovedSchedule(f"fsc-{i}", start, draw(st.none() | rates), draw(st.none() | rates)))
    return out


@st.composite
def accounts(draw, hardship: bool | None = None) -> Account:
    withdrawn = draw(st.none() | st.dates(min_value=date(2025, 8, 25), max_value=date(2025, 10, 5)))
    return Account(hardship=draw(st.booleans()) if hardship is None else hardship, extended_care=draw(st.booleans()),
                   credit_fen=draw(st.integers(min_value=0, max_value=100_000)),
                   prepaid_period=draw(st.sampled_from([None, PERIOD, "2025-08"])), withdrawn_on=withdrawn)


@settings(max_examples=300)
@given(account=accounts(hardship=True), attended=masks, care=masks, provided=masks, plan=schedules())
def test_a_hardship_students_total_is_zero(account, attended, care, provided, plan) -> None:
    spans = spans_for(PERIOD, plan)
    statement = settle(account, Usage(attended, care), provided, spans, PERIOD)
    as_if_paying = settle(Account(False, account.extended_care, 0, None, account.withdrawn_on),
                          Usage(attended, care), provided, spans, PERIOD)

    assert statement.lines == () and statement.charged_fen == 0 and statement.outstanding_fen == 0
    assert statement.waived_fen == as_if_paying.charged_fen  # the standard they were spared (R9)
    assert statement.refund_due_fen == account.credit_fen  # anything they paid goes back


@settings(max_examples=300)
@given(account=accounts(), attended=masks, care=masks, provided=masks, plan=schedules())
def test_no_charge_is_above_the_schedule_or_outside_it(account, attended, care, provided, plan) -> None:
    spans = spans_for(PERIOD, plan)
    statement = settle(account, Usage(attended, care), provided, spans, PERIOD)
    by_id = {span.schedule.fee_schedule_id: span for span in spans}
    charged_days: dict[str, int] = {}

    for line in statement.lines:
        span = by_id[line.fee_schedule_id]
        rate = span.schedule.session_fen if line.category == "session" else span.schedule.extended_care_fen
        assert line.category in ("session", "extended_care")
        assert rate and line.unit_price_fen == rate  # exactly the approved rate, never more
        assert line.mask & ~span.mask == 0  # only days the schedule is in force
        assert line.mask & ~(attended & provided) == 0  # only sessions provided and attended
        assert line.quantity == line.mask.bit_count() >= 1
        assert charged_days.get(line.category, 0) & line.mask == 0  # no day charged twice
        charged_days[line.category] = charged_days.get(line.category, 0) | line.mask
        if line.category == "extended_care":
            assert account.extended_care  # never a late fee for a family that did not ask for care (R13)


@settings(max_examples=300)
@given(attended=masks, care=masks, provided=masks, session_fen=rates, care_fen=rates, granted=st.booleans(),
       withdrawn=st.none() | st.dates(min_value=date(2025, 9, 1), max_value=date(2025, 9, 30)))
def test_charges_equal_sessions_attended_times_the_rate(attended, care, provided, session_fen, care_fen, granted,
                                                         withdrawn) -> None:
    spans = spans_for(PERIOD, [ApprovedSchedule("fsc-term", date(2025, 8, 1), session_fen, care_fen)])
    statement = settle(Account(False, granted, withdrawn_on=withdrawn), Usage(attended, care), provided, spans, PERIOD)
    served = FULL if withdrawn is None else (1 << (withdrawn.day - 1)) - 1
    sessions = (attended & provided & served).bit_count()
    cared = (care & attended & provided & served).bit_count()

    assert statement.sessions_attended == sessions
    assert statement.charged_fen == sessions * session_fen + (cared * care_fen if granted else 0)


@settings(max_examples=300)
@given(provided=masks, attended=masks, session_fen=st.integers(min_value=1, max_value=3000), data=st.data())
def test_refunds_exactly_cover_undelivered_prepaid_sessions(provided, attended, session_fen, data) -> None:
    prepaid_sessions = data.draw(st.integers(min_value=0, max_value=30))
    account = Account(False, False, credit_fen=prepaid_sessions * session_fen, prepaid_period=PERIOD)
    spans = spans_for(PERIOD, [ApprovedSchedule("fsc-term", date(2025, 9, 1), session_fen, None)])

    statement = settle(account, Usage(attended), provided, spans, PERIOD)

    used = (attended & provided).bit_count()
    assert statement.refund_due_fen == max(0, prepaid_sessions - used) * session_fen
    assert statement.outstanding_fen == max(0, used - prepaid_sessions) * session_fen
    assert statement.credit_applied_fen + statement.refund_due_fen == account.credit_fen
    if statement.refund_due_fen:
        assert statement.refund_reason == "session_not_provided"
