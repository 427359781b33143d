"""The live feed on the live system: an area's new reports and case steps arrive as Server-Sent Events,
others' do not, and a reconnect with Last-Event-ID gets exactly what it missed."""

from __future__ import annotations

import itertools
import json
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from shapely import Point

from accounts.roles import Role
from geo.boundaries import district_polygons
from tests.e2e.test_operations import post_report, wait_status
from tests.e2e.test_report_trip import LANDMARKS, district_rules
from tests.fixtures import Accounts, LiveSystem


@dataclass(frozen=True)
class Frame:
    id: str
    event: str
    data: dict[str, Any]
    at: float


class Listener(threading.Thread):
    """One SSE connection read in the background; frames with data go to `frames`."""

    def __init__(self, url: str, headers: dict[str, str], last_event_id: str | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = (
            url,
            {**headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})},
        )
        self.frames: queue.Queue[Frame] = queue.Queue()
        self.connected = threading.Event()
        self.status: int | None = None
        self._response: httpx.Response | None = None

    def run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5, read=40)) as client,
                client.stream("GET", self.url, headers=self.headers) as response,
            ):
                self._response, self.status = response, response.status_code
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    self.connected.set()  # the first frame (retry + id) has come: the feed holds our place
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                        continue
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        self.frames.put(Frame(fields["id"], fields["event"], data, time.monotonic()))
                    fields = {}
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by close()
        finally:
            self.connected.set()

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self.join(10)

    def collect(self, until: Any, timeout: float) -> list[Frame]:
        """Frames until `until(frames)` holds (AssertionError after `timeout`)."""
        got: list[Frame] = []
        deadline = time.monotonic() + timeout
        while not until(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; got {[(f.event, f.data.get('report_id')) for f in got]}")
            try:
                got.append(self.frames.get(timeout=left))
            except queue.Empty:
                continue
        return got

    def drain(self, seconds: float) -> list[Frame]:
        time.sleep(seconds)
        got = []
        while not self.frames.empty():
            got.append(self.frames.get())
        return got


def listen(
    system: LiveSystem, accounts: Accounts, area_code: str, last_event_id: str | None = None
) -> Listener:
    url = f"{system.api_url}/api/v1/events?area_code={area_code}"
    listener = Listener(url, accounts.headers(Role.CITY_DISPATCH), last_event_id)
    listener.start()
    assert listener.connected.wait(20), "the feed did not answer"
    assert listener.status == 200
    return listener


@pytest.fixture(scope="module")
def place(live_system: LiveSystem, accounts: Accounts) -> tuple[tuple[float, float], str]:
    """A point of this module's own (no other test posts there) and the grid it lies in."""
    rng = random.Random(1111)
    inner = district_polygons(["210211"])["210211"].buffer(-0.01)
    minx, miny, maxx, maxy = inner.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(Point(lon, lat)):
            break
    answer = wait_status(live_system, accounts, post(live_system, accounts, lon, lat)[0])
    assert answer["status"] == "routed", answer
    return (lon, lat), str(answer["area"]["grid"])


# Each report of another category: one of the same category within 50 m would join the first one's case
# (a duplicate opens no case of its own).
CATEGORIES = itertools.cycle(sorted(district_rules()))


def post(system: LiveSystem, accounts: Accounts, lon: float, lat: float) -> tuple[str, float]:
    answer = post_report(system, accounts, lon, lat, category=next(CATEGORIES))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["report_id"]), time.monotonic()


def routed(frames: list[Frame]) -> list[str]:
    return [f.data["report_id"] for f in frames if f.event == "report.routed"]


def opened(frames: list[Frame]) -> list[str]:
    return [
        f.data["case_id"] for f in frames if f.event == "case.transitioned" and f.data["action"] == "open"
    ]


def test_a_report_in_the_area_arrives_at_once_and_one_outside_does_not(
    live_system: LiveSystem, accounts: Accounts, place
):
    (lon, lat), grid = place
    listener = listen(live_system, accounts, grid)
    try:
        outside, _ = post(live_system, accounts, *LANDMARKS["庄河"][0])
        inside, posted_at = post(live_system, accounts, lon, lat)
        frames = listener.collect(lambda got: inside in routed(got), timeout=30)
        arrived = next(f for f in frames if f.event == "report.routed" and f.data["report_id"] == inside)
        print(f"routed event {arrived.at - posted_at:.2f} s after the 202")
        assert arrived.at - posted_at < 5
        assert arrived.data["area"]["grid"] == grid
        wait_status(live_system, accounts, outside)
        later = frames + listener.drain(1.5)
        assert outside not in routed(later)
        assert {f.data["area"].get("grid") for f in later} == {grid}
    finally:
        listener.close()


def test_a_reconnect_with_last_event_id_gets_exactly_what_it_missed(
    live_system: LiveSystem, accounts: Accounts, place
):
    (lon, lat), grid = place
    first = listen(live_system, accounts, grid)
    try:
        before, _ = post(live_system, accounts, lon, lat)

        def before_done(got: list[Frame]) -> bool:  # its routing and the opening of its case
            cases = [f.data["case_id"] for f in got if f.data.get("report_id") == before]
            return bool(cases) and cases[0] in opened(got)

        seen = first.collect(before_done, timeout=30)
        seen += first.drain(1.0)
    finally:
        first.close()
    last_id = seen[-1].id
    missed = [post(live_system, accounts, lon, lat)[0] for _ in range(2)]
    for report_id in missed:
        wait_status(live_system, accounts, report_id)
    again = listen(live_system, accounts, grid, last_event_id=last_id)
    try:
        frames = again.collect(lambda got: len(routed(got)) >= 2 and len(opened(got)) >= 2, timeout=30)
        frames += again.drain(2.0)
    finally:
        again.close()
    assert sorted(routed(frames)) == sorted(missed)  # both, once each, and not the one before
    assert len(opened(frames)) == 2 and len(set(opened(frames))) == 2
    cases = {f.data["case_id"] for f in frames if f.event == "report.routed"}
    assert set(opened(frames)) == cases
    assert len(frames) == 4, [(f.event, f.data.get("report_id")) for f in frames]
    assert len({f.id for f in frames}) == 4


def test_an_unreadable_last_event_id_or_unknown_area_is_refused(
    live_system: LiveSystem, accounts: Accounts, place
):
    _, grid = place
    url, auth = f"{live_system.api_url}/api/v1/events", accounts.headers(Role.CITY_DISPATCH)
    bad = httpx.get(url, params={"area_code": grid}, headers={**auth, "Last-Event-ID": "nonsense"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "last-event-id"]
    assert httpx.get(url, params={"area_code": "210299000000"}, headers=auth).status_code == 404
    assert httpx.get(url, params={"area_code": "21xx"}, headers=auth).status_code == 422


def test_the_feed_is_scoped_to_the_callers_area(live_system: LiveSystem, accounts: Accounts, place):
    _, grid = place  # in 甘井子区; the district account is 中山区's
    url = f"{live_system.api_url}/api/v1/events"
    assert httpx.get(url, params={"area_code": grid}).status_code == 401
    outside = httpx.get(url, params={"area_code": grid}, headers=accounts.headers(Role.DISTRICT))
    assert outside.status_code == 404 and outside.json()["error"] == "not_found"
    with httpx.stream(
        "GET", url, params={"area_code": "210202000000"}, headers=accounts.headers(Role.DISTRICT), timeout=10
    ) as own:
        assert own.status_code == 200 and own.headers["content-type"].startswith("text/event-stream")
