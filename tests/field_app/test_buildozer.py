"""buildozer.spec packs what the app needs: its code, the CJK font, the pinned versions the tests use."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def spec() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "buildozer.spec", encoding="utf-8")
    return parser["app"]


def test_app_folder_has_the_entry_point_and_the_font_is_packed() -> None:
    app = spec()
    source = ROOT / app["source.dir"]
    assert (source / "main.py").exists()
    assert "ttc" in app["source.include_exts"].split(",")
    assert "py" in app["source.include_exts"].split(",")


def test_requirements_pin_the_versions_the_tests_run_with() -> None:
    requirements = {item.strip() for item in spec()["requirements"].split(",")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for pinned in pyproject["project"]["optional-dependencies"]["field"]:
        assert pinned in requirements
    assert {"sqlite3", "openssl", "pyjnius", "android"} <= requirements
    assert any(item.startswith("httpx==") for item in requirements)


def test_permissions_cover_location_and_camera() -> None:
    permissions = spec()["android.permissions"]
    for name in ("INTERNET", "ACCESS_FINE_LOCATION", "CAMERA"):
        assert name in permissions


def test_version_comes_from_the_package() -> None:
    import field_app

    assert spec()["version.regex"] == '__version__ = "(.*)"'
    assert field_app.__version__ == "0.1.0"
