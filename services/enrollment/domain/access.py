"""Who may act on what (R1, R27): guardians for their own children, schools for their students,
districts for their schools, the city for all. Pure rules; the caller looks the facts up."""
from __future__ import annotations

from dataclasses import dataclass

from services.enrollment.domain.errors import Forbidden

# Token roles (shared.auth) that may change enrollment records, and what each reads.
WRITERS = ("guardian", "school", "district", "city")
READERS = WRITERS + ("auditor",)


@dataclass(frozen=True)
class Actor:
    """The verified caller: `subject` acting with a token `role`, scoped to a school or district."""

    subject: str
    role: str
    school_id: str | None = None
    district_id: str | None = None
    position: str | None = None  # the staff record's position, e.g. "principal" (R27)

    @property
    def event_role(self) -> str:
        """The ActorRole recorded in events (R27): the principal is named as such, being first responsible."""
        if self.role == "school":
            return "principal" if self.position == "principal" else "school_staff"
        return {"guardian": "guardian", "district": "district_officer", "city": "city_officer",
                "auditor": "auditor", "school_system": "school_system"}.get(self.role, "platform")

    def sees_school(self, school_id: str, district_id: str | None) -> bool:
        """A school sees only itself; a district only its schools; the city and auditors all (R27)."""
        if self.role in ("city", "auditor"):
            return True
        if self.role == "district":
            return district_id is not None and district_id == self.district_id
        if self.role == "school":
            return self.school_id == school_id
        return False


def require_role(actor: Actor, *roles: str, doing: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"role {actor.role!r} may not {doing}; needs one of {', '.join(roles)} (R27)")


def require_school_scope(actor: Actor, school_id: str, district_id: str | None, *, doing: str) -> None:
    """School staff act for their school, district officers for their schools, the city for all (R27)."""
    if actor.role == "guardian" or not actor.sees_school(school_id, district_id):
        raise Forbidden(f"{actor.subject} ({actor.role}) may not {doing} for school {school_id} (R27)")


def require_own_child(actor: Actor, *, guardian_id: str, guardian_children: tuple[str, ...] | None,
                      student_id: str) -> None:
    """R1: a guardian acts only for their own child, never for someone else's."""
    if actor.role == "guardian" and actor.subject != guardian_id:
        raise Forbidden(f"a guardian may act only as themselves, not as {guardian_id} (R1)")
    if guardian_children is None:
        raise Forbidden(f"guardian {guardian_id} is not registered (R1)")
    if student_id not in guardian_children:
        raise Forbidden(f"{student_id} is not a child of guardian {guardian_id}: a guardian may act only for "
                        "their own child (R1)")
