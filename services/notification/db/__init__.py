"""Notification's database room: its tables and rows (db/tables.py) and its units of work (db/uow.py)."""
from services.notification.db.tables import (
    BroadcastRow,
    Claimed,
    Contact,
    ContactRow,
    Found,
    Intent,
    Known,
    NewContact,
    NotificationTable,
    PreferenceRow,
    SchoolDistrictRow,
    Waiting,
)
from services.notification.db.uow import NotificationUoW, SenderUoW

__all__ = [
    "BroadcastRow",
    "Claimed",
    "Contact",
    "ContactRow",
    "Found",
    "Intent",
    "Known",
    "NewContact",
    "NotificationTable",
    "NotificationUoW",
    "PreferenceRow",
    "SchoolDistrictRow",
    "SenderUoW",
    "Waiting",
]
