"""The whole OpenAPI, fuzzed by schemathesis against the live system as each role and anonymously: no answer
is a 5xx, and every 4xx is JSON with a stable `error` code (a 422 naming the field in `detail[].loc`).

The schema is loaded from the running API; the operations are listed at collection from the app's own schema
(so each operation × role is a test of its own, and a known bug can be an xfail of one pair), and the run
checks that both lists agree. Each pair gets a bounded, derandomized number of examples, positive and
negative, without shrinking: a failure is reported as schemathesis found it (with a curl command to replay).
Half the time a parameter that names something (an area, a case, a report, a queue, a format, an API key) is
given a real one, so the fuzzing gets past the 404 and 422 of made-up names into the code behind them.

Roles: anonymous, grid_worker, department, city_dispatch, auditor, admin. community, township and district
take the area-scoped code paths that grid_worker and department take (accounts/scope.py), and each role
costs about half a minute: the suite's added time stays near three minutes.

Left out, and why (see `EXCLUDED`): `/api/v1/events` streams forever, so it is fuzzed here with its own
client and a read timeout (`test_event_stream_answers_or_refuses_as_json`); `/ready` rightly answers 503 when
a service is down; `/metrics` and the dashboard are not JSON and not in the schema. Guards keep the shared
live system usable by the tests that run after this one: user disabling and role changes only touch a
throwaway user, duty-rule edits never name a real category (they would reroute every later report), and
sign-in is fuzzed anonymously only, with few examples, because failures count against 127.0.0.1's limit.
Open311 answers errors in the spec's shape (`[{code, description}]`), checked as such; its keyed GETs get an
API key issued by the admin. Photo uploads take a raw body that the schema does not describe, so they are
fuzzed in their path, query and auth only (tests/e2e/test_hostile_input.py sends the bodies).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from accounts.roles import Role
from tests.fixtures import Accounts, LiveSystem, UserAccount

EXAMPLES = 12  # per operation and role, half of them negative (invalid) on average
SIGN_IN_EXAMPLES = 6  # failed sign-ins count against the address's limit (50 per 15 minutes)
ROLES: list[Role | None] = [
    None,
    Role.GRID_WORKER,
    Role.DEPARTMENT,
    Role.CITY_DISPATCH,
    Role.AUDITOR,
    Role.ADMIN,
]
EXCLUDED = {
    "GET /api/v1/events": "Server-Sent Events: the stream never ends; fuzzed with a read timeout below",
    "GET /ready": "503 is its correct answer while a service is down",
}
ANONYMOUS_ONLY = {"POST /api/v1/auth/token"}  # the bearer plays no part; failures count per address
THROWAWAY = "fz_throwaway"  # the only user that disabling and role changes may touch
ERROR_CODE = re.compile(r"[a-z][a-z0-9_]*")
LOCATIONS = {"body", "query", "path", "header", "cookie"}

# Known 5xx bugs, each a strict xfail until fixed: {(operation, role or "anonymous"): reason}.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _operations() -> list[str]:
    from api.app import create_app

    paths = create_app().openapi()["paths"]
    return sorted(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops)


OPERATIONS = _operations()


def _who(role: Role | None) -> str:
    return role.value if role else "anonymous"


def _pairs() -> list[Any]:
    pairs = []
    for operation in OPERATIONS:
        if operation in EXCLUDED:
            continue
        for role in ROLES:
            if operation in ANONYMOUS_ONLY and role is not None:
                continue
            reason = KNOWN_BUGS.get((operation, _who(role)))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            pairs.append(pytest.param(operation, role, id=f"{operation}-{_who(role)}", marks=marks))
    return pairs


def error_body_names_code_and_field(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A 4xx is JSON with a stable `error` code; a 422 names the field (`detail[].loc`); Open311 answers
    its spec's `[{code, description}]` in the format its path names."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    if case.operation.path.startswith("/open311/"):
        if case.path_parameters and case.path_parameters.get("fmt") == "json":
            errors = response.json()
            assert isinstance(errors, list) and errors, f"Open311 {status} is not a list of errors"
            for item in errors:
                assert item.get("code") == status and isinstance(item.get("description"), str), item
        return
    if status in (405, 406) and not response.content:  # Starlette's method refusals carry no body
        return
    ctype = ",".join(response.headers.get("content-type", []))
    assert "json" in ctype, f"{status} answered as {ctype!r}, not JSON: {response.text[:200]!r}"
    body = response.json()
    assert isinstance(body, dict), f"{status} body is not an object: {body!r:.200}"
    code = body.get("error")
    assert isinstance(code, str) and ERROR_CODE.fullmatch(code), (
        f"{status} has no stable `error` code: {body!r:.300}"
    )
    if status == 422:
        detail = body.get("detail")
        assert isinstance(detail, list) and detail, f"422 `detail` is not a located list: {body!r:.300}"
        for item in detail:
            loc = item.get("loc")
            assert isinstance(loc, list) and loc and loc[0] in LOCATIONS, (
                f"422 without a field's loc: {item!r:.300}"
            )
            assert loc[0] == "body" or len(loc) >= 2, f"422 names the {loc[0]} but not which: {item!r:.300}"


CHECKS = [not_a_server_error, error_body_names_code_and_field]


@pytest.fixture(scope="module")
def fuzz_schema(live_system: LiveSystem) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_system.api_url}/openapi.json")


@pytest.fixture(scope="module")
def open311_key(live_system: LiveSystem, accounts: Accounts) -> str:
    """An API key issued by the admin to a fuzzing client."""
    answer = httpx.post(
        f"{live_system.api_url}/api/v1/api-keys",
        json={"client_name": "schemathesis-fuzz"},
        headers=accounts.headers(Role.ADMIN),
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["api_key"])


@pytest.fixture(scope="module")
def real_values(live_system: LiveSystem, accounts: Accounts) -> dict[str, list[str]]:
    """Parameter name → values that name something real: a case of the fixture's grid worker, its areas."""
    from api.queues.schemas import QueueName
    from tests.e2e.casework import URBAN, open_case
    from tests.fixtures import REPORTER

    grid = accounts.users[Role.GRID_WORKER].grid_codes[0]
    opened = open_case(live_system, REPORTER, grid, URBAN)
    throwaway_key = httpx.post(  # revoked by the fuzzing, never used: open311_key stays valid
        f"{live_system.api_url}/api/v1/api-keys",
        json={"client_name": "schemathesis-throwaway"},
        headers=accounts.headers(Role.ADMIN),
        timeout=10,
    )
    assert throwaway_key.status_code == 201, throwaway_key.text
    return {
        "area_code": ["210200000000", "210202000000", grid[:12], grid],
        "case_id": [opened.case_id],
        "report_id": [opened.report_id],
        "service_request_id": [opened.case_id],
        "fmt": ["json", "xml", "csv", "xlsx"],
        "name": [q.value for q in QueueName],
        "category_code": [URBAN],
        "service_code": [URBAN],
        "key_id": [throwaway_key.json()["key_id"]],
    }


def _use_real_values(case: schemathesis.Case, data: st.DataObject, real: dict[str, list[str]]) -> None:
    for container in (case.path_parameters, case.query):
        if not isinstance(container, dict):
            continue
        for name in [n for n in container if n in real]:
            if data.draw(st.booleans()):
                container[name] = data.draw(st.sampled_from(real[name]))


@pytest.fixture(scope="module")
def throwaway(accounts: Accounts) -> str:
    grids = accounts.users[Role.GRID_WORKER].grid_codes
    return accounts.ensure(UserAccount(THROWAWAY, Role.GRID_WORKER, grid_codes=grids)).username


def test_the_fuzzed_operations_are_the_live_schema(fuzz_schema: schemathesis.BaseSchema) -> None:
    live = sorted(
        f"{op.method.upper()} {op.path}" for op in (r.ok() for r in fuzz_schema.get_all_operations())
    )
    assert live == OPERATIONS


def _guard(case: schemathesis.Case, *, throwaway: str) -> None:
    """Keep the generated request off what the later tests need (see the module's docstring)."""
    params = case.path_parameters or {}
    if "username" in params and case.method.upper() != "GET":
        params["username"] = throwaway
    if case.operation.path.startswith("/api/v1/duty-rules/") and case.method.upper() in ("PUT", "DELETE"):
        params["category_code"] = "fz" + str(params.get("category_code", ""))
    body = case.body
    if (
        case.operation.path == "/api/v1/users"
        and isinstance(body, dict)
        and isinstance(body.get("username"), str)
    ):
        body["username"] = "fz" + case.body["username"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("operation", "role"), _pairs())
def test_operation_answers_no_5xx_and_named_errors(
    operation: str,
    role: Role | None,
    live_system: LiveSystem,
    accounts: Accounts,
    fuzz_schema: schemathesis.BaseSchema,
    open311_key: str,
    throwaway: str,
    real_values: dict[str, list[str]],
) -> None:
    method, path = operation.split(" ", 1)
    api_operation = fuzz_schema[path][method]
    strategy = st.one_of(
        api_operation.as_strategy(GenerationMode.POSITIVE), api_operation.as_strategy(GenerationMode.NEGATIVE)
    )
    examples = SIGN_IN_EXAMPLES if operation in ANONYMOUS_ONLY else EXAMPLES
    query = {"api_key": open311_key} if path.startswith("/open311/") and method == "GET" else None

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=strategy, data=st.data())
    def fuzz(case: schemathesis.Case, data: st.DataObject) -> None:
        _use_real_values(case, data, real_values)
        _guard(case, throwaway=throwaway)
        headers = dict(case.headers or {})
        if role is None:
            headers.pop("Authorization", None)
        else:
            headers.update(accounts.headers(role))
        if query and "api_key" not in (case.query or {}):
            case.query = {**(case.query or {}), **query}
        response = case.call(base_url=live_system.api_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS)

    fuzz()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("role", ROLES, ids=_who)
def test_event_stream_answers_or_refuses_as_json(
    role: Role | None, live_system: LiveSystem, accounts: Accounts
) -> None:
    """`/api/v1/events` with generated area codes and Last-Event-IDs: a refusal is a named JSON error, an
    acceptance opens `text/event-stream` (closed after the headers: it never ends), never a 5xx."""
    auth = accounts.headers(role) if role else {}
    codes = st.one_of(st.sampled_from(["210200000000", "210202000000", "210203001001"]), st.text(max_size=20))
    last_ids = st.one_of(
        st.none(), st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30)
    )

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate])
    @given(area_code=codes, last_id=last_ids)
    def fuzz(area_code: str, last_id: str | None) -> None:
        headers = {**auth, **({"Last-Event-ID": last_id} if last_id is not None else {})}
        timeout = httpx.Timeout(10, read=3)
        url = f"{live_system.api_url}/api/v1/events"
        try:
            with httpx.stream(
                "GET", url, params={"area_code": area_code}, headers=headers, timeout=timeout
            ) as r:
                status, ctype = r.status_code, r.headers.get("content-type", "")
                body = None if status == 200 else r.read()
        except httpx.LocalProtocolError:
            assume(False)  # a header httpx itself will not send
            return
        assert status < 500, f"{status} for area_code={area_code!r} Last-Event-ID={last_id!r}: {body!r:.300}"
        if status == 200:
            assert ctype.startswith("text/event-stream"), ctype
            return
        assert body is not None and "json" in ctype, f"{status} answered as {ctype!r}"
        answer = httpx.Response(status, content=body).json()
        assert isinstance(answer.get("error"), str) and ERROR_CODE.fullmatch(answer["error"]), answer

    fuzz()
