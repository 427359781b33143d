"""指挥中心 in a real browser: Debian's Chromium, headless, driven by Playwright against the live system (a
real API and worker). Each step leaves a screenshot under artifacts/dashboard/ for a person to look at."""

from __future__ import annotations

import contextlib
import random
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from shapely import Point

from accounts.roles import Role
from geo.boundaries import district_polygons
from infra.settings import PROJECT_ROOT
from tests.e2e.test_report_trip import LANDMARKS, SEA_OFF_DALIAN, as_reporter, report, wait_decided
from tests.field_app.images import png_bytes
from tests.fixtures import Accounts, LiveSystem, UserAccount, wait_until

pytestmark = pytest.mark.services

SHOTS = PROJECT_ROOT / "artifacts" / "dashboard"
WALL = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1366, "height": 768}
ZHONGSHAN, XIGANG = "210202000000", "210203000000"
LIVE_WITHIN_S = 15  # from the POST to the line on the page: intake, Kafka, the worker's routing, the feed


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        # SwiftShader gives MapLibre its WebGL without a GPU.
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--enable-unsafe-swiftshader"]
        )
        yield chromium
        chromium.close()


def shot(page: Page, name: str) -> None:
    """A screenshot once the map has drawn what it was given (MapLibre's `idle`)."""
    before = page.evaluate("document.body.dataset.mapIdle || ''")
    with contextlib.suppress(PlaywrightTimeout):  # idle already: nothing more is being drawn
        page.wait_for_function("(b) => (document.body.dataset.mapIdle || '') !== b", arg=before, timeout=3000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def sign_in(browser: Browser, system: LiveSystem, user: UserAccount, viewport: dict[str, int]) -> Page:
    page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{system.api_url}/")
    expect(page.locator("#signin-form")).to_be_visible()
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.password)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("body[data-view-area]", timeout=30_000)
    assert not errors, errors
    return page


def clickable_label(page: Page, level: str) -> str:
    """The code of an area whose name is on the map, shown and not under the legend or the tools."""
    code: str | None = page.evaluate(
        """(level) => {
            for (const label of document.querySelectorAll(`.area-label.${level}`)) {
                if (label.style.visibility === "hidden") continue;
                const r = label.getBoundingClientRect();
                const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                if (top && label.contains(top)) return label.dataset.code;
            }
            return null;
        }""",
        level,
    )
    assert code, f"no {level} name to click on the map"
    return code


def area_shown(page: Page, code: str) -> None:
    page.wait_for_selector(f'body[data-view-area="{code}"]', timeout=30_000)


def test_the_page_loads_nothing_from_outside_and_answers_at_the_root(live_system: LiveSystem):
    root = httpx.get(f"{live_system.api_url}/", follow_redirects=True)
    assert root.status_code == 200 and "网格化管理指挥中心" in root.text
    assert "connect-src 'self'" in root.headers["content-security-policy"]
    assert "http" not in root.text.replace('lang="zh-CN"', "")  # no absolute URL to anywhere
    lib = httpx.get(f"{live_system.api_url}/dashboard/vendor/maplibre-gl/maplibre-gl.mjs")
    assert lib.status_code == 200 and lib.headers["content-type"].startswith("text/javascript")


def test_dispatch_center_drills_from_the_city_down_to_a_grid_and_back(
    browser: Browser, live_system: LiveSystem, accounts: Accounts
):
    page = sign_in(browser, live_system, accounts.users[Role.CITY_DISPATCH], WALL)
    city = live_system.settings.city_code
    area_shown(page, city)
    expect(page.locator("#user-name")).to_contain_text("指挥中心")
    expect(page.locator(".area-label")).to_have_count(10)  # the ten districts, drawn as polygons
    expect(page.locator("#legend")).to_contain_text("未结案件 / 万人")
    shot(page, "01-dispatch-city")

    page.click(f'#ranking tr[data-code="{ZHONGSHAN}"]')  # from the ranking of the districts
    area_shown(page, ZHONGSHAN)
    expect(page.locator("#breadcrumb a")).to_have_text(["大连市", "中山区"])
    shot(page, "02-dispatch-district")
    for level in ("township", "community", "grid"):  # then on the map, by the areas' names
        code = clickable_label(page, level)
        page.click(f'.area-label[data-code="{code}"]')
        area_shown(page, code)
        shot(page, f"03-dispatch-{level}")
    expect(page.locator("#breadcrumb a")).to_have_count(5)
    expect(page.locator("#view-title")).to_contain_text("网格")

    page.click(f'#breadcrumb a[data-code="{ZHONGSHAN}"]')
    area_shown(page, ZHONGSHAN)
    expect(page.locator("#breadcrumb a")).to_have_count(2)
    page.close()


def test_a_report_posted_now_appears_live_without_a_reload(
    browser: Browser, live_system: LiveSystem, accounts: Accounts
):
    page = sign_in(browser, live_system, accounts.users[Role.CITY_DISPATCH], WALL)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15_000)
    body = report(*LANDMARKS["中山广场"][0])
    started = time.monotonic()
    answer = httpx.post(f"{live_system.api_url}/api/v1/reports", json=body, headers=as_reporter(live_system))
    assert answer.status_code == 202, answer.text
    line = page.locator(f'#feed li[data-report-id="{body["report_id"]}"]')
    expect(line).to_be_visible(timeout=LIVE_WITHIN_S * 1000)
    took = time.monotonic() - started
    expect(line).to_contain_text("新上报")
    shot(page, "04-dispatch-live-report")
    print(f"report on the page {took:.2f} s after its POST")
    page.close()


def test_dispatching_a_triage_case_shows_its_new_state_at_once(
    browser: Browser, live_system: LiveSystem, accounts: Accounts
):
    page = sign_in(browser, live_system, accounts.users[Role.CITY_DISPATCH], LAPTOP)
    body = report(*SEA_OFF_DALIAN, description=f"海上漂浮物 {uuid.uuid4().hex[:6]}")
    photo = httpx.post(
        f"{live_system.api_url}/api/v1/reports/{body['report_id']}/attachments",
        content=png_bytes(64, 48, (200, 80, 40)),
        headers={**as_reporter(live_system), "Content-Type": "image/png"},
    )
    assert photo.status_code == 201, photo.text
    body["attachments"] = [photo.json()["sha256"]]
    answer = httpx.post(f"{live_system.api_url}/api/v1/reports", json=body, headers=as_reporter(live_system))
    assert answer.status_code == 202, answer.text
    case_id = str(wait_decided(live_system, str(body["report_id"]))["case_id"])

    page.click('.pane-tabs button[data-pane="work"]')  # the laptop shows one panel at a time
    item = page.locator(f'#queue .q-item[data-case-id="{case_id}"]')
    expect(item).to_be_visible(timeout=15_000)  # the queue follows the live feed
    expect(item).to_contain_text("不在本市辖区内")
    item.click()
    card = page.locator("#case-card")
    expect(card.locator(".state")).to_have_text("待分拨")
    expect(card).to_contain_text(str(body["description"]))
    picture = card.locator(".photos img")
    expect(picture).to_have_attribute("src", re.compile(r"^blob:"))  # fetched with the bearer token
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 64", arg=picture.element_handle())
    picker = card.locator("select[name=department]")
    expect(picker.locator("option")).not_to_have_count(1)  # the city's departments arrived
    shot(page, "05-dispatch-triage-card")

    chosen = picker.locator("option").nth(1).get_attribute("value")
    assert chosen is not None
    picker.select_option(chosen)
    card.locator("button[data-action=dispatch]").click()
    expect(card.locator(".state")).to_have_text("已派遣", timeout=15_000)
    expect(card.locator(".result")).to_contain_text("派遣成功")
    expect(item).to_have_count(0, timeout=15_000)
    shot(page, "06-dispatch-dispatched")

    card.locator("input[name=void-reason]").fill("")
    card.locator("button[data-action=void]").click()
    expect(card.locator(".result")).to_contain_text("请填写作废理由")  # nothing sent without a reason
    case = httpx.get(
        f"{live_system.api_url}/api/v1/cases/{case_id}", headers=accounts.headers(Role.CITY_DISPATCH)
    ).json()
    assert case["state"] == "dispatched" and case["department"]["code"] == chosen
    page.close()


def _get(page: Page, path: str) -> Any:
    """A GET from inside the page, with its own token: what the page itself could ask for."""
    return page.evaluate(
        """async (path) => {
            const s = JSON.parse(sessionStorage.getItem("gridflow.session"));
            const r = await fetch(path, {headers: {Authorization: `Bearer ${s.access}`}});
            return r.status;
        }""",
        path,
    )


def test_a_district_office_sees_its_district_and_nothing_of_another(
    browser: Browser, live_system: LiveSystem, accounts: Accounts
):
    page = sign_in(browser, live_system, accounts.users[Role.DISTRICT], LAPTOP)
    area_shown(page, ZHONGSHAN)
    expect(page.locator("#breadcrumb a")).to_have_text(["中山区"])  # no way up to the city
    codes = page.locator(".area-label").evaluate_all("(els) => els.map((e) => e.dataset.code)")
    assert codes and all(code.startswith("210202") for code in codes)
    shot(page, "07-district-home")
    page.click('.pane-tabs button[data-pane="work"]')
    expect(page.locator('.work-tabs button[data-queue="triage"]')).to_be_hidden()  # dispatch's, not theirs
    shot(page, "08-district-work")

    assert _get(page, f"/api/v1/map/areas?parent={XIGANG}") == 404
    assert _get(page, f"/api/v1/map/cases?area_code={XIGANG}") == 404
    assert _get(page, f"/api/v1/map/areas?parent={live_system.settings.city_code}") == 404
    assert _get(page, f"/api/v1/views/{XIGANG}") == 404
    assert _get(page, f"/api/v1/map/areas?parent={ZHONGSHAN}") == 200

    page.click("#signout")
    expect(page.locator("#signin-form")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('gridflow.session')") is None
    page.close()


def test_the_page_survives_the_api_restarting_and_resumes_the_feed(
    browser: Browser, live_system: LiveSystem, accounts: Accounts
):
    page = sign_in(browser, live_system, accounts.users[Role.CITY_DISPATCH], WALL)
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "live", timeout=15_000)

    live_system.api.stop()
    expect(status).to_have_attribute("data-state", "retrying", timeout=15_000)
    shot(page, "09-dispatch-api-away")
    live_system.api.start()
    wait_until(lambda: _answers(live_system), timeout=60, what="the API to answer again")
    # Posted at once: the page is most likely still waiting to reconnect, and gets it from its Last-Event-ID.
    body = report(*LANDMARKS["人民广场"][0])
    answer = httpx.post(f"{live_system.api_url}/api/v1/reports", json=body, headers=as_reporter(live_system))
    assert answer.status_code == 202, answer.text
    expect(status).to_have_attribute("data-state", "live", timeout=45_000)
    expect(page.locator(f'#feed li[data-report-id="{body["report_id"]}"]')).to_be_visible(timeout=30_000)
    shot(page, "10-dispatch-api-back")
    page.close()


def _answers(system: LiveSystem) -> bool:
    try:
        return httpx.get(f"{system.api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _spot_in(district: str) -> tuple[float, float]:
    """A random point well inside a district: far from the other tests' points, so no duplicate merges."""
    rng = random.Random(uuid.uuid4().int)
    inner = district_polygons([district[:6]])[district[:6]].buffer(-0.003)
    minx, miny, maxx, maxy = inner.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(Point(lon, lat)):
            return lon, lat


def _act(system: LiveSystem, accounts: Accounts, case_id: str, action: str, **fields: object) -> Any:
    who = accounts.actor_for(action, case_id)
    answer = httpx.post(
        f"{system.api_url}/api/v1/cases/{case_id}/actions",
        json={"action": action, **fields},
        headers=accounts.headers(who),
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_district_office_approves_a_postponement_from_its_queue(
    browser: Browser, live_system: LiveSystem, accounts: Accounts
):
    body = report(*_spot_in(ZHONGSHAN))
    answer = httpx.post(f"{live_system.api_url}/api/v1/reports", json=body, headers=as_reporter(live_system))
    assert answer.status_code == 202, answer.text
    case_id = str(wait_decided(live_system, str(body["report_id"]))["case_id"])
    seen = accounts.headers(Role.CITY_DISPATCH)
    url = f"{live_system.api_url}/api/v1/cases/{case_id}"
    wait_until(lambda: httpx.get(url, headers=seen).status_code == 200, timeout=30, what="the case to open")
    _act(live_system, accounts, case_id, "accept")
    asked = _act(live_system, accounts, case_id, "postpone", hours=24, reason="需协调燃气公司配合施工")
    assert asked["pending"] is not None

    page = sign_in(browser, live_system, accounts.users[Role.DISTRICT], LAPTOP)
    page.click('.pane-tabs button[data-pane="work"]')
    item = page.locator(f'#queue .q-item[data-case-id="{case_id}"]')
    expect(item).to_contain_text("延期申请：需协调燃气公司配合施工", timeout=15_000)
    shot(page, "11-district-approvals")
    item.locator("button[data-action=approve]").click()
    expect(item).to_contain_text("已批准", timeout=15_000)
    shot(page, "12-district-approved")
    expect(item).to_have_count(0, timeout=15_000)  # decided: out of the queue
    after = httpx.get(url, headers=seen).json()
    assert after["pending"] is None and after["deadline_at"] != asked["deadline_at"]
    page.close()
