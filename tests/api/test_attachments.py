"""The photo endpoint: limits checked by magic bytes, content-addressed storage, resumable uploads, and a
photo that belongs to a report only once that report's uploader has sent its bytes."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.attachments import MAX_ATTACHMENT_BYTES, AttachmentStore
from tests.api.attachment_app import JPEG, PNG, base, files_under, jpeg_range, make_app


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments")


@pytest.fixture
def client(store: AttachmentStore) -> TestClient:
    return TestClient(make_app(store))


def test_whole_upload_is_stored_by_hash_and_fetched_back(client: TestClient, store: AttachmentStore) -> None:
    rid = uuid.uuid4()
    answer = client.post(base(rid), content=PNG, headers={"Content-Type": "image/png"})
    assert answer.status_code == 201
    sha = hashlib.sha256(PNG).hexdigest()
    assert answer.json() == {
        "sha256": sha,
        "size": len(PNG),
        "content_type": "image/png",
        "url": f"{base(rid)}/{sha}",
    }
    assert store.object_path(sha).read_bytes() == PNG
    fetched = client.get(f"{base(rid)}/{sha}")
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"


def test_same_photo_again_is_acknowledged_not_duplicated(client: TestClient, store: AttachmentStore) -> None:
    rid = uuid.uuid4()
    first = client.post(base(rid), content=JPEG, headers={"Content-Type": "image/jpeg"})
    again = client.post(base(rid), content=JPEG, headers={"Content-Type": "image/jpeg"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert len(list((store.root / "objects").rglob("*"))) == 2  # one folder, one file


def test_declared_type_must_match_magic_bytes(client: TestClient) -> None:
    answer = client.post(base(uuid.uuid4()), content=PNG, headers={"Content-Type": "image/jpeg"})
    assert answer.status_code == 415
    assert answer.json()["detail"][0]["loc"] == ["body"]


def test_html_disguised_as_jpeg_is_refused(client: TestClient) -> None:
    answer = client.post(
        base(uuid.uuid4()), content=b"<html>hi</html>" * 10, headers={"Content-Type": "image/jpeg"}
    )
    assert answer.status_code == 415


def test_other_declared_types_are_refused_naming_the_header(client: TestClient) -> None:
    answer = client.post(base(uuid.uuid4()), content=PNG, headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 415
    assert answer.json()["detail"][0]["loc"] == ["header", "content-type"]


def test_too_large_photo_is_refused_with_413(client: TestClient) -> None:
    big = b"\xff\xd8\xff" + bytes(MAX_ATTACHMENT_BYTES)
    answer = client.post(base(uuid.uuid4()), content=big, headers={"Content-Type": "image/jpeg"})
    assert answer.status_code == 413
    assert answer.json()["detail"][0]["loc"] == ["header", "content-length"]
    resumable = client.put(
        f"{base(uuid.uuid4())}/{'a' * 64}",
        headers={"Content-Type": "image/jpeg", "Content-Range": f"bytes */{MAX_ATTACHMENT_BYTES + 1}"},
    )
    assert resumable.status_code == 413


def test_bad_report_id_and_hash_are_422(client: TestClient) -> None:
    assert client.post("/api/v1/reports/not-a-uuid/attachments", content=PNG).status_code == 422
    answer = client.get(f"{base(uuid.uuid4())}/XYZ")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "sha256"]


def put(
    client: TestClient, rid: uuid.UUID, sha: str, content_range: str, body: bytes = b""
) -> httpx.Response:
    return client.put(f"{base(rid)}/{sha}", content=body, headers=jpeg_range(content_range))


def test_resumable_upload_goes_on_after_a_dropped_connection(
    client: TestClient, store: AttachmentStore
) -> None:
    rid, sha, total = uuid.uuid4(), hashlib.sha256(JPEG).hexdigest(), len(JPEG)
    status = put(client, rid, sha, f"bytes */{total}")
    assert status.status_code == 308 and "range" not in status.headers
    first = put(client, rid, sha, f"bytes 0-9999/{total}", JPEG[:10000])
    assert first.status_code == 308 and first.headers["range"] == "bytes=0-9999"
    # The connection drops; the client does not know what arrived and asks.
    asked = put(client, rid, sha, f"bytes */{total}")
    assert asked.headers["range"] == "bytes=0-9999"
    # A chunk from the wrong place changes nothing.
    wrong = put(client, rid, sha, f"bytes 20000-20099/{total}", JPEG[20000:20100])
    assert wrong.status_code == 308 and wrong.headers["range"] == "bytes=0-9999"
    # A resent overlapping chunk is accepted without doubling bytes.
    rest = put(client, rid, sha, f"bytes 5000-{total - 1}/{total}", JPEG[5000:])
    assert rest.status_code == 201
    assert store.object_path(sha).read_bytes() == JPEG
    assert put(client, rid, sha, f"bytes */{total}").status_code == 200
    assert client.get(f"{base(rid)}/{sha}").content == JPEG


def test_resumable_upload_with_wrong_hash_is_422_and_forgotten(
    client: TestClient, store: AttachmentStore
) -> None:
    rid, sha, total = uuid.uuid4(), "0" * 64, len(JPEG)
    answer = put(client, rid, sha, f"bytes 0-{total - 1}/{total}", JPEG)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "sha256"]
    assert put(client, rid, sha, f"bytes */{total}").status_code == 308
    assert not store.object_path(sha).exists()


def test_bad_content_range_names_the_header(client: TestClient) -> None:
    answer = put(client, uuid.uuid4(), "0" * 64, "bytes=0-10", b"x")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["header", "content-range"]


def test_photo_of_another_report_is_not_served(client: TestClient) -> None:
    rid = uuid.uuid4()
    sha = client.post(base(rid), content=PNG, headers={"Content-Type": "image/png"}).json()["sha256"]
    assert client.get(f"{base(uuid.uuid4())}/{sha}").status_code == 404


def test_knowing_the_hash_neither_attaches_nor_reads_another_reports_photo(
    client: TestClient, store: AttachmentStore
) -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    sha, total = hashlib.sha256(JPEG).hexdigest(), len(JPEG)
    assert client.post(base(owner), content=JPEG, headers={"Content-Type": "image/jpeg"}).status_code == 201
    for _ in range(2):  # asking twice changes nothing
        asked = put(client, other, sha, f"bytes */{total}")
        assert asked.status_code == 308 and "range" not in asked.headers
    assert client.get(f"{base(other)}/{sha}").status_code == 404
    assert put(client, owner, sha, f"bytes */{total}").status_code == 200
    assert not (store.root / "links" / str(other)).exists()


def test_sending_the_bytes_links_a_stored_photo_without_storing_it_twice(
    client: TestClient, store: AttachmentStore
) -> None:
    owner, chunked, whole = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sha, total = hashlib.sha256(JPEG).hexdigest(), len(JPEG)
    client.post(base(owner), content=JPEG, headers={"Content-Type": "image/jpeg"})
    assert put(client, chunked, sha, f"bytes 0-9999/{total}", JPEG[:10000]).status_code == 308
    assert put(client, chunked, sha, f"bytes 10000-{total - 1}/{total}", JPEG[10000:]).status_code == 201
    assert client.post(base(whole), content=JPEG, headers={"Content-Type": "image/jpeg"}).status_code == 201
    for rid in (owner, chunked, whole):
        assert client.get(f"{base(rid)}/{sha}").content == JPEG
    assert files_under(store, "objects") == [f"objects/{sha[:2]}/{sha}"]
    assert files_under(store, "partial") == files_under(store, "tmp") == []


def test_progress_of_one_reports_upload_is_not_shown_to_another(client: TestClient) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    sha, total = hashlib.sha256(JPEG).hexdigest(), len(JPEG)
    put(client, first, sha, f"bytes 0-9999/{total}", JPEG[:10000])
    asked = put(client, second, sha, f"bytes */{total}")
    assert asked.status_code == 308 and "range" not in asked.headers
    assert put(client, first, sha, f"bytes */{total}").headers["range"] == "bytes=0-9999"


def test_errors_come_from_the_error_table_naming_the_field(client: TestClient) -> None:
    rid = uuid.uuid4()
    big = b"\xff\xd8\xff" + bytes(MAX_ATTACHMENT_BYTES)
    too_large = client.post(base(rid), content=big, headers={"Content-Type": "image/jpeg"})
    msg = f"at most {MAX_ATTACHMENT_BYTES} bytes"
    assert too_large.json()["detail"] == [
        {"loc": ["header", "content-length"], "msg": msg, "type": "too_large"}
    ]
    wrong_type = client.post(base(rid), content=PNG, headers={"Content-Type": "text/plain"})
    assert wrong_type.json()["detail"][0]["type"] == "unsupported_media_type"
    empty = client.post(base(rid), content=b"", headers={"Content-Type": "image/png"})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body"]
    missing = client.get(f"{base(rid)}/{'a' * 64}")
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "not_found"
