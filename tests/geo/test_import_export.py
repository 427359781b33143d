"""`gridflow geo import` and `gridflow geo export`, run as the operator runs them (a subprocess), against a
database of their own (imports change boundaries, which the live system's tests must not see) and the real
Kafka: what a refused or failed import leaves behind is checked in the database itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
import shapely
from kafka import KafkaConsumer, TopicPartition
from shapely.geometry import mapping
from sqlalchemy import Engine, text

from infra.settings import PROJECT_ROOT, Settings
from tests.fixtures import free_port

DISTRICT, OTHER = "210202000000", "210203000000"


@pytest.fixture(scope="module")
def scratch(services: Settings) -> Iterator[Engine]:
    """A second fresh database loaded with Dalian, for this module's imports only."""
    from geo.hierarchy import dalian_areas
    from infra.db import make_sync_engine
    from infra.loading import load_city
    from infra.migrate import upgrade
    from infra.services.postgres_access import drop_database, ensure_database

    name = f"{services.pg_database}_import"
    ensure_database(services, name)  # as the superuser: the app's role may create no database
    engine = make_sync_engine(services, name)
    try:
        upgrade(services, name)
        load_city(services, dalian_areas(), database=name, quiet=True)
        yield engine
    finally:
        engine.dispose()
        drop_database(services, name)


def gridflow(scratch: Engine, *args: object, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "GRIDFLOW_PG_DATABASE": str(scratch.url.database), "COLUMNS": "200", **env}
    command = [sys.executable, "-m", "gridflow_cli", *map(str, args)]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def state(scratch: Engine, level: str) -> tuple[int, dict[str, tuple[bool, str]]]:
    """(boundaries version, code -> (synthetic, boundary as WKB hex)) for one level."""
    with scratch.connect() as conn:
        version = conn.execute(text("SELECT version FROM geo_versions WHERE kind = 'areas'")).scalar_one()
        rows = conn.execute(
            text("SELECT code, synthetic, ST_AsHEXEWKB(geom) FROM areas WHERE level = :l"), {"l": level}
        )
        return int(version), {code: (synthetic, geom) for code, synthetic, geom in rows}


def changes_end(settings: Settings) -> int:
    topic = settings.topic("areas.changes")
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def districts(scratch: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """中山区 and the other districts as exported before any test imported anything."""
    return exported(scratch, tmp_path_factory.mktemp("districts"), "district")


@pytest.fixture(scope="module")
def townships(scratch: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(scratch, tmp_path_factory.mktemp("townships"), "township")


def exported(scratch: Engine, tmp_path: Path, level: str, fmt: str = "geojson") -> Path:
    out = tmp_path / f"{level}.{fmt}"
    answer = gridflow(scratch, "geo", "export", "--level", level, "--format", fmt, out)
    assert answer.returncode == 0, answer.stderr
    return out


def edited(source: Path, target: Path, change: dict[int, dict[str, object]]) -> Path:
    """A copy of an exported GeoJSON with some features' properties or geometry replaced."""
    collection = json.loads(source.read_text())
    for number, values in change.items():
        collection["features"][number - 1]["properties"].update(
            {k: v for k, v in values.items() if k != "geometry"}
        )
        if "geometry" in values:
            collection["features"][number - 1]["geometry"] = mapping(values["geometry"])
    target.write_text(json.dumps(collection, ensure_ascii=False))
    return target


def importing(
    scratch: Engine, path: Path, level: str, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = ("geo", "import", path, "--level", level, "--code-field", "code", "--name-field", "name")
    return gridflow(scratch, *base, *extra, **env)


@pytest.mark.parametrize("fmt", ["geojson", "shp", "gpkg"])
def test_export_writes_each_format_with_codes_names_and_the_synthetic_flag(
    scratch: Engine, tmp_path: Path, fmt: str
) -> None:
    out = exported(scratch, tmp_path, "township", fmt)
    meta, _fids, geometry, fields = pyogrio.raw.read(str(out))
    names = list(meta["fields"])
    assert meta["crs"] == "EPSG:4326" and len(geometry) == 152
    codes, flags = fields[names.index("code")], fields[names.index("synthetic")]
    synthetic = {code: int(flag) for code, (flag, _) in state(scratch, "township")[1].items()}
    assert dict(zip(codes, flags.tolist(), strict=True)) == synthetic
    assert fields[names.index("mca_name")][list(codes).index("210204009000")] == "南沙街道"


def test_townships_exported_and_imported_again_are_real_and_unchanged(
    scratch: Engine, tmp_path: Path, settings: Settings
) -> None:
    source = exported(scratch, tmp_path, "township", "gpkg")
    version, before = state(scratch, "township")
    events = changes_end(settings)
    answer = importing(scratch, source, "township", "--parent-field", "parent")
    assert answer.returncode == 0, answer.stderr
    after_version, after = state(scratch, "township")
    assert after_version == version + 1
    assert {code: geom for code, (_, geom) in after.items()} == {code: g for code, (_, g) in before.items()}
    assert not any(synthetic for synthetic, _ in after.values())  # imported boundaries are real
    assert changes_end(settings) == events + 1
    assert "overlap" not in answer.stdout and "gap" not in answer.stdout


def test_invalid_ring_is_repaired_and_the_feature_named(
    scratch: Engine, tmp_path: Path, districts: Path
) -> None:
    source = districts
    # A bow tie inside 中山区: invalid (self-intersecting), but make_valid leaves two triangles.
    bow_tie = shapely.Polygon([(121.62, 38.90), (121.64, 38.92), (121.64, 38.90), (121.62, 38.92)])
    bad = edited(source, tmp_path / "bow.geojson", {1: {"geometry": bow_tie}})
    answer = importing(scratch, bad, "district")
    assert answer.returncode == 0, answer.stderr
    assert f"feature 1 (code {DISTRICT}): Self-intersection" in answer.stdout
    assert "gap" in answer.stdout  # 中山区 shrank to two triangles: the city has a gap
    with scratch.connect() as conn:
        valid, parts = conn.execute(
            text("SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM areas WHERE code = :c"),
            {"c": DISTRICT},
        ).one()
    assert valid and parts == 2
    assert importing(scratch, source, "district").returncode == 0  # put 中山区 back


def test_overlap_and_gap_are_reported_in_square_metres_and_strict_refuses(
    scratch: Engine, tmp_path: Path, districts: Path
) -> None:
    source = districts
    grown = shapely.geometry.shape(json.loads(source.read_text())["features"][1]["geometry"]).buffer(0.002)
    bad = edited(source, tmp_path / "grown.geojson", {2: {"geometry": grown}})
    version, before = state(scratch, "district")
    answer = importing(scratch, bad, "district", "--strict")
    assert answer.returncode == 2
    assert f"overlap       │ {DISTRICT} / {OTHER}" in answer.stdout
    assert "m²" in answer.stdout and "nothing imported: --strict" in answer.stderr
    assert state(scratch, "district") == (version, before)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({3: {"code": "210299001000"}}, "(code 210299001000): its district 210299000000 does not exist"),
        ({3: {"code": "2102"}}, "feature 3 (code 2102): area code must have 12 digits"),
        ({3: {"code": "210202001001"}}, "(code 210202001001): a community code, not a township code"),
        ({4: {"name": ""}}, "feature 4 (code"),
        ({5: {"code": "210202005000"}}, "code 210202005000 again"),
    ],
    ids=["parent-missing", "short-code", "wrong-level", "no-name", "duplicate"],
)
def test_refused_import_names_the_feature_and_changes_nothing(
    scratch: Engine, tmp_path: Path, townships: Path, change: dict[int, dict[str, object]], message: str
) -> None:
    source = townships
    before = state(scratch, "township")
    answer = importing(scratch, edited(source, tmp_path / "bad.geojson", change), "township")
    assert answer.returncode == 2
    assert message in answer.stderr.replace("\n", " ")
    assert state(scratch, "township") == before


def test_import_is_rolled_back_when_kafka_does_not_acknowledge(scratch: Engine, townships: Path) -> None:
    source = townships
    version, before = state(scratch, "township")
    # Every row is written before the event is sent; the broker is away, so the transaction rolls back.
    answer = importing(scratch, source, "township", GRIDFLOW_KAFKA_PORT=str(free_port()))
    assert answer.returncode == 1
    assert "nothing was changed" in answer.stderr
    assert state(scratch, "township") == (version, before)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--level", "province"), "--level: unknown level 'province'"),
        (("--level", "district", "--code-field", "nope"), "--code-field: no field 'nope'"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    scratch: Engine, tmp_path: Path, districts: Path, args: tuple[str, ...], message: str
) -> None:
    source = districts
    answer = gridflow(scratch, "geo", "import", source, "--name-field", "name", "--code-field", "code", *args)
    assert answer.returncode == 2 and message in answer.stderr
    missing = gridflow(scratch, "geo", "import", tmp_path / "none.shp", "--level", "district", *args[2:])
    assert missing.returncode == 2


def test_export_refuses_an_unknown_format_or_an_existing_file(
    scratch: Engine, tmp_path: Path, districts: Path
) -> None:
    again = gridflow(scratch, "geo", "export", "--level", "district", districts)
    assert again.returncode == 2 and "exists" in again.stderr
    kml = gridflow(scratch, "geo", "export", "--level", "district", "--format", "kml", tmp_path / "d.kml")
    assert kml.returncode == 2 and "--format" in kml.stderr
