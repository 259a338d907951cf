"""The authorisation matrix on the running platform (issue 15, R27), generated from each service's
OpenAPI: every operation without a token and with a forged one (401 exactly where the document declares
bearerAuth, never where it declares the operation open); every token-guarded operation aimed at a
school's objects with another school's tokens, a guardian's and another district's (never a 2xx); and a
table of the rules the battery found broken (the message sink, the fee reports), role by role, own
object and other."""
from __future__ import annotations

import httpx
import pytest

from local.platform import SERVICES, Platform
from tests.security.matrix import OWN_DISTRICT, OWN_SCHOOL, PRINCIPALS, ROLES, Operation, allowed, operations

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def documents(platform: Platform) -> dict[str, dict]:
    return {s: httpx.get(f"{platform[s].url}/openapi.json", timeout=30).json() for s in SERVICES}


def _call(platform: Platform, op: Operation, who: str, path: str | None = None, **params: str) -> int:
    body = {} if op.method in ("post", "put", "patch") else None
    reply = httpx.request(op.method, f"{platform[op.service].url}{path or op.path()}", json=body, params=params,
                          headers=PRINCIPALS[who], timeout=30)
    return reply.status_code


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_401_without_a_valid_token_exactly_where_its_openapi_declares_bearer_auth(
    platform: Platform, documents: dict[str, dict], service: str
) -> None:
    ops = list(operations(service, documents[service]))
    wrong = []
    for op in ops:
        for who in ("nobody", "forged"):
            status = _call(platform, op, who)
            if (status == 401) != op.secured:
                wrong.append(f"{op.label} as {who}: {status} (declared {'bearerAuth' if op.secured else 'open'})")
    assert len(ops) > 5 and not wrong, f"{len(wrong)} of {2 * len(ops)} calls:\n" + "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_on_a_schools_objects_lets_another_school_or_a_guardian_through(
    platform: Platform, documents: dict[str, dict], service: str
) -> None:
    aimed = [op for op in operations(service, documents[service]) if op.secured and "{school_id}" in op.template]
    wrong = [f"{op.label} as {who}: {status}" for op in aimed
             for who in ("other school", "other school system", "guardian", "other district")
             if 200 <= (status := _call(platform, op, who)) < 300]
    assert not wrong, f"{len(wrong)} of {4 * len(aimed)} calls got through:\n" + "\n".join(wrong)


def _expect(allowed_roles: set[str]) -> dict[str, str]:
    return {who: "allowed" if who in allowed_roles else "refused" for who in ("nobody", *ROLES)}


# The ledger holds nothing of these schools, so the audit knows no district of OWN_SCHOOL: its district
# reads it through `district_id`, and a `school_id` is refused to every district (the leak was the other
# district's `school_id` answered with the school's figures).
READERS_OF_OWN_SCHOOL = {"school", "city", "auditor"}
READERS_OF_OWN_DISTRICT = {"district", "city", "auditor"}
# (service, path, query, {principal: allowed/refused}): the rules issue 15 found broken.
RULES = [
    ("notification", "/v1/sink", {}, _expect({"city"})),
    ("notification", "/sink", {}, _expect({"city"})),
    *[(("audit", f"/v1/audit/reports/{kind}", {**when, "school_id": OWN_SCHOOL}, _expect(READERS_OF_OWN_SCHOOL)))
      for kind, when in (("monthly", {"period": "2026-11"}), ("annual", {"year": "2026"}))],
    *[(("audit", f"/v1/audit/reports/{kind}", {**when, "district_id": OWN_DISTRICT}, _expect(READERS_OF_OWN_DISTRICT)))
      for kind, when in (("monthly", {"period": "2026-11"}), ("annual", {"year": "2026"}))],
]


@pytest.mark.parametrize(("service", "path", "query", "expected"), RULES, ids=[f"{r[0]} {r[1]} {sorted(r[2])}" for r in RULES])
def test_the_sink_and_the_fee_reports_answer_each_role_by_its_scope_never_by_a_parameter(
    platform: Platform, service: str, path: str, query: dict[str, str], expected: dict[str, str]
) -> None:
    op = Operation(service, "get", path, True)
    got = {who: "allowed" if allowed(_call(platform, op, who, path, **query)) else "refused"
           for who in expected}
    assert got == expected
