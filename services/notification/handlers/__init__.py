"""Notification's use cases: handlers of consumed events (events.py), what each event tells whom
(messages.py), recording messages as intents (intents.py); here, the table of which handler takes which
consumed event."""
from services.notification.handlers.events import (
    alert_auditors,
    apply_enrollment,
    notify_billing,
    notify_families,
    notify_guardians,
)
from services.notification.handlers.intents import EVENT_IDS, NAMESPACE, REFUSED, out_id, parse_hhmm, preferences_of, recipient_of
from services.notification.handlers.messages import ABOUT_STUDENT, TO_FAMILIES

HANDLERS = {
    **dict.fromkeys(["GuardianRegistered", "StaffRegistered", "StaffAdmissionChanged", "ApplicationSubmitted",
                     "ApplicationApproved", "ApplicationWaitlisted", "ApplicationRejected", "EnrollmentFiled",
                     "EnrollmentWithdrawn"], apply_enrollment),
    **dict.fromkeys(ABOUT_STUDENT, notify_guardians),
    **dict.fromkeys(["FeeCharged", "FeeSettled", "PaymentReceived", "FeeWaived", "RefundIssued"], notify_billing),
    **dict.fromkeys(TO_FAMILIES, notify_families),
    "AnomalyDetected": alert_auditors,
}

__all__ = ["EVENT_IDS", "HANDLERS", "NAMESPACE", "REFUSED", "out_id", "parse_hhmm", "preferences_of", "recipient_of"]
