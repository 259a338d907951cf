"""Settings every service shares (broker, database, HTTP); read from the environment, never from code."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Local state for development runs (`make run`, tests): the local token issuer's keys and its JWKS.
LOCAL_AUTH_DIR = Path(__file__).resolve().parents[1] / ".local" / "auth"


class CommonSettings(BaseSettings):
    """Environment variables read by every service. Service settings subclass this."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap address(es).")
    kafka_sasl_username: str | None = Field(
        None, description="SCRAM-SHA-512 user (on Kubernetes: the service's KafkaUser). Unset: no SASL."
    )
    kafka_sasl_password: str | None = Field(None, description="Password of kafka_sasl_username (from a Secret).")
    kafka_ssl_cafile: str | None = Field(
        None, description="CA bundle that signs the brokers' certificates; set: connect over TLS."
    )
    database_url: str = Field(
        "postgresql://beilei:beilei@127.0.0.1:5432/beilei",
        description="PostgreSQL URL; each service keeps its tables in its own schema of it.",
    )
    database_schema: str | None = Field(None, description="Schema override (default: the service name).")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Largest HTTP request body any route "
                                     "reads; a larger one is refused (413) before it is parsed.")
    http_rate_per_second: float = Field(
        100.0, ge=0, description="Requests a second each caller (token subject, else client address) may make to "
        "one process once its burst is spent; past it, 429 with Retry-After. 0: no limit. Health and metrics are "
        "never limited.")
    http_rate_burst: int = Field(300, ge=1, description="Requests a caller may make at once before the "
                                 "per-second rate applies.")
    log_level: str = "INFO"
    migrate_on_start: bool = Field(True, description="Run this service's migrations at startup.")
    create_topics: bool = Field(True, description="Create missing topics at startup (local runs).")
    consumer_max_records: int = Field(500, description="Records per consumed batch (one transaction).")
    consumer_fetch_min_bytes: int = Field(
        4 * 1024, ge=1, description="Kafka answers a fetch once this many bytes wait (or the wait below passed). "
        "Larger: bigger batches, less CPU per event, each event later by up to the wait.")
    consumer_fetch_max_wait_ms: int = Field(
        100, ge=0, description="Longest a fetch waits for consumer_fetch_min_bytes. A consumer nobody waits on "
        "(billing, audit) takes longer, fuller batches; one a parent waits on (notification) stays short.")
    gc_threshold: tuple[int, int, int] = Field(
        (20_000, 20, 20), description="The cycle collector's thresholds once the service has started (net "
        "allocations before a young collection, then young and middle collections before the next generation's; "
        "Python's default is 700, 10, 10). The heap left after start-up is frozen and never walked "
        "(shared/messaging/heap.py).")
    relay_batch_size: int = Field(1000, description="Outbox rows published per relay round.")
    relay_poll_seconds: float = Field(0.2, description="Relay poll interval when not woken directly.")
    auth_jwks: str = Field(
        str(LOCAL_AUTH_DIR / "jwks.json"),
        description="The token issuer's public keys (JWKS): inline JSON, a file (e.g. a mounted ConfigMap) or "
        "the identity provider's https jwks_uri; files and URLs are read again when a token names an unknown "
        "key (rotation). Verification keys only: no service can mint a token. The default is the local "
        "development issuer's (shared.issuer).",
    )
    auth_issuer: str = Field("beilei", description="The `iss` every token must carry.")
    auth_audience: str = Field("beilei-api", description="The `aud` every token must carry.")
    contact_sealing_key: str = Field(
        "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW9ubHktMzJieXQ=",
        description="Fernet key sealing guardians' phone numbers and push tokens (R22 privacy). "
        "The default is for local runs only; deployments set their own from a Secret.",
    )
