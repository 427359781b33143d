"""Small services: backoff, error wording, category search, photo checks, server address, device fallbacks."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from field_app.core.api_client import describe_error
from field_app.core.backoff import Backoff
from field_app.core.photos import MAX_PHOTO_BYTES, PhotoError, PhotoStore
from field_app.core.service import FieldService, normalise_server
from field_app.devices.camera import NO_CAMERA, default_camera
from field_app.devices.location import NO_LOCATION_ON_DEVICE, FixedLocation, PlyerLocation
from tests.field_app.images import png_bytes


def test_backoff_doubles_to_a_cap_and_respects_retry_after() -> None:
    backoff = Backoff(base_s=2, factor=2, cap_s=60, jitter=0, rng=random.Random(1))
    assert [backoff.delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(1, retry_after=30) == 30


def test_backoff_jitter_stays_within_its_share() -> None:
    backoff = Backoff(base_s=10, jitter=0.2, rng=random.Random(3))
    assert all(8 <= backoff.delay(1) <= 12 for _ in range(100))


def test_fastapi_422_is_worded_with_chinese_field_names() -> None:
    response = httpx.Response(
        422,
        json={
            "detail": [
                {"loc": ["body", "location", "lat"], "msg": "Input should be less than or equal to 90"}
            ]
        },
    )
    assert describe_error(response) == "位置·纬度：Input should be less than or equal to 90"


def test_conflict_body_gives_its_message() -> None:
    response = httpx.Response(409, json={"detail": {"code": "report_id_conflict", "message": "已有不同内容"}})
    assert describe_error(response) == "已有不同内容"


def test_category_search_finds_minor_classes_by_name_and_major(service: FieldService) -> None:
    assert service.refresh_categories() == 11
    assert [c.code for c in service.catalog.search("井盖")] == ["10101", "10102"]
    assert [c.name for c in service.catalog.search("街面 占道")] == ["占道经营"]
    assert service.catalog.majors("component")[0] == ("101", "公用设施类")
    assert [c.name for c in service.catalog.minors("202")] == ["违规张贴小广告"]


def test_categories_stay_cached_when_offline(service: FieldService, fake_api) -> None:  # type: ignore[no-untyped-def]
    service.refresh_categories()
    fake_api.offline = True
    with pytest.raises(Exception, match="无法连接"):
        service.refresh_categories()
    assert len(service.catalog.all()) == 11


def test_photo_store_names_by_hash_and_refuses_non_images(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path / "photos")
    source = tmp_path / "a.png"
    source.write_bytes(png_bytes())
    photo = store.add(source)
    assert Path(photo.path).name == f"{photo.sha256}.png" and photo.content_type == "image/png"
    assert store.add(source) == photo
    fake = tmp_path / "a.jpg"
    fake.write_text("not a picture")
    with pytest.raises(PhotoError, match="JPEG"):
        store.add(fake)


def test_photo_store_refuses_oversized_photos(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES))
    with pytest.raises(PhotoError, match="太大"):
        PhotoStore(tmp_path / "p").add(big)


def test_server_address_gets_a_scheme() -> None:
    assert normalise_server(" 192.168.1.10:8000/ ") == "http://192.168.1.10:8000"


def test_plyer_gps_on_a_desktop_gives_a_clear_message() -> None:
    fixes, errors = [], []
    PlyerLocation().start(fixes.append, errors.append)
    assert fixes == [] and errors == [NO_LOCATION_ON_DEVICE]


def test_fixed_location_parses_lon_lat_accuracy() -> None:
    fixes: list = []
    FixedLocation.parse("121.6,38.9,12").start(fixes.append, print)
    assert (fixes[0].lon, fixes[0].lat, fixes[0].accuracy_m) == (121.6, 38.9, 12.0)


def test_desktop_camera_says_there_is_none(tmp_path: Path) -> None:
    results: list = []
    default_camera().take(tmp_path / "x.jpg", lambda path, error: results.append((path, error)))
    assert results == [(None, NO_CAMERA)]
