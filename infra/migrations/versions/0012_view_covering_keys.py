"""view covering keys: the view's sums read from the primary keys alone

The four-level view sums `n` over a range of each key (an area's days, an area's report counts). Its rows
were inserted day by day, so each one found through the key lay on a heap page of its own: a district view
at 50,000 cases read some 5,700 heap pages for 5,800 rows of `view_daily_total`. With `n` carried in the
key (`INCLUDE (n)`) the same read is an index-only scan of about a hundred pages.

The price: an update of `n` can no longer be a HOT update (a column of the index changed). The counts' heap
pages are full (fillfactor 100), so such updates were rarely HOT before: each one wrote a key entry already.

`view_daily` (per category and department too, only read for a filtered view) keeps its key as it was: it
is the largest table of the database, and the covering key would double its rebuild time for the filtered
reads alone.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# table → its key columns; the key keeps its name.
KEYS = {
    "view_daily_total": "area_code, day, measure",
    "view_reports": "area_code, status, category, department_code",
    "view_current": "area_code, state, category, department_code",
}


def _rekey(include: str) -> None:
    for table, key in KEYS.items():
        op.execute(
            f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey,"
            f" ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key}){include}"
        )


def upgrade() -> None:
    _rekey(" INCLUDE (n)")


def downgrade() -> None:
    _rekey("")
