"""The demo's feed signs in as each of its posters and reports as them: grid workers from their own grids,
the dispatch center (12345 calls) from anywhere."""

from __future__ import annotations

from shapely import from_wkb
from sqlalchemy import text

from accounts.roles import Role
from infra.demo_feed import Poster, feed, load_sampler, within_grid
from tests.fixtures import TEST_PASSWORD, Accounts, LiveSystem, wait_until


def test_the_feed_reports_as_its_grid_workers_from_their_grids_and_as_the_dispatch_center(
    live_system: LiveSystem, accounts: Accounts
) -> None:
    worker, dispatch = accounts.users[Role.GRID_WORKER], accounts.users[Role.CITY_DISPATCH]
    with live_system.engine.connect() as conn:
        grids = [
            within_grid(from_wkb(bytes(wkb)))
            for (wkb,) in conn.execute(
                text("SELECT ST_AsBinary(geom) FROM areas WHERE code = ANY(:c)"),
                {"c": list(worker.grid_codes)},
            )
        ]
        before = conn.execute(text("SELECT count(*) FROM reports WHERE status <> 'accepted'")).scalar_one()
    posters = [Poster(worker.username, TEST_PASSWORD, grids), Poster(dispatch.username, TEST_PASSWORD)]
    sent = feed(
        live_system.api_url, load_sampler(live_system.settings, 7), count=12, rate=50, posters=posters
    )
    assert sent == 12
    decided = "SELECT count(*) FROM reports WHERE status <> 'accepted'"
    wait_until(
        lambda: live_system.count(decided) >= before + 12, timeout=60, what="the feed's reports decided"
    )
    with live_system.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT reporter_id, grid_code FROM reports WHERE status <> 'accepted'"
                " ORDER BY submitted_at DESC LIMIT 12"
            )
        ).all()
    by = {reporter for reporter, _ in rows}
    assert by <= {worker.username, dispatch.username} and worker.username in by
    assert all(grid in worker.grid_codes for reporter, grid in rows if reporter == worker.username), rows
