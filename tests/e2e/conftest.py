"""Fixtures of the end-to-end tests beyond tests/fixtures.py."""

from __future__ import annotations

import pytest

from tests.e2e.scoping_world import World, build
from tests.fixtures import Accounts, LiveSystem


@pytest.fixture(scope="session")
def world(live_system: LiveSystem, accounts: Accounts) -> World:
    """A report, a case and a photo in 中山区 (two departments) and in 西岗区, and who must see each
    (tests/e2e/scoping_world.py): made once, for the scoping matrix and the SQL clauses' test."""
    return build(live_system, accounts)
