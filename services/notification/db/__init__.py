"""Notification's database room: its tables and rows (db/tables.py) and its units of work (db/uow.py)."""
from services.notification.db.tables import (
    Claimed,
    Contact,
    ContactRow,
    Found,
    Intent,
    Known,
    NewContact,
    NotificationTable,
    PreferenceRow,
    Waiting,
)
from services.notification.db.uow import NotificationUoW, SenderUoW

__all__ = [
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
    "SenderUoW",
    "Waiting",
]
