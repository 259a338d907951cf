"""Policy: preferences, quiet hours with the safety bypass, push-to-SMS fallback, retries with
backoff, per-number daily limits (R11, R12, R13, R22)."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from services.notification.domain.policy import (
    SHANGHAI,
    Preferences,
    Recipient,
    Retry,
    channel_plan,
    decide,
    in_quiet_hours,
    intake,
    is_urgent,
    next_local_midnight,
    not_before,
)

NOW = datetime(2025, 9, 12, 9, 42, tzinfo=UTC)  # 17:42 in Shanghai


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 9, 12, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def guardian(*, push: bool = True, phone: bool = True, consent: bool = True) -> Recipient:
    return Recipient("gdn-1", "guardian", "zh-CN", consent, has_phone=phone, has_push=push)


# -- preferences and fallback plans -----------------------------------------------------------------

def test_a_guardian_with_the_app_gets_push_first_and_sms_as_fallback() -> None:
    assert channel_plan(Preferences(), guardian(), urgent=False) == ("push", "sms")


def test_a_guardian_without_the_app_gets_sms() -> None:
    assert channel_plan(Preferences(), guardian(push=False), urgent=False) == ("sms",)


def test_a_guardian_who_wants_sms_only_gets_no_push() -> None:
    assert channel_plan(Preferences(channels="sms_only"), guardian(), urgent=True) == ("sms",)


def test_push_only_is_respected_except_that_a_safety_message_may_fall_back_to_sms() -> None:
    prefs = Preferences(channels="push_only")
    assert channel_plan(prefs, guardian(), urgent=False) == ("push",)
    assert channel_plan(prefs, guardian(), urgent=True) == ("push", "sms")
    assert channel_plan(prefs, guardian(push=False), urgent=False) == ("sms",)


def test_a_recipient_without_a_phone_is_reached_by_push_alone_or_not_at_all() -> None:
    assert channel_plan(Preferences(), guardian(phone=False), urgent=True) == ("push",)
    assert channel_plan(Preferences(), guardian(phone=False, push=False), urgent=True) == ()


# -- quiet hours ------------------------------------------------------------------------------------

def test_overnight_quiet_hours_cover_late_evening_and_early_morning_only() -> None:
    prefs = Preferences(quiet_start=time(21, 30), quiet_end=time(7, 0))
    assert in_quiet_hours(local(22), prefs) and in_quiet_hours(local(6, 59), prefs)
    assert not in_quiet_hours(local(7), prefs) and not in_quiet_hours(local(17, 42), prefs)


def test_a_daytime_quiet_window_and_no_window_are_both_possible() -> None:
    assert in_quiet_hours(local(12, 30), Preferences(quiet_start=time(12), quiet_end=time(13)))
    assert not in_quiet_hours(local(13), Preferences(quiet_start=time(12), quiet_end=time(13)))
    assert not in_quiet_hours(local(23), Preferences(quiet_start=None, quiet_end=None))


def test_a_fee_message_in_quiet_hours_waits_until_they_end_the_next_morning() -> None:
    held = not_before(local(22, 15), Preferences(), urgent=False)
    assert held == datetime(2025, 9, 13, 7, 0, tzinfo=SHANGHAI)


def test_a_message_after_midnight_waits_until_the_same_morning() -> None:
    early = datetime(2025, 9, 13, 5, 0, tzinfo=SHANGHAI)
    assert not_before(early, Preferences(), urgent=False) == datetime(2025, 9, 13, 7, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("kind", ["unauthorised_pickup", "extended_care_escalated", "absence"])
def test_safety_messages_bypass_quiet_hours(kind: str) -> None:
    assert is_urgent(kind)
    assert not_before(local(23), Preferences(), urgent=is_urgent(kind)) is None


def test_only_critical_anomalies_are_urgent_for_auditors_and_a_pickup_is_not_urgent() -> None:
    assert is_urgent("anomaly_alert", severity="critical")
    assert not is_urgent("anomaly_alert", severity="warning")
    assert not is_urgent("pickup")


# -- intake: consent, unknown contacts --------------------------------------------------------------

def test_no_message_is_planned_without_consent() -> None:
    taken = intake(guardian(consent=False), Preferences(), urgent=True, now=NOW)
    assert taken.status == "suppressed_no_consent" and taken.plan == ()


def test_a_message_for_someone_not_yet_known_waits_for_their_contact() -> None:
    assert intake(None, Preferences(), urgent=False, now=NOW).status == "awaiting_contact"


def test_the_guardians_own_language_choice_wins_over_the_registered_one() -> None:
    taken = intake(guardian(), Preferences(locale="en"), urgent=False, now=NOW)
    assert taken.status == "pending" and taken.locale == "en" and taken.plan == ("push", "sms")


def test_a_recipient_with_no_way_to_be_reached_is_reported_not_queued() -> None:
    assert intake(guardian(phone=False, push=False), Preferences(), urgent=False, now=NOW).status == "no_channel"


# -- after an attempt: retries, fallback, limits ----------------------------------------------------

RETRY = Retry(max_attempts=3, base_seconds=2, max_seconds=60)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    assert RETRY.delay(1, rand=0) == 1 and RETRY.delay(1, rand=1) == 2
    assert RETRY.delay(3, rand=1) == 8
    assert RETRY.delay(10, rand=1) == 60


def test_a_transient_failure_is_retried_later_on_the_same_channel() -> None:
    d = decide("retry", channel="sms", plan=("sms",), channel_attempts=1, urgent=False, now=NOW, retry=RETRY, rand=1)
    assert d.action == "retry" and d.channel == "sms" and d.at == NOW + timedelta(seconds=2) and not d.final


def test_a_provider_asking_to_wait_is_waited_for() -> None:
    d = decide("retry", channel="sms", plan=("sms",), channel_attempts=1, urgent=False, now=NOW, retry=RETRY,
               retry_after=60, rand=0)
    assert d.at == NOW + timedelta(seconds=60)


def test_retries_exhausted_on_push_fall_back_to_sms() -> None:
    d = decide("retry", channel="push", plan=("push", "sms"), channel_attempts=3, urgent=False, now=NOW, retry=RETRY)
    assert d.action == "fallback" and d.channel == "sms" and d.at == NOW


def test_an_expired_push_token_falls_back_to_sms_at_once() -> None:
    d = decide("invalid_address", channel="push", plan=("push", "sms"), channel_attempts=1, urgent=False, now=NOW,
               retry=RETRY)
    assert (d.action, d.channel) == ("fallback", "sms")


def test_retries_exhausted_on_the_last_channel_fail_finally() -> None:
    d = decide("retry", channel="sms", plan=("push", "sms"), channel_attempts=3, urgent=False, now=NOW, retry=RETRY)
    assert d.action == "fail" and d.final


def test_a_rejected_sms_fails_finally_without_retrying() -> None:
    d = decide("rejected", channel="sms", plan=("sms",), channel_attempts=1, urgent=False, now=NOW, retry=RETRY)
    assert d.action == "fail" and d.final


def test_an_answer_that_never_came_is_retried_as_in_doubt_so_it_is_looked_up_first() -> None:
    d = decide("unknown", channel="sms", plan=("sms",), channel_attempts=1, urgent=False, now=NOW, retry=RETRY, rand=0)
    assert d.action == "retry" and d.in_doubt
    late = decide("unknown", channel="sms", plan=("sms",), channel_attempts=3, urgent=False, now=NOW, retry=RETRY)
    assert late.action == "retry" and late.in_doubt, "the last channel keeps looking a while longer"
    last = decide("unknown", channel="sms", plan=("sms",), channel_attempts=6, urgent=False, now=NOW, retry=RETRY)
    assert last.action == "fail" and last.final, "but not forever"


def test_the_per_number_daily_limit_defers_an_ordinary_message_to_the_next_china_day() -> None:
    d = decide("daily_limit", channel="sms", plan=("sms",), channel_attempts=1, urgent=False, now=NOW, retry=RETRY)
    assert d.action == "defer" and d.at == datetime(2025, 9, 13, 0, 0, tzinfo=SHANGHAI)


def test_the_daily_limit_fails_a_safety_message_at_once_rather_than_deliver_it_tomorrow() -> None:
    d = decide("daily_limit", channel="sms", plan=("sms",), channel_attempts=1, urgent=True, now=NOW, retry=RETRY)
    assert d.action == "fail" and d.final


def test_the_next_china_midnight_is_computed_in_shanghai_time() -> None:
    assert next_local_midnight(local(23, 59)) == datetime(2025, 9, 13, 0, 0, tzinfo=SHANGHAI)
