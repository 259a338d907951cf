"""The local delivery sink serves every message to guardians (children's names, pickups, payments: R22,
R27): the base and every overlay but dev name real providers, so no deployment serves the sink by
leaving a setting out (issue 15)."""
from __future__ import annotations

from tests.deploy.conftest import K8S, OVERLAYS, Rendered, render


def _providers(objects: list[dict]) -> tuple[str, str]:
    data = Rendered("", objects).named("ConfigMap", "notification-config")["data"]
    return data["SMS_PROVIDER"], data["PUSH_PROVIDER"]


def test_the_base_sends_through_the_real_providers_not_the_sink() -> None:
    assert _providers(render(K8S / "base")) == ("aliyun", "jpush")


def test_only_the_dev_overlay_chooses_the_sink(overlays: dict[str, Rendered]) -> None:
    chosen = {name: _providers(overlays[name].objects) for name in OVERLAYS}
    assert chosen.pop("dev") == ("sink", "sink")
    assert chosen and all("sink" not in providers for providers in chosen.values()), chosen
