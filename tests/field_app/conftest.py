"""Fixtures of the field app's tests: a fake API, a service on a fake clock, sample photos."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from field_app.core.backoff import Backoff
from field_app.core.clock import FakeClock
from field_app.core.models import Draft, LocationFix
from field_app.core.service import FieldService
from tests.field_app.fake_api import WORKER, FakeApi
from tests.field_app.fake_auth import PASSWORD
from tests.field_app.images import write_png

ZHONGSHAN_SQUARE = LocationFix(lon=121.6447, lat=38.9206, accuracy_m=8.0)


@pytest.fixture
def fake_api(tmp_path: Path) -> FakeApi:
    return FakeApi(tmp_path / "server-photos")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(tmp_path: Path, fake_api: FakeApi, clock: FakeClock) -> Iterator[FieldService]:
    svc = FieldService(
        tmp_path / "phone",
        clock=clock,
        transport=fake_api.transport(),
        backoff=Backoff(rng=random.Random(7)),
        start_worker=False,
    )
    svc.sign_in(WORKER, PASSWORD, "http://api.test")
    fake_api.requests.clear()  # each test sees the requests it caused
    yield svc
    svc.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return write_png(tmp_path / "camera.png")


def complete_draft(service: FieldService, description: str = "井盖缺失，行人易跌落") -> Draft:
    draft = service.new_draft()
    draft.category_code, draft.category_name = "10101", "上水井盖"
    draft.description = description
    draft.location = ZHONGSHAN_SQUARE
    return draft
