"""PostGIS tables of the city's places and rules: the source of truth, which in-memory indexes follow."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

areas = Table(
    "areas",
    metadata,
    Column("code", String(15), primary_key=True),  # 12-digit statistical code; grids add a sequence
    Column("name", Text, nullable=False),
    Column("level", String(10), nullable=False, index=True),
    Column("parent_code", String(15), ForeignKey("areas.code"), index=True),
    Column("kind", Text),
    Column("mca_code", String(12)),  # MCA code, where it differs from the NBS one
    Column("mca_name", Text),  # MCA name, where it differs (南沙河口街道 → 南沙街道)
    Column("population", Integer),
    Column("population_estimated", Boolean, nullable=False, server_default="false"),
    Column("synthetic", Boolean, nullable=False, server_default="false"),
    # spatial_index off: the migration creates the GiST index itself, under a name it controls.
    Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
    Column("version", Integer, nullable=False, server_default="1"),
    # The deepest units with a boundary: the only ones point location searches (geo.locate_rules).
    # Derived from the rows below it; geo.store.refresh_leaves recomputes it after every write of areas.
    Column("leaf", Boolean, nullable=False, server_default="false"),
    CheckConstraint("level IN ('city','district','township','community','grid')", name="areas_level"),
    Index("areas_leaf_geom_gist", "geom", postgresql_using="gist", postgresql_where=text("leaf")),
)

# A coverage table over the leaves: every cell of a fixed lon/lat lattice (geo.locate_db.CELL_DEG) that a
# leaf's box touches. The PostGIS locator hash-joins a batch's points to it, then tests the few leaves found
# exactly; a GiST probe per point costs about twice as much here. geo.store.refresh_leaves rebuilds it.
leaf_cells = Table(
    "leaf_cells",
    metadata,
    Column("cell", BigInteger, nullable=False, index=True),
    Column("code", String(15), ForeignKey("areas.code", ondelete="CASCADE"), nullable=False),
)

categories = Table(
    "categories",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("major_code", String(8), nullable=False),
    Column("major_name", Text, nullable=False),
)

departments = Table(
    "departments",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("level", String(10), nullable=False),
    Column("area_code", String(15), ForeignKey("areas.code"), nullable=False, index=True),
    UniqueConstraint("area_code", "kind", name="departments_area_kind"),
)

duty_rules = Table(
    "duty_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("category_code", String(8), ForeignKey("categories.code"), nullable=False),
    Column("level", String(10), nullable=False),
    Column("department_kind", String(32), nullable=False),
    Column("deadline_hours", Integer, nullable=False),
    # Working hours (Mon–Fri office time, holidays off) unless a rule says natural hours (migration 0006).
    Column("working_hours", Boolean, nullable=False, server_default="true"),
    Column("helper_kinds", JSONB, nullable=False, server_default="[]"),  # 协办 kinds (migration 0006)
    Column("legal_basis", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("category_code", "level", name="duty_rules_category_level"),
    # 工作事项准入: the database refuses a duty without a legal basis or a responsible body, too.
    CheckConstraint("length(btrim(legal_basis)) > 0", name="duty_rules_legal_basis"),
    CheckConstraint("length(btrim(department_kind)) > 0", name="duty_rules_department_kind"),
)

# One counter per kind of edit, bumped in the transaction of the edit (geo.versions). Workers compare it with
# what they hold before every batch, so each of them sees every edit, whichever consumer reads areas.changes.
geo_versions = Table(
    "geo_versions",
    metadata,
    Column("kind", String(16), primary_key=True),  # areas | duty_rules | departments
    Column("version", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text, nullable=False, server_default="migration"),
    Column("note", Text, nullable=False, server_default=""),
    CheckConstraint("kind IN ('areas','duty_rules','departments')", name="geo_versions_kind"),
)
