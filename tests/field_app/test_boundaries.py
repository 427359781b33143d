"""The app's layering: no server package anywhere in it, no Kivy in its state and services."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "field_app"
SERVER_PACKAGES = {"geo", "stream", "api", "infra"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(APP.rglob("*.py")), ids=lambda p: str(p.relative_to(APP)))
def test_app_module_imports_no_server_package(path: Path) -> None:
    assert not {m for m in imported_modules(path) if m.split(".")[0] in SERVER_PACKAGES}


@pytest.mark.parametrize(
    "path", sorted([*APP.glob("core/*.py"), *APP.glob("devices/*.py")]), ids=lambda p: str(p.relative_to(APP))
)
def test_state_and_services_do_not_need_kivy(path: Path) -> None:
    assert not {m for m in imported_modules(path) if m.split(".")[0] == "kivy"}


def test_font_and_its_licence_ship_inside_the_app() -> None:
    assert (APP / "fonts" / "wqy-microhei.ttc").stat().st_size > 1_000_000
    assert "Apache" in (APP / "fonts" / "LICENSE.txt").read_text(encoding="utf-8")
