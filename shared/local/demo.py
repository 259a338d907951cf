"""The `make run` demo: a guardian applies through enrollment's public API and the message reaches
the notification service's local delivery sink, across Kafka. Prints what a newcomer should see."""
from __future__ import annotations

import time
import uuid

import httpx

from shared.auth import TokenAuthority
from shared.local.platform import Platform
from shared.settings import CommonSettings


def run_demo(plat: Platform, kafka: str) -> None:
    authority = TokenAuthority(CommonSettings().auth_secret)
    run = uuid.uuid4().hex[:6]
    guardian, student, school = f"gdn-demo-{run}", f"stu-demo-{run}", "sch-demo"
    as_school = {"Authorization": f"Bearer {authority.mint('stf-demo', 'school', school_id=school)}"}
    as_guardian = {"Authorization": f"Bearer {authority.mint(guardian, 'guardian')}"}
    print("\nDemo: a guardian applies for after-school service")
    with httpx.Client(base_url=plat["enrollment"].url, timeout=30) as client:
        reply = client.post("/v1/guardians", headers=as_school, json={
            "guardian_id": guardian, "school_id": school, "student_ids": [student], "name": "王芳",
            "phone": "13800138000", "consent": True})
        _check(reply, "register the guardian")
        reply = client.post("/v1/applications", headers={**as_guardian, "Idempotency-Key": f"demo-{run}"}, json={
            "programme_id": "prg-demo", "school_id": school, "student_id": student, "student_name": "李小明",
            "guardian_id": guardian, "consent": True})
        _check(reply, "submit the application")
        print(f"  ✓ application {reply.json()['application_id']} accepted by enrollment")
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=plat["notification"].url, timeout=10) as client:
        while time.monotonic() < deadline:
            messages = client.get("/v1/sink", params={"recipient_id": guardian}).json()
            if messages:
                m = messages[0]
                print(f"  ✓ SMS to {m['to_masked']} via Kafka → notification: {m['body']}")
                return
            time.sleep(0.5)
    print("  ✗ no message reached the sink within 60 s; see .local/logs/notification.log")


def _check(reply: httpx.Response, what: str) -> None:
    if reply.status_code >= 300:
        raise RuntimeError(f"demo could not {what}: HTTP {reply.status_code} {reply.text}")
