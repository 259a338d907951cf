"""Which published events are news a family must hear (R22, R23), and which name a student or guardian
without being news to the family, with why: a statement about the contracts, by event type name (every
version alike); plain data, no rules or I/O. Notification must have a message for each family-facing event;
an event that names a student or guardian must be placed in one list or the other before it is published."""
from __future__ import annotations

# R6, R11-R13, R16-R17, R21-R23: applications and enrollment, the day at school and every safety event, fees,
# payments, waivers and refunds, and the school's disclosures of programmes and finances.
FAMILY_FACING: frozenset[str] = frozenset({
    "ApplicationSubmitted", "ApplicationApproved", "ApplicationWaitlisted", "ApplicationRejected",
    "EnrollmentFiled", "EnrollmentWithdrawn", "ProgrammePublished",
    "StudentCheckedIn", "StudentCheckedOut", "StudentAbsent", "ExtendedCareStarted", "ExtendedCareEscalated",
    "UnauthorisedPickupRefused",
    "FeeCharged", "FeeSettled", "PaymentReceived", "FeeWaived", "RefundIssued", "DisclosurePublished",
})

# Events that name a student or guardian but are not a message to the family, and why.
NOT_FAMILY_FACING: dict[str, str] = {
    "GuardianRegistered": "the guardian's own contact details; the first news is their application's",
    "ApplicationReported": "the school passing an application to the district; the family hears when it is filed",
    "PickupPersonAuthorised": "the guardian's own act, answered in the app when they make it",
    "PickupPersonRevoked": "the guardian's own act, answered in the app when they make it",
    "ActivityRecorded": "several a day per child (R3, R14): shown in the parent view, not sent one by one",
    "SchoolCheckInRecorded": "a school system's raw record; the family hears the attendance event it becomes",
    "SchoolCheckOutRecorded": "a school system's raw record; the family hears the attendance event it becomes",
    "SchoolActivityRecorded": "a school system's raw record of an activity",
    "AnomalyDetected": "an alert for auditors (R25)",
    "NotificationSent": "the receipt of a message, not a message",
    "NotificationFailed": "the receipt of a message, not a message",
}
