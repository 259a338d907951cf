"""Tencent Cloud SMS (API 2021-01-11) over its documented HTTP API 3.0: SendSms, and
PullSmsSendStatusByPhoneNumber to settle a message in doubt. Signed with TC3-HMAC-SHA256."""
from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import httpx

from services.notification.channels.base import HttpChannel, Outgoing, Result, failure, national
from services.notification.channels.signing import tc3_authorization
from services.notification.domain.templates import template as template_of

# Documented defaults: 3,000 requests per second per API; per number 10 messages a day (both can be
# raised in the console, hence configurable).
RATE_PER_SECOND = 3000.0
DAILY_LIMIT_PER_NUMBER = 10
VERSION = "2021-01-11"


class TencentSms(HttpChannel):
    channel = "sms"
    provider = "tencent"

    def __init__(self, *, endpoint: str, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 template_codes: dict[str, str], region: str = "ap-guangzhou", timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(endpoint, timeout, transport)
        if not (secret_id and secret_key and sdk_app_id and sign_name):
            raise ValueError("Tencent SMS needs TENCENT_SECRET_ID, TENCENT_SECRET_KEY, TENCENT_SMS_APP_ID and TENCENT_SIGN_NAME")
        self.secret_id, self.secret_key, self.app_id, self.sign_name = secret_id, secret_key, sdk_app_id, sign_name
        self.region, self.template_codes = region, template_codes
        self.host = urlparse(self.endpoint).netloc
        self.daily_limit = DAILY_LIMIT_PER_NUMBER

    async def _api(self, action: str, payload: dict) -> dict | Result:
        body = json.dumps(payload, ensure_ascii=False).encode()
        now = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8", "Host": self.host, "X-TC-Action": action,
            "X-TC-Timestamp": str(now), "X-TC-Version": VERSION, "X-TC-Region": self.region,
            "Authorization": tc3_authorization(secret_id=self.secret_id, secret_key=self.secret_key, service="sms",
                                               host=self.host, action=action, payload=body, timestamp=now),
        }
        reply = await self.call("POST", "/", content=body, headers=headers)
        if isinstance(reply, Result):
            return reply
        if reply.status_code >= 500:
            return failure("retry", "provider_unavailable", f"tencent: HTTP {reply.status_code}")
        try:
            return reply.json().get("Response") or {}
        except ValueError:
            return failure("rejected", "provider_rejected", f"tencent: HTTP {reply.status_code}, not JSON")

    async def send(self, msg: Outgoing) -> Result:
        code = self.template_codes.get(f"{msg.template}:{msg.locale}") or self.template_codes.get(msg.template)
        if code is None:
            return failure("rejected", "provider_rejected", f"no approved Tencent template for {msg.template}:{msg.locale}")
        params = [msg.values[f] for f in template_of(msg.template).fields]  # positional, in template order
        got = await self._api("SendSms", {
            "PhoneNumberSet": [f"+86{national(msg.address)}"], "SmsSdkAppId": self.app_id, "SignName": self.sign_name,
            "TemplateId": code, "TemplateParamSet": params, "SessionContext": msg.out_id,
        })
        if isinstance(got, Result):
            return got
        if "Error" in got:
            return classify_error(got["Error"])
        status = (got.get("SendStatusSet") or [{}])[0]
        return classify_status(status)

    async def lookup(self, msg: Outgoing) -> Result | None:
        """Receipts pulled by number since the claim, matched on our SessionContext."""
        got = await self._api("PullSmsSendStatusByPhoneNumber", {
            "BeginTime": int(msg.claimed_at.timestamp()) - 60, "EndTime": int(time.time()) + 60, "Offset": 0,
            "Limit": 100, "PhoneNumber": f"+86{national(msg.address)}", "SmsSdkAppId": self.app_id,
        })
        if isinstance(got, Result) or "Error" in got:
            return None
        for status in got.get("PullSmsSendStatusSet") or []:
            if status.get("SessionContext") == msg.out_id:
                return Result("sent", status.get("SerialNo"))
        return None


def classify_error(error: dict) -> Result:
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    detail = f"tencent {code}: {message}"
    if code.startswith(("RequestLimitExceeded", "InternalError")):
        return failure("retry", "provider_unavailable", detail, 1.0 if code.startswith("RequestLimitExceeded") else None)
    return failure("rejected", "provider_rejected", detail)


def classify_status(status: dict) -> Result:
    code, message = str(status.get("Code", "")), str(status.get("Message", ""))
    if code == "Ok":
        return Result("sent", status.get("SerialNo"))
    detail = f"tencent {code}: {message}"
    if code == "LimitExceeded.PhoneNumberDailyLimit":
        return failure("daily_limit", "provider_rejected", detail)
    if code == "LimitExceeded.PhoneNumberThirtySecondLimit":
        return failure("retry", "provider_rejected", detail, 30.0)
    if code == "LimitExceeded.PhoneNumberOneHourLimit":
        return failure("retry", "provider_rejected", detail, 3600.0)
    if code in ("InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist"):
        return failure("invalid_address", "invalid_number", detail)
    if code.startswith("InternalError"):
        return failure("retry", "provider_unavailable", detail)
    return failure("rejected", "provider_rejected", detail)
