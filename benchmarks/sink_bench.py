"""How fast the sink writes routing decisions into PostGIS: batched upserts against one row per transaction.

A script, not a test: it prints figures and the ratio against the one-row baseline measured in the same run
(the machine is shared and noisy; absolute figures drift). Needs the services: `gridflow services up`.

    .venv/bin/python benchmarks/sink_bench.py --rows 20000
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from infra.migrate import upgrade
from infra.services.postgres_access import drop_database, ensure_database
from infra.settings import get_settings
from stream.events import (
    AreaCodes,
    DepartmentRef,
    DutyRuleRef,
    Point,
    ReportRouted,
    ReportSubmitted,
)
from stream.router import case_id_for
from stream.sink import apply_decisions, record_received

console = Console()
CITY = "210200000000"


def decision(i: int, now: datetime) -> ReportRouted:
    point = Point(lon=121.6 + (i % 1000) * 1e-4, lat=38.9 + (i // 1000) * 1e-4, accuracy_m=5)
    report = ReportSubmitted(
        report_id=uuid.uuid4(),
        reporter_id=f"wg{i % 400:04d}",
        category="10101",
        description="井盖缺失",
        location=point,
        location_wgs84=point,
        observed_at=now,
        submitted_at=now,
        content_hash=f"{i:064x}",
    )
    return ReportRouted(
        report=report,
        case_id=case_id_for(report.report_id),
        area=AreaCodes(city=CITY, district="210202000000", township="210202001000", community="210202001001"),
        department=DepartmentRef(code="210202000000:water", name="中山区水务局"),
        duty_rule=DutyRuleRef(
            category_code="10101",
            level="district",
            department_kind="water",
            deadline_hours=24,
            legal_basis="《城市供水条例》",
            version=1,
        ),
        deadline_at=now + timedelta(hours=24),
        routed_at=now,
    )


async def write(url: str, decisions: list[ReportRouted], batch: int, progress: Progress, label: str) -> float:
    engine = create_async_engine(url)
    task = progress.add_task(label, total=len(decisions))
    start = time.perf_counter()
    for offset in range(0, len(decisions), batch):
        chunk = decisions[offset : offset + batch]
        async with engine.begin() as conn:
            await record_received(conn, [d.report for d in chunk], CITY)
        async with engine.begin() as conn:
            await apply_decisions(conn, chunk, CITY)
        progress.advance(task, len(chunk))
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return elapsed


def main(rows: int = typer.Option(20000, min=100), baseline_rows: int = typer.Option(1000, min=50)) -> None:
    settings = get_settings()
    database = f"gridflow_bench_{uuid.uuid4().hex[:6]}"
    ensure_database(settings, database)  # as the superuser: the app's role may create no database
    try:
        upgrade(settings, database)
        url = settings.database_url(database)
        now = datetime.now(UTC)
        results = {}
        with Progress(console=console) as progress:
            for label, count, batch in (
                ("one row per transaction (baseline)", baseline_rows, 1),
                ("batches of 50", rows, 50),
                ("batches of 500 (the sink's)", rows, 500),
            ):
                decisions = [decision(i, now) for i in range(count)]
                elapsed = asyncio.run(write(url, decisions, batch, progress, label))
                results[label] = count / elapsed
    finally:
        drop_database(settings, database)
    baseline = results["one row per transaction (baseline)"]
    table = Table(title="sink: reports received and decided (insert + upsert + audit), rows/s")
    table.add_column("write pattern")
    table.add_column("rows/s", justify="right")
    table.add_column("× baseline", justify="right")
    for label, rate in results.items():
        table.add_row(label, f"{rate:,.0f}", f"{rate / baseline:.1f}")
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
