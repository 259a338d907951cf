"""The one error body every service answers (shared.messaging.http.Problem), asserted the same way by
each service's tests: `detail` in words (a list of field errors for request validation; attendance's
refusals keep their {"reason_code", "reason"} object there) and `reason`, a stable code a caller can
branch on; nothing but the Problem's documented fields."""
from __future__ import annotations

import re

import httpx

from shared.messaging.http import Problem


def assert_problem(response: httpx.Response, status: int, reason: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"detail", "reason"}, body
    assert set(body) <= set(Problem.model_fields) | {"refusal_id"}, f"fields outside the Problem: {body}"
    assert isinstance(body["detail"], (str, list, dict)) and body["detail"], body
    assert re.fullmatch(r"[a-z][a-z_]*", body["reason"]), body
    if reason is not None:
        assert body["reason"] == reason, body
    return body
