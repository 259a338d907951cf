"""Notification service: pickup, absence, fee and disclosure messages to guardians (R22, R23)."""
