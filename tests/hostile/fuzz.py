"""Schemathesis over one service's OpenAPI, against the service running as a process: every operation
gets generated requests, valid and invalid by its schema, sent with tokens of several roles; an answer
that is a server error, or whose body or status the document does not describe, is a failure."""
from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.tokens import mint

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
SCHOOL = "sch-fuzz"

# Who asks: a scoped token is refused (403) for another school's path, so with one of these the
# generated `school_id` is pinned to the token's school and the request reaches the route's own checks.
PRINCIPALS = (
    ("city", mint("off-fuzz", "city"), None),
    ("auditor", mint("aud-fuzz", "auditor"), None),
    ("school", mint("sch-fuzz-admin", "school", school_id=SCHOOL), SCHOOL),
    ("school_system", mint("sys-fuzz", "school_system", school_id=SCHOOL), SCHOOL),
    ("guardian", mint("gdn-fuzz", "guardian"), None),
    ("nobody", None, None),
)


@dataclass
class Finding:
    operation: str
    role: str
    message: str


@dataclass
class Report:
    operations: int = 0
    requests: int = 0
    unsendable: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def first_per_operation(self) -> list[Finding]:
        seen: dict[str, Finding] = {}
        for f in self.findings:
            seen.setdefault(f.operation, f)
        return list(seen.values())


def fuzz(base_url: str, *, max_examples: int) -> Report:
    """Fuzz every operation of the service at base_url; the failures found, not raised (all of a
    service's operations run even after one fails, so a run reports everything at once)."""
    raw = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    report = Report()
    for result in schema.get_all_operations():
        operation = result.ok()
        report.operations += 1
        _fuzz_operation(base_url, operation, report, max_examples)
    return report


def _fuzz_operation(base_url: str, operation, report: Report, max_examples: int) -> None:
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=max_examples, derandomize=True, deadline=None, database=None, report_multiple_bugs=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=cases, who=st.sampled_from(PRINCIPALS))
    def run(case, who) -> None:
        role, token, school = who
        if school is not None and "school_id" in (case.path_parameters or {}):
            case.path_parameters["school_id"] = school
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=60)
        except requests.ConnectionError as exc:  # the service fell over or hung up
            report.findings.append(Finding(operation.label, role, f"no answer: {exc!r}"))
            return
        except (requests.RequestException, ValueError):
            report.unsendable += 1  # the client itself refused to build it (a header with a newline, say)
            return
        report.requests += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as exc:  # schemathesis's FailureGroup is an exception group
            if isinstance(exc, KeyboardInterrupt):
                raise
            report.findings.append(Finding(operation.label, role, str(exc)[:3000]))

    run()
