"""Schema migrations (Alembic), run programmatically so no alembic.ini is needed at the repo root."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from infra.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings, database: str | None = None) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.database_url(database))
    return config


def upgrade(settings: Settings, database: str | None = None) -> None:
    command.upgrade(alembic_config(settings, database), "head")
