"""Request signing of the providers' documented HTTP APIs: Aliyun RPC (HMAC-SHA1, signature
version 1.0) and Tencent Cloud API 3.0 (TC3-HMAC-SHA256). Pure functions; no I/O."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun specifies it: UTF-8, unreserved characters kept, space as %20."""
    return quote(value.encode("utf-8"), safe="~")


def aliyun_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method.upper()}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


def aliyun_signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    """Signature of an RPC-style request: every parameter except Signature itself takes part."""
    string_to_sign = aliyun_string_to_sign(method, {k: v for k, v in params.items() if k != "Signature"})
    digest = hmac.new(f"{access_key_secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tc3_authorization(*, secret_id: str, secret_key: str, service: str, host: str, action: str, payload: bytes,
                      timestamp: int, content_type: str = "application/json; charset=utf-8") -> str:
    """The Authorization header of a Tencent Cloud API 3.0 POST request (signed headers: content-type,
    host, x-tc-action)."""
    signed_headers = "content-type;host;x-tc-action"
    canonical_headers = f"content-type:{content_type}\nhost:{host}\nx-tc-action:{action.lower()}\n"
    canonical_request = "\n".join(
        ["POST", "/", "", canonical_headers, signed_headers, hashlib.sha256(payload).hexdigest()])
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac256(_hmac256(_hmac256(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
