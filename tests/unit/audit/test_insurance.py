"""R30: a programme whose published insurance does not span its term is reported as insurance_missing,
once per programme and policy; a cover to the end of the term is not."""
from __future__ import annotations

import uuid
from datetime import date

from services.audit.domain.insurance import insurance_gap
from shared.contracts.enrollment import InsuranceCover, ProgrammePublished
from shared.contracts.schema import example_payload
from shared.time import term_bounds


def _cover(valid_from: date, valid_until: date) -> InsuranceCover:
    return InsuranceCover(liability_policy_no="PL-1", accident_policy_no="GA-1", insurer="中国人民财产保险",
                          valid_from=valid_from, valid_until=valid_until)


def test_terms_run_september_to_january_and_february_to_july() -> None:
    assert term_bounds("2025-autumn") == (date(2025, 9, 1), date(2026, 1, 31))
    assert term_bounds("2026-spring") == (date(2026, 2, 1), date(2026, 7, 15))


def test_a_cover_that_lapses_mid_term_is_reported_and_one_to_the_end_of_the_term_is_not() -> None:
    ok = insurance_gap("prg-1", "sch-1", "2025-autumn", _cover(date(2025, 9, 1), date(2026, 1, 31)), uuid.uuid4())
    assert ok is None
    lapsed = insurance_gap("prg-1", "sch-1", "2025-autumn", _cover(date(2025, 9, 1), date(2025, 12, 31)), uuid.uuid4())
    assert lapsed is not None and lapsed.check == "insurance_missing"
    assert lapsed.evidence["valid_until"] == "2025-12-31" and lapsed.evidence["term_ends"] == "2026-01-31"
    assert "R30" in lapsed.detail and "2025-12-31" in lapsed.detail


async def test_a_published_programme_with_a_lapsing_cover_raises_one_anomaly(ledger) -> None:
    school = f"sch-ins-{uuid.uuid4().hex[:6]}"
    payload = example_payload(ProgrammePublished)
    programme = ProgrammePublished.model_validate({
        **payload, "school_id": school, "programme_id": f"prg-{school}", "term": "2025-autumn",
        "insurance": {**payload["insurance"], "valid_from": "2025-09-01", "valid_until": "2025-11-30"}})
    await ledger.feed(programme)
    await ledger.feed(programme.model_copy())  # published again, e.g. a revision: still one anomaly
    (anomaly,) = await ledger.anomalies(school)
    assert anomaly["check"] == "insurance_missing" and anomaly["district_id"] == programme.district_id
    assert anomaly["evidence"]["accident_policy_no"] == programme.insurance.accident_policy_no
