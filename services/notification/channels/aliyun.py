"""Aliyun SMS (dysmsapi 2017-05-25) over its documented RPC HTTP API: SendSms, and QuerySendDetails to
settle a message whose send may or may not have arrived. Signed with HMAC-SHA1 (signature v1.0)."""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from services.notification.channels.base import HttpChannel, Outgoing, Result, failure, national
from services.notification.channels.signing import aliyun_signature
from services.notification.domain.policy import SHANGHAI

# Documented limits: SendSms 5,000 calls per second per account; notifications with the same
# signature and template to one number at most 50 a day (see docs/notification.md for sources).
RATE_PER_SECOND = 5000.0
DAILY_LIMIT_PER_NUMBER = 50
# SendBatchSms: up to 100 numbers of one template and signature per call.
BATCH_LIMIT = 100

_TRANSIENT = {"isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "Throttling.User", "Throttling", "Throttling.Api",
              "ServiceUnavailable", "InternalError"}
_BAD_NUMBER = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT"}


class AliyunSms(HttpChannel):
    channel = "sms"
    provider = "aliyun"

    def __init__(self, *, endpoint: str, access_key_id: str, access_key_secret: str, sign_name: str,
                 template_codes: dict[str, str], region: str = "cn-hangzhou", timeout: float = 10.0,
                 batch_limit: int = BATCH_LIMIT, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(endpoint, timeout, transport)
        if not (access_key_id and access_key_secret and sign_name):
            raise ValueError("Aliyun SMS needs ALIYUN_ACCESS_KEY_ID, ALIYUN_ACCESS_KEY_SECRET and ALIYUN_SIGN_NAME")
        self.key_id, self.secret, self.sign_name, self.region = access_key_id, access_key_secret, sign_name, region
        self.template_codes = template_codes
        self.daily_limit = DAILY_LIMIT_PER_NUMBER
        self.batch_limit = max(1, min(batch_limit, BATCH_LIMIT))

    def _signed(self, action: str, params: dict[str, str]) -> dict[str, str]:
        common = {
            "AccessKeyId": self.key_id, "Action": action, "Format": "JSON", "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
        }
        signed = {**common, **params}
        signed["Signature"] = aliyun_signature("POST", signed, self.secret)
        return signed

    async def _rpc(self, action: str, params: dict[str, str]) -> tuple[dict, int] | Result:
        reply = await self.call("POST", "/", data=self._signed(action, params))
        if isinstance(reply, Result):
            return reply
        try:
            body = reply.json()
        except ValueError:
            if reply.status_code >= 500:
                return failure("retry", "provider_unavailable", f"aliyun: HTTP {reply.status_code}")
            return failure("rejected", "provider_rejected", f"aliyun: HTTP {reply.status_code}, not JSON")
        return body, reply.status_code

    def template_code(self, msg: Outgoing) -> str | None:
        return self.template_codes.get(f"{msg.template}:{msg.locale}") or self.template_codes.get(msg.template)

    async def send(self, msg: Outgoing) -> Result:
        code = self.template_code(msg)
        if code is None:
            return failure("rejected", "provider_rejected", f"no approved Aliyun template for {msg.template}:{msg.locale}")
        got = await self._rpc("SendSms", {
            "PhoneNumbers": national(msg.address), "SignName": self.sign_name, "TemplateCode": code,
            "TemplateParam": json.dumps(msg.values, ensure_ascii=False), "OutId": msg.out_id,
        })
        if isinstance(got, Result):
            return got
        body, status = got
        return classify(body, status)

    async def prepare(self, batch: list[Outgoing]) -> dict[int, str]:
        """Messages of one template go together in SendBatchSms calls. Each call's OutId is stored on its
        messages before the call, so one whose answer is lost is found by it (lookup) and not sent again.
        A message in doubt is left out: it is looked up first and sent alone."""
        if self.batch_limit < 2:
            return {}
        by_template: dict[str, list[Outgoing]] = {}
        for msg in batch:
            code = self.template_code(msg)
            if code is not None and not msg.in_doubt:
                by_template.setdefault(code, []).append(msg)
        ids: dict[int, str] = {}
        for msgs in by_template.values():
            for start in range(0, len(msgs), self.batch_limit):
                call = msgs[start:start + self.batch_limit]
                if len(call) > 1:
                    ids.update(dict.fromkeys((m.message_id for m in call), uuid.uuid4().hex))
        return ids

    async def send_batch(self, msgs: list[Outgoing]) -> list[Result]:
        """One SendBatchSms call for messages that prepare() grouped (one template, one OutId)."""
        got = await self._rpc("SendBatchSms", {
            "PhoneNumberJson": json.dumps([national(m.address) for m in msgs]),
            "SignNameJson": json.dumps([self.sign_name] * len(msgs), ensure_ascii=False),
            "TemplateCode": self.template_code(msgs[0]) or "",
            "TemplateParamJson": json.dumps([m.values for m in msgs], ensure_ascii=False),
            "OutId": msgs[0].push_cid or "",
        })
        result = got if isinstance(got, Result) else classify(*got)
        if result.outcome in ("sent", "unknown") or result.error_code == "provider_unavailable":
            return [result] * len(msgs)
        # Refused as a whole (a number illegal or over its limit): none of it was sent, and one SendSms per
        # message tells which of them it was.
        return list(await asyncio.gather(*(self.send(m) for m in msgs)))

    async def lookup(self, msg: Outgoing) -> Result | None:
        """QuerySendDetails by number and China day, matched on our OutId (the message's own, or that of
        the SendBatchSms call it went in): if Aliyun has the message, it was sent and must not be sent again."""
        days = {msg.claimed_at.astimezone(SHANGHAI).date(), datetime.now(SHANGHAI).date(),
                (msg.claimed_at - timedelta(minutes=5)).astimezone(SHANGHAI).date()}
        for day in sorted(days):
            page = 1
            while True:
                got = await self._rpc("QuerySendDetails", {
                    "PhoneNumber": national(msg.address), "SendDate": day.strftime("%Y%m%d"),
                    "PageSize": "50", "CurrentPage": str(page)})
                if isinstance(got, Result) or got[0].get("Code") != "OK":
                    return None  # cannot tell: the caller sends again rather than lose the message
                body = got[0]
                details = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
                for dto in details:
                    sent_as = dto.get("OutId")
                    if sent_as and sent_as in (msg.out_id, msg.push_cid) and int(dto.get("SendStatus", 2)) != 2:
                        return Result("sent", dto.get("BizId") or f"aliyun-out-{msg.out_id}")
                if page * 50 >= int(body.get("TotalCount") or 0):
                    break
                page += 1
        return None


def classify(body: dict, status: int) -> Result:
    """Aliyun's documented answers: Code OK with a BizId, or an error code and message."""
    code, message = str(body.get("Code", "")), str(body.get("Message", ""))
    if code == "OK":
        return Result("sent", body.get("BizId"))
    detail = f"aliyun {code}: {message}"
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        # Per-number flow control: "触发分钟级流控" / "触发小时级流控" / "触发天级流控".
        if "天" in message or "day" in message.lower():
            return failure("daily_limit", "provider_rejected", detail)
        return failure("retry", "provider_rejected", detail, 3600.0 if "小时" in message or "hour" in message.lower() else 60.0)
    if code == "isv.DAY_LIMIT_CONTROL":
        return failure("daily_limit", "provider_rejected", detail)
    if code in _BAD_NUMBER:
        return failure("invalid_address", "invalid_number", detail)
    if code in _TRANSIENT or code.startswith(("Throttling", "isp.")) or status >= 500:
        return failure("retry", "provider_unavailable", detail)
    return failure("rejected", "provider_rejected", detail)
