"""Mass assignment (issue 15): no body field lets a caller set what the server decides. For every write
route of every service's OpenAPI: a server-decided field added to the body (status, approval, actor,
ids and times the server assigns, a role) is refused with 422 naming it, even from a caller the route
admits; no body declares such a field unless the route's rule table below names the check that guards
it; and the records school systems send refuse unknown fields, so none of them is mass-assigned either.
In-process apps: validation answers before any database is reached, so no platform is needed."""
from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest

from local.platform import SERVICES
from services.enrollment.domain.reference import KINDS as REFERENCE_KINDS
from tests.security.matrix import OWN_SCHOOL, PRINCIPALS

# What a caller must never set: the server assigns, decides or derives these.
SERVER_DECIDED: dict[str, Any] = {
    "status": "approved", "state": "filed", "approved_by": "off-mx", "approved_at": "2026-09-01T08:00:00+08:00",
    "submitted_by": "stf-mx", "decided_by": "off-mx", "actor": "city-mx", "role": "city",
    "created_at": "2026-09-01T08:00:00+08:00", "recorded_at": "2026-09-01T08:00:00+08:00",
    "admitted": True, "verified": True, "balance_fen": 0, "refunded_fen": 0,
}
# Declared fields that look privileged, with what guards them (the route's rule, R-numbers of DOMAIN.md).
DECLARED_AND_GUARDED = {
    ("enrollment", "/v1/staff/{staff_id}/admission", "admission"): "the district's admission decision is the route "
    "itself: district role and the staff member's school in its district (R1, R27)",
    ("billing", "/v1/distribution-plans/{plan_id}/review", "decision"): "the district's review of a plan is the "
    "route itself: district or city role, the plan's school in the district's scope (R10, R27)",
}
# Attendance's batch is read record by record (RecordsFastPath), whose record schemas are checked below
# instead; so are billing's payments.
NOT_PROBED_HERE = {
    "enrollment POST /v1/reference/{kind}": "a spreadsheet's columns the record does not declare are ignored, "
    "so its record models are checked below instead",
    "attendance POST /v1/schools/{school_id}/records": "records refuse unknown fields one by one (see below)",
    "billing POST /v1/payments": "payments are read one by one, each refusing unknown fields (see below)",
}
CALLERS = ("city", "school", "district", "school system", "auditor", "guardian")


def _documents() -> dict[str, tuple[Any, dict]]:
    out = {}
    for service in SERVICES:
        app, _ = importlib.import_module(f"services.{service}.app").build()
        out[service] = (app, app.openapi())
    return out


DOCUMENTS = _documents()
WRITES = [(service, method, path, op) for service, (_, doc) in DOCUMENTS.items()
          for path, item in doc["paths"].items() for method, op in item.items()
          if method in ("post", "put", "patch") and "application/json" in op.get("requestBody", {}).get("content", {})]


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _body_schema(service: str, op: dict) -> dict:
    doc = DOCUMENTS[service][1]
    return _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])


def _path(template: str) -> str:
    return template.replace("{school_id}", OWN_SCHOOL).replace("{", "mx-").replace("}", "")


def _label(service: str, method: str, path: str) -> str:
    return f"{service} {method.upper()} {path}"


PROBED = [w for w in WRITES if w[0] not in NOT_PROBED_HERE and _label(*w[:3]) not in NOT_PROBED_HERE]


@pytest.mark.parametrize(("service", "method", "path", "op"), PROBED, ids=[_label(*w[:3]) for w in PROBED])
async def test_a_server_decided_field_added_to_the_body_is_refused_with_422_naming_it(
    service: str, method: str, path: str, op: dict
) -> None:
    declared = set(_body_schema(service, op).get("properties", {}))
    probe = {k: v for k, v in SERVER_DECIDED.items() if k not in declared}
    app = DOCUMENTS[service][0]
    answers = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for who in CALLERS:
            reply = await client.request(method, _path(path), json=probe, headers=PRINCIPALS[who])
            answers[who] = reply.status_code
            if reply.status_code not in (401, 403):
                break
    assert reply.status_code == 422, f"no admitted caller reached validation: {answers}"
    refused = {e["loc"][-1] for e in reply.json()["detail"] if e["type"] == "extra_forbidden"}
    assert refused == set(probe), f"{who}'s extra fields accepted: {set(probe) - refused}"


@pytest.mark.parametrize(("service", "method", "path", "op"), WRITES, ids=[_label(*w[:3]) for w in WRITES])
def test_no_write_body_declares_a_field_the_server_decides_unless_its_rule_guards_it(
    service: str, method: str, path: str, op: dict
) -> None:
    declared = set(_body_schema(service, op).get("properties", {}))
    privileged = {"admission", "approval", "approved", "decision", *SERVER_DECIDED} & declared
    unguarded = {f for f in privileged if (service, path, f) not in DECLARED_AND_GUARDED
                 and not (f == "decision" and path.endswith("/fee-review"))}  # the district's review (R10)
    assert not unguarded, f"{_label(service, method, path)} lets the caller set {sorted(unguarded)}"


@pytest.mark.parametrize("kind", sorted(REFERENCE_KINDS))
def test_no_reference_import_record_declares_a_field_the_server_decides_unless_its_rule_guards_it(kind: str) -> None:
    declared = set(REFERENCE_KINDS[kind].model_fields)
    privileged = ({"admission", "approval", "approved", "decision", *SERVER_DECIDED} & declared) - {
        # the staff import may only propose: "may not admit" (R28), test_import.py proves it
        f for f in declared if kind == "staff" and f == "admission"}
    assert not privileged, f"an import of {kind} lets a school set {sorted(privileged)}"


def test_every_record_a_school_system_sends_refuses_fields_it_does_not_declare() -> None:
    doc = DOCUMENTS["attendance"][1]
    op = doc["paths"]["/v1/schools/{school_id}/records"]["post"]
    items = _resolve(doc, _body_schema("attendance", op)["properties"]["records"]["items"])
    kinds = [_resolve(doc, k) for k in items.get("oneOf") or items.get("anyOf") or [items]]
    assert len(kinds) == 3 and all(k.get("additionalProperties") is False for k in kinds), kinds


async def test_a_payment_carrying_a_server_decided_field_is_rejected_naming_it_and_nothing_is_recorded() -> None:
    payment = {"external_ref": "wx-mx-1", "method": "wechat_pay", "school_id": OWN_SCHOOL, "student_id": "stu-mx",
               "amount_fen": 100, "received_at": "2026-09-01T08:00:00+08:00", "deposited_to_account": "acct-mx"}
    app = DOCUMENTS["billing"][0]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        reply = await client.post("/v1/payments", json={"payments": [{**payment, "status": "accepted",
                                                                       "refunded_fen": 100}]},
                                  headers=PRINCIPALS["school"])
    assert reply.status_code == 422, reply.text
    (result,) = reply.json()["results"]
    assert result["status"] == "rejected" and "status" in result["reason"] and "refunded_fen" in result["reason"]
