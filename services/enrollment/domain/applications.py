"""The voluntary application workflow (R1, R6, R9): states, allowed steps, places and the waitlist.
Pure: the caller loads the application and the programme, and stores what these rules decide."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.enrollment.domain.errors import Conflict, DomainError, Problem

Status = Literal["submitted", "waitlisted", "approved", "reported", "filed", "rejected", "withdrawn"]
Command = Literal["approve", "reject", "report", "file", "withdraw"]

# Approved, reported upward or filed: the student holds one of the programme's places.
HOLDS_PLACE: frozenset[str] = frozenset({"approved", "reported", "filed"})
ACTIVE: frozenset[str] = frozenset({"submitted", "waitlisted"}) | HOLDS_PLACE

# R6: 家长申请 → 学校批准 → 上报申请 → 属地报备. For each command: the states it moves on from, and
# the states in which it was already done (a repeated command changes nothing).
_STEPS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "approve": (frozenset({"submitted"}), frozenset({"waitlisted"}) | HOLDS_PLACE),
    "reject": (frozenset({"submitted", "waitlisted"}), frozenset({"rejected"})),
    "report": (frozenset({"approved"}), frozenset({"reported", "filed"})),
    "file": (frozenset({"reported"}), frozenset({"filed"})),
    "withdraw": (ACTIVE, frozenset({"withdrawn"})),
}

_WHY_NOT: dict[tuple[str, str], str] = {
    ("reject", "approved"): "it is approved; only the guardian can end it now, by withdrawing (R1)",
    ("reject", "reported"): "it is approved and reported; only the guardian can end it now, by withdrawing (R1)",
    ("reject", "filed"): "the student is enrolled; only the guardian can end it, by withdrawing (R1)",
    ("report", "submitted"): "the school must approve it before reporting it to the district (R6)",
    ("report", "waitlisted"): "it waits for a place; it is reported once a place is free (R6)",
    ("file", "submitted"): "the school must approve and report it before the district files it (R6)",
    ("file", "waitlisted"): "it waits for a place; the district files it once approved and reported (R6)",
    ("file", "approved"): "the school must report it before the district files it (R6)",
}


def step(command: str, status: str) -> bool:
    """True when `command` moves the application on; False when it was already done (the repeat of a
    command changes nothing, R6); Conflict when the application is in a state the command cannot follow."""
    moves_from, done_in = _STEPS[command]
    if status in moves_from:
        return True
    if status in done_in:
        return False
    reason = _WHY_NOT.get((command, status), f"the application is {status}")
    raise Conflict(f"cannot {command} this application: {reason}")


def check_applications_open(*, published: bool, open_at: datetime | None, close_at: datetime | None,
                            now: datetime) -> None:
    """R4, R7: a programme is disclosed before anyone may apply, and only within its window."""
    if not published or open_at is None or close_at is None:
        raise DomainError("applications open only after the school has published (disclosed) the programme (R4, R7)",
                          problems=[Problem(("body", "programme_id"), "the programme is not published yet: "
                                            "applications open only after disclosure (R4, R7)", "R4")])
    if now < open_at:
        raise DomainError(problems=[Problem(("body", "programme_id"), f"applications open at {open_at.isoformat()}", "R7")])
    if now >= close_at:
        raise DomainError(problems=[Problem(("body", "programme_id"), f"applications closed at {close_at.isoformat()}", "R7")])


def check_consent(consent: bool, *, on_behalf: bool, consent_evidence: str | None) -> None:
    """R1: only a guardian's own, consented application enrolls; staff entering one for a guardian must
    say how the guardian's consent was given (a signed form, a recorded call)."""
    if not consent:
        raise DomainError(problems=[Problem(("body", "consent"), "the guardian's consent is required to apply (R1)", "R1")])
    if on_behalf and not consent_evidence:
        raise DomainError(problems=[Problem(("body", "consent_evidence"), "an application entered by staff on a "
                                            "guardian's behalf must record how the guardian consented (R1)", "R1")])


@dataclass(frozen=True)
class Placement:
    status: Literal["approved", "waitlisted"]
    position: int | None = None  # place in the waitlist, 1 = next


def place(capacity: int, taken: int, waiting: int) -> Placement:
    """An approved application takes a free place, or joins the end of the waitlist (R7 capacity)."""
    if taken < capacity:
        return Placement("approved")
    return Placement("waitlisted", waiting + 1)


def hardship_status(*, verified: bool, verified_by: str | None) -> tuple[bool, str | None]:
    """R9: hardship (free service) counts only once someone named has verified it."""
    if verified and not verified_by:
        raise DomainError("hardship must name who verified it (R9)")
    return (True, verified_by) if verified else (False, None)


def coercion_signal(applications: int, on_behalf: int, *, threshold: float, minimum: int) -> bool:
    """R1: a class where staff entered a large share of the applications is a sign of coercion."""
    return applications >= minimum and applications > 0 and on_behalf / applications >= threshold
