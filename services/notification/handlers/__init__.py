"""Notification's use cases: handlers of consumed events (events.py), what each event tells whom
(messages.py), recording messages as intents (intents.py); here, the table of which handler takes which
consumed event."""
from collections.abc import Awaitable, Callable, Sequence

from services.notification.db import NotificationUoW
from services.notification.handlers.events import (
    alert_auditors,
    apply_enrollment,
    notify_billing,
    notify_families,
    notify_guardians,
)
from services.notification.handlers.intents import (
    EVENT_IDS,
    NAMESPACE,
    REFUSED,
    Delivery,
    out_id,
    parse_hhmm,
    preferences_of,
    recipient_of,
)
from services.notification.handlers.messages import ABOUT_STUDENT, TO_FAMILIES
from shared.messaging.consumer import BatchHandler, Item, batch_handler

ENROLLMENT = ("GuardianRegistered", "StaffRegistered", "StaffAdmissionChanged", "ApplicationSubmitted", "ApplicationApproved",
              "ApplicationWaitlisted", "ApplicationRejected", "EnrollmentFiled", "EnrollmentWithdrawn")
BILLING = ("FeeCharged", "FeeSettled", "PaymentReceived", "FeeWaived", "RefundIssued")

Handler = Callable[[NotificationUoW, Sequence[Item], Delivery], Awaitable[None]]


def _given(handler: Handler, delivery: Delivery) -> BatchHandler:
    """The kit calls a batch handler with (uow, items); the delivery settings and clock come from here."""
    @batch_handler
    async def handle(uow: NotificationUoW, items: Sequence[Item]) -> None:
        await handler(uow, items, delivery)
    handle.__name__ = handler.__name__
    return handle


def handler_table(delivery: Delivery) -> dict[str, BatchHandler]:
    """Which handler takes which consumed event type. The enrollment events share one handler, so a term
    start's interleaved registrations and filings are one run (R6, R22)."""
    return {
        **dict.fromkeys(ENROLLMENT, _given(apply_enrollment, delivery)),
        **dict.fromkeys(ABOUT_STUDENT, _given(notify_guardians, delivery)),
        **dict.fromkeys(BILLING, _given(notify_billing, delivery)),
        **dict.fromkeys(TO_FAMILIES, _given(notify_families, delivery)),
        "AnomalyDetected": _given(alert_auditors, delivery),
    }


__all__ = ["EVENT_IDS", "NAMESPACE", "REFUSED", "Delivery", "handler_table", "out_id", "parse_hhmm", "preferences_of",
           "recipient_of"]
