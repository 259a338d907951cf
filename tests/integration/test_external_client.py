"""An event the platform publishes can be read off its topic by a Kafka client we did not write
(Debian's kcat) and validates against the committed JSON Schema of its type."""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid

import httpx
import pytest
from jsonschema import Draft202012Validator

from local.platform import Platform
from shared.contracts.snapshots import SCHEMAS_DIR
from shared.contracts.topics import ENROLLMENT_EVENTS
from tests.tokens import mint

pytestmark = pytest.mark.integration


async def test_kcat_reads_a_published_event_that_validates_against_the_committed_schema(
    platform: Platform, kafka_bootstrap: str
) -> None:
    assert shutil.which("kcat"), "kcat is installed by `make deps` (infra/local/system-deps.sh)"
    guardian = f"gdn-kcat-{uuid.uuid4().hex[:8]}"
    city = {"Authorization": f"Bearer {mint('city-kcat', 'city')}"}
    async with httpx.AsyncClient(base_url=platform["enrollment"].url, timeout=30) as client:
        for kind, records in {
            "districts": [{"district_id": "dst-kcat", "name": "读取区"}],
            "schools": [{"school_id": "sch-kcat", "district_id": "dst-kcat", "name": "读取小学"}],
            "students": [{"student_id": "stu-kcat", "school_id": "sch-kcat", "name": "赵小敏", "grade": 2}],
        }.items():
            reply = await client.post(f"/v1/reference/{kind}", json={"records": records}, headers=city)
            assert reply.status_code == 200 and reply.json()["rejected"] == 0, reply.text
        reply = await client.post(
            "/v1/guardians",
            headers={"Authorization": f"Bearer {mint('stf-kcat', 'school', school_id='sch-kcat')}"},
            json={"guardian_id": guardian, "school_id": "sch-kcat", "student_ids": ["stu-kcat"], "name": "赵敏",
                  "phone": "13700001111", "consent": True},
        )
        assert reply.status_code == 201, reply.text

    found = None
    for _ in range(60):
        out = subprocess.run(
            ["kcat", "-C", "-b", kafka_bootstrap, "-t", ENROLLMENT_EVENTS, "-o", "beginning", "-e", "-q",
             "-f", "%k\t%s\n"],
            # Other tests share the topic and put deliberately unreadable records on it.
            capture_output=True, encoding="utf-8", errors="replace", timeout=60,
        )
        assert out.returncode == 0, out.stderr
        for line in out.stdout.splitlines():
            key, _, value = line.partition("\t")
            if key == guardian:
                found = json.loads(value)
        if found:
            break
        await asyncio.sleep(1)
    assert found, f"kcat did not see the GuardianRegistered for {guardian}"
    assert found["type"] == "GuardianRegistered"
    schema = json.loads((SCHEMAS_DIR / f"{found['type']}.v{found['version']}.json").read_text())
    errors = sorted(Draft202012Validator(schema).iter_errors(found), key=str)
    assert not errors, [e.message for e in errors]
    assert "13700001111" not in json.dumps(found, ensure_ascii=False), "phone numbers never travel in the clear"
