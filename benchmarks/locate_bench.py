"""How fast gridflow locates points in memory, against a bare shapely STRtree on the same polygons.

Run:  python benchmarks/locate_bench.py [--points 1000000] [--single 20000] [--repeat 5]

Every figure is the best of --repeat runs (the machine is shared, so the best run is the least disturbed),
measured in this one process so the ratios compare like with like. Results go into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import shapely
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from geo.hierarchy import build_areas
from geo.index import AreaIndex
from geo.schemas import AreaSpec, Level

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points per bulk run")
    parser.add_argument("--single", type=int, default=20_000, help="points located one at a time")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2102)
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

    console.print(
        f"python {platform.python_version()}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), numpy {np.__version__}, {os.cpu_count()} CPUs; "
        f"{len(grids):,} grid cells searched; "
        f"best of {args.repeat} (one-at-a-time: best of {max(1, args.repeat // 2)})"
    )
    console.print(f"hierarchy build (all levels, whole city): {build_s:.2f} s; index build: {index_s:.2f} s")
    table = Table("points", "method", "points/s", "vs bare STRtree")
    for name, bulk, single, bare, bare_query in rows:
        table.add_row(name, "AreaIndex.locate_many (bulk)", f"{bulk:,.0f}", f"{bulk / bare:.2f}")
        table.add_row("", "AreaIndex.locate (one at a time)", f"{single:,.0f}", f"{single / bare:.3f}")
        table.add_row("", "bare STRtree: points + query(covered_by)", f"{bare:,.0f}", "1.00 (baseline)")
        table.add_row("", "bare STRtree: query(covered_by) on prebuilt points", f"{bare_query:,.0f}", "")
    table.add_row("PostGIS", "geo.locate_db (batched ST_Covers)", "not measured here", "see RESULTS.md")
    console.print(table)
    console.print(
        f"index memory: estimate {index.memory_bytes() / 2**20:.1f} MiB (AreaIndex.memory_bytes), "
        f"resident growth while building and warming it {index_rss / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
