"""The objects the scoping matrix probes, and who must see them.

Four cases, each with its report and a photo its reporter sent: `here` — 中山区's water bureau, in the grid
of `accounts.users`' grid worker, reported by it; `other_department` — the same grid, 中山区's urban
management, reported by another grid worker; `there` — 西岗区's water bureau, in the grid of
`accounts.others`' grid worker, reported by it; `reported_elsewhere` — that grid, 西岗区's urban management,
reported by `accounts.users`' grid worker. And the areas around them, grid to district, and the city.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import httpx

from accounts.roles import Role
from tests.api.attachment_app import JPEG
from tests.e2e.casework import URBAN, WATER, open_case
from tests.fixtures import Accounts, LiveSystem

CITY_WIDE = {"city_dispatch", "auditor", "admin"}
OFFICES = ("grid_worker", "community", "township", "district")


def key(role: Role, other: bool = False) -> str:
    """How the matrix names a fixture user: `district`, `district_other`..."""
    return f"{role.value}_other" if other else role.value


@dataclass
class Obj:
    name: str
    report_id: str
    case_id: str
    reporter: str  # username
    lead: str | None  # the user key of its lead department, if one of the fixture's
    sha: str  # its photo, sent by its reporter
    seen_by: set[str]  # user keys
    evidence_by: set[str] = field(default_factory=set)  # who may add the case's own photos (verify, handle)
    evidence_sha: str = ""  # the case's photo, sent by one of them


@dataclass
class World:
    system: LiveSystem
    accounts: Accounts
    users: dict[str, str]  # user key → username
    objects: list[Obj]
    areas: dict[str, str]  # area name → code
    area_seen_by: dict[str, set[str]]  # area name → user keys
    photos: dict[str, bytes] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return self.accounts.headers(self.users[who])

    def hidden_from(self, who: str) -> list[Obj]:
        return [o for o in self.objects if who not in o.seen_by]

    def sees_area(self, who: str, area: str) -> bool:
        return who in self.area_seen_by[area]


def _photo(name: str) -> bytes:
    return JPEG + name.encode()  # bytes of its own, so that each object's photo has its own hash


def _upload(
    system: LiveSystem, accounts: Accounts, obj: Obj, photo: bytes, to: str = "", who: str = ""
) -> None:
    """A photo for the object's report, by its reporter; or for `to` (cases/{id}) by `who`."""
    answer = httpx.post(
        f"{system.api_url}/api/v1/{to or f'reports/{obj.report_id}'}/attachments",
        content=photo,
        headers={"Content-Type": "image/jpeg", **accounts.headers(who or obj.reporter)},
        timeout=15,
    )
    assert answer.status_code in (200, 201), answer.text


def build(system: LiveSystem, accounts: Accounts) -> World:
    users = {key(r): a.username for r, a in accounts.users.items()}
    users |= {key(r, True): a.username for r, a in accounts.others.items()}
    grid = accounts.users[Role.GRID_WORKER].grid_codes[0]
    grid_there = accounts.others[Role.GRID_WORKER].grid_codes[0]
    here_offices = set(OFFICES)
    there_offices = {f"{o}_other" for o in OFFICES}
    specs = [
        ("here", users["grid_worker"], grid, WATER[1], "department", here_offices | {"department"},
         {"department", "grid_worker"}),
        ("other_department", accounts.grid_worker(grid, name="t_gw_matrix"), grid, URBAN, None, here_offices,
         {"grid_worker"}),
        ("there", users["grid_worker_other"], grid_there, WATER[1], "department_other",
         there_offices | {"department_other"}, {"department_other", "grid_worker_other"}),
        # Seen by its reporter although outside its grids, and not by 西岗区's water bureau.
        ("reported_elsewhere", users["grid_worker"], grid_there, URBAN, None,
         there_offices | {"grid_worker"}, {"grid_worker_other"}),
    ]  # fmt: skip
    objects, photos = [], {}
    for name, reporter, at, category, lead, seen, evidence_by in specs:
        opened = open_case(system, reporter, at, category)
        photo = _photo(name)
        obj = Obj(
            name=name,
            report_id=opened.report_id,
            case_id=opened.case_id,
            reporter=reporter,
            lead=lead,
            sha=hashlib.sha256(photo).hexdigest(),
            seen_by=seen | CITY_WIDE,
            evidence_by=evidence_by,
        )
        _upload(system, accounts, obj, photo)
        evidence = _photo(f"{name}:evidence")
        obj.evidence_sha = hashlib.sha256(evidence).hexdigest()
        _upload(system, accounts, obj, evidence, f"cases/{obj.case_id}", users[sorted(evidence_by)[0]])
        objects.append(obj)
        photos[name], photos[f"{name}:evidence"] = photo, evidence
    areas: dict[str, str] = {"city": "210200000000"}
    area_seen_by: dict[str, set[str]] = {"city": set(CITY_WIDE)}
    for side, code, suffix in (("here", grid, ""), ("there", grid_there, "_other")):
        chain = {
            "grid": code,
            "community": code[:12],
            "township": code[:9] + "000",
            "district": code[:6] + "000000",
        }
        for depth, (level, area) in enumerate(chain.items()):
            areas[f"{side}_{level}"] = area
            # An office sees its own level and below: the grid worker only its grid.
            area_seen_by[f"{side}_{level}"] = {f"{o}{suffix}" for o in OFFICES[depth:]} | CITY_WIDE
    return World(system, accounts, users, objects, areas, area_seen_by, photos)
