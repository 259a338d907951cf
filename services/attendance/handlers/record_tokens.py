"""Who wrote a record on attendance.ingest: the school system's bearer token in the record's `authorization`
header, verified with the issuer's public keys and judged at the time the record was written (R15, R27).
Must not judge what the record says (ingest does) nor decide which school it may speak for (domain.access)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from shared.auth import AuthError, Principal, TokenVerifier

AUTH_HEADER = "authorization"
_EXPIRED = "token expired"
NO_TOKEN = ("the record carries no 'authorization: Bearer <token>' header; a school system signs each record it "
            "produces with its school_system token (docs/api.md)")


@dataclass
class RecordTokens:
    """The tokens of one consumed batch. A token still valid now costs a dictionary lookup: the verifier
    remembers it, and one school system sends one token with thousands of records; any other token is checked
    once per batch. A token that has expired since (a consumer catching up after an outage) is judged by the
    record's Kafka timestamp, with `skew` allowed between the producer's clock and ours: valid if it was
    valid when the record was written and not issued after that; its signature is then checked once more."""

    verifier: TokenVerifier | None
    now: datetime
    skew: timedelta
    # Per token: as judged on the clock now, and (once lapsed) as of the records it signed.
    _now: dict[str, Principal | str] = field(default_factory=dict)
    _then: dict[str, tuple[Principal, int, int] | str] = field(default_factory=dict)

    def signer(self, header: str | None, written_ms: int | None) -> Principal | str:
        """The principal who signed the record, or why the record cannot be taken as theirs."""
        if self.verifier is None:
            return "this consumer has no token verifier; no record can be taken as a school system's"
        scheme, _, token = (header or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return NO_TOKEN
        current = self._now.get(token)
        if current is None:
            try:
                current = self.verifier.verify(token)
            except AuthError as exc:
                current = _EXPIRED if str(exc) == "token expired" else f"token refused: {exc}"
            self._now[token] = current
        if current != _EXPIRED:
            return current
        if written_ms is None:
            return "token expired, and the record has no timestamp to judge it by"
        return self._at(token, min(datetime.fromtimestamp(written_ms / 1000, UTC), self.now))

    def _at(self, token: str, written: datetime) -> Principal | str:
        signed = self._then.get(token)
        if signed is None:
            signed = self._then[token] = self._signed(token)
        if isinstance(signed, str):
            return signed
        principal, issued, expires = signed
        at, skew = written.timestamp(), self.skew.total_seconds()
        if expires + self.verifier.leeway + skew < at:  # type: ignore[union-attr]
            return (f"token expired at {_iso(expires)}, before the record was written at {written.isoformat()}; "
                    "sign records with a current token")
        if issued - skew > at:
            return f"token issued at {_iso(issued)}, after the record was written at {written.isoformat()}"
        return principal

    def _signed(self, token: str) -> tuple[Principal, int, int] | str:
        """A lapsed token's signer and validity, its signature checked as of its own expiry instant (whether it
        had lapsed is judged against each record), or why it is refused whatever the time."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})  # its times; the signature just below
            issued, expires = int(claims["iat"]), int(claims["exp"])
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
            return "token refused: it names no issue or expiry time"
        try:
            return self.verifier.verify(token, now=expires), issued, expires  # type: ignore[union-attr]
        except AuthError as exc:
            return f"token refused: {exc}"


def _iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()
