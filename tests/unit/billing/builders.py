"""Builders of the enrollment and attendance events a test school produces, with unique ids; no I/O."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from shared.contracts.attendance import ExtendedCareStarted, StudentCheckedIn, StudentCheckedOut
from shared.contracts.enrollment import ApplicationApproved, EnrollmentFiled, EnrollmentWithdrawn, ProgrammePublished
from shared.contracts.schema import example_payload

UTC = UTC


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class School:
    """Builds the enrollment and attendance events of one test school with unique ids."""

    def __init__(self, prefix: str = "sch-bu", *, fee_fen: int = 1500, care_fen: int = 800) -> None:
        self.school_id = unique(prefix)
        self.district_id = unique("dst-bu")
        self.programme_id = f"prg-{self.school_id}"
        self.fee_fen, self.care_fen = fee_fen, care_fen
        self.at = datetime(2025, 8, 20, 2, 0, tzinfo=UTC)

    def programme(self) -> ProgrammePublished:
        return ProgrammePublished(
            programme_id=self.programme_id, school_id=self.school_id, district_id=self.district_id, term="2025-autumn",
            name="2025秋季课后服务",
            sessions=[{"weekdays": ["mon", "tue", "wed", "thu", "fri"], "starts_at_local": "15:30", "ends_at_local": "17:30"}],
            normal_off_work_local="17:30", extended_care_until_local="18:30",
            activities=[{"activity_id": "act-1", "name": "阅读", "tier": "reading", "staff_ids": ["stf-1"], "capacity": 40}],
            capacity=600, fee_per_session_fen=self.fee_fen, extended_care_fee_per_session_fen=self.care_fen,
            **_programme_extras(),
        )

    def student(self, n: int) -> str:
        return f"stu-{self.school_id}-{n:04d}"

    def guardian(self, n: int) -> str:
        return f"gdn-{self.school_id}-{n:04d}"

    def approved(self, n: int, *, hardship: bool = False, extended_care: bool = False) -> ApplicationApproved:
        return ApplicationApproved(
            application_id=f"app-{self.school_id}-{n:04d}", programme_id=self.programme_id, school_id=self.school_id,
            student_id=self.student(n), guardian_id=self.guardian(n), hardship=hardship,
            hardship_verified_by="stf-verifier" if hardship else None,
            hardship_verified_by_role="school_staff" if hardship else None, extended_care=extended_care,
            approved_by="stf-principal", approved_by_role="principal", approved_at=self.at)

    def filed(self, n: int, *, hardship: bool = False, extended_care: bool = False) -> EnrollmentFiled:
        return EnrollmentFiled(
            enrollment_id=f"enr-{self.school_id}-{n:04d}", application_id=f"app-{self.school_id}-{n:04d}",
            programme_id=self.programme_id, school_id=self.school_id, district_id=self.district_id,
            student_id=self.student(n), student_name=f"学生{n}", guardian_id=self.guardian(n), hardship=hardship,
            extended_care=extended_care, filed_by="off-1", filed_by_role="district_officer",
            filed_at=self.at + timedelta(days=1))

    def withdrawn(self, n: int, effective_on: date) -> EnrollmentWithdrawn:
        return EnrollmentWithdrawn(
            enrollment_id=f"enr-{self.school_id}-{n:04d}", programme_id=self.programme_id, school_id=self.school_id,
            student_id=self.student(n), guardian_id=self.guardian(n), effective_on=effective_on,
            withdrawn_by=self.guardian(n), withdrawn_by_role="guardian", withdrawn_at=self.at + timedelta(days=30))

    def check_in(self, n: int, day: date, staff: str = "stf-1", source: str = "staff_app") -> StudentCheckedIn:
        return StudentCheckedIn(
            student_id=self.student(n), school_id=self.school_id, programme_id=self.programme_id, session_date=day,
            checked_in_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=7, minutes=31),
            checked_in_by=staff, checked_in_by_role="school_staff", source=source)

    def check_out(self, n: int, day: date, *, extended_care: bool = False, staff: str = "stf-1") -> StudentCheckedOut:
        return StudentCheckedOut(
            student_id=self.student(n), school_id=self.school_id, programme_id=self.programme_id, session_date=day,
            checked_out_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=10 if extended_care else 9),
            handed_over_by=staff, handed_over_by_role="school_staff", collected_by_id=self.guardian(n),
            collected_by_name="家长", collected_by_relation="guardian", extended_care=extended_care,
            extended_care_minutes=40 if extended_care else 0, source="staff_app")

    def extended_care(self, n: int, day: date, staff: str = "stf-2") -> ExtendedCareStarted:
        start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9, minutes=30)
        return ExtendedCareStarted(
            student_id=self.student(n), school_id=self.school_id, programme_id=self.programme_id, session_date=day,
            session_ended_at=start, extended_care_ends_at=start + timedelta(hours=1), supervising_staff_id=staff,
            started_by="attendance", started_by_role="platform", started_at=start)


def _programme_extras() -> dict:
    """Fields of ProgrammePublished billing does not read, filled from the contract's examples."""
    example = example_payload(ProgrammePublished)
    known = {"programme_id", "school_id", "district_id", "term", "name", "sessions", "normal_off_work_local",
             "extended_care_until_local", "activities", "capacity", "fee_per_session_fen",
             "extended_care_fee_per_session_fen"}
    return {k: v for k, v in example.items() if k not in known}


def school_days(period: str = "2025-09") -> list[date]:
    """Monday to Friday of a month."""
    year, month = map(int, period.split("-"))
    day = date(year, month, 1)
    out = []
    while day.month == month:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out
