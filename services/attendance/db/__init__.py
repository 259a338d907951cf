"""Attendance's database room: the unit of work (db/uow.py) and what its rows are (db/tables.py)."""
from services.attendance.db.tables import DayKey, Filing, Judging, Seen
from services.attendance.db.uow import AttendanceUoW

__all__ = ["AttendanceUoW", "DayKey", "Filing", "Judging", "Seen"]
