"""The same events through the portal's handlers, then the same page reads, on the fake unit of work and on
PostgreSQL: the read models must answer alike, or tests on the fake prove nothing (issue 18). The cases
cover what the SQL decides: a later programme wins and keeps a known school name, a checkpoint only grows,
the earliest check-in stands, exercise adds up, withdrawals, a statement settled again, messages older than
30 days dropped, pickup persons revoked or expired, and nothing left uncommitted reaching the next unit of
work."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.portal.db import PortalUoW
from services.portal.handlers import HANDLERS
from shared.contracts.envelope import Envelope, Event, new_envelope
from shared.messaging.consumer import Item, is_batch_handler
from shared.messaging.db import Database
from shared.time import local_day, utc_now
from tests.unit.portal.conftest import migrated
from tests.unit.portal.fakes import FakePortalStore
from tests.unit.portal.test_pages import ev


@pytest.fixture(scope="module")
async def contract_db(database_url: str) -> AsyncIterator[Database]:
    """A schema of its own: the page reads that span every row (the newest day, the newest checkpoint) see
    this test's rows alone."""
    async with migrated(database_url, "portal_contract") as db:
        yield db


def _events(tag: str, today: date) -> list[tuple[Envelope, Event]]:
    """One family's and one school's life, as the topics bring it (each envelope made once, for both runs)."""
    now = utc_now().replace(microsecond=0)
    school, district, guardian, student = f"sch-{tag}", f"dst-{tag}", f"gdn-{tag}", f"stu-{tag}"
    later = (today + timedelta(days=30)).isoformat()
    events = [
        ev("ProgrammePublished", programme_id=f"prg-{tag}", school_id=school, district_id=district,
           school_name="实验小学", term="2025-autumn", published_at=now - timedelta(hours=2)),
        ev("ProgrammePublished", programme_id=f"prg-{tag}", school_id=school, district_id=district,
           school_name="旧名字", term="2025-autumn", published_at=now - timedelta(hours=3)),  # older: ignored
        ev("ProgrammePublished", programme_id=f"prg-{tag}b", school_id=school, district_id=district, school_name=None,
           name="周末项目", term="2026-spring", published_at=now - timedelta(hours=1)),
        ev("DisclosurePublished", disclosure_id=f"dsc-{tag}", school_id=school, district_id=district),
        ev("DisclosurePublished", disclosure_id=f"dsc-{tag}", school_id=school, district_id=district, balance_fen=1),
        ev("LedgerCheckpointPublished", log_id=f"log-{tag}", tree_size=5, published_at=now),
        ev("LedgerCheckpointPublished", log_id=f"log-{tag}", tree_size=3, published_at=now),  # smaller: ignored
        ev("StaffRegistered", staff_id=f"stf-{tag}", school_id=school, name="王丽"),
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}", programme_id=f"prg-{tag}", school_id=school,
           district_id=district, student_id=student, student_name="小明", guardian_id=guardian, extended_care=True),
        ev("EnrollmentFiled", enrollment_id=f"enr-{tag}b", programme_id=f"prg-{tag}b", school_id=school,
           district_id=district, student_id=f"{student}b", student_name="小红", guardian_id=guardian),
        ev("EnrollmentWithdrawn", enrollment_id=f"enr-{tag}b", effective_on=today),
        ev("StudentCheckedIn", student_id=student, school_id=school, session_date=today,
           checked_in_at=now - timedelta(hours=2)),
        ev("StudentCheckedIn", student_id=student, school_id=school, session_date=today,
           checked_in_at=now - timedelta(hours=1)),  # later: the first stands
        ev("ActivityRecorded", student_id=student, school_id=school, session_date=today, exercise_minutes=20),
        ev("ActivityRecorded", student_id=student, school_id=school, session_date=today, exercise_minutes=15),
        ev("StudentCheckedOut", student_id=student, school_id=school, session_date=today, checked_out_at=now,
           handed_over_by=f"stf-{tag}", collected_by_name="李奶奶", collected_by_relation="authorised_pickup",
           extended_care_minutes=20),
        ev("AnomalyDetected", anomaly_id=f"anm-{tag}", school_id=school, district_id=district,
           detected_at=now - timedelta(minutes=5)),
        ev("FeeSettled", settlement_id=f"stl-{tag}", student_id=student, guardian_id=guardian, charged_fen=30000,
           settled_at=now - timedelta(days=1)),
        ev("FeeSettled", settlement_id=f"stl-{tag}", student_id=student, guardian_id=guardian, charged_fen=28500,
           settled_at=now),  # settled again: the later stands
        ev("NotificationSent", notification_id=f"ntf-{tag}", recipient_id=guardian, student_id=student,
           kind="pickup", sent_at=now),
        ev("NotificationSent", notification_id=f"ntf-{tag}old", recipient_id=guardian, kind="fee_due",
           sent_at=now - timedelta(days=40)),
        ev("PickupPersonAuthorised", pickup_person_id=f"pku-{tag}", student_id=student, guardian_id=guardian,
           name="李奶奶", valid_until=later),
        ev("PickupPersonAuthorised", pickup_person_id=f"pku-{tag}b", student_id=student, guardian_id=guardian,
           name="张叔叔", valid_until=later),
        ev("PickupPersonAuthorised", pickup_person_id=f"pku-{tag}c", student_id=student, guardian_id=guardian,
           name="过期的人", valid_until="2020-01-31"),
        ev("PickupPersonRevoked", pickup_person_id=f"pku-{tag}b", student_id=student, guardian_id=guardian,
           name="张叔叔"),
    ]
    return [(new_envelope(e, producer="test"), e) for e in events]


async def _apply(uow: Any, events: list[tuple[Envelope, Event]]) -> None:
    for envelope, event in events:
        handler = HANDLERS[envelope.type]
        if is_batch_handler(handler):
            await handler(uow, [Item(envelope, event)])
        else:
            await handler(uow, envelope, event)


async def run_cases(factory: Callable[[], Any], tag: str, today: date, events: list[tuple[Envelope, Event]]) -> dict:
    school, district, guardian = f"sch-{tag}", f"dst-{tag}", f"gdn-{tag}"
    for i in range(0, len(events), 7):  # several units of work, as several batches would be
        async with factory() as uow:
            await _apply(uow, events[i:i + 7])
            await uow.commit()
    async with factory() as uow:  # left without commit: nothing of it may show
        await uow.save_staff(f"stf-{tag}", "没提交的名字")
        await uow.save_checkpoint(f"log-{tag}", 99, "x", "x", datetime(2099, 1, 1, tzinfo=UTC))
    async with factory() as uow:
        out = {
            "schools": await uow.schools(district),
            "programmes": [p["programme_id"] for p in await uow.programmes_of(school)],
            "disclosures": await uow.disclosures_of(school),
            "disclosure": await uow.disclosure(f"dsc-{tag}"),
            "no_disclosure": await uow.disclosure(f"dsc-{tag}-none"),
            "school_name": await uow.school_name(school),
            "checkpoint": await uow.checkpoint(),
            "children": await uow.children_of(guardian, today),
            "children_tomorrow": await uow.children_of(guardian, today + timedelta(days=1)),
            "day": await uow.day_by_district(district),
            "anomalies": await uow.anomalies(district),
            "anomaly": await uow.anomaly(f"anm-{tag}"),
            "statements": await uow.statements_of(guardian),
            "statement": await uow.statement(guardian, f"stl-{tag}"),
            "not_theirs": await uow.statement(f"gdn-{tag}x", f"stl-{tag}"),
            "messages": await uow.messages_of(guardian),
            "pickups": await uow.pickup_persons_of(guardian, today),
        }
    return out


async def test_the_fake_and_postgresql_units_of_work_answer_alike(contract_db: Database) -> None:
    tag = uuid.uuid4().hex[:8]
    today = local_day(utc_now())
    events = _events(tag, today)

    fake = await run_cases(FakePortalStore().uow, tag, today, events)
    real = await run_cases(lambda: PortalUoW(contract_db, producer="portal"), tag, today, events)

    assert fake == real
    assert fake["schools"] == [{"school_id": f"sch-{tag}", "district_id": f"dst-{tag}", "school_name": "实验小学",
                                "programmes": 2}]
    assert fake["programmes"] == [f"prg-{tag}b", f"prg-{tag}"] and fake["school_name"] == "实验小学"
    assert fake["disclosure"]["balance_fen"] != 1 and len(fake["disclosures"]) == 1
    assert (fake["checkpoint"]["log_id"], fake["checkpoint"]["tree_size"]) == (f"log-{tag}", 5)
    (child,) = fake["children"]
    assert (child["student_name"], child["handed_over_by"], child["collected_by_name"]) == ("小明", "王丽", "李奶奶")
    assert child["checked_in_at"] < child["checked_out_at"] - timedelta(minutes=90)
    assert [c["student_id"] for c in fake["children_tomorrow"]] == [f"stu-{tag}"]
    assert fake["day"] == (today, [{"district_id": f"dst-{tag}", "present": 1, "exercise_avg": 35.0, "exercise_30": 1,
                                    "collected": 1, "extended": 1}])
    assert [a["anomaly_id"] for a in fake["anomalies"]] == [f"anm-{tag}"] and fake["anomaly"]["evidence"]
    assert [s["document"]["charged_fen"] for s in fake["statements"]] == [28500]
    assert fake["statement"]["document"]["charged_fen"] == 28500 and fake["not_theirs"] is None
    assert [m["notification_id"] for m in fake["messages"]] == [f"ntf-{tag}"]
    assert fake["messages"][0]["student_name"] == "小明"
    assert [p["pickup_person_id"] for p in fake["pickups"]] == [f"pku-{tag}"]
