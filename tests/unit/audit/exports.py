"""Reading and rewriting export lines in tests, in either place an entry's bytes travel: beside the line's
JSON after a tab (export format 2) or base64 in its `entry` (export format 1, and format 2's fallback)."""
from __future__ import annotations

import base64
import json
from typing import Any


def split_line(line: str) -> tuple[dict[str, Any], bytes]:
    """An export line's JSON object and its entry's bytes."""
    meta, tab, raw = line.removesuffix("\n").partition("\t")
    item = json.loads(meta)
    return item, raw.encode() if tab else base64.b64decode(item["entry"])


def join_line(item: dict[str, Any], body: bytes, beside: bool) -> str:
    """The line again, with `body` as its entry: beside the JSON, or base64 inside it."""
    item = {k: v for k, v in item.items() if k != "entry"}
    if beside:
        return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\t" + body.decode()
    return json.dumps({"index": item.get("index"), "entry": base64.b64encode(body).decode(), **item},
                      ensure_ascii=False, separators=(",", ":"))
