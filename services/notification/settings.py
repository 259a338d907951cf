"""Notification's settings: the common ones plus channels, providers and delivery policy, all from the
environment (e.g. SMS_PROVIDER=aliyun, ALIYUN_ACCESS_KEY_ID=...). The default is the local sink. And the
typed context the composition root builds from them for the routes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from shared.settings import CommonSettings

if TYPE_CHECKING:  # what the context carries is built from these settings, not imported by them
    from services.notification.fan_out import FanOut
    from services.notification.handlers import Delivery
    from shared.privacy import Sealer


class Settings(CommonSettings):
    http_port: int = 8004
    consumer_max_records: int = Field(
        2000, description="Records per consumed batch (one transaction). Every handler takes a run of events "
        "in a few statements, so a larger batch costs less per event: in benchmarks a term start's enrollments "
        "were read 10-30% faster than at 500, and a burst of check-outs no later.")
    # A parent waits on this consumer: a fetch waits at most 40 ms, and for fuller batches than the kit's
    # default (about six events), so at the evening's rate the consumer and the sender run a fraction of the
    # rounds (PickupSurge at 20,000: notification's CPU per check-out 1.0 -> 0.4 s per 1,000 at 100 ms,
    # which cost the parent 100 ms; 40 ms keeps most of the saving).
    consumer_fetch_min_bytes: int = 64 * 1024
    consumer_fetch_max_wait_ms: int = 40

    # -- channels ---------------------------------------------------------------------------------
    sms_provider: Literal["sink", "aliyun", "tencent"] = Field(
        "sink", description="Who carries SMS: the local delivery sink (default), Aliyun SMS or Tencent Cloud SMS.")
    push_provider: Literal["sink", "jpush", "none"] = Field(
        "sink", description="Who carries app push: the local sink (default), JPush, or none (always SMS).")
    sms_template_codes: dict[str, str] = Field(
        default_factory=dict,
        description="Provider template id per 'template:locale' (or 'template'), as approved in the provider's "
        "console, e.g. {\"pickup:zh-CN\": \"SMS_4780001\"}. JSON in the environment.")

    aliyun_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = ""
    aliyun_region: str = "cn-hangzhou"
    aliyun_sign_name: str = Field("", description="Pre-approved SMS signature (签名), e.g. 蓓蕾课后服务.")

    tencent_endpoint: str = "https://sms.tencentcloudapi.com"
    tencent_secret_id: str = ""
    tencent_secret_key: str = ""
    tencent_region: str = "ap-guangzhou"
    tencent_sms_app_id: str = ""
    tencent_sign_name: str = ""

    jpush_endpoint: str = "https://api.jpush.cn"
    jpush_app_key: str = ""
    jpush_master_secret: str = ""
    jpush_apns_production: bool = True

    sms_batch_size: int = Field(
        100, ge=1, description="Messages of one template sent in one provider call where the provider offers it "
        "(Aliyun SendBatchSms, at most 100); 1 sends each alone.")

    provider_timeout_seconds: float = Field(10.0, description="Per HTTP call to a provider; below the send lease.")

    # -- policy -----------------------------------------------------------------------------------
    rate_limit_enabled: bool = Field(True, description="Apply the providers' documented per-second limits.")
    sms_rate_per_second: float | None = Field(
        None, description="SMS calls per second for this process; default: the provider's documented limit.")
    push_rate_per_second: float | None = Field(None, description="Push calls per second; default: JPush's limit.")
    sms_daily_limit_per_number: int | None = Field(
        None, description="Messages per number per China day; default: the provider's documented limit.")
    portal_url: str | None = Field(
        None, description="Public address of the portal (services/portal), e.g. https://khfw.example.cn: disclosure "
        "and programme messages link to its pages (/d/<disclosure>, /s/<school>). Unset: the school's own https "
        "page when the event names one, else no link.")
    quiet_hours_start: str = Field("21:30", description="Default quiet hours start, school-local HH:MM.")
    quiet_hours_end: str = Field("07:00", description="Default quiet hours end, school-local HH:MM.")
    send_max_attempts: int = Field(5, description="Attempts per channel before falling back or giving up.")
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    send_lease_seconds: float = Field(
        15.0, description="A claimed message not marked within this is in doubt: looked up at the provider, "
        "then sent again only if the provider does not have it. Renewed every third of it while its round is "
        "in flight, so it bounds how long a dead process's messages wait, not how long a round may take.")
    send_batch_size: int = Field(
        1000, description="Messages claimed per sender round: with SMS_BATCH_SIZE, a round's SMS of one template "
        "go in a few provider calls, so a larger round costs little more than a small one.")
    send_concurrency: int = Field(64, description="Provider calls in flight at once, per sender loop.")
    send_loops: int = Field(2, ge=1, description="Sender loops per process (rounds overlap).")
    send_poll_seconds: float = Field(0.5, description="Sender poll interval when not woken by the consumer.")


@dataclass(frozen=True)
class Context:
    """What notification's routes use besides a unit of work (Runtime.context)."""

    sealer: Sealer  # seals the contacts registered over HTTP (R22)
    # The default preferences (R22), whether push is carried, the portal's address and the clock: the
    # handlers' (handler_table) and the routes' alike.
    delivery: Delivery
    fan_out: FanOut  # woken when a broadcast is recorded, to queue its recipients at once
