"""Enrollment's persistence: tables, the unit of work with its repository methods, bulk import writes
and report queries; imports the kit, never another service."""
from services.enrollment.db.tables import (
    ApplicationRow,
    ClassRow,
    DistrictRow,
    GuardianRow,
    ProgrammeRow,
    SchoolRow,
    StaffRow,
    StudentRow,
)
from services.enrollment.db.uow import EnrollmentUoW

__all__ = ["ApplicationRow", "ClassRow", "DistrictRow", "EnrollmentUoW", "GuardianRow", "ProgrammeRow", "SchoolRow",
           "StaffRow", "StudentRow"]
