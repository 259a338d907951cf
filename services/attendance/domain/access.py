"""Who may submit a school's attendance records (R15, R27): one rule for the HTTP batch route and the
attendance.ingest topic alike. Plain values in, a reason out; knows nothing of tokens or transports."""
from __future__ import annotations

SUBMITTING_ROLE = "school_system"


def submission_refusal(role: str, acting_for: str | None, school_id: str) -> str | None:
    """Why a caller holding `role` for school `acting_for` may not submit records about `school_id`, or None
    if it may: only a school system, and only for its own school's students."""
    if role != SUBMITTING_ROLE:
        return f"role {role!r} may not post records; a school_system token is needed"
    if acting_for != school_id:
        return f"this school system is authorised for school {acting_for}, not {school_id}"
    return None
