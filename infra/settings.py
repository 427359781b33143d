"""The one settings object of gridflow, read once from the environment (prefix GRIDFLOW_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDFLOW_", extra="ignore")

    state_dir: Path = Field(default=PROJECT_ROOT / ".state", description="services' data, logs and jars")

    # Kafka, one KRaft node on loopback; ports chosen not to clash with a system Kafka (9092/9093).
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "-Xms256m -Xmx1g"
    topic_prefix: str = Field(default="", description="prepended to every topic; tests use a unique one")
    topic_partitions: int = Field(default=4, ge=1, description="partitions per topic: the unit of scale-out")

    # PostgreSQL + PostGIS, a cluster of the project's own; not 5432.
    pg_host: str = "127.0.0.1"
    pg_port: int = 15432
    pg_user: str = "gridflow"
    pg_database: str = "gridflow"

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    city_code: str = "210200000000"
    worker_id: str = "gridflow-router"

    # Report photos (api/attachments): room on disk for all of them; how long an unfinished upload is kept.
    attachments_quota_bytes: int = Field(default=20 * 1024**3, ge=0, description="stored + partial photos")
    attachments_partial_max_age_s: float = Field(default=24 * 3600, gt=0, description="then it is swept")

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    def database_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL; psycopg 3 serves both the sync and the asyncio engine."""
        db = database or self.pg_database
        return f"postgresql+psycopg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{db}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
