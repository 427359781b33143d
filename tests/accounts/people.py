"""Principals of every role, in and out of one case's place and department, for the scope matrices."""

from __future__ import annotations

import uuid

from accounts.roles import Principal, PrincipalKind, Role
from accounts.scope import CaseFacts

CITY = "210200000000"
DISTRICT = "210202000000"  # 中山区
TOWNSHIP = "210202001000"
COMMUNITY = "210202001001"
GRID = "210202001001001"
WATER = "210202000000:water"
URBAN = "210202000000:urban_management"

OTHER_GRID = "210202001001002"
OTHER_COMMUNITY = "210202001002"
OTHER_TOWNSHIP = "210202002000"
OTHER_DISTRICT = "210203000000"
OTHER_WATER = "210203000000:water"


def person(role: Role, name: str, **assignment: object) -> Principal:
    return Principal(user_id=uuid.uuid4(), username=name, role=role, **assignment)  # type: ignore[arg-type]


PEOPLE: dict[str, Principal] = {
    "grid_worker": person(Role.GRID_WORKER, "gw", grid_codes=(GRID,)),
    "grid_worker_other": person(Role.GRID_WORKER, "gw2", grid_codes=(OTHER_GRID,)),
    "reporter": person(Role.GRID_WORKER, "gw_reporter", grid_codes=("210203001001001",)),
    "community": person(Role.COMMUNITY, "sq", area_code=COMMUNITY),
    "community_other": person(Role.COMMUNITY, "sq2", area_code=OTHER_COMMUNITY),
    "township": person(Role.TOWNSHIP, "jd", area_code=TOWNSHIP),
    "township_other": person(Role.TOWNSHIP, "jd2", area_code=OTHER_TOWNSHIP),
    "district": person(Role.DISTRICT, "qx", area_code=DISTRICT),
    "district_other": person(Role.DISTRICT, "qx2", area_code=OTHER_DISTRICT),
    "lead": person(Role.DEPARTMENT, "water", department_code=WATER),
    "helper": person(Role.DEPARTMENT, "urban", department_code=URBAN),
    "department_other": person(Role.DEPARTMENT, "water2", department_code=OTHER_WATER),
    "city_dispatch": person(Role.CITY_DISPATCH, "zhzx"),
    "auditor": person(Role.AUDITOR, "audit"),
    "admin": person(Role.ADMIN, "root"),
    "client": Principal(kind=PrincipalKind.CLIENT, user_id=uuid.uuid4(), username="12345热线"),
}

# Who sees the case below: its place's offices and grid worker, its departments, the city, its reporter.
SEE_CASE = {
    "grid_worker",
    "reporter",
    "community",
    "township",
    "district",
    "lead",
    "helper",
    "city_dispatch",
    "auditor",
    "admin",
}


def case_facts(**change: object) -> CaseFacts:
    base: dict[str, object] = {
        "area_codes": (CITY, DISTRICT, TOWNSHIP, COMMUNITY),
        "grid_code": GRID,
        "department_code": WATER,
        "helper_codes": (URBAN,),
        "reporter_ids": ("gw_reporter",),
    }
    return CaseFacts.model_validate({**base, **change})
