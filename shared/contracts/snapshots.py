"""The committed contract files: a JSON Schema snapshot per event version and the AsyncAPI document,
generated from the code (`python -m shared.contracts write`) and compared with it (`check`, run by the
contract tests and CI), refusing a change that would break a published version."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts.asyncapi import asyncapi_document
from shared.contracts.compat import breaking_changes
from shared.contracts.registry import EVENT_TYPES
from shared.contracts.schema import envelope_schema, snapshot_name

SCHEMAS_DIR = Path(__file__).parent / "schemas"
REPO_ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.json"
WRITE_HINT = "run python -m shared.contracts write"


def render(document: dict[str, Any]) -> str:
    """How generated JSON files are written, so that comparing them is comparing text."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and the text it should have, from the current code."""
    files = {SCHEMAS_DIR / snapshot_name(cls): render(envelope_schema(cls)) for cls in EVENT_TYPES.values()}
    files[ASYNCAPI_PATH] = render(asyncapi_document())
    return files


def check() -> tuple[list[str], list[str]]:
    """Compare the committed files with the code: (breaking changes, stale or missing files)."""
    breaking: list[str] = []
    stale: list[str] = []
    for cls in EVENT_TYPES.values():
        path = SCHEMAS_DIR / snapshot_name(cls)
        if path.exists():
            committed = json.loads(path.read_text(encoding="utf-8"))
            breaking += [f"{cls.type_name} v{cls.version} {m}" for m in breaking_changes(committed, envelope_schema(cls))]
    known = {snapshot_name(cls) for cls in EVENT_TYPES.values()}
    for path in sorted(SCHEMAS_DIR.glob("*.json")):
        if path.name not in known:
            breaking.append(
                f"{path.name}: no event class any more; a published version stays readable forever, keep its class"
            )
    for path, text in expected_files().items():
        name = path.relative_to(REPO_ROOT)
        if not path.exists():
            stale.append(f"{name} is missing")
        elif path.read_text(encoding="utf-8") != text:
            stale.append(f"{name} is out of date")
    return breaking, stale


def write(*, allow_breaking: bool = False) -> list[str]:
    """Regenerate the snapshots and the AsyncAPI document. Refuses (returns the breaking changes,
    writes nothing) when a committed schema would change incompatibly: that needs a new version."""
    breaking, _ = check()
    if breaking and not allow_breaking:
        return breaking
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    expected = expected_files()
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    if allow_breaking:
        for path in SCHEMAS_DIR.glob("*.json"):
            if path not in expected:
                path.unlink()
    return []
