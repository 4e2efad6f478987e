"""Runtime configuration, read from ``FLOWRUNS_*`` environment variables.

Nothing here runs at import: callers ask ``get_settings()``, which builds the
object once per process, so tests can change the environment and clear the cache.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "FLOWRUNS_"

# The embedded default lives in a git-ignored folder of the working directory.
DEFAULT_SQLITE_PATH = Path("var") / "flowruns.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset: the embedded SQLite file var/flowruns.db.",
    )
    read_database_url: str | None = Field(
        default=None,
        description="URL of a read replica for read-only queries. Unset: the primary.",
    )
    stuck_run_timeout_minutes: int = Field(default=120, ge=1)
    delete_batch_size: int = Field(default=5000, ge=1, le=100_000)
    read_only: bool = Field(default=False, description="Dashboard hides destructive controls.")
    demo_runs: int = Field(default=50_000, ge=0, description="Demo runs seeded on first start.")
    cache_ttl_seconds: int = Field(default=30, ge=0)
    cors_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to call the REST API.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=1 << 30,
        description="REST API: larger request bodies are refused with a 413.",
    )
    public_url: str | None = Field(
        default=None,
        description="REST API: the address clients reach it at (scheme, host, optional path "
        "prefix); paging links are built from it instead of the request's Host header.",
    )
    dry_runs_per_hour: int = Field(
        default=60,
        ge=1,
        le=100_000,
        description="REST API: audited dry runs a regular user may make per rolling hour.",
    )
    # The same bounds as a policy stored on the Retention page (data.retention_store).
    retention_max_age_days: int | None = Field(default=None, ge=1, le=36_500)
    retention_max_runs_per_flow: int | None = Field(default=None, ge=1, le=2**31 - 1)
    retention_failure_max_age_days: int | None = Field(default=None, ge=1, le=36_500)
    dashboard_auth: Literal["none", "local"] = Field(
        default="none",
        description="Dashboard sign-in: none, or local (accounts of the user table).",
    )
    trust_proxy_auth: bool = Field(
        default=False,
        description="An authenticating proxy guards the dashboard: it may listen beyond"
        " localhost without its own sign-in (docs/access.md).",
    )
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_client: int = Field(default=20, ge=1, le=100_000)
    login_window_minutes: int = Field(default=15, ge=1, le=1440)
    recorder_timeout_seconds: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="Longest the recorder delays the recorded work; slower writes finish later.",
    )
    recorder_retry_seconds: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How long a delayed record is retried in the background before it is dropped.",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """An absolute http(s) address without query or fragment (links are built on it)."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if any(char.isspace() or ord(char) < 32 for char in value):
            raise ValueError("must not contain spaces or control characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL, e.g. https://flowruns.example.com")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or a fragment")
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"

    @property
    def resolved_read_database_url(self) -> str:
        return self.read_database_url or self.resolved_database_url

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def uses_embedded_default(self) -> bool:
        return not self.database_url


class SettingsError(ValueError):
    """A ``FLOWRUNS_*`` value (or the database URL) is invalid; the message names it."""


def describe_settings_error(exc: ValidationError) -> str:
    """``FLOWRUNS_READ_ONLY: Input should be a valid boolean (got 'maybe')``, one per problem."""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "settings"
        message = f"{ENV_PREFIX}{field.upper()}: {error['msg']}"
        if field not in ("database_url", "read_database_url"):  # may hold a password
            message += f" (got {str(error.get('input'))[:40]!r})"
        parts.append(message)
    return "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings; ``SettingsError`` naming the variable when one is invalid."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None
