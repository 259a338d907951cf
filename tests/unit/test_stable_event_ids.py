"""One helper derives every service's stable event ids, and the ids already published stay the same for
the same inputs: each service keeps its namespace, and the values below were taken before the helper."""
from __future__ import annotations

import uuid

import pytest

from services.attendance.handlers.ingest import event_id_for
from services.audit.domain.findings import Finding
from services.billing.handlers.common import event_uuid
from services.notification.handlers import EVENT_IDS, out_id
from shared.ids import StableIds


@pytest.mark.parametrize("namespace", ["5d1b7c52-3f0e-4c1a-9a57-2b8f0e6d4c31", "6f1c2a52-7b1e-4f7e-9a53-3c1d0b2e8a11",
                                       "6f1d2a4e-3b7c-5e8f-9a0b-1c2d3e4f5a6b", "6f1d3c1e-2b7a-4f43-9a55-3d1f0d8e7c21",
                                       "0b5e6c1d-44f2-4d0c-9a1e-6f5a3c2b1d08"])
@pytest.mark.parametrize("name", ["", "StatementIssued:sch-1/2025-11", "报名/学生-1", "x" * 500])
def test_a_stable_id_is_uuid5_over_its_namespace(namespace: str, name: str) -> None:
    ids = StableIds(namespace)
    assert ids(name) == uuid.uuid5(uuid.UUID(namespace), name)
    assert ids.hex(name) == uuid.uuid5(uuid.UUID(namespace), name).hex
    assert ids(name) == StableIds(uuid.UUID(namespace))(name), "the same whether given as text or UUID"


def test_ids_already_published_by_each_service_are_unchanged() -> None:
    assert str(event_uuid("StatementIssued", "sch-1/2025-11")) == "5481cf67-2763-5431-ab4c-6ccd58d846d2"
    assert out_id(uuid.UUID(int=1), "gdn-1") == "445905ad8ff75dd6af1258e4c4aca109"
    assert str(EVENT_IDS("n-1:sent")) == "b0bfbea7-950c-5b4e-be1b-e40c9d87f1a4"
    assert str(event_id_for("sch-1", "rec-1")) == "6563b721-b1ea-50f9-aa76-c44cefe514e9"


def test_an_audit_finding_keeps_its_event_id() -> None:
    finding = Finding(check="coerced_applications", dedup_key="coerced_applications/sch-1", school_id="sch-1",
                      detail="x")
    assert str(finding.event_id) == "1177bf58-d6de-54d1-af91-7082e3dd8888"
