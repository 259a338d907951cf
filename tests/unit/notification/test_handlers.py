"""Notification's handlers of consumed events on the fake unit of work: what the delivery settings and
the clock they are given change (R22, R23), without PostgreSQL (test_uow_contract.py proves the fake
answers as the database does)."""
from __future__ import annotations

from datetime import UTC, datetime

from services.notification.domain.policy import SHANGHAI
from services.notification.handlers import Delivery, handler_table
from shared.contracts.enrollment import EnrollmentFiled, ProgrammePublished
from shared.contracts.envelope import new_envelope
from shared.contracts.schema import example_event
from tests.unit.notification.conftest import consume
from tests.unit.notification.fakes import FakeNotificationStore
from tests.unit.notification.test_sender import checkout, guardian
from tests.unit.notification.test_staff_alerts import absent_in_class

NIGHT = datetime(2025, 9, 12, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, inside the default quiet hours
SCHOOL = "sch-h"


def filed(student: str, guardian_id: str):
    event = example_event(EnrollmentFiled).model_copy(update={"student_id": student, "guardian_id": guardian_id,
                                                              "school_id": SCHOOL, "student_name": "李小明"})
    return new_envelope(event, producer="enrollment")


async def messages(store: FakeNotificationStore) -> dict[str, dict]:
    async with store.uow() as uow:
        return {m.template: vars(m) for m in await uow.recent_messages(100)}


async def test_without_a_push_provider_a_guardian_with_the_app_is_reached_by_sms_at_once() -> None:
    plans = {}
    for push_enabled in (True, False):
        store = FakeNotificationStore()
        await consume(store.uow, handler_table(Delivery(push_enabled=push_enabled)),
                      [guardian("gdn-1", ["stu-1"], push="dev-ok", school=SCHOOL), checkout("stu-1", school=SCHOOL)])
        plans[push_enabled] = (await messages(store))["pickup"]["plan"]
    assert plans == {True: ["push", "sms"], False: ["sms"]}


async def test_a_programme_notice_links_to_the_schools_page_on_the_portal_when_it_has_an_address() -> None:
    published = example_event(ProgrammePublished).model_copy(update={"school_id": SCHOOL, "disclosure_url": None})
    bodies = {}
    for portal_url in ("https://khfw.example.cn/", None):
        store = FakeNotificationStore()
        await consume(store.uow, handler_table(Delivery(portal_url=portal_url)),
                      [guardian("gdn-1", ["stu-1"], school=SCHOOL), new_envelope(published, producer="enrollment")])
        (message,) = [m for m in (await messages(store)).values() if m["kind"] == "programme_disclosure"]
        bodies[portal_url] = (message["template"], message["body"])
    assert bodies["https://khfw.example.cn/"][0] == "programme_disclosure"
    assert f"https://khfw.example.cn/s/{SCHOOL}" in bodies["https://khfw.example.cn/"][1]
    assert bodies[None][0] == "programme_disclosure_no_link" and "http" not in bodies[None][1]  # R23: no dead link


async def test_news_at_night_waits_for_the_morning_and_a_safety_message_goes_at_the_clocks_time() -> None:
    store = FakeNotificationStore()
    await consume(store.uow, handler_table(Delivery(clock=lambda: NIGHT)),
                  [guardian("gdn-1", ["stu-1"], school=SCHOOL), filed("stu-1", "gdn-1"),
                   absent_in_class("stu-1", None, SCHOOL)])
    found = await messages(store)
    news, absence = found["enrollment_filed"], found["absence"]
    assert news["not_before"].astimezone(SHANGHAI).strftime("%d %H:%M") == "13 07:00"  # R22's quiet hours end
    assert absence["not_before"] is None and absence["next_attempt_at"] == NIGHT


async def test_a_refusal_receipt_is_stamped_with_the_clock_the_handlers_are_given() -> None:
    store = FakeNotificationStore()
    await consume(store.uow, handler_table(Delivery(clock=lambda: NIGHT)),
                  [guardian("gdn-1", ["stu-1"], consent=False, school=SCHOOL), checkout("stu-1", school=SCHOOL)])
    (receipt,) = store.state.events
    assert (receipt.error_code, receipt.failed_at, receipt.recipient_id) == ("no_consent", NIGHT, "gdn-1")
