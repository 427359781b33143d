"""Alembic environment: the URL comes from gridflow's settings (or the caller's config), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import stream.tables  # noqa: F401  (registers the report tables on the shared metadata)
from geo.models import metadata
from infra.settings import get_settings

config = context.config
url = (
    config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or get_settings().database_url()
)


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS owns these; autogenerate must not try to drop them.
    return not (type_ == "table" and name in {"spatial_ref_sys"})


with create_engine(url).connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()
