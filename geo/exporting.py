"""Writing one level's boundaries to GeoJSON, Shapefile or GeoPackage (pyogrio), in WGS-84.

The fields are named for the Shapefile's ten-character limit and read back by `gridflow geo import
--code-field code --name-field name --parent-field parent`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from geo.schemas import AreaSpec

FORMATS = {"geojson": "GeoJSON", "shp": "ESRI Shapefile", "gpkg": "GPKG"}


def write_areas(path: Path, specs: Sequence[AreaSpec], fmt: str) -> int:
    """Write the areas that have a boundary; returns how many. `fmt` is one of FORMATS."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    shaped = [spec for spec in specs if spec.geometry is not None]
    if not shaped:
        raise ValueError("no area of that level has a boundary to export")

    def text(values: list[str | None]) -> np.ndarray:
        return np.array(values, dtype=object)

    fields = {
        "code": text([s.code for s in shaped]),
        "name": text([s.name for s in shaped]),
        "parent": text([s.parent_code for s in shaped]),
        "level": text([s.level.value for s in shaped]),
        "kind": text([s.kind for s in shaped]),
        "synthetic": np.array([int(s.synthetic) for s in shaped], dtype=np.int32),
        "mca_code": text([s.mca_code for s in shaped]),
        "mca_name": text([s.mca_name for s in shaped]),
        "population": np.array([np.nan if s.population is None else s.population for s in shaped]),
        "pop_est": np.array([int(s.population_estimated) for s in shaped], dtype=np.int32),
    }
    pyogrio.raw.write(
        str(path),
        geometry=np.array(shapely.to_wkb([s.geometry for s in shaped]), dtype=object),
        field_data=list(fields.values()),
        fields=list(fields),
        driver=FORMATS[fmt],
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
        encoding="UTF-8" if fmt == "shp" else None,
    )
    return len(shaped)
