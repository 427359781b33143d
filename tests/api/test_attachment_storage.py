"""The photo store under pressure: concurrent uploads of one photo, abandoned uploads, a full disk quota."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.attachments import AttachmentStore, Stored, get_store, sniff
from api.attachments.store import SWEEP_EVERY_S
from infra.settings import Settings
from tests.api.attachment_app import JPEG, PNG, base, files_under, jpeg_range, make_app

SHA, TOTAL = hashlib.sha256(JPEG).hexdigest(), len(JPEG)
CHUNK = 7000
# Races need time to happen in: a photo big enough that writing and hashing it takes a while.
BIG = b"\xff\xd8\xff\xe0" + b"gridflow-jpeg" * 160_000
BIG_SHA = hashlib.sha256(BIG).hexdigest()


def _send(client: TestClient, rid: uuid.UUID, first: int, last: int) -> httpx.Response:
    """Bytes first..last of JPEG for report rid, resumably."""
    content_range = f"bytes {first}-{last}/{TOTAL}"
    return client.put(f"{base(rid)}/{SHA}", content=JPEG[first : last + 1], headers=jpeg_range(content_range))


def _ask(client: TestClient, rid: uuid.UUID) -> httpx.Response:
    return client.put(f"{base(rid)}/{SHA}", headers=jpeg_range(f"bytes */{TOTAL}"))


def _post(client: TestClient, rid: uuid.UUID, photo: bytes) -> httpx.Response:
    return client.post(base(rid), content=photo, headers={"Content-Type": sniff(photo) or ""})


async def _upload_whole(http: httpx.AsyncClient, rid: uuid.UUID) -> int:
    answer = await http.post(base(rid), content=BIG, headers={"Content-Type": "image/jpeg"})
    return answer.status_code


async def _upload_chunked(http: httpx.AsyncClient, rid: uuid.UUID) -> int:
    """The field app's loop: ask, send from where the server stands, until it has the whole photo."""
    url, total = f"{base(rid)}/{BIG_SHA}", len(BIG)
    answer = await http.put(url, headers=jpeg_range(f"bytes */{total}"))
    while answer.status_code == 308:
        held = answer.headers.get("range")
        start = int(held.rsplit("-", 1)[1]) + 1 if held else 0
        chunk = BIG[start : start + 256 * 1024]
        content_range = f"bytes {start}-{start + len(chunk) - 1}/{total}"
        answer = await http.put(url, content=chunk, headers=jpeg_range(content_range))
    return answer.status_code


@pytest.mark.parametrize("same_report", [True, False], ids=["one report", "eight reports"])
def test_eight_concurrent_uploads_of_one_photo_all_succeed_and_store_it_intact(
    tmp_path: Path, same_report: bool
) -> None:
    store = AttachmentStore(tmp_path / "attachments")
    rids = [uuid.uuid4()] * 8 if same_report else [uuid.uuid4() for _ in range(8)]

    async def race() -> list[int]:
        transport = httpx.ASGITransport(app=make_app(store))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            uploads = [(_upload_whole if i % 2 else _upload_chunked)(http, rid) for i, rid in enumerate(rids)]
            return list(await asyncio.gather(*uploads))

    statuses = asyncio.run(race())
    assert set(statuses) <= {200, 201} and 201 in statuses
    assert hashlib.sha256(store.object_path(BIG_SHA).read_bytes()).hexdigest() == BIG_SHA
    assert files_under(store, "objects") == [f"objects/{BIG_SHA[:2]}/{BIG_SHA}"]
    assert files_under(store, "partial") == files_under(store, "tmp") == []
    client = TestClient(make_app(store))
    assert all(client.get(f"{base(rid)}/{BIG_SHA}").content == BIG for rid in rids)


@pytest.mark.parametrize("same_report", [True, False], ids=["one report", "eight reports"])
def test_threads_finishing_one_photo_at_once_all_get_it_stored_once(
    tmp_path: Path, same_report: bool
) -> None:
    store = AttachmentStore(tmp_path / "attachments")
    rids = [uuid.uuid4()] * 8 if same_report else [uuid.uuid4() for _ in range(8)]
    start = threading.Barrier(len(rids))
    results: list[Stored | int] = []

    def send_all(rid: uuid.UUID) -> None:
        start.wait()
        results.append(store.put_chunk(rid, BIG_SHA, 0, BIG, len(BIG), "image/jpeg"))

    threads = [threading.Thread(target=send_all, args=(rid,)) for rid in rids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(isinstance(r, Stored) for r in results)
    assert sum(1 for r in results if isinstance(r, Stored) and r.created) == len(set(rids))
    assert store.object_path(BIG_SHA).read_bytes() == BIG
    assert files_under(store, "partial") == files_under(store, "tmp") == []


def test_a_writer_still_holding_the_partial_file_cannot_touch_the_stored_photo(
    tmp_path: Path,
) -> None:
    # The old failure: a request waiting on the partial file's lock got it after the file had become the
    # stored photo, then truncated and rewrote it. The stored photo must never be the partial file.
    store, rid = AttachmentStore(tmp_path / "attachments"), uuid.uuid4()
    assert store.put_chunk(rid, SHA, 0, JPEG[:10000], TOTAL, "image/jpeg") == 10000
    (partial,) = (store.root / "partial").rglob("*.part")
    straggler = os.open(partial, os.O_RDWR)
    try:
        stored = store.put_chunk(rid, SHA, 10000, JPEG[10000:], TOTAL, "image/jpeg")
        assert not isinstance(stored, int) and stored.created
        os.ftruncate(straggler, 0)
        os.pwrite(straggler, b"garbage", 0)
    finally:
        os.close(straggler)
    assert store.object_path(SHA).read_bytes() == JPEG
    assert store.object_path(SHA).stat().st_mode & 0o222 == 0  # read-only


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_abandoned_uploads_expire_and_fresh_ones_stay(tmp_path: Path) -> None:
    clock = Clock()
    store = AttachmentStore(tmp_path / "attachments", partial_max_age_s=24 * 3600, clock=clock)
    client = TestClient(make_app(store))
    abandoned, resumed = uuid.uuid4(), uuid.uuid4()
    _send(client, abandoned, 0, CHUNK - 1)
    _send(client, resumed, 0, CHUNK - 1)
    (resumed_part,) = (store.root / "partial" / str(resumed)).glob("*.part")
    os.utime(resumed_part, (clock.now + 2 * 3600, clock.now + 2 * 3600))  # touched two hours later

    clock.now += 25 * 3600  # the next upload, any report's, sweeps
    _post(client, uuid.uuid4(), PNG)

    asked = _ask(client, abandoned)
    assert asked.status_code == 308 and "range" not in asked.headers
    assert not (store.root / "partial" / str(abandoned)).exists()
    assert _ask(client, resumed).headers["range"] == f"bytes=0-{CHUNK - 1}"


def test_sweep_runs_at_most_every_interval_and_leaves_uploads_in_progress(tmp_path: Path) -> None:
    clock = Clock()
    store = AttachmentStore(tmp_path / "attachments", partial_max_age_s=60, clock=clock)
    store.sweep_if_due()
    store.put_chunk(uuid.uuid4(), SHA, 0, JPEG[:CHUNK], TOTAL, "image/jpeg")
    clock.now += SWEEP_EVERY_S - 1
    store.sweep_if_due()
    assert len(files_under(store, "partial")) == 1  # old enough, but the last sweep was too recent
    clock.now += 1
    store.sweep_if_due()
    assert files_under(store, "partial") == []


def test_over_quota_is_507_quota_exceeded_and_nothing_is_half_written(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "attachments", quota_bytes=len(PNG) + CHUNK)
    client = TestClient(make_app(store))
    assert _post(client, uuid.uuid4(), PNG).status_code == 201

    whole = _post(client, uuid.uuid4(), JPEG)
    assert whole.status_code == 507
    assert whole.json()["detail"]["code"] == "quota_exceeded"
    assert whole.json()["detail"]["field"] == "body"
    assert "GRIDFLOW_ATTACHMENTS_QUOTA_BYTES" in whole.json()["detail"]["message"]

    rid = uuid.uuid4()
    assert _send(client, rid, 0, CHUNK - 1).status_code == 308
    assert _send(client, rid, CHUNK, TOTAL - 1).status_code == 507
    assert _ask(client, rid).headers["range"] == f"bytes=0-{CHUNK - 1}"
    assert files_under(store, "tmp") == [] and not store.object_path(SHA).exists()
    assert store.usage() == len(PNG) + CHUNK
    # A photo already stored takes no more room: another report may still link it by sending its bytes.
    assert _post(client, rid, PNG).status_code == 201


def test_store_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().attachments_quota_bytes == 20 * 1024**3
    assert Settings().attachments_partial_max_age_s == 24 * 3600
    monkeypatch.setenv("GRIDFLOW_ATTACHMENTS_QUOTA_BYTES", "12345")
    monkeypatch.setenv("GRIDFLOW_ATTACHMENTS_PARTIAL_MAX_AGE_S", "600")
    monkeypatch.setenv("GRIDFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.setattr("api.attachments.routes.get_settings", Settings)
    store = get_store()
    assert (store.root, store.quota_bytes, store.partial_max_age_s) == (tmp_path / "attachments", 12345, 600)
