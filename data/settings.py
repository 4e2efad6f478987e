"""Runtime configuration, read from ``FLOWRUNS_*`` environment variables.

Nothing here runs at import: callers ask ``get_settings()``, which builds the
object once per process, so tests can change the environment and clear the cache.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The embedded default lives in a git-ignored folder of the working directory.
DEFAULT_SQLITE_PATH = Path("var") / "flowruns.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWRUNS_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset: the embedded SQLite file var/flowruns.db.",
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
    retention_max_age_days: int | None = Field(default=None, ge=1)
    retention_max_runs_per_flow: int | None = Field(default=None, ge=1)
    retention_failure_max_age_days: int | None = Field(default=None, ge=1)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{DEFAULT_SQLITE_PATH.as_posix()}"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def uses_embedded_default(self) -> bool:
        return not self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
