"""Notification's HTTP room: recipients' preferences and the local sink (recipients.py), and the emergency
broadcasts a principal sends (broadcasts.py)."""
from services.notification.api import broadcasts, recipients

__all__ = ["broadcasts", "recipients"]
