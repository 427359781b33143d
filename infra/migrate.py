"""Schema migrations (Alembic), run programmatically so no alembic.ini is needed at the repo root."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from infra.services.postgres_access import ensure_database
from infra.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings, database: str | None = None) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    # Handed over as an attribute, not a main option: the URL holds the password, and ConfigParser would
    # take each % of a quoted password for an interpolation.
    config.attributes["url"] = settings.database_url(database)
    return config


def upgrade(settings: Settings, database: str | None = None) -> None:
    """Create the database with PostGIS if missing (as the superuser), then migrate it as the app's role."""
    ensure_database(settings, database or settings.pg_database)
    command.upgrade(alembic_config(settings, database), "head")
