"""Loading Dalian into PostGIS: the area hierarchy with boundaries, departments and the duty list."""

from __future__ import annotations

from collections.abc import Sequence

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from geo import catalog, store
from geo.schemas import AreaSpec
from geo.versions import VERSION_KINDS, bump_version
from infra.db import make_sync_engine
from infra.settings import Settings


def load_city(
    settings: Settings, specs: Sequence[AreaSpec], *, database: str | None = None, quiet: bool = False
) -> dict[str, int]:
    """Upsert areas and replace the catalogue in one transaction; returns the area count per level.

    Every kind's version goes up by one, so running workers reload (they compare versions per batch).
    """
    engine = make_sync_engine(settings, database)
    try:
        with (
            Progress(
                TextColumn("[bold]载入区划 loading areas"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                disable=quiet,
            ) as progress,
            engine.begin() as conn,
        ):
            task = progress.add_task("areas", total=len(specs))
            store.upsert_areas(conn, specs, progress=lambda n: progress.advance(task, n))
            store.replace_catalog(
                conn,
                category_list=catalog.categories(),
                rules=catalog.duty_rules(),
                department_list=store.departments_for(specs),
            )
            for kind in VERSION_KINDS:
                bump_version(conn, kind, actor="gridflow geo load", note=f"{len(specs)} areas loaded")
            return store.area_counts(conn)
    finally:
        engine.dispose()
