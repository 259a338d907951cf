"""Notification's composition root: wires settings, channels, the sender loop, handlers and routes
into one ASGI app."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from services.notification.api import broadcasts, recipients
from services.notification.channels import aliyun, jpush, tencent
from services.notification.channels.base import Channel
from services.notification.channels.sink import SinkChannel
from services.notification.db import NotificationUoW, SenderUoW
from services.notification.domain.policy import Preferences, Retry
from services.notification.fan_out import FanOut
from services.notification.handlers import Delivery, handler_table, parse_hhmm
from services.notification.handlers.broadcasts import learning_districts
from services.notification.sender import NotificationMetrics, Sender, SenderConfig
from services.notification.settings import Context, Settings
from shared.messaging.runtime import Runtime, build_runtime, create_app
from shared.privacy import Sealer
from shared.time import utc_now

NAME = "notification"


def build_channels(s: Settings) -> dict[str, Channel]:
    """SMS and push adapters as the environment says; the local sink unless a provider is named."""
    timeout = min(s.provider_timeout_seconds, s.send_lease_seconds / 3)
    channels: dict[str, Channel] = {}
    if s.sms_provider == "aliyun":
        sms: Channel = aliyun.AliyunSms(
            endpoint=s.aliyun_endpoint, access_key_id=s.aliyun_access_key_id,
            access_key_secret=s.aliyun_access_key_secret, sign_name=s.aliyun_sign_name,
            template_codes=s.sms_template_codes, region=s.aliyun_region, timeout=timeout,
            batch_limit=s.sms_batch_size)
        documented = aliyun.RATE_PER_SECOND
    elif s.sms_provider == "tencent":
        sms = tencent.TencentSms(
            endpoint=s.tencent_endpoint, secret_id=s.tencent_secret_id, secret_key=s.tencent_secret_key,
            sdk_app_id=s.tencent_sms_app_id, sign_name=s.tencent_sign_name, template_codes=s.sms_template_codes,
            region=s.tencent_region, timeout=timeout)
        documented = tencent.RATE_PER_SECOND
    else:
        sms, documented = SinkChannel("sms"), None
    if s.sms_daily_limit_per_number is not None:
        sms.daily_limit = s.sms_daily_limit_per_number
    if s.rate_limit_enabled:
        sms.limit_rate(s.sms_rate_per_second or documented)
    channels["sms"] = sms
    if s.push_provider == "jpush":
        push: Channel = jpush.JPush(endpoint=s.jpush_endpoint, app_key=s.jpush_app_key,
                                    master_secret=s.jpush_master_secret, apns_production=s.jpush_apns_production,
                                    timeout=timeout)
        if s.rate_limit_enabled:
            push.limit_rate(s.push_rate_per_second or jpush.RATE_PER_SECOND)
        channels["push"] = push
    elif s.push_provider == "sink":
        channels["push"] = SinkChannel("push")
    return channels


def sink_only(s: Settings) -> bool:
    """No real provider carries messages (a development or test platform): only then is the sink served."""
    return s.sms_provider == "sink" and s.push_provider in ("sink", "none")


def build(settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now) -> tuple[FastAPI, Runtime]:
    settings = settings or Settings()
    rt = build_runtime(NAME, settings, NotificationUoW)
    sealer = Sealer(settings.contact_sealing_key)
    defaults = Preferences(quiet_start=parse_hhmm(settings.quiet_hours_start), quiet_end=parse_hhmm(settings.quiet_hours_end))
    channels = build_channels(settings)
    delivery = Delivery(defaults=defaults, push_enabled="push" in channels, portal_url=settings.portal_url, clock=clock)
    metrics = NotificationMetrics(rt.registry)

    def unit_of_work(cls: type[NotificationUoW] = NotificationUoW) -> NotificationUoW:
        # A committed batch with new messages starts a sender round at once.
        return cls(rt.db, producer=NAME, on_commit=rt.relay.wake, on_messages=sender.wake)

    config = SenderConfig(batch_size=settings.send_batch_size, concurrency=settings.send_concurrency,
                          lease_seconds=settings.send_lease_seconds, poll_seconds=settings.send_poll_seconds,
                          loops=settings.send_loops,
                          retry=Retry(settings.send_max_attempts, settings.retry_base_seconds, settings.retry_max_seconds))
    sender = Sender(lambda: unit_of_work(SenderUoW), channels, sealer, config, metrics)  # type: ignore[arg-type,return-value]
    fan_out = FanOut(unit_of_work, chunk=max(1, settings.send_batch_size // 2), delivery=delivery)
    rt.uow_factory = unit_of_work
    rt.context = Context(sealer=sealer, delivery=delivery, fan_out=fan_out)

    async def close_channels() -> None:
        for channel in channels.values():
            await channel.aclose()

    # The sender starts after the kit (migrations, relay, consumer) and stops before it drains, so the
    # receipts of its last round are still published by the relay.
    app = create_app(rt, handlers=learning_districts(handler_table(delivery)),
                     routers=[recipients.router, broadcasts.router, *([recipients.sink_router] if sink_only(settings) else [])],
                     title="Beilei notification",
                     description="Messages to guardians by SMS and app push (R22, R23).",
                     on_start=[sender.start, fan_out.start], on_stop=[fan_out.stop, sender.stop, close_channels])
    return app, rt
