"""Test data for enrollment: tokens, a district's reference data and a valid programme, under a prefix
so that tests sharing one database never see each other's rows."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx

from tests.tokens import mint


def bearer(role: str, subject: str, *, school: str | None = None, district: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(subject, role, school_id=school, district_id=district)}"}


class World:
    """Ids and tokens of one district with one school, named after `prefix`."""

    def __init__(self, prefix: str, students: int = 4, capacity: int = 600) -> None:
        self.p = prefix
        self.district = f"dst-{prefix}"
        self.school = f"sch-{prefix}"
        self.other_school = f"sch-{prefix}-b"
        self.klass = f"cls-{prefix}-3a"
        self.principal = f"stf-{prefix}-head"
        self.teacher = f"stf-{prefix}-t1"
        self.coach = f"prv-{prefix}-coach"
        self.officer = f"off-{prefix}"
        self.programme = f"prg-{prefix}-2026s"
        self.capacity = capacity
        self.students = [f"stu-{prefix}-{i:03d}" for i in range(students)]
        self.guardians = [f"gdn-{prefix}-{i:03d}" for i in range(students)]
        self.city = bearer("city", f"city-{prefix}")
        self.district_token = bearer("district", self.officer, district=self.district)
        self.school_token = bearer("school", self.principal, school=self.school)
        self.other_school_token = bearer("school", f"stf-{prefix}-b", school=self.other_school)

    def guardian_token(self, i: int) -> dict[str, str]:
        return bearer("guardian", self.guardians[i])

    def reference(self) -> dict[str, list[dict]]:
        return {
            "districts": [{"district_id": self.district, "name": f"{self.p}区", "off_work_local": "17:30"}],
            "schools": [{"school_id": self.school, "district_id": self.district, "name": f"{self.p}小学"},
                        {"school_id": self.other_school, "district_id": self.district, "name": f"{self.p}二小",
                         "kind": "rural"}],
            "staff": [
                {"staff_id": self.principal, "school_id": self.school, "name": "校长", "position": "principal",
                 "admission": "admitted"},
                {"staff_id": self.teacher, "school_id": self.school, "name": "张老师", "position": "teacher",
                 "admission": "admitted"},
                {"staff_id": self.coach, "school_id": self.school, "name": "李教练", "kind": "provider",
                 "organisation": "少年宫", "admission": "pending"},
            ],
            "classes": [{"class_id": self.klass, "school_id": self.school, "grade": 3, "name": "三(1)班",
                         "class_teacher_id": self.teacher}],
            "students": [{"student_id": s, "school_id": self.school, "class_id": self.klass, "name": f"学生{i}",
                          "grade": 3} for i, s in enumerate(self.students)],
            "guardians": [{"guardian_id": g, "school_id": self.school, "name": f"家长{i}", "phone": f"1390000{i:04d}",
                           "student_ids": [self.students[i]], "consent": True} for i, g in enumerate(self.guardians)],
        }

    def programme_spec(self, **changes) -> dict:
        now = datetime.now(UTC)
        spec = {
            "school_id": self.school, "term": "2026-spring", "name": "2026春季课后服务",
            "served": "本校1-6年级有需要的学生", "delivery": "本校教师为主",
            "sessions": [{"weekdays": ["mon", "tue", "wed", "thu", "fri"], "starts_at_local": "15:30",
                          "ends_at_local": "17:30"}],
            "extended_care_until_local": "18:30",
            "activities": [
                {"activity_id": "act-hw", "name": "作业辅导", "tier": "homework_help", "staff_ids": [self.teacher],
                 "capacity": 300},
                {"activity_id": "act-fb", "name": "校园足球", "tier": "sports", "level": "grades 3-4",
                 "staff_ids": [self.principal], "capacity": 40},
            ],
            "capacity": self.capacity, "fee_per_session_fen": 1500, "extended_care_fee_per_session_fen": 800,
            "safety_measures": ["凭接送卡交接", "每日两次点名"],
            "insurance": {"liability_policy_no": "PL-1", "accident_policy_no": "GA-1", "insurer": "人保",
                          "valid_from": str(date.today() - timedelta(days=30)),
                          "valid_until": str(date.today() + timedelta(days=180))},
            "applications_close_at": (now + timedelta(days=30)).isoformat(),
        }
        spec.update(changes)
        return spec

    async def load_reference(self, client: httpx.AsyncClient) -> None:
        for kind, records in self.reference().items():
            reply = await client.post(f"/v1/reference/{kind}", json={"records": records}, headers=self.city)
            assert reply.status_code == 200 and reply.json()["rejected"] == 0, reply.text

    async def open_programme(self, client: httpx.AsyncClient, **changes) -> dict:
        """Propose, agree, review and publish: the programme is disclosed and open for applications."""
        steps = [
            ("put", f"/v1/programmes/{self.programme}", self.programme_spec(**changes), self.school_token),
            ("post", f"/v1/programmes/{self.programme}/fee-agreement",
             {"agreed_on": str(date.today() - timedelta(days=1)), "reference": "家委会纪要"}, self.school_token),
            ("post", f"/v1/programmes/{self.programme}/fee-review", {"decision": "approved"}, self.district_token),
            ("post", f"/v1/programmes/{self.programme}/publish", None, self.school_token),
        ]
        reply = None
        for method, url, body, token in steps:
            reply = await client.request(method, url, json=body, headers=token)
            assert reply.status_code in (200, 201), (url, reply.text)
        return reply.json()

    def application(self, i: int, **changes) -> dict:
        body = {"programme_id": self.programme, "student_id": self.students[i], "guardian_id": self.guardians[i],
                "consent": True}
        body.update(changes)
        return body


def seed_rows(w: World) -> list:
    """The world's reference data as table rows, for units of work (fake or PostgreSQL) without HTTP."""
    from services.enrollment.db import ClassRow, DistrictRow, GuardianRow, SchoolRow, StaffRow, StudentRow

    ref = w.reference()
    rows: list = [DistrictRow(**r, row_digest="seed") for r in ref["districts"]]
    rows += [SchoolRow(**{"kind": "urban", **r}, row_digest="seed") for r in ref["schools"]]
    rows += [StaffRow(**{"kind": "staff", **r}, row_digest="seed") for r in ref["staff"]]
    rows += [ClassRow(**r, row_digest="seed") for r in ref["classes"]]
    rows += [StudentRow(**r, row_digest="seed") for r in ref["students"]]
    rows += [GuardianRow(guardian_id=r["guardian_id"], school_id=r["school_id"], name=r["name"],
                         student_ids=r["student_ids"], phone_sealed="sealed", phone_masked="139****0000",
                         consent=True, registered_by="seed", row_digest="seed") for r in ref["guardians"]]
    return rows


async def seed(uow_factory, w: World) -> None:
    async with uow_factory() as uow:
        for row in seed_rows(w):
            uow.add(row)
        await uow.commit()
