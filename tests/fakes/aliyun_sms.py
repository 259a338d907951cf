"""Imitates Aliyun SMS (dysmsapi 2017-05-25, RPC style) as documented: checks the HMAC-SHA1 signature,
timestamp, nonce and access key; SendSms and QuerySendDetails with their success and error answers,
per-number daily flow control and the account's per-second limit; AliyunBatchSmsFake adds SendBatchSms.
Written from the documentation, independently of the service's adapter, so a signing mistake on either
side shows."""
from __future__ import annotations

import asyncio
import base64
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
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CHINA = timezone(timedelta(hours=8))


def _pe(value: str) -> str:
    return quote(value, safe="~")


@dataclass
class AliyunSmsFake:
    access_key_id: str = "LTAI-fake-key"
    access_key_secret: str = "fake-secret"
    sign_name: str = "蓓蕾课后服务"
    templates: dict[str, list[str]] = field(default_factory=dict)  # TemplateCode -> variable names
    daily_limit_per_number: int = 50
    qps: float | None = None
    latency: float = 0.0
    scripted: list[str] = field(default_factory=list)  # error codes answered to the next SendSms calls
    accepted: list[dict] = field(default_factory=list)
    answering: int = 0  # accepted calls whose answer has not been sent yet
    requests: dict[str, int] = field(default_factory=dict)
    _nonces: set[str] = field(default_factory=set)
    _calls: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._rpc, methods=["GET", "POST"])])

    def delivered(self) -> list[dict]:
        with self._lock:
            return list(self.accepted)

    @staticmethod
    def _error(code: str, message: str, status: int = 200) -> JSONResponse:
        return JSONResponse({"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message,
                             "Recommend": "https://api.aliyun.com/troubleshoot"}, status_code=status)

    async def _rpc(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(dict(parse_qsl((await request.body()).decode(), keep_blank_values=True)))
        action = params.get("Action", "")
        with self._lock:
            self.requests[action] = self.requests.get(action, 0) + 1
        refused = self._authenticate(request.method, params)
        if refused is not None:
            return refused
        if self.qps is not None:
            now = time.monotonic()
            with self._lock:
                self._calls = [t for t in self._calls if now - t < 1.0]
                over = len(self._calls) >= self.qps
                if not over:
                    self._calls.append(now)
            if over:
                return self._error("Throttling.User", "Request was denied due to user flow control.", 400)
        if action == "SendSms":
            return await self._send(params)
        if action == "QuerySendDetails":
            return self._query(params)
        return self._error("InvalidAction.NotFound", "Specified api is not found, please check your url and method.", 404)

    def _authenticate(self, method: str, params: dict[str, str]) -> JSONResponse | None:
        for name in ("AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp",
                     "Version", "Format"):
            if not params.get(name):
                return self._error("MissingParameter", f"The input parameter \"{name}\" that is mandatory for "
                                   "processing this request is not supplied.", 400)
        if params["Version"] != "2017-05-25":
            return self._error("InvalidVersion", "Specified parameter Version is not valid.", 400)
        if params["AccessKeyId"] != self.access_key_id:
            return self._error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self._error("InvalidSignatureMethod", "Specified signature method is not supported.", 400)
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._error("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", 400)
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 15 * 60:
            return self._error("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        canonical = "&".join(f"{_pe(k)}={_pe(v)}" for k, v in sorted(params.items()) if k != "Signature")
        string_to_sign = f"{method}&{_pe('/')}&{_pe(canonical)}"
        expected = base64.b64encode(
            hmac.new(f"{self.access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, params["Signature"]):
            return self._error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                               f"server string to sign is:{string_to_sign}", 400)
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return self._error("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
            self._nonces.add(params["SignatureNonce"])
        return None

    async def _send(self, p: dict[str, str]) -> JSONResponse:
        phone = p.get("PhoneNumbers", "")
        if not re.fullmatch(r"(86)?1[3-9]\d{9}", phone):
            return self._error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if p.get("SignName") != self.sign_name:
            return self._error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        variables = self.templates.get(p.get("TemplateCode", ""))
        if variables is None:
            return self._error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            given = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return self._error("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not isinstance(given, dict) or any(v not in given for v in variables):
            return self._error("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        with self._lock:
            if self.scripted:
                code = self.scripted.pop(0)
                return self._error(code, {"isp.SYSTEM_ERROR": "系统异常，请重试"}.get(code, "scripted failure"))
            today = datetime.now(CHINA).date()
            number = phone[-11:]
            count = sum(1 for a in self.accepted if a["phone"] == number and a["at"].astimezone(CHINA).date() == today)
            if count >= self.daily_limit_per_number:
                return self._error("isv.BUSINESS_LIMIT_CONTROL", f"触发天级流控Permits:{self.daily_limit_per_number}")
            biz_id = f"{random.randrange(10**14, 10**15)}^0"
            self.accepted.append({"phone": number, "template": p["TemplateCode"], "params": given,
                                  "out_id": p.get("OutId"), "biz_id": biz_id, "at": datetime.now(UTC)})
        if self.latency:
            with self._lock:
                self.answering += 1
            try:
                await asyncio.sleep(self.latency)  # accepted already: an answer lost now leaves the sender in doubt
            finally:
                with self._lock:
                    self.answering -= 1
        return JSONResponse({"Message": "OK", "RequestId": str(uuid.uuid4()).upper(), "Code": "OK", "BizId": biz_id})

    def _query(self, p: dict[str, str]) -> JSONResponse:
        number, day = p.get("PhoneNumber", "")[-11:], p.get("SendDate", "")
        if not re.fullmatch(r"\d{8}", day):
            return self._error("isv.INVALID_PARAMETERS", "参数异常: SendDate")
        size, page = min(int(p.get("PageSize") or 10), 50), int(p.get("CurrentPage") or 1)
        with self._lock:
            rows = [a for a in self.accepted
                    if a["phone"] == number and a["at"].astimezone(CHINA).strftime("%Y%m%d") == day]
        shown = rows[(page - 1) * size: page * size]
        return JSONResponse({
            "Code": "OK", "Message": "OK", "RequestId": str(uuid.uuid4()).upper(), "TotalCount": len(rows),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [{
                "PhoneNum": a["phone"], "SendStatus": 3, "ErrCode": "DELIVERED", "TemplateCode": a["template"],
                "Content": json.dumps(a["params"], ensure_ascii=False), "OutId": a["out_id"],
                "SendDate": a["at"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                "ReceiveDate": a["at"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")} for a in shown]},
        })


# -- SendBatchSms ------------------------------------------------------------------------------------

BATCH_LIMIT = 100


@dataclass
class AliyunBatchSmsFake(AliyunSmsFake):
    """SendBatchSms as well: up to 100 numbers of one template in one call, one OutId and one BizId for the
    call, and the call refused as a whole when any number is illegal or over its daily limit (nothing of it
    is sent then). Numbers it accepts are recorded as SendSms records them, so QuerySendDetails finds them
    by number and the call's OutId."""

    batch_calls: list[int] = field(default_factory=list)  # numbers per accepted SendBatchSms call
    lose_next_batch_answers: int = 0  # accept the next batch calls, then drop the connection's answer
    _counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (number, China day) -> accepted
    _folded: int = 0  # how much of `accepted` _counts holds

    async def _rpc(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(dict(parse_qsl((await request.body()).decode(), keep_blank_values=True)))
        if params.get("Action") != "SendBatchSms":
            return await super()._rpc(request)
        with self._lock:
            self.requests["SendBatchSms"] = self.requests.get("SendBatchSms", 0) + 1
        return self._authenticate(request.method, params) or await self._send_batch(params)

    async def _send_batch(self, p: dict[str, str]) -> JSONResponse:
        try:
            phones, signs, given = (json.loads(p.get(k) or "[]") for k in
                                    ("PhoneNumberJson", "SignNameJson", "TemplateParamJson"))
        except ValueError:
            return self._error("isv.INVALID_JSON_PARAM", "JSON参数不合法")
        if not phones or len(phones) > BATCH_LIMIT or not (len(phones) == len(signs) == len(given)):
            return self._error("isv.INVALID_PARAMETERS", "参数异常")
        if any(not re.fullmatch(r"(86)?1[3-9]\d{9}", n) for n in phones):
            return self._error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if any(s != self.sign_name for s in signs):
            return self._error("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        variables = self.templates.get(p.get("TemplateCode", ""))
        if variables is None:
            return self._error("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        if any(not isinstance(g, dict) or any(v not in g for v in variables) for g in given):
            return self._error("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        now = datetime.now(UTC)
        day = now.astimezone(CHINA).strftime("%Y%m%d")
        with self._lock:
            if self.scripted:
                code = self.scripted.pop(0)
                return self._error(code, {"isp.SYSTEM_ERROR": "系统异常，请重试"}.get(code, "scripted failure"))
            numbers = [n[-11:] for n in phones]
            for number in set(numbers):
                if self._count(number, day) + numbers.count(number) > self.daily_limit_per_number:
                    return self._error("isv.BUSINESS_LIMIT_CONTROL", f"触发天级流控Permits:{self.daily_limit_per_number}")
            biz_id = f"{random.randrange(10**14, 10**15)}^0"
            for number, values in zip(numbers, given):
                self.accepted.append({"phone": number, "template": p["TemplateCode"], "params": values,
                                      "out_id": p.get("OutId"), "biz_id": biz_id, "at": now})
            self.batch_calls.append(len(numbers))
            lose = self.lose_next_batch_answers > 0
            self.lose_next_batch_answers -= lose
        if lose:
            raise ConnectionResetError("answer lost after the batch was accepted")
        if self.latency:
            await asyncio.sleep(self.latency)
        return JSONResponse({"Message": "OK", "RequestId": str(uuid.uuid4()).upper(), "Code": "OK", "BizId": biz_id})

    def _count(self, number: str, day: str) -> int:
        """Accepted that China day by either call: SendSms's records are folded in as they appear."""
        for a in self.accepted[self._folded:]:
            key = (a["phone"], a["at"].astimezone(CHINA).strftime("%Y%m%d"))
            self._counts[key] = self._counts.get(key, 0) + 1
        self._folded = len(self.accepted)
        return self._counts.get((number, day), 0)
