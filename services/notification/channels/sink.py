"""The embedded default channel: the message log itself, readable at /sink and /v1/sink."""
from __future__ import annotations

from services.notification.channels.base import Channel, Outgoing, Result


class SinkChannel(Channel):
    """Hands a message to the local delivery sink: marking the row sent in the database is the
    delivery, so the hand-over and its record commit together and nothing is ever in doubt."""

    provider = "sink"

    def __init__(self, channel: str) -> None:
        super().__init__()
        self.channel = channel

    async def send(self, msg: Outgoing) -> Result:
        return Result("sent", f"sink-{msg.out_id}")
