"""Stable event ids: the same inputs give the same id on every retry, redelivery and replica, so a
command run twice publishes one event and consumers' inboxes drop the copy. One helper for every
service; each keeps its own namespace value, so ids already published stay what they were."""
from __future__ import annotations

import hashlib
import uuid


class StableIds:
    """`ids(name)` is `uuid.uuid5(namespace, name)`, computed straight from SHA-1 (a month-end or a term
    start derives millions, and uuid5 builds and converts more than it needs); `ids.hex(name)` is its
    hex without building the UUID."""

    __slots__ = ("namespace", "_prefix")

    def __init__(self, namespace: uuid.UUID | str) -> None:
        self.namespace = namespace if isinstance(namespace, uuid.UUID) else uuid.UUID(namespace)
        self._prefix = self.namespace.bytes

    def _digest(self, name: str) -> bytearray:
        digest = bytearray(hashlib.sha1(self._prefix + name.encode()).digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        return digest

    def __call__(self, name: str) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self._digest(name)))

    def hex(self, name: str) -> str:
        return self._digest(name).hex()

    def __repr__(self) -> str:
        return f"StableIds({str(self.namespace)!r})"
