"""Token verification (R27): services verify tokens of one issuer with its public keys only; a token is
refused for any other algorithm, an unknown key, a wrong issuer or audience, expiry or tampering; keys
rotate through the JWKS without a restart, and a retired key's tokens are refused."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI

from shared.auth import AuthError, JwksSource, Principal, TokenVerifier, current_principal, require
from shared.issuer import Issuer, dev_issuer, new_signing_key, retire, rotate

ISSUER = Issuer([new_signing_key()])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims(**override: object) -> dict:
    now = int(time.time())
    return {"iss": "beilei", "aud": "beilei-api", "sub": "off-1", "role": "city", "iat": now, "exp": now + 600,
            **override}


def refused(token: str, verifier: TokenVerifier | None = None) -> str:
    with pytest.raises(AuthError) as caught:
        (verifier or TokenVerifier(ISSUER.jwks())).verify(token)
    return str(caught.value)


def test_an_issued_token_verifies_to_its_subject_role_and_scope() -> None:
    token = ISSUER.mint("sys-1", "school_system", school_id="sch-1", district_id="dst-1")
    assert TokenVerifier(ISSUER.jwks()).verify(token) == Principal("sys-1", "school_system", "sch-1", "dst-1")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": ISSUER.keys[0]["kid"], "typ": "JWT"}


def test_an_unsigned_token_is_refused() -> None:
    token = _segments({"alg": "none", "kid": ISSUER.keys[0]["kid"]}, _claims()) + "."
    assert refused(token) == "unsupported token algorithm"


def test_an_hs256_token_keyed_with_the_published_public_key_is_refused() -> None:
    # The classic confusion: a verifier that lets the header pick the algorithm checks an HMAC with the
    # public key, which anyone can compute.
    public = ISSUER.jwks()["keys"][0]
    for secret in (public["x"].encode(), base64.urlsafe_b64decode(public["x"] + "="), json.dumps(public).encode()):
        signing_input = _segments({"alg": "HS256", "typ": "JWT", "kid": public["kid"]}, _claims())
        mac = _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        assert refused(f"{signing_input}.{mac}") == "unsupported token algorithm"


def test_a_token_of_another_asymmetric_algorithm_is_refused() -> None:
    token = jwt.encode(_claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                       headers={"kid": ISSUER.keys[0]["kid"]})
    assert refused(token) == "unsupported token algorithm"


def test_a_token_signed_by_a_key_the_jwks_does_not_hold_is_refused() -> None:
    stranger = Issuer([new_signing_key()])
    assert refused(stranger.mint("off-1", "city")) == "token signed by an unknown key"
    # Naming our kid does not help a stranger: the signature is checked with our key.
    forged = stranger.mint("off-1", "city").split(".")
    header = _b64(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": ISSUER.keys[0]["kid"]}).encode())
    signature = jwt.PyJWK(stranger.keys[0]).key.sign(f"{header}.{forged[1]}".encode())
    assert refused(f"{header}.{forged[1]}.{_b64(signature)}") == "bad token signature"


def test_a_token_without_a_kid_is_refused() -> None:
    token = jwt.encode(_claims(), jwt.PyJWK(ISSUER.keys[0]).key, algorithm="EdDSA")
    assert refused(token) == "token names no signing key (kid)"


def test_an_expired_token_is_refused_past_a_small_leeway() -> None:
    hour_ago = time.time() - 3600
    assert refused(ISSUER.mint("off-1", "city", ttl_seconds=600, now=hour_ago)) == "token expired"
    just_expired = ISSUER.mint("off-1", "city", ttl_seconds=600, now=time.time() - 610)
    assert TokenVerifier(ISSUER.jwks()).verify(just_expired).role == "city"


def test_a_token_verified_once_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    # Verified tokens are remembered (one Ed25519 check per token, not per request) only until they expire.
    verifier = TokenVerifier(ISSUER.jwks(), leeway=0)
    issued = time.time()
    token = ISSUER.mint("sys-1", "school_system", school_id="sch-1", ttl_seconds=60, now=issued)
    assert verifier.verify(token).school_id == "sch-1"
    assert verifier.verify(token).school_id == "sch-1"  # from memory
    later = issued + 61
    monkeypatch.setattr(time, "time", lambda: later)  # PyJWT and the memory read the same clock
    assert refused(token, verifier) == "token expired"


def test_a_token_of_another_issuer_or_audience_is_refused() -> None:
    other_iss = Issuer(ISSUER.keys, issuer="https://idp.example")
    other_aud = Issuer(ISSUER.keys, audience="another-api")
    assert refused(other_iss.mint("off-1", "city")) == "token not issued by beilei"
    assert refused(other_aud.mint("off-1", "city")) == "token not meant for beilei-api"


def test_a_tampered_token_is_refused() -> None:
    head, body, sig = ISSUER.mint("gdn-1", "guardian").split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raised = _b64(json.dumps({**claims, "role": "city"}).encode())
    assert refused(f"{head}.{raised}.{sig}") == "bad token signature"
    assert refused("not-a-token") == "malformed token"


def test_a_token_without_a_known_role_is_refused() -> None:
    key = jwt.PyJWK(ISSUER.keys[0]).key
    token = jwt.encode(_claims(role="mayor"), key, algorithm="EdDSA", headers={"kid": ISSUER.keys[0]["kid"]})
    assert refused(token) == "token has no valid subject and role"


def test_a_service_refuses_a_jwks_holding_a_private_key() -> None:
    with pytest.raises(ValueError, match="private key"):
        TokenVerifier({"keys": ISSUER.keys})


def test_the_providers_other_keys_are_ignored_and_only_eddsa_signing_keys_are_trusted() -> None:
    rsa = {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": "sXch", "e": "AQAB"}
    odd = {"kty": "OKP", "crv": "X448", "kid": "x448", "x": "AAAA"}
    encryption = {**ISSUER.jwks()["keys"][0], "kid": "enc-1", "use": "enc"}
    verifier = TokenVerifier({"keys": [rsa, odd, encryption, *ISSUER.jwks()["keys"]]})
    assert verifier.kids == (ISSUER.keys[0]["kid"],)
    with pytest.raises(ValueError, match="no EdDSA signing key"):
        TokenVerifier({"keys": [rsa, encryption]})


async def test_routes_answer_401_with_the_reason_and_403_for_a_role_they_do_not_serve() -> None:
    app = FastAPI()

    @app.get("/city")
    async def city_only(principal: Principal = Depends(require("city"))) -> dict:
        return {"sub": principal.subject}

    @app.get("/anyone")
    async def anyone(principal: Principal = Depends(current_principal)) -> dict:
        return {"role": principal.role}

    app.state.runtime = type("Runtime", (), {"authority": TokenVerifier(ISSUER.jwks())})()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        bearer = {"Authorization": f"Bearer {ISSUER.mint('gdn-1', 'guardian')}"}
        assert (await client.get("/anyone", headers=bearer)).json() == {"role": "guardian"}
        assert (await client.get("/city", headers=bearer)).status_code == 403
        missing = await client.get("/anyone")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        stranger = {"Authorization": f"Bearer {Issuer([new_signing_key()]).mint('off-1', 'city')}"}
        unknown = await client.get("/city", headers=stranger)
        assert (unknown.status_code, unknown.json()["detail"]) == (401, "token signed by an unknown key")


# -- rotation ----------------------------------------------------------------------------------------
def test_a_rotation_accepts_old_and_new_keys_then_refuses_the_retired_one(tmp_path: Path) -> None:
    keys, jwks = tmp_path / "issuer-keys.json", tmp_path / "jwks.json"
    before = dev_issuer(keys, jwks)
    old_token = before.mint("off-1", "city")
    # The services read the JWKS file (a mounted ConfigMap in a cluster) and never a private key.
    verifier = TokenVerifier(JwksSource(str(jwks), refresh_seconds=0, max_age_seconds=3600))
    assert verifier.verify(old_token).subject == "off-1"

    during = rotate(keys, jwks)
    new_token = during.mint("off-2", "city")
    assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    assert {k["kid"] for k in json.loads(jwks.read_text())["keys"]} == {k["kid"] for k in during.keys}
    # The new kid is unknown to the running verifier: it reads the JWKS again and accepts both.
    assert verifier.verify(new_token).subject == "off-2"
    assert verifier.verify(old_token).subject == "off-1"

    retire(keys, jwks)
    # A retired key stays trusted at most max_age_seconds; here the verifier's keys are already that old.
    verifier._source.max_age_seconds = 0
    assert verifier.verify(new_token).subject == "off-2"
    assert refused(old_token, verifier) == "token signed by an unknown key"
    assert len(verifier.kids) == 1 and all("d" not in key for key in json.loads(jwks.read_text())["keys"])


def test_an_unknown_kid_reads_the_jwks_at_most_once_per_refresh_interval(tmp_path: Path) -> None:
    keys, jwks = tmp_path / "issuer-keys.json", tmp_path / "jwks.json"
    dev_issuer(keys, jwks)
    verifier = TokenVerifier(JwksSource(str(jwks), refresh_seconds=3600, max_age_seconds=3600))
    rotated = rotate(keys, jwks)
    # Within the interval the new key is not looked for again: a flood of made-up kids cannot make
    # every request read the JWKS (or call the identity provider).
    assert refused(rotated.mint("off-1", "city"), verifier) == "token signed by an unknown key"


def test_a_jwks_url_is_fetched_again_for_a_new_key(monkeypatch: pytest.MonkeyPatch) -> None:
    published = {"jwks": ISSUER.jwks()}
    fetched: list[str] = []

    def get(url: str, timeout: float) -> httpx.Response:
        fetched.append(url)
        return httpx.Response(200, json=published["jwks"], request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", get)
    url = "https://idp.example/.well-known/jwks.json"
    verifier = TokenVerifier(JwksSource(url, refresh_seconds=0))
    successor = Issuer([new_signing_key(), *ISSUER.keys])
    published["jwks"] = successor.jwks()
    assert verifier.verify(successor.mint("off-1", "city")).subject == "off-1"
    assert fetched == [url, url]
