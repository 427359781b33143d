"""How fast gridflow locates points: in memory against a bare shapely STRtree on the same polygons, and in
PostGIS batched (unnest) against one point per query, all in one run.

Run:  python benchmarks/locate_bench.py [--points 1000000] [--single 20000] [--repeat 5]
                                        [--db-points 100000] [--db-batch 10000] [--db-single 2000]

Every figure is the best of --repeat runs (the machine is shared, so the best run is the least disturbed),
measured in this one process so the ratios compare like with like. The PostGIS part needs the services
(`gridflow services up`); it loads Dalian into a scratch database and drops it afterwards (--db-points 0
skips it). Results go into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import uuid
from collections.abc import Callable

import numpy as np
import shapely
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from geo.hierarchy import build_areas
from geo.index import AreaIndex
from geo.locate_db import locate_points
from geo.schemas import AreaSpec, Level
from infra.db import make_sync_engine
from infra.loading import load_city
from infra.migrate import upgrade
from infra.services.postgres_access import drop_database, ensure_database
from infra.settings import get_settings

URBAN_DISTRICTS = ("210202000000", "210203000000", "210204000000", "210211000000")  # 中山 西岗 沙河口 甘井子


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def points_inside(geometry: shapely.Geometry, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    min_x, min_y, max_x, max_y = geometry.bounds
    shapely.prepare(geometry)
    xs, ys = np.empty(0), np.empty(0)
    while len(xs) < count:
        x, y = rng.uniform(min_x, max_x, count * 4), rng.uniform(min_y, max_y, count * 4)
        keep = shapely.contains_xy(geometry, x, y)
        xs, ys = np.concatenate([xs, x[keep]]), np.concatenate([ys, y[keep]])
    return xs[:count], ys[:count]


def best_rate(progress: Progress, label: str, count: int, repeat: int, run: Callable[[], object]) -> float:
    task = progress.add_task(label, total=repeat)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
        progress.advance(task)
    return count / best


def measure(
    progress: Progress,
    name: str,
    xs: np.ndarray,
    ys: np.ndarray,
    index: AreaIndex,
    tree: shapely.STRtree,
    *,
    repeat: int,
    single: int,
) -> tuple[str, float, float, float, float]:
    """points/s of: bulk locate, one-at-a-time locate, bare STRtree (with and without making the points)."""
    n, k = len(xs), min(single, len(xs))
    prebuilt = shapely.points(xs, ys)
    bulk = best_rate(progress, f"{name}: locate_many", n, repeat, lambda: index.locate_many(xs, ys))
    one_by_one = best_rate(
        progress,
        f"{name}: locate one at a time",
        k,
        max(1, repeat // 2),
        lambda: [index.locate(x, y) for x, y in zip(xs[:k].tolist(), ys[:k].tolist(), strict=True)],
    )
    bare = best_rate(
        progress,
        f"{name}: bare STRtree",
        n,
        repeat,
        lambda: tree.query(shapely.points(xs, ys), predicate="covered_by"),
    )
    bare_query = best_rate(
        progress, f"{name}: bare query only", n, repeat, lambda: tree.query(prebuilt, predicate="covered_by")
    )
    return name, bulk, one_by_one, bare, bare_query


def measure_postgis(
    progress: Progress,
    areas: list[AreaSpec],
    samples: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    points: int,
    batch: int,
    single: int,
    repeat: int,
) -> dict[str, tuple[float, float]]:
    """points/s of geo.locate_db batched (`batch` points a query) and one point per query, per sample."""
    settings = get_settings()
    database = f"gridflow_bench_{uuid.uuid4().hex[:6]}"
    ensure_database(settings, database)  # as the superuser: the app's role may create no database
    engine = make_sync_engine(settings, database)
    try:
        upgrade(settings, database)
        load_city(settings, areas, database=database)  # analyzes the areas and their coverage table too
        rates: dict[str, tuple[float, float]] = {}
        for name, (xs, ys) in samples.items():
            pairs = list(zip(xs[:points].tolist(), ys[:points].tolist(), strict=True))

            def batched(pairs: list[tuple[float, float]] = pairs) -> None:
                for offset in range(0, len(pairs), batch):
                    with engine.begin() as conn:
                        locate_points(conn, pairs[offset : offset + batch])

            def one_by_one(pairs: list[tuple[float, float]] = pairs[:single]) -> None:
                with engine.begin() as conn:
                    for pair in pairs:
                        locate_points(conn, [pair])

            rates[name] = (
                best_rate(progress, f"{name}: PostGIS batched", len(pairs), repeat, batched),
                best_rate(
                    progress, f"{name}: PostGIS one per query", min(single, len(pairs)), repeat, one_by_one
                ),
            )
        return rates
    finally:
        engine.dispose()
        drop_database(settings, database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points per bulk run")
    parser.add_argument("--single", type=int, default=20_000, help="points located one at a time")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2102)
    parser.add_argument("--db-points", type=int, default=100_000, help="points per PostGIS run (0: skip)")
    parser.add_argument("--db-batch", type=int, default=10_000, help="points per PostGIS query when batched")
    parser.add_argument("--db-single", type=int, default=2_000, help="points located one per PostGIS query")
    args = parser.parse_args()
    console = Console(width=120)

    started = time.perf_counter()
    areas = build_areas()
    build_s = time.perf_counter() - started
    grids = [a for a in areas if a.level is Level.GRID]
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    index = AreaIndex(areas)
    index_s = time.perf_counter() - started
    by_code: dict[str, AreaSpec] = {a.code: a for a in areas}
    city = areas[0].geometry
    index.locate_many(*points_inside(city, 50_000, args.seed + 1))  # let GEOS build its lazy indexes
    index_rss = rss_bytes() - before

    # The very polygon objects the index holds, so both sides test the same (already prepared) geometries.
    tree = shapely.STRtree([g.geometry for g in grids])
    samples = {
        "whole city (land)": points_inside(city, args.points, args.seed),
        "urban core (4 districts)": points_inside(
            shapely.union_all([by_code[c].geometry for c in URBAN_DISTRICTS]), args.points, args.seed
        ),
    }
    with Progress(console=console, transient=True) as progress:
        rows = [
            measure(progress, name, xs, ys, index, tree, repeat=args.repeat, single=args.single)
            for name, (xs, ys) in samples.items()
        ]
        db_rates = (
            measure_postgis(
                progress,
                areas,
                samples,
                points=args.db_points,
                batch=args.db_batch,
                single=args.db_single,
                repeat=max(1, args.repeat // 2),
            )
            if args.db_points > 0
            else {}
        )

    console.print(
        f"python {platform.python_version()}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), numpy {np.__version__}, {os.cpu_count()} CPUs; "
        f"{len(grids):,} grid cells searched; "
        f"best of {args.repeat} (one-at-a-time: best of {max(1, args.repeat // 2)})"
    )
    console.print(f"hierarchy build (all levels, whole city): {build_s:.2f} s; index build: {index_s:.2f} s")
    table = Table("points", "method", "points/s", "vs bare STRtree", "vs PostGIS one per query")
    for name, bulk, single, bare, bare_query in rows:
        db_batched, db_single = db_rates.get(name, (float("nan"), float("nan")))
        table.add_row(
            name,
            "AreaIndex.locate_many (bulk)",
            f"{bulk:,.0f}",
            f"{bulk / bare:.2f}",
            f"{bulk / db_single:,.0f}",
        )
        table.add_row("", "AreaIndex.locate (one at a time)", f"{single:,.0f}", f"{single / bare:.3f}", "")
        table.add_row("", "bare STRtree: points + query(covered_by)", f"{bare:,.0f}", "1.00 (baseline)", "")
        table.add_row("", "bare STRtree: query(covered_by) on prebuilt points", f"{bare_query:,.0f}", "", "")
        if db_rates:
            table.add_row(
                "",
                f"PostGIS geo.locate_db, {args.db_batch:,} points a query (unnest)",
                f"{db_batched:,.0f}",
                f"{db_batched / bare:.3f}",
                f"{db_batched / db_single:.1f}",
            )
            table.add_row(
                "", "PostGIS geo.locate_db, one point per query", f"{db_single:,.0f}", "", "1.0 (baseline)"
            )
    console.print(table)
    if db_rates:
        console.print(
            f"PostGIS: {args.db_points:,} points batched, {args.db_single:,} one per query, "
            f"best of {max(1, args.repeat // 2)}; with the levels above each leaf"
        )
    console.print(
        f"index memory: estimate {index.memory_bytes() / 2**20:.1f} MiB (AreaIndex.memory_bytes), "
        f"resident growth while building and warming it {index_rss / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
