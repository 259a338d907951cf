"""Attendance service: check-in, check-out and handover, absence, extended care, exercise (R11-R15)."""
