"""`gridflow geo import` and `gridflow geo export`: a city's official boundaries in and out.

An import is checked in full before anything is written (geo.importing), then written in one transaction
with the version bump and the `areas.changes` event (stream.changes): a refused or failed import changes
nothing. Bad input exits with code 2 and a message that names the feature or option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import shapely
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, func, select

from geo import store
from geo.exporting import FORMATS, write_areas
from geo.importing import Existing, ImportPlan, ImportRefused, plan_import, read_features
from geo.models import areas
from geo.read import read_areas
from geo.schemas import LEVEL_ORDER, Level
from infra.edit_cli import connected, console, default_actor, fail, run_edit, table


def _level(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        fail(f"--level: unknown level {value!r}; expected one of {', '.join(level.value for level in Level)}")


def _existing(conn: Connection, level: Level) -> Existing:
    above = [LEVEL_ORDER[level.depth - 1]] if level.depth else []
    parents = {a.code: a.geometry for a in read_areas(conn, all_geometries=True, levels=above)}
    here = read_areas(conn, all_geometries=True, levels=[level])
    return Existing(parents=parents, siblings={a.code: (a.parent_code, a.geometry) for a in here})


def _synthetic_below(conn: Connection, codes: list[str]) -> int:
    query = select(func.count()).where(areas.c.parent_code.in_(codes), areas.c.synthetic)
    return int(conn.execute(query).scalar() or 0)


def _report(plan: ImportPlan) -> None:
    for line in plan.repaired:
        console.print(f"[yellow]repaired[/yellow] {line}", highlight=False)
    if plan.findings:
        found = table("问题 finding", "代码 codes", "面积 area m²")
        for finding in plan.findings:
            found.add_row(finding.kind, " / ".join(finding.codes), f"{finding.area_m2:,.1f}")
        console.print(found)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def geo_import(
    file: Annotated[Path, typer.Argument(help="GeoJSON, Shapefile (.shp) or GeoPackage, in WGS-84")],
    level: str = typer.Option(..., help="city, district, township, community or grid"),
    code_field: str = typer.Option(..., help="field with the 12-digit statistical code (grid: 13-15 digits)"),
    name_field: str = typer.Option(..., help="field with the official name"),
    parent_field: str | None = typer.Option(
        None, help="field with the parent's code, checked against the code"
    ),
    layer: str | None = typer.Option(None, help="layer to read (GeoPackage); the first by default"),
    strict: bool = typer.Option(
        False, help="refuse the import if any overlap, gap or part beyond the parent"
    ),
    actor: str = typer.Option(default_actor, help="who imports, for the edit log"),
) -> None:
    """Import real boundaries of one level (marked not synthetic), all or nothing."""
    at = _level(level)
    if not file.exists():
        fail(f"{file}: no such file")
    with _progress() as progress, connected() as engine:
        task = progress.add_task("读取 reading", total=None)
        try:
            features = read_features(
                file, code_field=code_field, name_field=name_field, parent_field=parent_field, layer=layer
            )
            progress.update(task, description="检查 checking", total=len(features))
            with engine.connect() as conn:
                existing = _existing(conn, at)
            plan = plan_import(features, at, existing, progress=lambda n: progress.advance(task, n))
        except ImportRefused as exc:
            fail(f"nothing imported: {exc}")
        _report(plan)
        if strict and plan.findings:
            fail(f"nothing imported: --strict and {len(plan.findings)} findings above")
        writing = progress.add_task("写入 writing", total=len(plan.specs))

        moved = [
            spec.code
            for spec in plan.specs
            if not shapely.equals(spec.geometry, existing.siblings.get(spec.code, (None, None))[1])
        ]

        def write(conn: Connection) -> int:
            store.upsert_areas(
                conn, plan.specs, lambda n: progress.advance(writing, n), update=store.IMPORTED_COLUMNS
            )
            return _synthetic_below(conn, moved)

        note = f"imported {len(plan.specs)} {at.value} boundaries from {file.name}"
        synthetic_below, version = run_edit("areas", note, actor, write)
    console.print(f"[green]✓[/green] {note}; boundaries now version {version}; workers follow at once")
    if synthetic_below:
        console.print(
            f"[yellow]note[/yellow] {synthetic_below} synthetic units directly below areas whose boundary "
            "changed were generated inside the old boundaries and keep them: import the level below too"
        )


def geo_export(
    out: Annotated[Path, typer.Argument(help="file to write; must not exist yet")],
    level: str = typer.Option(..., help="city, district, township, community or grid"),
    fmt: str = typer.Option("geojson", "--format", help=f"one of {', '.join(FORMATS)}"),
) -> None:
    """Export one level's boundaries (WGS-84) with code, name, parent and the synthetic flag."""
    at = _level(level)
    if fmt not in FORMATS:
        fail(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.exists():
        fail(f"{out} exists; remove it or choose another name")
    with connected() as engine, engine.connect() as conn:
        specs = read_areas(conn, all_geometries=True, levels=[at])
    try:
        written = write_areas(out, specs, fmt)
    except ValueError as exc:
        fail(str(exc))
    console.print(f"[green]✓[/green] {written} {at.value} boundaries written to {out}")
