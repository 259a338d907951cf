"""Schemathesis against the running enrollment service's OpenAPI document: generated requests, valid
and invalid, under each role's token in turn, never get a server error (5xx) nor a reply that breaks
the documented schema."""
from __future__ import annotations

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from local.platform import Platform
from services.enrollment.app import build
from tests.unit.enrollment.builders import bearer

pytestmark = pytest.mark.integration

# The import accepts CSV and JSON Lines as text; let the generator send any text as such a file.
for _media_type in ("text/csv", "application/x-ndjson"):
    schemathesis.openapi.media_type(_media_type, st.text(max_size=400).map(str.encode))

_P = f"st{uuid.uuid4().hex[:6]}"
ROLES = {
    "city": bearer("city", f"city-{_P}"),
    "district": bearer("district", f"off-{_P}", district="dst-07"),
    "school": bearer("school", f"stf-{_P}", school="sch-001"),
    "guardian": bearer("guardian", "gdn-000001"),
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8  # per operation and generation mode (valid, invalid); the cases take the roles in turn
# Enrollment's own routes; the kit's operational ones (/health, /metrics, /asyncapi.json) are not its API.
OPERATIONS = [(method.upper(), path) for path, item in build()[0].openapi()["paths"].items()
              for method in item if not path.startswith(("/health", "/metrics", "/asyncapi"))]
RAN: dict = {"cases": 0, "operations": set()}
TOKENS = list(ROLES.values())


@pytest.fixture(scope="module")
def served_schema(platform: Platform, request: pytest.FixtureRequest):
    """The OpenAPI document the running service serves, which is what is tested."""
    yield schemathesis.openapi.from_url(f"{platform['enrollment'].url}/openapi.json")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n[schemathesis] {RAN['cases']} generated cases over {len(RAN['operations'])} operations, "
                                f"under {len(ROLES)} roles in turn")


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_generated_request_gets_a_server_error_or_a_reply_outside_the_schema(served_schema, method, path) -> None:
    operation = served_schema[path][method]
    RAN["operations"].add((method, path))
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case) -> None:
            RAN["cases"] += 1
            case.call_and_validate(headers=TOKENS[RAN["cases"] % len(TOKENS)], checks=CHECKS, timeout=60)

        exercise()
