"""A service's routes read its typed context from the runtime; a context of another type is refused
loudly rather than read by attribute names that happen to match."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from shared.messaging.runtime import build_runtime, context_of
from shared.settings import CommonSettings


@dataclass(frozen=True)
class Mine:
    limit: int


@dataclass(frozen=True)
class Theirs:
    limit: int


def _request(context: object) -> SimpleNamespace:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(context=context))))


def test_a_route_gets_the_context_its_service_put_in_the_runtime() -> None:
    assert context_of(_request(Mine(3)), Mine) == Mine(3)  # type: ignore[arg-type]


def test_a_worker_or_middleware_gets_it_from_the_runtime_itself() -> None:
    rt = build_runtime("kit_context", CommonSettings())
    rt.context = Mine(4)
    assert context_of(rt, Mine) == Mine(4)


@pytest.mark.parametrize("context", [Theirs(3), None])
def test_another_context_or_none_is_refused(context: object) -> None:
    with pytest.raises(TypeError, match="not Mine"):
        context_of(_request(context), Mine)  # type: ignore[arg-type]
