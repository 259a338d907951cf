"""The portal's handlers of consumed events: its read models (handlers/events.py)."""
from services.portal.handlers.events import HANDLERS

__all__ = ["HANDLERS"]
