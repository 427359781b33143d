"""Throughput and latency of the whole system on this machine, from one run (issue 13): intake one report at a
time and in batches, the stream with one and two workers against a naive agent, the replay, and the latency
from POST to visible, with the load generator's own ceiling, all measured in the same run so the ratios hold
on a shared, noisy machine. A script, not a test. Needs the services (`gridflow services up`) and wrk.

    PYTHONPATH=. .venv/bin/python benchmarks/throughput_bench.py      # the full run (5-minute latency)
    PYTHONPATH=. .venv/bin/python benchmarks/throughput_bench.py --duration 30 --reports 5000   # a quick one
    ... --rates 1000,250: the latency phase at each rate, on topics of its own

Everything runs on a scratch database and topics of the run's own (benchmarks/bench_env.py), removed after.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import time

import typer
from rich.console import Console
from rich.table import Table

from benchmarks import bench_env as be  # first: it points the settings at the run's database and topics
from benchmarks import bench_http as bh
from benchmarks import bench_latency as bl
from benchmarks import bench_stream as bs

console = Console(width=140)
PHASES = ("intake", "stream", "replay", "latency")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def intake(table: Table, codes: list[str], seconds: int, api_workers: list[int]) -> None:
    prefix = be.phase_prefix("intake")
    rows: dict[str, float] = {}
    with be.running(be.worker(0, prefix)):  # the whole system: a stream worker digests what arrives
        for workers in api_workers:
            port = 18300 + workers
            with be.running(be.api(port, workers, prefix)):
                url = f"http://127.0.0.1:{port}"
                bh.wait_api(url)
                env = bh.report_env(codes, **be.auth(url))
                name = f"API ×{workers}"
                ceiling = bh.wrk(f"{url}/api/v1/no-such-route", seconds=seconds, connections=32)
                table.add_row(
                    f"load generator: wrk → 404 route, {name}",
                    f"{ceiling.rate:,.0f} req/s",
                    f"p99 {_ms(ceiling.latency_ms.get('99%'))}",
                    f"wrk used {ceiling.wrk_cores:.2f} of its 1 core: its own ceiling "
                    f"≈ {ceiling.rate / max(ceiling.wrk_cores, 1e-3):,.0f} req/s",
                )
                single = bh.wrk(url, script="single.lua", seconds=seconds, connections=32, env=env)
                rows[f"single {workers}"] = single.rate
                table.add_row(
                    f"intake, one report a request, 32 connections, {name}",
                    f"{single.rate:,.0f} reports/s",
                    f"p50 {_ms(single.latency_ms.get('50%'))}, p99 {_ms(single.latency_ms.get('99%'))}",
                    f"{single.rate / ceiling.rate:.2f} × 404 route; wrk {single.wrk_cores:.2f} core; "
                    f"non-2xx {single.non_2xx}, errors {single.errors}",
                )
                paced_env = {**env, "BENCH_DELAY_MS": "32"}  # 32 connections × 1 request / 32 ms
                paced = bh.wrk(url, script="single.lua", seconds=seconds, connections=32, env=paced_env)
                table.add_row(
                    f"intake at a steady ~1,000 reports/s, {name}",
                    f"{paced.rate:,.0f} reports/s",
                    f"p50 {_ms(paced.latency_ms.get('50%'))}, p99 {_ms(paced.latency_ms.get('99%'))}",
                    f"non-2xx {paced.non_2xx}",
                )
                batch = bh.wrk(url, script="batch.lua", seconds=seconds, connections=4, env=env)
                rate = batch.rate * 500
                table.add_row(
                    f"intake, 500 reports a batch, 4 connections, {name}",
                    f"{rate:,.0f} reports/s",
                    f"p99 {_ms(batch.latency_ms.get('99%'))} a batch",
                    f"{rate / single.rate:.1f} × one a request; non-2xx {batch.non_2xx}",
                )
    if len(api_workers) > 1:
        first, last = api_workers[0], api_workers[-1]
        gain = rows[f"single {last}"] / rows[f"single {first}"]
        table.add_row(f"  API ×{last} against ×{first}, one a request", f"{gain:.2f} ×", "", "")


def stream(table: Table, engine: object, codes: list[str], reports: int, naive: int, replay: bool) -> None:
    one = bs.measure_workers(engine, codes, reports, 1, seed=10)  # type: ignore[arg-type]
    two = bs.measure_workers(engine, codes, reports, 2, seed=20)  # type: ignore[arg-type]
    base = bs.measure_naive(codes, naive, seed=30)
    for result in (one, two):
        cpu = ", ".join(f"{k} {v / result.reports * 1e3:.2f} ms" for k, v in result.cpu.items())
        table.add_row(
            f"stream, Kafka → routed report + case, {result.label}",
            f"{result.rate:,.0f} reports/s",
            f"{result.reports:,} in {result.seconds:.1f} s",
            f"{result.rate / base.rate:.1f} × naive; CPU a report: {cpu}",
        )
    table.add_row("  2 workers against 1", f"{two.rate / one.rate:.2f} ×", "", "")
    table.add_row(
        f"stream baseline: {base.label}",
        f"{base.rate:,.0f} reports/s",
        f"{base.reports:,} in {base.seconds:.1f} s",
        "1.0 (baseline)",
    )
    if replay:
        rebuilt = bs.measure_replay(1)
        table.add_row(
            f"{rebuilt.label} (the 1-worker phase's topics)",
            f"{rebuilt.rate:,.0f} reports/s",
            f"{rebuilt.reports:,} in {rebuilt.seconds:.1f} s",
            f"{rebuilt.rate / one.rate:.1f} × 1 worker live",
        )


def latency(
    table: Table, codes: list[str], rate: float, duration: float, api_workers: int, workers: int
) -> None:
    prefix = be.phase_prefix(f"latency{rate:.0f}")  # a run of its own: no backlog from another rate
    port = 18350
    procs = [be.api(port, api_workers, prefix), *(be.worker(i, prefix) for i in range(workers))]
    with be.running(*procs):
        url = f"http://127.0.0.1:{port}"
        bh.wait_api(url)
        auth = be.auth(url)
        asyncio.run(bl.offer(port, auth, codes, 50, 5))  # warm-up: workers join, indexes load
        out = asyncio.run(bl.offer(port, auth, codes, rate, duration))
    p = bl.percentile
    where = f"{out.offered:,} offered at {rate:,.0f}/s for {duration:.0f} s"
    where += f"; API ×{api_workers}, {workers} workers"
    table.add_row(
        "latency: POST answered (from when it was due)",
        f"p99 {_ms(p(out.post_ms, 0.99))}",
        f"p50 {_ms(p(out.post_ms, 0.5))}",
        f"{where}; accepted {out.accepted:,}, refused {out.refused:,} {out.refusals or ''}, "
        f"failed {out.failed:,}, unanswered {out.unsent:,}",
    )
    for label, values in (
        ("POST → routed in the report row (GET, view)", out.routed_ms),
        ("POST → case opened (case row, view aggregates)", out.case_ms),
        (f"POST → GET shows it (1 in {bl.SAMPLE_EVERY})", out.get_ms),
    ):
        table.add_row(
            f"latency: {label}",
            f"p99 {_ms(p(values, 0.99))}",
            f"p50 {_ms(p(values, 0.5))}, p95 {_ms(p(values, 0.95))}, max {_ms(max(values, default=None))}",
            f"{len(values):,} seen"
            + (f"; {out.unfinished:,} not seen within 30 s" if out.unfinished else ""),
        )


def main(
    reports: int = typer.Option(20_000, min=1000, help="reports per stream phase"),
    naive: int = typer.Option(1000, min=100, help="reports through the naive agent"),
    seconds: int = typer.Option(15, min=3, help="each wrk run"),
    duration: float = typer.Option(300.0, min=5, help="the latency phase, at --rate"),
    rates: str = typer.Option("1000", help="offered rates for the latency phase, each for --duration"),
    api_workers: str = typer.Option("1,2", help="API processes to measure intake with"),
    latency_workers: int = typer.Option(2, min=1, help="stream workers during the latency phase"),
    phases: str = typer.Option(",".join(PHASES), help="a subset of " + ",".join(PHASES)),
) -> None:
    wanted = set(phases.split(","))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    console.print(
        f"gridflow {commit} (+ working tree), python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"{_load()} at start; run {be.RUN_ID}"
    )
    table = Table(title="gridflow throughput (issue 13)", show_lines=False)
    for name in ("what", "figure", "detail", "against"):
        table.add_column(name)
    started = time.monotonic()
    with be.scratch_system() as engine:
        codes = be.categories(engine)
        if "intake" in wanted:
            intake(table, codes, seconds, [int(w) for w in api_workers.split(",")])
        if "stream" in wanted:
            stream(table, engine, codes, reports, naive, "replay" in wanted)
        if "latency" in wanted:
            most = max(int(w) for w in api_workers.split(","))
            for rate in (float(r) for r in rates.split(",")):
                latency(table, codes, rate, duration, most, latency_workers)
    console.print(table)
    console.print(f"{_load()} at the end; {time.monotonic() - started:,.0f} s in all")


if __name__ == "__main__":
    typer.run(main)
