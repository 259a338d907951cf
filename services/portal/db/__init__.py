"""The portal's database room: its unit of work and the read models' statements."""
from services.portal.db.uow import PortalUoW

__all__ = ["PortalUoW"]
