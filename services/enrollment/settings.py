"""Enrollment's settings: the common ones plus what only enrollment reads, and the typed context the
composition root builds from them for the routes."""
from dataclasses import dataclass

from pydantic import Field

from shared.privacy import Sealer
from shared.settings import CommonSettings


class Settings(CommonSettings):
    http_port: int = 8001
    default_off_work_local: str = Field(
        "17:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Local normal off-work time (R8) for districts whose records do not set their own.")
    import_chunk_rows: int = Field(10_000, ge=100, description="Rows per transaction in a reference-data import.")
    import_max_bytes: int = Field(64 * 1024 * 1024, description="Largest import accepted over HTTP; larger files "
                                  "go through `python -m services.enrollment.importer`.")


@dataclass(frozen=True)
class Context:
    """What enrollment's routes hand its handlers besides a unit of work (Runtime.context)."""

    sealer: Sealer  # seals guardians' and staff's phone numbers (R22)
    digest_key: bytes  # keys the row digests of imports, so none can be recomputed without it
