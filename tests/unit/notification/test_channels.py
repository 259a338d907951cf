"""Provider adapters against local servers that behave like the providers' documented APIs:
signatures, success answers and error answers (R22)."""
from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from services.notification.channels.aliyun import AliyunSms
from services.notification.channels.base import Outgoing, failure
from services.notification.channels.jpush import JPush
from services.notification.channels.signing import aliyun_signature
from services.notification.channels.sink import SinkChannel
from services.notification.channels.tencent import TencentSms
from services.notification.domain.templates import render, values
from tests.fakes.aliyun_sms import AliyunSmsFake
from tests.fakes.jpush import JPushFake
from tests.fakes.tencent_sms import TencentSmsFake

PARAMS = {"student": "李小明", "time": "17:42", "collector": "王芳", "relation": "@guardian", "staff": "stf-0311"}
PICKUP_FIELDS = ["student", "time", "collector", "relation", "staff"]


def outgoing(address: str = "13800138000", *, out_id: str = "a1b2c3", channel: str = "sms", locale: str = "zh-CN",
             message_id: int = 1, cid: str | None = None) -> Outgoing:
    return Outgoing(message_id, out_id, channel, "pickup", "pickup", locale, values("pickup", locale, PARAMS),
                    render("pickup", locale, PARAMS), address, "138****8000", datetime.now(UTC), cid)


def aliyun(fake: AliyunSmsFake, **overrides: str) -> AliyunSms:
    settings = dict(endpoint="http://aliyun.test", access_key_id=fake.access_key_id,
                    access_key_secret=fake.access_key_secret, sign_name=fake.sign_name,
                    template_codes={"pickup:zh-CN": "SMS_480001", "pickup:en": "SMS_480002"})
    settings.update(overrides)
    return AliyunSms(**settings, transport=httpx.ASGITransport(app=fake.app()))


@pytest.fixture
def aliyun_fake() -> AliyunSmsFake:
    return AliyunSmsFake(templates={"SMS_480001": PICKUP_FIELDS, "SMS_480002": PICKUP_FIELDS})


# -- signing ----------------------------------------------------------------------------------------

def test_aliyun_signing_reproduces_the_documented_examples() -> None:
    describe = dict(AccessKeyId="testid", Action="DescribeRegions", Format="XML", SignatureMethod="HMAC-SHA1",
                    SignatureNonce="3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", SignatureVersion="1.0",
                    Timestamp="2016-02-23T12:46:24Z", Version="2014-05-26")
    assert aliyun_signature("GET", describe, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    send = dict(AccessKeyId="testId", Action="SendSms", Format="XML", OutId="123", PhoneNumbers="15300000001",
                RegionId="cn-hangzhou", SignName="阿里云短信测试专用", SignatureMethod="HMAC-SHA1",
                SignatureNonce="45e25e9b-0a6f-4070-8c85-2956eda1b466", SignatureVersion="1.0",
                TemplateCode="SMS_71390007", TemplateParam='{"customer":"test"}', Timestamp="2017-07-12T02:42:19Z",
                Version="2017-05-25")
    assert aliyun_signature("GET", send, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


# -- Aliyun -----------------------------------------------------------------------------------------

async def test_aliyun_accepts_a_correctly_signed_sendsms_with_the_named_template_variables(aliyun_fake) -> None:
    channel = aliyun(aliyun_fake)
    result = await channel.send(outgoing())
    assert result.outcome == "sent" and result.provider_message_id.endswith("^0")
    (sms,) = aliyun_fake.delivered()
    assert sms["phone"] == "13800138000" and sms["template"] == "SMS_480001" and sms["out_id"] == "a1b2c3"
    assert sms["params"] == {**PARAMS, "relation": "家长"}


async def test_aliyun_uses_the_english_template_for_an_english_speaking_guardian(aliyun_fake) -> None:
    await aliyun(aliyun_fake).send(outgoing(locale="en"))
    assert aliyun_fake.delivered()[0]["template"] == "SMS_480002"
    assert aliyun_fake.delivered()[0]["params"]["relation"] == "guardian"


async def test_a_wrong_aliyun_secret_is_refused_as_a_bad_signature_and_not_retried(aliyun_fake) -> None:
    result = await aliyun(aliyun_fake, access_key_secret="not-the-secret").send(outgoing())
    assert result.outcome == "rejected" and "SignatureDoesNotMatch" in result.error
    assert aliyun_fake.delivered() == []


async def test_an_illegal_number_at_aliyun_is_an_invalid_address(aliyun_fake) -> None:
    result = await aliyun(aliyun_fake).send(outgoing("12345"))
    assert result.outcome == "invalid_address" and result.error_code == "invalid_number"


async def test_an_aliyun_system_error_and_throttling_are_retried(aliyun_fake) -> None:
    aliyun_fake.scripted = ["isp.SYSTEM_ERROR"]
    assert (await aliyun(aliyun_fake).send(outgoing())).outcome == "retry"
    aliyun_fake.qps = 0
    throttled = await aliyun(aliyun_fake).send(outgoing())
    assert throttled.outcome == "retry" and "Throttling.User" in throttled.error


async def test_aliyuns_per_number_daily_flow_control_is_reported_as_the_daily_limit(aliyun_fake) -> None:
    aliyun_fake.daily_limit_per_number = 1
    channel = aliyun(aliyun_fake)
    assert (await channel.send(outgoing(out_id="one"))).outcome == "sent"
    limited = await channel.send(outgoing(out_id="two"))
    assert limited.outcome == "daily_limit" and "BUSINESS_LIMIT_CONTROL" in limited.error


async def test_a_template_without_an_approved_aliyun_code_is_rejected_before_any_call(aliyun_fake) -> None:
    result = await aliyun(aliyun_fake, template_codes={}).send(outgoing())
    assert result.outcome == "rejected" and aliyun_fake.requests == {}


async def test_aliyun_lookup_finds_a_message_it_accepted_by_our_out_id_and_nothing_else(aliyun_fake) -> None:
    channel = aliyun(aliyun_fake)
    await channel.send(outgoing(out_id="accepted-one"))
    found = await channel.lookup(outgoing(out_id="accepted-one"))
    assert found is not None and found.outcome == "sent"
    assert await channel.lookup(outgoing(out_id="never-sent")) is None


async def test_error_texts_never_carry_a_full_phone_number(aliyun_fake) -> None:
    aliyun_fake.scripted = ["isv.OUT_OF_SERVICE"]
    result = await aliyun(aliyun_fake).send(outgoing())
    assert "13800138000" not in result.error
    assert "13800138000" not in failure("rejected", "other", "bad number 13800138000").error


# -- Tencent ----------------------------------------------------------------------------------------

def tencent(fake: TencentSmsFake, **overrides: str) -> TencentSms:
    settings = dict(endpoint="http://sms.tencentcloudapi.test", secret_id=fake.secret_id, secret_key=fake.secret_key,
                    sdk_app_id=fake.sdk_app_id, sign_name=fake.sign_name, template_codes={"pickup": "1110"})
    settings.update(overrides)
    return TencentSms(**settings, transport=httpx.ASGITransport(app=fake.app()))


@pytest.fixture
def tencent_fake() -> TencentSmsFake:
    return TencentSmsFake(templates={"1110": len(PICKUP_FIELDS)})


async def test_tencent_accepts_a_tc3_signed_sendsms_with_positional_parameters(tencent_fake) -> None:
    result = await tencent(tencent_fake).send(outgoing())
    assert result.outcome == "sent" and result.provider_message_id
    (sms,) = tencent_fake.delivered()
    assert sms["params"] == ["李小明", "17:42", "王芳", "家长", "stf-0311"] and sms["session"] == "a1b2c3"


async def test_a_wrong_tencent_key_fails_signature_verification(tencent_fake) -> None:
    result = await tencent(tencent_fake, secret_key="wrong").send(outgoing())
    assert result.outcome == "rejected" and "AuthFailure.SignatureFailure" in result.error


async def test_tencent_number_errors_and_daily_limits_are_told_apart(tencent_fake) -> None:
    channel = tencent(tencent_fake)
    assert (await channel.send(outgoing("1380013"))).outcome == "invalid_address"
    tencent_fake.daily_limit_per_number = 0
    assert (await channel.send(outgoing())).outcome == "daily_limit"


async def test_tencent_lookup_finds_a_message_by_its_session_context(tencent_fake) -> None:
    channel = tencent(tencent_fake)
    await channel.send(outgoing(out_id="ctx-1"))
    assert (await channel.lookup(outgoing(out_id="ctx-1"))).outcome == "sent"
    assert await channel.lookup(outgoing(out_id="ctx-2")) is None


# -- JPush ------------------------------------------------------------------------------------------

def jpush(fake: JPushFake, **overrides: str) -> JPush:
    settings = dict(endpoint="http://api.jpush.test", app_key=fake.app_key, master_secret=fake.master_secret)
    settings.update(overrides)
    return JPush(**settings, transport=httpx.ASGITransport(app=fake.app()))


async def test_jpush_delivers_to_an_installed_app_and_a_resend_with_the_same_cid_pushes_nothing() -> None:
    fake = JPushFake(devices={"1a0018970a1b2c3d"})
    channel = jpush(fake)
    msg = outgoing("1a0018970a1b2c3d", channel="push")
    cids = await channel.prepare([msg])
    assert cids[1].startswith(fake.app_key + "-")
    msg = outgoing("1a0018970a1b2c3d", channel="push", cid=cids[1])
    first, again = await channel.send(msg), await channel.send(msg)
    assert first.outcome == again.outcome == "sent" and first.provider_message_id == again.provider_message_id
    assert len(fake.delivered()) == 1 and fake.delivered()[0]["alert"].startswith("【蓓蕾课后服务】")


async def test_jpush_fetches_cids_ten_at_a_time_for_a_standard_app() -> None:
    fake = JPushFake()
    cids = await jpush(fake).prepare([outgoing(channel="push", message_id=i) for i in range(23)])
    assert len(cids) == 23 and len(set(cids.values())) == 23


async def test_a_push_to_a_removed_app_is_an_expired_token_so_sms_takes_over() -> None:
    result = await jpush(JPushFake()).send(outgoing("gone-device", channel="push"))
    assert result.outcome == "invalid_address" and result.error_code == "push_token_expired"


async def test_jpush_authentication_failure_and_frequency_limit_are_told_apart() -> None:
    fake = JPushFake(devices={"dev"}, per_minute=0)
    assert (await jpush(fake, master_secret="wrong").send(outgoing("dev", channel="push"))).outcome == "rejected"
    throttled = await jpush(fake).send(outgoing("dev", channel="push"))
    assert throttled.outcome == "retry" and throttled.retry_after == 60


async def test_an_unreachable_provider_is_retried_and_nothing_is_in_doubt() -> None:
    channel = AliyunSms(endpoint="http://127.0.0.1:9", access_key_id="k", access_key_secret="s", sign_name="n",
                        template_codes={"pickup": "SMS_1"}, timeout=2)
    result = await channel.send(outgoing())
    assert result.outcome == "retry" and result.error_code == "provider_unavailable"
    await channel.aclose()


async def test_the_local_sink_accepts_every_message() -> None:
    result = await SinkChannel("sms").send(outgoing())
    assert result.outcome == "sent" and result.provider_message_id == "sink-a1b2c3"
