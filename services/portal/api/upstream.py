"""What the portal asks other services over HTTP, and how long it keeps their answers: the ledger's public
proofs and keys from audit (cached, so a burst of parents asks audit once per few seconds), the bureau's
reports from enrollment (with the signed-in user's own token, so each sees only its scope, R27), a
guardian's own receipts, applications, pickup persons and message preferences (with the guardian's token)."""
from __future__ import annotations

import time
from typing import Any

import httpx


class UpstreamError(Exception):
    """Another service did not answer usefully; `status` is what the page should answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Upstream:
    def __init__(self, audit_url: str, enrollment_url: str, *, proof_seconds: float = 5.0,
                 client: httpx.AsyncClient | None = None, notification_url: str = "http://127.0.0.1:8004") -> None:
        self.audit_url, self.enrollment_url = audit_url.rstrip("/"), enrollment_url.rstrip("/")
        self.notification_url = notification_url.rstrip("/")
        self.proof_seconds = proof_seconds
        self.client = client or httpx.AsyncClient(timeout=10)
        self._cache: dict[str, tuple[float, Any]] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, url: str, *, token: str | None = None, keep: float = 0.0, text: bool = False) -> Any:
        if keep:
            hit = self._cache.get(url)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            reply = await self.client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamError(503, f"{url} unreachable: {exc}") from exc
        if 400 <= reply.status_code < 500:  # the caller's question was refused: say so, as asked
            raise UpstreamError(reply.status_code, reply.text[:300])
        if reply.status_code != 200:
            raise UpstreamError(503, f"{url} answered {reply.status_code}")
        value = reply.text if text else reply.json()
        if keep:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[url] = (time.monotonic() + keep, value)
        return value

    async def disclosure_proof(self, disclosure_id: str) -> dict[str, Any]:
        return await self._get(f"{self.audit_url}/v1/ledger/disclosures/{disclosure_id}", keep=self.proof_seconds)

    async def entry_proof(self, index: int, token: str) -> dict[str, Any]:
        """An entry's proof as audit answers the reader's own token (an entry may name a family)."""
        return await self._get(f"{self.audit_url}/v1/ledger/entries/{index}/proof", token=token)

    async def event_receipt(self, event_id: str, token: str) -> str:
        """The family's receipt (a C2SP tlog-proof with its opening) of the ledger entry recording one event,
        against the published checkpoint, as audit answers the guardian's own token."""
        return await self._get(f"{self.audit_url}/v1/ledger/events/{event_id}/receipt", token=token, text=True)

    async def consistency(self, old: int) -> dict[str, Any]:
        return await self._get(f"{self.audit_url}/v1/ledger/consistency?old={old}", keep=self.proof_seconds)

    async def ledger_keys(self) -> dict[str, Any]:
        """What the disclosure page's verifier trusts: the log's key and the witnesses with their quorum."""
        key = await self._get(f"{self.audit_url}/v1/ledger/key", keep=60)
        witnessed = await self._get(f"{self.audit_url}/v1/ledger/witnesses", keep=60)
        return {"log_vkey": key["vkey"], "witness_vkeys": [w["vkey"] for w in witnessed["witnesses"]],
                "quorum": witnessed["quorum"]}

    async def participation(self, token: str) -> dict[str, Any]:
        return await self._get(f"{self.enrollment_url}/v1/reports/participation", token=token)

    async def applications(self, token: str) -> list[dict[str, Any]]:
        """The signed-in person's applications as enrollment lets them see them (a guardian: their own)."""
        return await self._get(f"{self.enrollment_url}/v1/applications", token=token)

    async def filing_times(self, token: str) -> list[dict[str, Any]]:
        return await self._get(f"{self.enrollment_url}/v1/reports/filing-times", token=token)

    async def waitlists(self, token: str) -> list[dict[str, Any]]:
        return await self._get(f"{self.enrollment_url}/v1/reports/waitlists", token=token)

    async def entries(self, token: str, **filters: str) -> dict[str, Any]:
        """Ledger entries in the caller's scope, each with its proof (audit's auditor route)."""
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
        return await self._get(f"{self.audit_url}/v1/audit/entries?{query}", token=token)

    async def fee_review(self, token: str, period: str) -> dict[str, Any]:
        """The monthly (YYYY-MM) or annual (YYYY) fee review per school, citing its checkpoint (R29)."""
        kind = "monthly" if len(period) == 7 else "annual"
        key = "period" if kind == "monthly" else "year"
        return await self._get(f"{self.audit_url}/v1/audit/reports/{kind}?{key}={period}", token=token)

    def export_request(self, token: str) -> httpx.Request:
        """The full export (auditors only), to be streamed through to the browser as it comes."""
        return self.client.build_request("GET", f"{self.audit_url}/v1/ledger/export",
                                         headers={"Authorization": f"Bearer {token}"})

    async def post(self, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """A guardian's own action at enrollment (withdraw, report, name a pickup person), with their token."""
        return await self._send("POST", f"{self.enrollment_url}{path}", token, body)

    async def delete(self, path: str, token: str) -> dict[str, Any]:
        """A guardian's own removal at enrollment (revoke a pickup person), with their token."""
        return await self._send("DELETE", f"{self.enrollment_url}{path}", token)

    async def preferences(self, recipient_id: str, token: str) -> dict[str, Any]:
        """A guardian's message preferences (channels, quiet hours, language) at notification."""
        return await self._get(f"{self.notification_url}/v1/recipients/{recipient_id}/preferences", token=token)

    async def message_words(self, recipient_id: str, token: str) -> dict[str, str]:
        """The words of the messages notification sent a guardian, by notification id (their own token)."""
        sent = await self._get(f"{self.notification_url}/v1/recipients/{recipient_id}/messages?limit=200", token=token)
        return {m["notification_id"]: m["text"] for m in sent if m.get("text")}

    async def save_preferences(self, recipient_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send("PUT", f"{self.notification_url}/v1/recipients/{recipient_id}/preferences", token,
                                body)

    async def _send(self, method: str, url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A change asked with the person's token; 4xx passed on as asked."""
        try:
            reply = await self.client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamError(503, f"{url} unreachable: {exc}") from exc
        if 400 <= reply.status_code < 500:
            raise UpstreamError(reply.status_code, reply.text[:300])
        if reply.status_code not in (200, 201):
            raise UpstreamError(503, f"{url} answered {reply.status_code}")
        return reply.json()
