"""Imitates Aliyun SMS with SendBatchSms as well (dysmsapi 2017-05-25): up to 100 numbers of one template
in one call, one OutId and one BizId for the call, and the call refused as a whole when any number is
illegal or over its daily limit (nothing of it is sent then). Numbers it accepts are recorded as
SendSms records them, so QuerySendDetails finds them by number and the call's OutId."""
from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.fakes.aliyun_sms import CHINA, AliyunSmsFake

BATCH_LIMIT = 100


@dataclass
class AliyunBatchSmsFake(AliyunSmsFake):
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
        now = datetime.now(timezone.utc)
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
