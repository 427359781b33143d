"""The scoping matrix: every endpoint of the app (read from its OpenAPI, so that a new one without a probe
fails here), every role of `accounts.users` (中山区) and `accounts.others` (西岗区), against another area's
and another department's report, case, photo, view and action (tests/e2e/scoping_world.py). No leak: outside
the caller's scope the answer is the one for an object that does not exist (404), never its data; a wrong role
inside it is 403 naming the roles that may; without a token, 401."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.queues.schemas import QUEUES
from tests.e2e.scoping_world import World
from tests.fixtures import LiveSystem

pytestmark = pytest.mark.services
Probe = Callable[[World, str], list[str]]
# Open to anyone or guarded otherwise: sign-in itself, the operations endpoints, the docs, Open311 (API keys).
EXEMPT_PREFIXES = ("/api/v1/auth/token", "/api/v1/auth/refresh", "/open311/", "/docs", "/redoc")
EXEMPT = {"/health", "/ready", "/metrics", "/openapi.json"}
REPORTERS = {"grid_worker", "grid_worker_other", "city_dispatch"}
USER_KEYS = [
    *(r for r in ("grid_worker", "community", "township", "district", "department")),
    *("city_dispatch", "auditor", "admin"),
    *(f"{r}_other" for r in ("grid_worker", "community", "township", "district", "department")),
]


def routes() -> set[tuple[str, str]]:
    """(method, path) of every endpoint the app's OpenAPI lists, less the exempt ones."""
    spec = create_app().openapi()
    methods = ("get", "post", "put", "delete", "patch")
    found = {(m, path) for path, ops in spec["paths"].items() for m in ops if m in methods}
    return {(m, p) for m, p in found if p not in EXEMPT and not p.startswith(EXEMPT_PREFIXES)}


ROUTES = routes()


def call(w: World, who: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {**(w.headers(who) if who else {}), **kw.pop("headers", {})}
    return httpx.request(method, f"{w.system.api_url}{path}", headers=headers, timeout=30, **kw)


def leaks(w: World, who: str, answer: httpx.Response, what: str) -> list[str]:
    """The ids of objects `who` does not see that an answer carries (beyond those the caller sent)."""
    text, asked = answer.text, str(answer.request.url)
    return [
        f"{what}: {answer.status_code} carries {o.name}'s {kind}"
        for o in w.hidden_from(who)
        for kind, value in (("case", o.case_id), ("report", o.report_id), ("photo", o.sha))
        if value in text and value not in asked
    ]


def expect(answer: httpx.Response, status: int, what: str, needed: list[str] | None = None) -> list[str]:
    if answer.status_code != status:
        return [f"{what}: {answer.status_code}, expected {status}: {answer.text[:160]}"]
    if needed is not None and answer.json()["detail"]["needed"] != needed:
        return [f"{what}: needed {answer.json()['detail']['needed']}, expected {needed}"]
    return []


def as_missing(
    w: World, who: str, method: str, path: str, real: str, answer: httpx.Response, **kw: Any
) -> list[str]:
    """A 404 exactly as for an object that does not exist (`real` stands in the path)."""
    fake = str(uuid.uuid4()) if len(real) == 36 else "0" * len(real)
    unknown = call(w, who, method, path.replace(real, fake), **kw)
    if answer.status_code != 404 or answer.text != unknown.text.replace(fake, real):
        return [
            f"{method} {path}: {answer.status_code} {answer.text[:160]} ≠ the unknown's {unknown.text[:160]}"
        ]
    return []


def per_object(check: Callable[[World, str, Any], list[str]]) -> Probe:
    return lambda w, who: [f for o in w.objects for f in check(w, who, o)]


def per_area(path: str, param: str | None = None, status: int = 200, **query: str) -> Probe:
    """An area-scoped read: 200 (no hidden ids) where the caller sees the area, 404 elsewhere."""

    def probe(w: World, who: str) -> list[str]:
        out = []
        for name, code in w.areas.items():
            url = path.replace("{area}", code)
            params = {**query, **({param: code} if param else {})}
            answer = call(w, who, "GET", url, params=params)
            if w.sees_area(who, name):
                out += expect(answer, status, f"{url} {name}") + leaks(w, who, answer, f"{url} {name}")
            else:
                out += expect(answer, 404, f"{url} {name}")
        return out

    return probe


def _report(w: World, who: str, o: Any) -> list[str]:
    path = f"/api/v1/reports/{o.report_id}"
    answer = call(w, who, "GET", path)
    if who in o.seen_by:
        return expect(answer, 200, path) + leaks(w, who, answer, path)
    return as_missing(w, who, "GET", path, o.report_id, answer)


def _case(w: World, who: str, o: Any) -> list[str]:
    path = f"/api/v1/cases/{o.case_id}"
    answer = call(w, who, "GET", path)
    if who in o.seen_by:
        return expect(answer, 200, path) + leaks(w, who, answer, path)
    return as_missing(w, who, "GET", path, o.case_id, answer)


def _photo(of_case: bool) -> Callable[[World, str, Any], list[str]]:
    """GET a report's photo (by its reporter), or a case's own (by who may verify or handle it)."""

    def check(w: World, who: str, o: Any) -> list[str]:
        owner = f"cases/{o.case_id}" if of_case else f"reports/{o.report_id}"
        sha, photo = (
            (o.evidence_sha, w.photos[f"{o.name}:evidence"]) if of_case else (o.sha, w.photos[o.name])
        )
        path = f"/api/v1/{owner}/attachments/{sha}"
        answer = call(w, who, "GET", path)
        if who in o.seen_by:
            ok = answer.status_code == 200 and answer.content == photo
            return [] if ok else [f"{path}: {answer.status_code}, expected the photo"]
        return as_missing(w, who, "GET", path, o.case_id if of_case else sha, answer)

    return check


def _upload(method: str, of_case: bool = False) -> Callable[[World, str, Any], list[str]]:
    """Upload (POST whole, or PUT asking what is held): a report's photo only by its reporter, a case's only
    by who may verify or handle it; 403 to others who see it, 404 as for nothing to those who do not."""

    def check(w: World, who: str, o: Any) -> list[str]:
        owner = f"cases/{o.case_id}" if of_case else f"reports/{o.report_id}"
        sha, photo = (
            (o.evidence_sha, w.photos[f"{o.name}:evidence"]) if of_case else (o.sha, w.photos[o.name])
        )
        headers = {"Content-Type": "image/jpeg"}
        if method == "POST":
            path = f"/api/v1/{owner}/attachments"
        else:
            path, headers["Content-Range"] = f"/api/v1/{owner}/attachments/{sha}", f"bytes */{len(photo)}"
        content = photo if method == "POST" else b""
        answer = call(w, who, method, path, content=content, headers=headers)
        what = f"{method} {path}"
        if of_case:
            if who in o.evidence_by:
                return expect(answer, 200, what) if who == sorted(o.evidence_by)[0] else []
            if who in o.seen_by:
                return expect(answer, 403, what)
            return as_missing(w, who, method, path, o.case_id, answer, content=content, headers=headers)
        if who not in REPORTERS:
            return expect(answer, 403, what, ["grid_worker", "city_dispatch"])
        if w.users[who] == o.reporter:
            return expect(answer, 200, what)  # its own photo again: acknowledged
        if who in o.seen_by:
            return expect(answer, 403, what) + leaks(w, who, answer, what)
        return expect(answer, 404, what) + leaks(w, who, answer, what)

    return check


def _action(action: str, needed: list[str], may: Callable[[str, Any], bool], **fields: object) -> Probe:
    def check(w: World, who: str, o: Any) -> list[str]:
        if may(who, o):
            return []  # allowed: test_permissions takes it; here it would change the case
        path = f"/api/v1/cases/{o.case_id}/actions"
        body = {"action": action, **fields}
        answer = call(w, who, "POST", path, json=body)
        if who in o.seen_by:
            return expect(answer, 403, f"{action} {o.name}", needed)
        return as_missing(w, who, "POST", path, o.case_id, answer, json=body)

    return per_object(check)


def _queues(w: World, who: str) -> list[str]:
    out = []
    for name, queue in QUEUES.items():
        answer = call(w, who, "GET", f"/api/v1/queues/{name.value}", params={"size": 100})
        has = who.removesuffix("_other") in {r.value for r in queue.roles}
        if has:
            out += expect(answer, 200, f"queue {name}") + leaks(w, who, answer, f"queue {name}")
        else:
            out += expect(answer, 403, f"queue {name}", [r.value for r in queue.roles])
    return out


def _admin_only(method: str, path: str, **kw: Any) -> Probe:
    """Non-admins 403 naming admin; the admin passes the gate (a body or name that changes nothing)."""

    def probe(w: World, who: str) -> list[str]:
        answer = call(w, who, method, path, **kw)
        if who == "admin":
            passed = answer.status_code in (200, 404, 422)
            return [] if passed else [f"{method} {path} as admin: {answer.status_code}"]
        return expect(answer, 403, f"{method} {path}", ["admin"])

    return probe


def _everyone(path: str, **query: str) -> Probe:
    return lambda w, who: expect(call(w, who, "GET", path, params=query), 200, path)


def _events(w: World, who: str) -> list[str]:
    out = []
    for name, code in w.areas.items():
        url = f"{w.system.api_url}/api/v1/events"
        with httpx.stream(
            "GET", url, params={"area_code": code}, headers=w.headers(who), timeout=30
        ) as answer:
            status = answer.status_code
        wanted = 200 if w.sees_area(who, name) else 404
        out += [] if status == wanted else [f"events {name}: {status}, expected {wanted}"]
    return out


def _me(w: World, who: str) -> list[str]:
    answer = call(w, who, "GET", "/api/v1/auth/me")
    return expect(answer, 200, "me") + (
        [] if answer.json().get("username") == w.users[who] else ["me: not me"]
    )


def _lead(who: str, o: Any) -> bool:
    return who == o.lead


def _dispatcher(who: str, o: Any) -> bool:
    return who == "city_dispatch"


REPORT = {"category": "10101", "location": {"lon": 121.6, "lat": 38.9}, "reporter_id": "t_someone_else"}
PROBES: dict[tuple[str, str], Probe] = {
    ("post", "/api/v1/reports"): lambda w, who: _submit(w, who, batch=False),
    ("post", "/api/v1/reports/batch"): lambda w, who: _submit(w, who, batch=True),
    ("get", "/api/v1/reports/{report_id}"): per_object(_report),
    ("post", "/api/v1/reports/{report_id}/attachments"): per_object(_upload("POST")),
    ("put", "/api/v1/reports/{report_id}/attachments/{sha256}"): per_object(_upload("PUT")),
    ("get", "/api/v1/reports/{report_id}/attachments/{sha256}"): per_object(_photo(of_case=False)),
    ("post", "/api/v1/cases/{case_id}/attachments"): per_object(_upload("POST", of_case=True)),
    ("put", "/api/v1/cases/{case_id}/attachments/{sha256}"): per_object(_upload("PUT", of_case=True)),
    ("get", "/api/v1/cases/{case_id}/attachments/{sha256}"): per_object(_photo(of_case=True)),
    ("get", "/api/v1/cases/{case_id}"): per_object(_case),
    ("post", "/api/v1/cases/{case_id}/actions"): lambda w, who: [
        *_action("accept", ["department"], _lead)(w, who),
        *_action("dispatch", ["city_dispatch"], _dispatcher, department_code="210202000000:water")(w, who),
    ],
    ("get", "/api/v1/cases"): per_area("/api/v1/cases", "area_code"),
    ("get", "/api/v1/views/{area_code}"): per_area("/api/v1/views/{area}"),
    ("get", "/api/v1/exports/cases.{fmt}"): per_area("/api/v1/exports/cases.csv", "area_code"),
    ("get", "/api/v1/exports/indicators.{fmt}"): per_area("/api/v1/exports/indicators.csv", "area_code"),
    ("get", "/api/v1/map/areas"): per_area("/api/v1/map/areas", "parent"),
    ("get", "/api/v1/map/cases"): per_area("/api/v1/map/cases", "area_code"),
    ("get", "/api/v1/map/series"): per_area("/api/v1/map/series", "area_code"),
    ("get", "/api/v1/map/cases/{case_id}/reports"): per_object(
        lambda w, who, o: _scoped_get(w, who, o, f"/api/v1/map/cases/{o.case_id}/reports", o.case_id)
    ),
    ("get", "/api/v1/events"): _events,
    ("get", "/api/v1/queues/{name}"): _queues,
    ("get", "/api/v1/categories"): _everyone("/api/v1/categories"),
    ("get", "/api/v1/departments"): _everyone("/api/v1/departments", area_code="210202000000"),
    ("get", "/api/v1/duty-rules"): _everyone("/api/v1/duty-rules"),
    ("get", "/api/v1/duty-rules/{category_code}/{level}"): _everyone("/api/v1/duty-rules/10101/district"),
    ("put", "/api/v1/duty-rules/{category_code}/{level}"): _admin_only(
        "PUT", "/api/v1/duty-rules/10101/district", json={"deadline_hours": -1}
    ),
    ("delete", "/api/v1/duty-rules/{category_code}/{level}"): _admin_only(
        "DELETE",
        "/api/v1/duty-rules/10101/city",  # no such rule: the admin gets 404, nothing is removed
    ),
    ("get", "/api/v1/users"): _admin_only("GET", "/api/v1/users"),
    ("post", "/api/v1/users"): _admin_only("POST", "/api/v1/users", json={}),
    ("post", "/api/v1/users/{username}/disable"): _admin_only("POST", "/api/v1/users/t_nobody_here/disable"),
    ("put", "/api/v1/users/{username}/role"): _admin_only("PUT", "/api/v1/users/t_nobody_here/role", json={}),
    ("post", "/api/v1/api-keys"): _admin_only("POST", "/api/v1/api-keys", json={}),
    ("get", "/api/v1/api-keys"): _admin_only("GET", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys/{key_id}/revoke"): _admin_only(
        "POST",
        f"/api/v1/api-keys/{uuid.uuid4()}/revoke",  # no such key: the admin gets 404
    ),
    ("get", "/api/v1/auth/me"): _me,
}


def _scoped_get(w: World, who: str, o: Any, path: str, real: str) -> list[str]:
    answer = call(w, who, "GET", path)
    if who in o.seen_by:
        return expect(answer, 200, path) + leaks(w, who, answer, path)
    return as_missing(w, who, "GET", path, real, answer)


def _submit(w: World, who: str, *, batch: bool) -> list[str]:
    """Only reporters submit; even they not in someone else's name."""
    body = {**REPORT, "report_id": str(uuid.uuid4()), "observed_at": "2026-12-01T08:00:00+08:00"}
    path = "/api/v1/reports/batch" if batch else "/api/v1/reports"
    answer = call(w, who, "POST", path, json={"reports": [body]} if batch else body)
    if who not in REPORTERS:
        return expect(answer, 403, path, ["grid_worker", "city_dispatch"])
    if batch:
        (item,) = answer.json()["results"]
        refused = item["status"] == 422 and item["detail"][0]["loc"][-1] == "reporter_id"
        return [] if refused else [f"{path}: {item}"]
    loc = answer.json()["detail"][0]["loc"] if answer.status_code == 422 else None
    return [] if loc == ["body", "reporter_id"] else [f"{path}: {answer.status_code} {answer.text[:160]}"]


def test_every_endpoint_of_the_app_has_a_probe_in_the_matrix() -> None:
    missing = sorted(ROUTES - set(PROBES))
    assert not missing, f"endpoints without a scoping probe (add one to PROBES): {missing}"


def test_without_a_token_every_endpoint_answers_401(live_system: LiveSystem) -> None:
    fill = {"report_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "sha256": "0" * 64,
            "area_code": "210200000000", "category_code": "10101", "level": "district", "username": "t_admin",
            "name": "new", "fmt": "csv", "key_id": str(uuid.uuid4())}  # fmt: skip
    wrong = []
    for method, path in sorted(ROUTES):
        url = live_system.api_url + path.format(**fill)
        answer = httpx.request(method, url, json={}, params={"area_code": "210200000000"}, timeout=30)
        if answer.status_code != 401 or not answer.headers.get("www-authenticate", "").startswith("Bearer"):
            wrong.append(f"{method.upper()} {path}: {answer.status_code}")
    assert not wrong, wrong


@pytest.mark.parametrize("who", USER_KEYS)
def test_each_role_sees_and_acts_only_within_its_scope(world: World, who: str) -> None:
    failures = [f for route, probe in sorted(PROBES.items()) if route in ROUTES for f in probe(world, who)]
    assert not failures, "\n".join(failures)
