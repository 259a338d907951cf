"""Every service composes through the kit's hooks: no app.py wraps or replaces the lifespan create_app
built (workers, on_start and on_stop say what runs beside the service), and none starts a task of its own."""
from __future__ import annotations

from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[3] / "services"
APPS = sorted(SERVICES.glob("*/app.py"))


@pytest.mark.parametrize("app", APPS, ids=[p.parent.name for p in APPS])
def test_a_service_leaves_the_lifespan_to_the_kit(app: Path) -> None:
    source = app.read_text(encoding="utf-8")
    for hand_made in ("lifespan_context", "asynccontextmanager", "asyncio.create_task"):
        assert hand_made not in source, f"{app.parent.name}/app.py uses {hand_made}: give create_app a Worker or a hook"


def test_every_service_is_looked_at() -> None:
    assert {p.parent.name for p in APPS} >= {"attendance", "audit", "billing", "enrollment", "notification"}
