"""Billing's settings: the common ones plus what only billing reads, and the typed context the
composition root builds for the routes."""
from dataclasses import dataclass

from prometheus_client import Counter
from pydantic import Field

from shared.settings import CommonSettings


class Settings(CommonSettings):
    http_port: int = 8003
    # Nobody waits on this consumer at the evening's rate: fuller fetches, a fraction of the CPU per event
    # (PickupSurge, issue 13). See CommonSettings.consumer_fetch_max_wait_ms.
    consumer_fetch_min_bytes: int = 512 * 1024
    consumer_fetch_max_wait_ms: int = 500
    city_cap_per_session_fen: int | None = Field(
        3000, description="City cap per session until the city sets one over HTTP (R2, R10); none if unset.")
    settlement_chunk_size: int = Field(2000, description="Accounts settled per transaction at month-end.")
    settlement_workers: int = Field(2, ge=1, description="Schools each replica settles at once at month-end.")
    payment_due_days: int = Field(10, description="Days after settlement a statement falls due (R22).")
    settlement_auto: bool = Field(True, description="Settle the previous month of every school on a schedule.")
    settlement_day_of_month: int = Field(1, ge=1, le=28, description="School-local day of the month the schedule runs.")
    settlement_hour_local: int = Field(2, ge=0, le=23, description="School-local hour the schedule runs.")
    public_base_url: str = Field("http://127.0.0.1:8003", description="Where the public reads disclosures (R21).")


@dataclass(frozen=True)
class Context:
    """What billing's routes use besides a unit of work (Runtime.context)."""

    refusals: Counter  # money requests refused (R19, R25), by kind
