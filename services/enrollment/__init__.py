"""Enrollment service: programmes, public disclosure and the voluntary application workflow (R1, R4-R10)."""
