"""The local token issuer: holds the private signing keys, mints tokens (R27), publishes the JWKS the
services verify with, and answers OAuth2 client-credentials requests from school systems (RFC 6749 §4.4).
No service imports this module: in production the city's identity provider plays its part (docs/security.md).

    python -m shared.issuer mint ROLE SUBJECT [--school S] [--district D] [--ttl SECONDS]
    python -m shared.issuer client SCHOOL_ID        register a school system; prints client_id and secret
    python -m shared.issuer serve [--port 8009]     POST /oauth/token, GET /.well-known/jwks.json
    python -m shared.issuer rotate | retire | keys  add a key / drop all but the newest / print the JWKS path
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jwt.algorithms import OKPAlgorithm

from shared.auth import AUDIENCE, ISSUER, ROLES
from shared.settings import LOCAL_AUTH_DIR

KEYS_FILE = LOCAL_AUTH_DIR / "issuer-keys.json"  # private: never given to a service
JWKS_FILE = LOCAL_AUTH_DIR / "jwks.json"  # public: the services' default AUTH_JWKS
CLIENTS_FILE = LOCAL_AUTH_DIR / "clients.json"  # school systems' client ids, scopes and secret digests
SCHOOL_SYSTEM_TTL = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_signing_key() -> dict[str, Any]:
    """A fresh Ed25519 private JWK whose kid is its RFC 7638 thumbprint."""
    jwk = OKPAlgorithm.to_jwk(Ed25519PrivateKey.generate(), as_dict=True)
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    return {**jwk, "kid": _b64(hashlib.sha256(canonical.encode()).digest()), "alg": "EdDSA", "use": "sig"}


def public_jwk(private: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in private.items() if k != "d"}


class Issuer:
    """Signs with the first (newest) of `keys`; publishes all of them, so tokens signed by a key being
    rotated out stay valid until the key is retired."""

    def __init__(self, keys: list[dict[str, Any]], *, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        if not keys:
            raise ValueError("an issuer needs at least one signing key")
        self.keys, self.issuer, self.audience = keys, issuer, audience
        self._signing = {k["kid"]: jwt.PyJWK(k).key for k in keys}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(k) for k in self.keys]}

    def mint(self, subject: str, role: str, *, school_id: str | None = None, district_id: str | None = None,
             ttl_seconds: int = 12 * 3600, now: float | None = None, kid: str | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        issued = int(now if now is not None else time.time())
        claims = {"iss": self.issuer, "aud": self.audience, "sub": subject, "role": role, "iat": issued,
                  "exp": issued + ttl_seconds}
        if school_id:
            claims["school_id"] = school_id
        if district_id:
            claims["district_id"] = district_id
        kid = kid or self.keys[0]["kid"]
        return jwt.encode(claims, self._signing[kid], algorithm="EdDSA", headers={"kid": kid, "typ": "JWT"})


# -- local key and client files -------------------------------------------------------------------------
def _write_private(path: Path, data: dict[str, Any], *, replace: bool) -> bool:
    """Write `data` as JSON readable by the owner only. Without `replace`, os.link makes creation atomic and
    first-wins, so processes starting together share one key; False when the file already existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    if replace:
        os.replace(temp, path)
        return True
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)


def _publish(issuer: Issuer, jwks_file: Path) -> None:
    temp = jwks_file.with_name(f".{jwks_file.name}.{os.getpid()}")
    temp.write_text(json.dumps(issuer.jwks(), indent=1), encoding="utf-8")
    os.replace(temp, jwks_file)


def dev_issuer(keys_file: Path = KEYS_FILE, jwks_file: Path = JWKS_FILE) -> Issuer:
    """The local development issuer: its key generated once into the local state dir, its JWKS written
    where the services' default AUTH_JWKS looks. Local only: deployments use the city's identity provider."""
    if not keys_file.exists():
        _write_private(keys_file, {"keys": [new_signing_key()]}, replace=False)
    issuer = Issuer(json.loads(keys_file.read_text(encoding="utf-8"))["keys"])
    if not jwks_file.exists() or json.loads(jwks_file.read_text(encoding="utf-8")) != issuer.jwks():
        _publish(issuer, jwks_file)
    return issuer


def rotate(keys_file: Path = KEYS_FILE, jwks_file: Path = JWKS_FILE) -> Issuer:
    """Step 1 of a rotation: a new key signs from now on; the old one stays published so its tokens live out."""
    old = dev_issuer(keys_file, jwks_file)
    _write_private(keys_file, {"keys": [new_signing_key(), old.keys[0]]}, replace=True)
    return dev_issuer(keys_file, jwks_file)


def retire(keys_file: Path = KEYS_FILE, jwks_file: Path = JWKS_FILE) -> Issuer:
    """Step 2, once the old key's tokens have expired: only the newest key stays published."""
    current = dev_issuer(keys_file, jwks_file)
    _write_private(keys_file, {"keys": current.keys[:1]}, replace=True)
    return dev_issuer(keys_file, jwks_file)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def register_client(school_id: str, clients_file: Path = CLIENTS_FILE, client_id: str | None = None) -> tuple[str, str]:
    """A school system's credentials (client id, secret); only the secret's digest is kept."""
    client_id = client_id or f"sys-{school_id}-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    clients = json.loads(clients_file.read_text(encoding="utf-8")) if clients_file.exists() else {}
    clients[client_id] = {"school_id": school_id, "secret_sha256": _digest(secret)}
    _write_private(clients_file, clients, replace=True)
    return client_id, secret


class ClientsFile(Mapping[str, dict[str, str]]):
    """The registered clients, read afresh on each look-up: a client registered while the endpoint runs
    can ask at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _all(self) -> dict[str, dict[str, str]]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def __getitem__(self, client_id: str) -> dict[str, str]:
        return self._all()[client_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


# -- OAuth2 token endpoint -----------------------------------------------------------------------------
def _oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status,
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **headers})


def token_app(issuer: Issuer | Callable[[], Issuer], clients: Mapping[str, dict[str, str]], *,
              base_url: str = "") -> FastAPI:
    """POST /oauth/token (client_credentials → a `school_system` token scoped to the client's school),
    GET /.well-known/jwks.json and the discovery document, as an identity provider publishes them.
    `issuer` may be a function returning the current one, so a rotation shows without a restart."""
    current = issuer if callable(issuer) else (lambda: issuer)
    app = FastAPI(title="Beilei local token issuer", version="1.0.0")

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                form["client_id"], _, form["client_secret"] = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                return _oauth_error(401, "invalid_client", "malformed Basic credentials",
                                    **{"WWW-Authenticate": 'Basic realm="beilei"'})
        if not form.get("grant_type"):
            return _oauth_error(400, "invalid_request", "grant_type is required")
        client = clients.get(form.get("client_id", ""))
        presented = _digest(form.get("client_secret", ""))
        if client is None or not hmac.compare_digest(presented, client["secret_sha256"]):
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret",
                                **{"WWW-Authenticate": 'Basic realm="beilei"'})
        if form["grant_type"] != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only client_credentials is granted here")
        if form.get("scope", "school_system") != "school_system":
            return _oauth_error(400, "invalid_scope", "a school system's only scope is school_system")
        access = current().mint(form["client_id"], "school_system", school_id=client["school_id"],
                             ttl_seconds=SCHOOL_SYSTEM_TTL)
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": SCHOOL_SYSTEM_TTL,
                             "scope": "school_system"}, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return current().jwks()

    @app.get("/.well-known/openid-configuration")
    async def discovery(request: Request) -> dict[str, Any]:
        root = base_url or str(request.base_url).rstrip("/")
        return {"issuer": current().issuer, "token_endpoint": f"{root}/oauth/token",
                "jwks_uri": f"{root}/.well-known/jwks.json", "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "id_token_signing_alg_values_supported": ["EdDSA"]}

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def main(argv: list[str] | None = None) -> None:
    import argparse
    from functools import partial

    parser = argparse.ArgumentParser(prog="python -m shared.issuer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, default=LOCAL_AUTH_DIR, help="where the keys, JWKS and clients are")
    sub = parser.add_subparsers(dest="command", required=True)
    mint = sub.add_parser("mint", help="print a token signed by the local issuer")
    mint.add_argument("role", choices=ROLES)
    mint.add_argument("subject")
    mint.add_argument("--school")
    mint.add_argument("--district")
    mint.add_argument("--ttl", type=int, default=12 * 3600)
    client = sub.add_parser("client", help="register a school system for client credentials")
    client.add_argument("school_id")
    client.add_argument("--client-id")
    serve = sub.add_parser("serve", help="run the token endpoint and JWKS")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8009)
    for name in ("rotate", "retire", "keys"):
        sub.add_parser(name)
    args = parser.parse_args(argv)
    files = {"keys_file": args.state / KEYS_FILE.name, "jwks_file": args.state / JWKS_FILE.name}
    clients = args.state / CLIENTS_FILE.name
    if args.command == "mint":
        print(dev_issuer(**files).mint(args.subject, args.role, school_id=args.school, district_id=args.district,
                                       ttl_seconds=args.ttl))
    elif args.command == "client":
        client_id, secret = register_client(args.school_id, clients, client_id=args.client_id)
        print(f"client_id={client_id}\nclient_secret={secret}")
    elif args.command == "serve":
        import uvicorn

        uvicorn.run(token_app(partial(dev_issuer, **files), ClientsFile(clients),
                              base_url=f"http://{args.host}:{args.port}"),
                    host=args.host, port=args.port, log_level="warning")
    else:
        issuer = {"rotate": rotate, "retire": retire, "keys": dev_issuer}[args.command](**files)
        print(f"{files['jwks_file']} (kids {', '.join(k['kid'] for k in issuer.keys)})")

if __name__ == "__main__":
    main()
