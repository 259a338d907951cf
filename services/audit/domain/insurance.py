"""R30: school liability and student group accident insurance are in force for every participating student.
A programme whose published cover lapses before its term ends leaves its students uninsured for the rest of
the term: insurance_missing. (A cover starting late is the school's to show on the enrollment; the check is
the lapse R30 names.) Pure rule, no I/O."""
from __future__ import annotations

import uuid

from services.audit.domain.findings import Finding
from shared.contracts.enrollment import InsuranceCover
from shared.time import term_bounds


def insurance_gap(programme_id: str, school_id: str, term: str, cover: InsuranceCover,
                  event_id: uuid.UUID) -> Finding | None:
    """The finding for a cover that does not span the programme's term, once per programme and policy."""
    starts, ends = term_bounds(term)
    if cover.valid_until >= ends:
        return None
    gap = f"lapses on {cover.valid_until}, before the term ends on {ends}"
    return Finding(
        check="insurance_missing",
        dedup_key=f"insurance_missing:{programme_id}:{cover.accident_policy_no}:{cover.valid_from}:{cover.valid_until}",
        school_id=school_id, period=term,
        detail=(f"the group accident and liability cover of {programme_id} ({cover.insurer}, "
                f"{cover.accident_policy_no}) {gap}: its students are uninsured for part of the term (R30)"),
        subject_event_ids=(event_id,),
        evidence={"programme_id": programme_id, "term": term, "term_starts": starts.isoformat(),
                  "term_ends": ends.isoformat(), "insurer": cover.insurer,
                  "accident_policy_no": cover.accident_policy_no, "liability_policy_no": cover.liability_policy_no,
                  "valid_from": cover.valid_from.isoformat(), "valid_until": cover.valid_until.isoformat()},
    )
