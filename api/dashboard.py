"""指挥中心 (the dispatch center's page), served by the API: the page's own files from dashboard/static and
the two libraries' dist folders from dashboard/node_modules (installed by `npm ci` in infra/bootstrap.sh),
with no bundler. The page loads nothing from elsewhere: its Content-Security-Policy allows this origin only.
"""

from __future__ import annotations

import logging
import mimetypes
from os import PathLike
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from infra.settings import PROJECT_ROOT

log = logging.getLogger("gridflow.api.dashboard")

DASHBOARD = PROJECT_ROOT / "dashboard"
VENDOR = {  # URL folder under /dashboard/vendor → the npm package's dist folder
    "maplibre-gl": DASHBOARD / "node_modules" / "maplibre-gl" / "dist",
    "echarts": DASHBOARD / "node_modules" / "echarts" / "dist",
}
# MapLibre starts its worker from a blob: URL and draws photos and canvases from blob:/data: URLs; nothing
# else comes from anywhere but this origin (no tiles, fonts, glyphs or scripts from outside).
CSP = (
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; "
    "img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

# Python 3.11 does not know .mjs; a module script served as anything but JavaScript is refused by browsers.
mimetypes.add_type("text/javascript", ".mjs")


class PageFiles(StaticFiles):
    """Static files with the page's security headers."""

    def file_response(
        self, full_path: str | PathLike[str], stat_result: object, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)  # type: ignore[arg-type]
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def mount_dashboard(app: FastAPI, root: Path = DASHBOARD) -> None:
    """Serve the page at /dashboard/ (and / redirects there); its libraries at /dashboard/vendor/."""
    for name, folder in VENDOR.items():
        if not folder.is_dir():
            log.warning(
                "dashboard: %s is missing; run `npm ci` in %s (infra/bootstrap.sh does)", folder, root
            )
        app.mount(
            f"/dashboard/vendor/{name}", PageFiles(directory=folder, check_dir=False), name=f"vendor-{name}"
        )
    app.mount("/dashboard", PageFiles(directory=root / "static", html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/")
