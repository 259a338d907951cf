"""Reading JSON and base64 at the pace of a full audit (a million entries, two decodes each): orjson's
parser when it is installed (requirements.lock pins it), with the standard library's answer for whatever
orjson refuses and json accepts (a lone surrogate escape, NaN, an integer past 64 bits), so every document
reads exactly as `json.loads` reads it; base64 by the C routine in strict mode. The ledger package stays
usable with the standard library and `cryptography` alone."""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any

__all__ = ["b64decode", "loads"]

loads: Callable[[str | bytes], Any]  # json.loads's answer; ValueError (json.JSONDecodeError) if not JSON
try:
    import orjson

    def loads(document: str | bytes) -> Any:
        try:
            return orjson.loads(document)
        except orjson.JSONDecodeError:
            return json.loads(document)
except ImportError:  # pragma: no cover - the offline verifier on a bare Python
    loads = json.loads


def b64decode(text: str) -> bytes:
    """Strict base64 (RFC 4648 alphabet, padding where it belongs); binascii.Error (a ValueError) if not."""
    return binascii.a2b_base64(text, strict_mode=True)
