"""`gridflow stream replay` and `gridflow stream reroute`: back-test the derived tables and the routing.

Both only read the live database and the topics. Bad input exits with code 2 and names the option; replay
exits 1 when the rebuilt tables differ from the live ones.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import typer
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from infra.edit_cli import console, errors, fail, table
from infra.settings import get_settings

stream_app = typer.Typer(
    help="重放与回测: rebuild the tables from the topics; route past cases by today's rules"
)
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class BarTracker:
    """stream.replay.Tracker on a rich progress bar: one task per phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.update(self.task, total=self.progress.tasks[self.task].completed)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)

    def close(self) -> None:
        self.phase("", 0)  # fixes the last phase's total; the empty line is not shown
        assert self.task is not None
        self.progress.update(self.task, visible=False)


def _shown(value: Any, width: int = 60) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@stream_app.command("replay")
def replay(
    database: str | None = typer.Option(None, help="scratch database; default <pg_database>_replay"),
    keep: bool = typer.Option(False, help="keep the scratch database afterwards, to look into it"),
    examples: int = typer.Option(5, min=0, help="differing rows shown per table"),
) -> None:
    """Rebuild reports and cases from the topics in a scratch database and compare them with the live ones."""
    settings = get_settings()
    name = database or f"{settings.pg_database}_replay"
    if not DATABASE_NAME.fullmatch(name):
        fail(f"--database: {name!r} is no plain database name (lower-case letters, digits, _)")
    if name == settings.pg_database:
        fail(f"--database: {name!r} is the live database; the replay needs a scratch one")
    from stream.replay import run_replay

    # The agents' functions log what they do live ("the first content stands"…), which a replay repeats;
    # what matters here is an event set aside, and the replay's own notes.
    logging.basicConfig(handlers=[RichHandler(console=errors, show_path=False)], format="%(message)s")
    logging.getLogger("gridflow.stream").setLevel(logging.ERROR)
    logging.getLogger("gridflow.stream.replay").setLevel(logging.INFO)
    columns = (TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tracker = BarTracker(progress)
        result = run_replay(settings, name, keep=keep, tracker=tracker, examples=examples)
        tracker.close()
    records = sum(result.records.values())
    reports = result.records.get("receipts", 0)
    console.print(
        f"重放 replayed {records:,} records ({reports:,} reports) in {result.seconds:.1f} s"
        f" — {reports / max(result.seconds, 1e-9):,.0f} reports/s"
        + (f"; kept in database {name}" if keep else "")
    )
    summary = table(
        "表 table", "live", "replay", "缺 missing (live only)", "多 extra (replay only)", "不同 differing"
    )
    for diff in result.diffs:
        counts = (diff.live, diff.replayed, diff.missing, diff.extra, diff.differing)
        style = "" if diff.same else "red"
        summary.add_row(diff.table, *(f"{n:,}" for n in counts), style=style)
    console.print(summary)
    for diff in result.diffs:
        for key in diff.missing_keys:
            console.print(f"[red]missing[/red] {diff.table} {_key(key)}: only in the live table")
        for key in diff.extra_keys:
            console.print(f"[red]extra[/red] {diff.table} {_key(key)}: only in the rebuilt table")
        for key, columns_ in diff.differences.items():
            what = "; ".join(f"{c}: live {_shown(a)} ≠ replay {_shown(b)}" for c, a, b in columns_)
            console.print(f"[red]differs[/red] {diff.table} {_key(key)}: {what}", highlight=False)
    if result.same:
        console.print("[green]✓[/green] 无差异 no differences: the live tables are what the topics say")
        return
    differing = sum(d.missing + d.extra + d.differing for d in result.diffs)
    console.print(f"[red]✗[/red] {differing:,} rows differ from the replay of the topics")
    raise typer.Exit(1)


def _key(key: tuple[Any, ...]) -> str:
    return "/".join(str(part) for part in key)


@stream_app.command("reroute")
def reroute(
    since: str = typer.Option(..., help="from this day (YYYY-MM-DD, city time) or time (ISO 8601)"),
    until: str | None = typer.Option(None, help="to this day, included, or time; default: now"),
) -> None:
    """List the cases decided since a date whose department would differ under today's rules and boundaries.

    Reads only: nothing is changed, no event is sent."""
    from stream.reroute import parse_when, reroute_cases

    try:
        start = parse_when(since, end=False)
    except ValueError as exc:
        fail(f"--since: {exc}")
    try:
        stop = parse_when(until, end=True) if until else None
    except ValueError as exc:
        fail(f"--until: {exc}")
    if stop is not None and stop <= start:
        fail(f"--until: {until} is not after --since {since}")
    found = reroute_cases(get_settings(), start, stop)
    now = found.versions
    console.print(
        f"今日规则 today's rules: boundaries v{now.areas}, duty rules v{now.duty_rules},"
        f" departments v{now.departments}; {found.checked:,} cases decided since {start.isoformat()}"
    )
    if not found.moved:
        console.print("[green]✓[/green] 无变化 no case would go to another department")
        return
    listed = table(
        "案件 case", "报告 report", "类别 category", "区域 area", "部门 department 原 → 今", "规则 rule v"
    )
    for m in found.moved:
        listed.add_row(
            str(m.case_id),
            str(m.report_id),
            found.label(m.category),
            found.label(m.area_then) + ("" if m.area_now == m.area_then else f" → {found.label(m.area_now)}"),
            f"{m.department_then} → {m.department_now}",
            f"{_shown(m.rule_then)} → {_shown(m.rule_now)}",
        )
    console.print(listed)
    console.print(f"{len(found.moved):,} cases would go to another department (nothing was changed)")
