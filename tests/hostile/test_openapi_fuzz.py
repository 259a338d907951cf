"""Every service's OpenAPI, fuzzed against the service running on real Kafka and PostgreSQL (issue 14):
requests valid and invalid by the document, with a NUL, a lone surrogate or a number past int64 where
the generator puts them, sent with tokens of several roles. No answer is a server error, and every
answer's status and body are ones the document describes (the Problem shape for errors, see
docs/api.md). Deterministic (derandomized) and bounded: MAX_EXAMPLES per operation."""
from __future__ import annotations

import pytest

from local.platform import SERVICES, Platform
from tests.hostile.fuzz import fuzz

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 8


@pytest.mark.parametrize("service", SERVICES)
def test_no_generated_request_gets_a_server_error_or_an_answer_its_openapi_does_not_describe(
    platform: Platform, service: str
) -> None:
    report = fuzz(platform[service].url, max_examples=MAX_EXAMPLES)

    assert report.operations and report.requests >= report.operations, "every operation was called"
    assert any(200 <= s < 300 for s in report.statuses), f"some requests got through: {report.statuses}"
    assert any(400 <= s < 500 for s in report.statuses), f"some were refused: {report.statuses}"
    found = report.first_per_operation()
    assert not found, f"{len(report.findings)} failures in {len(found)} operations of {service}:\n\n" + "\n\n".join(
        f"{f.operation} as {f.role}:\n{f.message}" for f in found)
