"""Enrollment's pure rules (no I/O): access (R1, R27), programmes (R3, R7, R8, R10, R30), the application
workflow (R1, R6, R9), reference data (R28) and contacts. Imports nothing of the service."""
from services.enrollment.domain.access import Actor, require_own_child, require_role, require_school_scope
from services.enrollment.domain.applications import (
    ACTIVE,
    HOLDS_PLACE,
    Placement,
    check_applications_open,
    check_consent,
    coercion_signal,
    hardship_status,
    place,
    step,
)
from services.enrollment.domain.contacts import normalise_mobile
from services.enrollment.domain.errors import Conflict, DomainError, Forbidden, NotFound, Problem
from services.enrollment.domain.programmes import ProgrammeSpec, programme_problems, publish_problems

__all__ = [
    "ACTIVE", "HOLDS_PLACE", "Actor", "Conflict", "DomainError", "Forbidden", "NotFound", "Placement", "Problem",
    "ProgrammeSpec", "check_applications_open", "check_consent", "coercion_signal", "hardship_status",
    "normalise_mobile", "place", "programme_problems", "publish_problems", "require_own_child", "require_role",
    "require_school_scope", "step",
]
