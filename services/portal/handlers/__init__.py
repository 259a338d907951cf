"""The portal's handlers of consumed events: its read models (handlers/read_models.py)."""
from services.portal.handlers.read_models import HANDLERS

__all__ = ["HANDLERS"]
