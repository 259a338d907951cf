"""Attendance's HTTP room: the school systems' records (records.py, with its fast path), excusals, handovers and
the day's queries (days.py); what they share is in deps.py."""
from services.attendance.api import days, excusals, handovers, records
from services.attendance.api.records import RecordsFastPath

routers = [records.router, excusals.router, handovers.router, days.router]

__all__ = ["RecordsFastPath", "routers"]
