"""The rules for locating a point, in one place. Both locators follow them: `geo.index` in memory (the
worker's path) and `geo.locate_db` in PostGIS (the source of truth and the reference); a parity test on
100,000 points (tests/geo/test_parity.py) holds them to it.

1. Leaves first. Only the deepest units with a boundary (the leaves: grid cells in Dalian) are searched;
   every level above comes from the leaf's parent chain. A point therefore always gets one consistent chain
   (grid, community, township, district, city), never a district from one polygon and a township from
   another that disagree by floating-point noise along a generated boundary.
2. Covered. A point inside a leaf, on its boundary, or within EDGE_TOLERANCE_DEG (1e-8 degrees, about 1 mm)
   of it, in plain lon/lat degrees, is covered by that leaf. The tolerance makes points on a shared edge or
   vertex belong to every leaf that meets there, whatever the rounding of the point-in-polygon test (GEOS
   and PostGIS round differently); without it they could disagree on which side of an edge a point lies.
3. Edge rule. Of several leaves that cover a point, the one with the lowest code wins. Codes nest (a
   parent's code is a prefix of its children's), so the lowest leaf also has the lowest township, district...
   and the rule holds at every level at once.
4. Offshore rule. A point no leaf covers goes to the nearest leaf within the offshore bound (default
   DEFAULT_OFFSHORE_MAX_M, 2,000 m: piers, beaches, a boat by the quay), with method `nearest_offshore` and
   the distance; farther out it is outside the jurisdiction (no location). Leaves whose distances differ by
   at most TIE_TOLERANCE_M (1 mm) are equally near, and the lowest code wins again.
5. Distance. Metres in an equirectangular plane true to scale at the point's own latitude on a sphere of
   EARTH_RADIUS_M: x = lon * cos(lat_point) * M, y = lat * M with M = metres per degree. Both sides compute
   this with the same plane arithmetic (GEOS and PostGIS's ST_Distance after ST_Scale), so they agree to
   rounding. Within the 2 km bound it differs from the great-circle distance by under 0.1 % and from the
   WGS-84 ellipsoid by up to 0.3 % (about 6 m at 2 km): the bound is a policy figure, not a survey.
6. GPS accuracy. With an accuracy radius, the location's `candidates` lists the other leaves within that
   many metres (rule 5), nearest first, so routing can co-assign or ask.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EDGE_TOLERANCE_DEG = 1e-8
DEFAULT_OFFSHORE_MAX_M = 2_000.0
TIE_TOLERANCE_M = 0.001
EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0

Floats = npt.NDArray[np.float64]


def metres_per_degree_lon(lats: Floats) -> Floats:
    """The x scale of rule 5 at each point's latitude."""
    scale: Floats = np.cos(np.radians(lats)) * M_PER_DEG
    return scale


def offshore_prefilter_deg(bound_m: float, lat: float) -> float:
    """A radius in degrees that surely holds every leaf within `bound_m` metres (rule 5) of a point at `lat`:
    a degree of longitude is the shorter one, so dividing by its length over-reaches, never under."""
    return bound_m / max(math.cos(math.radians(lat)) * M_PER_DEG, 1.0) + EDGE_TOLERANCE_DEG
