"""JPush push API v3: POST /v3/push to one registration id, with a cid from GET /v3/push/cid so a
resend after a crash is dropped by JPush ("the first result is returned, nothing pushed again")."""
from __future__ import annotations

import base64

import httpx

from services.notification.channels.base import HttpChannel, Outgoing, Result, failure

# Documented default frequency limit of the push API for a standard app: 600 calls a minute.
RATE_PER_SECOND = 10.0
_TITLE = {"zh-CN": "蓓蕾课后服务", "en": "Beilei after-school"}


class JPush(HttpChannel):
    channel = "push"
    provider = "jpush"

    def __init__(self, *, endpoint: str, app_key: str, master_secret: str, apns_production: bool = True,
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(endpoint, timeout, transport)
        if not (app_key and master_secret):
            raise ValueError("JPush needs JPUSH_APP_KEY and JPUSH_MASTER_SECRET")
        token = base64.b64encode(f"{app_key}:{master_secret}".encode()).decode()
        self.client.headers["Authorization"] = f"Basic {token}"
        self.apns_production = apns_production

    async def prepare(self, batch: list[Outgoing]) -> dict[int, str]:
        """Fetch cids for the messages that have none yet (a standard app gets at most 10 per call)."""
        need = [m.message_id for m in batch if not m.push_cid]
        cids: dict[int, str] = {}
        while need:
            reply = await self.call("GET", "/v3/push/cid", params={"count": min(10, len(need)), "type": "push"})
            if isinstance(reply, Result) or reply.status_code != 200:
                break  # those left without a cid are sent without one; JPush then cannot drop a resend
            for cid in reply.json().get("cidlist", []):
                if need:
                    cids[need.pop(0)] = cid
        return cids

    async def send(self, msg: Outgoing) -> Result:
        extras = {"kind": msg.kind, "notification_id": msg.out_id}
        payload = {
            "platform": "all",
            "audience": {"registration_id": [msg.address]},
            "notification": {
                "alert": msg.body,
                "android": {"alert": msg.body, "title": _TITLE.get(msg.locale, _TITLE["zh-CN"]), "extras": extras},
                "ios": {"alert": msg.body, "sound": "default", "extras": extras},
            },
            "options": {"time_to_live": 86400, "apns_production": self.apns_production},
        }
        if msg.push_cid:
            payload["cid"] = msg.push_cid
        reply = await self.call("POST", "/v3/push", json=payload)
        if isinstance(reply, Result):
            return reply
        return classify(reply)


def classify(reply: httpx.Response) -> Result:
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if reply.status_code == 200 and "msg_id" in body:
        return Result("sent", str(body["msg_id"]))
    error = body.get("error") or {}
    code, message = int(error.get("code") or 0), str(error.get("message", ""))
    detail = f"jpush {code or reply.status_code}: {message}"
    if code == 1011:  # no device for this registration id: the app was removed or the token expired
        return failure("invalid_address", "push_token_expired", detail)
    if reply.status_code == 429 or code in (2002, 2008):
        reset = reply.headers.get("X-Rate-Limit-Reset")
        return failure("retry", "provider_unavailable", detail, float(reset) if reset and reset.isdigit() else 1.0)
    if reply.status_code >= 500 or code == 1000:
        return failure("retry", "provider_unavailable", detail)
    return failure("rejected", "provider_rejected", detail)
