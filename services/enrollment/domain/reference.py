"""Reference data of a city (R5, R27, R28): districts, schools, classes, staff and outside providers,
students and guardians, as records of a bulk import, each checked on its own with its reasons.
Enrollment is never reference data: only a guardian's application enrolls (R1)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from services.enrollment.domain.contacts import normalise_mobile
from services.enrollment.domain.errors import DomainError
from services.enrollment.domain.values import Id, LocalTime, PersonName, Text


class Record(BaseModel):
    """Base of the import records: unknown columns are ignored, text is trimmed."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class DistrictRecord(Record):
    """A district (县/市/区 or development zone) that owns schools (R27)."""

    district_id: Id
    name: Text
    off_work_local: LocalTime | None = Field(None, description="Local normal off-work time (R8); service default if empty.")


class SchoolRecord(Record):
    """A school and the district responsible for it (R27); urban or rural, for a steady rollout (R5)."""

    school_id: Id
    district_id: Id
    name: Text
    kind: Literal["urban", "rural"] = "urban"


class ClassRecord(Record):
    """A class of a school; its teacher is told of absences (R12)."""

    class_id: Id
    school_id: Id
    grade: int = Field(ge=1, le=12)
    name: Text
    class_teacher_id: Id | None = None


class StaffRecord(Record):
    """A member of staff or an outside provider, with their admission status (准入和退出, R28)."""

    staff_id: Id
    school_id: Id
    name: PersonName
    kind: Literal["staff", "provider"] = "staff"
    position: Text | None = Field(None, description="e.g. principal, teacher, coach; the principal answers first (R27).")
    organisation: Text | None = Field(None, description="For outside providers: the university, club or company (R18).")
    admission: Literal["admitted", "pending", "removed"] = "pending"
    admission_checked_on: date | None = None


class StudentRecord(Record):
    """A student; `eligible` students are the denominator of participation (R29, the 78.5% figure)."""

    student_id: Id
    school_id: Id
    class_id: Id | None = None
    name: PersonName
    grade: int = Field(ge=1, le=12)
    eligible: bool = True


class GuardianRecord(Record):
    """A guardian, the children they answer for, and their contact and consent to messages (R1, R22)."""

    guardian_id: Id
    school_id: Id
    name: PersonName
    phone: str = Field(description="Mainland mobile number; stored sealed, shown masked.")
    student_ids: list[Id] = Field(min_length=1, max_length=10)
    locale: Literal["zh-CN", "en"] = "zh-CN"
    push_token: str | None = Field(None, max_length=512)
    consent: bool

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        return as_mobile(value)


def as_mobile(value: str) -> str:
    """A mainland mobile number in its normal form, or a validation error (guardians, pickup persons)."""
    try:
        return normalise_mobile(value)
    except DomainError as exc:
        raise ValueError(str(exc)) from None


Mobile = Annotated[str, AfterValidator(as_mobile)]


# In dependency order: a district's import runs in this order, so that each record finds those it names.
KINDS: dict[str, type[Record]] = {
    "districts": DistrictRecord,
    "schools": SchoolRecord,
    "staff": StaffRecord,
    "classes": ClassRecord,
    "students": StudentRecord,
    "guardians": GuardianRecord,
}
ID_FIELD = {"districts": "district_id", "schools": "school_id", "classes": "class_id", "staff": "staff_id",
            "students": "student_id", "guardians": "guardian_id"}
ORDER: tuple[str, ...] = tuple(KINDS)
LIST_FIELDS = {"guardians": ("student_ids",)}

# R1: no bulk or automatic enrollment. A reference file that tries to enroll is refused row by row.
# The British spellings a school's own export may use are refused the same way (the project writes "enrollment").
ENROLLMENT_COLUMNS = frozenset({"programme_id", "enrolled", "enrollment", "enrollment_id", "application_id", "enroll",
                                "enrolment", "enrolment_id", "enrol"})


class Unreadable(str):
    """A row the file's format could not read (e.g. a broken JSON line), holding why."""


def _blank(value: Any) -> bool:
    return value is None or (value.__class__ is str and not value.strip())


def _clean(kind: str, raw: dict[str, Any]) -> dict[str, Any] | str:
    """The row's non-empty cells, lists split; or the reason it may never be imported (R1)."""
    if not ENROLLMENT_COLUMNS.isdisjoint(raw):
        tried = sorted(c for c in ENROLLMENT_COLUMNS.intersection(raw) if not _blank(raw[c]))
        if tried:
            return (f"{', '.join(tried)}: bulk enrollment is forbidden; only a guardian's own application "
                    "enrolls a student (R1)")
    # Empty cells are absent values (CSV has no null); this runs for every row, so it stays one pass.
    clean = {k: v for k, v in raw.items() if not _blank(v)}
    for name in LIST_FIELDS.get(kind, ()):
        value = clean.get(name)
        if isinstance(value, str):
            clean[name] = [part.strip() for part in value.replace(";", "|").split("|") if part.strip()]
    return clean


_ADAPTERS = {kind: TypeAdapter(list[model]) for kind, model in KINDS.items()}


def parse_records(kind: str, raws: list[dict[str, Any]]) -> list[tuple[Record | None, list[str]]]:
    """Rows of an import, each to its record or to every reason it was refused. The rows are checked
    in one call (pydantic's core does the loop): a bulk import spends its time here."""
    results: list[tuple[Record | None, list[str]]] = [(None, [])] * len(raws)
    pending: list[int] = []
    cleaned: list[dict[str, Any]] = []
    for i, raw in enumerate(raws):
        clean = _clean(kind, raw)
        if isinstance(clean, str):
            results[i] = (None, [clean])
        else:
            pending.append(i)
            cleaned.append(clean)
    adapter = _ADAPTERS[kind]
    try:
        records = adapter.validate_python(cleaned)
    except ValidationError as exc:
        reasons: dict[int, list[str]] = {}
        for err in exc.errors(include_url=False):
            position, *loc = err["loc"]
            reasons.setdefault(position, []).append(_reason({**err, "loc": tuple(loc)}))
        for position, why in reasons.items():
            results[pending[position]] = (None, why)
        good = [p for p in range(len(pending)) if p not in reasons]
        records = adapter.validate_python([cleaned[p] for p in good])
        pending = [pending[p] for p in good]
    for i, record in zip(pending, records):
        results[i] = (record, [])
    return results


def parse_record(kind: str, raw: dict[str, Any]) -> tuple[Record | None, list[str]]:
    """One row of an import: the record, or None and every reason it was refused."""
    return parse_records(kind, [raw])[0]


def _reason(err: dict) -> str:
    where = ".".join(str(part) for part in err["loc"]) or "row"
    if err["type"] == "missing":
        return f"{where}: required"
    return f"{where}: {err['msg']}"
