"""Imitates Tencent Cloud SMS (API 3.0, version 2021-01-11) as documented: verifies the
TC3-HMAC-SHA256 Authorization over the signed headers it names, the timestamp and the SecretId;
SendSms and PullSmsSendStatusByPhoneNumber with their success and error answers and per-number
daily limit. Written from the documentation, independently of the service's adapter."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CHINA = timezone(timedelta(hours=8))
_AUTH = re.compile(r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                   r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@dataclass
class TencentSmsFake:
    secret_id: str = "AKID-fake"
    secret_key: str = "fake-tencent-secret"
    sdk_app_id: str = "1400000001"
    sign_name: str = "蓓蕾课后服务"
    templates: dict[str, int] = field(default_factory=dict)  # TemplateId -> number of parameters
    daily_limit_per_number: int = 10
    accepted: list[dict] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._api, methods=["POST"])])

    def delivered(self) -> list[dict]:
        with self._lock:
            return list(self.accepted)

    @staticmethod
    def _error(code: str, message: str) -> JSONResponse:
        # API 3.0 answers HTTP 200 with Response.Error for request-level errors.
        return JSONResponse({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}})

    async def _api(self, request: Request) -> JSONResponse:
        body = await request.body()
        action = request.headers.get("x-tc-action", "")
        with self._lock:
            self.requests[action] = self.requests.get(action, 0) + 1
        refused = self._authenticate(request, body, action)
        if refused is not None:
            return refused
        if request.headers.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidParameter", "The request version is not supported.")
        try:
            payload = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "The body is not valid JSON.")
        if action == "SendSms":
            return self._send(payload)
        if action == "PullSmsSendStatusByPhoneNumber":
            return self._pull(payload)
        return self._error("InvalidAction", f"The action {action} does not exist.")

    def _authenticate(self, request: Request, body: bytes, action: str) -> JSONResponse | None:
        match = _AUTH.match(request.headers.get("authorization", ""))
        if not match:
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        secret_id, day, service, signed_headers, signature = match.groups()
        if secret_id != self.secret_id:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            stamp = int(request.headers.get("x-tc-timestamp", ""))
        except ValueError:
            return self._error("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is missing.")
        if abs(time.time() - stamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "The signature has expired.")
        if day != datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d") or service != "sms":
            return self._error("AuthFailure.InvalidAuthorization", "The credential scope is wrong.")
        names = signed_headers.split(";")
        if "content-type" not in names or "host" not in names:
            return self._error("AuthFailure.InvalidAuthorization", "content-type and host must be signed.")
        canonical_headers = "".join(
            f"{n}:{request.headers.get(n, '').strip().lower() if n == 'x-tc-action' else request.headers.get(n, '').strip()}\n"
            for n in names)
        canonical = "\n".join(["POST", "/", request.url.query, canonical_headers, signed_headers,
                               hashlib.sha256(body).hexdigest()])
        string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(stamp), f"{day}/{service}/tc3_request",
                                    hashlib.sha256(canonical.encode()).hexdigest()])
        key = _sign(_sign(_sign(f"TC3{self.secret_key}".encode(), day), service), "tc3_request")
        if not hmac.compare_digest(hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest(), signature):
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated. "
                               "Please check your signature is correct.")
        return None

    def _send(self, p: dict) -> JSONResponse:
        if p.get("SmsSdkAppId") != self.sdk_app_id:
            return self._error("FailedOperation.SmsSdkAppIdVerifyFail", "SdkAppId verification failed.")
        statuses = []
        for number in p.get("PhoneNumberSet") or []:
            code, message, serial = "Ok", "send success", ""
            national = number[-11:]
            with self._lock:
                count = sum(1 for a in self.accepted if a["phone"] == national
                            and a["at"].astimezone(CHINA).date() == datetime.now(CHINA).date())
                if not re.fullmatch(r"\+861[3-9]\d{9}", number):
                    code, message = "InvalidParameterValue.IncorrectPhoneNumber", "The phone number is incorrect."
                elif p.get("SignName") != self.sign_name:
                    code, message = "FailedOperation.SignatureIncorrectOrUnapproved", "The signature is not approved."
                elif self.templates.get(str(p.get("TemplateId"))) != len(p.get("TemplateParamSet") or []):
                    code, message = "FailedOperation.TemplateIncorrectOrUnapproved", "The template is not approved or " \
                                    "its parameters do not match."
                elif count >= self.daily_limit_per_number:
                    code, message = "LimitExceeded.PhoneNumberDailyLimit", "The daily limit for this number is reached."
                else:
                    serial = f"{random.randrange(10**6, 10**7)}:{uuid.uuid4().hex[:24]}"
                    self.accepted.append({"phone": national, "template": str(p["TemplateId"]),
                                          "params": list(p["TemplateParamSet"]), "session": p.get("SessionContext"),
                                          "serial": serial, "at": datetime.now(UTC)})
            statuses.append({"SerialNo": serial, "PhoneNumber": number, "Fee": 1 if code == "Ok" else 0,
                             "SessionContext": p.get("SessionContext", ""), "Code": code, "Message": message,
                             "IsoCode": "CN"})
        return JSONResponse({"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}})

    def _pull(self, p: dict) -> JSONResponse:
        number = str(p.get("PhoneNumber", ""))[-11:]
        begin, end = int(p.get("BeginTime", 0)), int(p.get("EndTime", 2**31))
        with self._lock:
            rows = [a for a in self.accepted if a["phone"] == number and begin <= a["at"].timestamp() <= end]
        rows = rows[int(p.get("Offset", 0)): int(p.get("Offset", 0)) + int(p.get("Limit", 100))]
        return JSONResponse({"Response": {"PullSmsSendStatusSet": [{
            "UserReceiveTime": a["at"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"), "CountryCode": "86",
            "SubscriberNumber": a["phone"], "PhoneNumber": f"+86{a['phone']}", "SerialNo": a["serial"],
            "ReportStatus": "SUCCESS", "Description": "DELIVRD", "SessionContext": a["session"]} for a in rows],
            "RequestId": str(uuid.uuid4())}})
