"""Exports on the live system: the cases and the indicators of an area as CSV and XLSX, with Chinese
headers; the XLSX opens in openpyxl with the same rows as the CSV, and the rows are the view's."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.e2e.test_view import AHEAD, listed, read_headers, view
from tests.e2e.test_view import reader as reader  # an autouse fixture: the dispatch center reads
from tests.e2e.test_view import scenario as scenario  # a fixture: pytest finds it by this name
from tests.fixtures import LiveSystem


def fetch(system: LiveSystem, path: str, **params: str) -> httpx.Response:
    answer = httpx.get(
        f"{system.api_url}/api/v1/exports/{path}", params=params, headers=read_headers(), timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer


def csv_rows(answer: httpx.Response) -> list[list[str]]:
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese as UTF-8
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def xlsx_rows(answer: httpx.Response) -> list[list[str]]:
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    return [
        ["" if v is None else str(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)
    ]


def test_the_cases_export_holds_the_cases_registered_in_the_period_as_csv_and_xlsx(
    live_system: LiveSystem,
    scenario: dict[str, Any],
):
    code = scenario["community"]
    as_csv = csv_rows(fetch(live_system, "cases.csv", area_code=code, **AHEAD))
    as_xlsx = xlsx_rows(fetch(live_system, "cases.xlsx", area_code=code, **AHEAD))
    header, *rows = as_csv
    assert header[:4] == ["案件编号", "状态", "类别代码", "类别名称"] and "主办部门" in header
    registered = view(live_system, code, **AHEAD)["figures"]["indicators"]["registered"]
    assert {row[0] for row in rows} == listed(live_system, registered["cases"])
    assert len(rows) == registered["value"] == len(scenario["cases"])
    assert as_xlsx[0] == header and sorted(r[:3] for r in as_xlsx[1:]) == sorted(r[:3] for r in rows)
    states = {row[0]: row[1] for row in rows}
    assert states[scenario["cases"]["closed"]["case_id"]] == "已结案"


def test_the_indicators_export_has_the_area_and_each_child_with_the_views_figures(
    live_system: LiveSystem,
    scenario: dict[str, Any],
):
    township = scenario["community"][:9] + "000"
    figures = view(live_system, township, **AHEAD)
    header, *rows = csv_rows(fetch(live_system, "indicators.csv", area_code=township, **AHEAD))
    assert header[:3] == ["区划代码", "名称", "层级"] and "按期结案率(%)" in header and "综合得分" in header
    assert [row[0] for row in rows] == [township, *(child["code"] for child in figures["children"])]
    mine = {row[0]: dict(zip(header, row, strict=True)) for row in rows}[scenario["community"]]
    assert int(mine["立案数"]) == len(scenario["cases"]) and int(mine["结案数"]) == 1
    assert xlsx_rows(fetch(live_system, "indicators.xlsx", area_code=township, **AHEAD))[0] == header


def test_an_export_with_a_bad_filter_is_a_422_naming_it(live_system: LiveSystem):
    answer = httpx.get(
        f"{live_system.api_url}/api/v1/exports/cases.csv", params={"category": "x"}, headers=read_headers()
    )
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "category"]
