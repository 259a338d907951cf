"""The local issuer as `make run` starts it, a process of its own: a school system gets its token by OAuth2
client credentials (RFC 6749 §4.4) and a service that knows only the issuer's JWKS URL accepts it, scoped
to that school (R27), also after a key rotation; a token of any other issuer gets 401."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from local.infra import REPO, free_port
from services.attendance.app import build
from services.attendance.settings import Settings
from shared.issuer import Issuer, new_signing_key, register_client

pytestmark = pytest.mark.integration


def issuer_cli(state: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shared.issuer", "--state", str(state), *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    proc = issuer_cli(tmp_path, "serve", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "the issuer exited"
        assert time.monotonic() < deadline, "the issuer did not answer"
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url, tmp_path
    proc.terminate()
    proc.wait(10)


async def test_a_service_knowing_only_the_issuers_jwks_url_accepts_what_its_token_endpoint_grants(
        issuer) -> None:
    url, state = issuer
    client_id, secret = register_client("sch-tok-a", state / "clients.json")
    app, rt = build(Settings(auth_jwks=f"{url}/.well-known/jwks.json"))
    rt.authority._source.refresh_seconds = 0  # look a new kid up at once (a minute at most in service)
    records = {"records": []}

    async def token(idp: httpx.AsyncClient) -> dict[str, str]:
        reply = await idp.post(f"{url}/oauth/token", auth=(client_id, secret),
                               data={"grant_type": "client_credentials"})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    async with httpx.AsyncClient() as idp, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://attendance") as service:
        first = await token(idp)
        # Verified, and scoped: school A's system is refused school B (403, not 401).
        other = await service.post("/v1/schools/sch-tok-b/records", json=records, headers=first)
        assert (other.status_code, other.json()["detail"]) == (
            403, "this school system is authorised for school sch-tok-a, not sch-tok-b")

        assert issuer_cli(state, "rotate").wait(30) == 0
        second = await token(idp)
        kids = {jwt.get_unverified_header(h["Authorization"][7:])["kid"] for h in (first, second)}
        assert len(kids) == 2, "the rotated issuer signs with a new key"
        for headers in (first, second):
            reply = await service.post("/v1/schools/sch-tok-b/records", json=records, headers=headers)
            assert reply.status_code == 403, reply.text

        stranger = Issuer([new_signing_key()]).mint(client_id, "school_system", school_id="sch-tok-b")
        refused = await service.post("/v1/schools/sch-tok-b/records", json=records,
                                     headers={"Authorization": f"Bearer {stranger}"})
        assert (refused.status_code, refused.json()["detail"]) == (401, "token signed by an unknown key")
    await rt.db.dispose()
