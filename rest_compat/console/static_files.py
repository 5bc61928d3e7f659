"""The console's static files (vendored htmx and uPlot, its CSS and script), cached for a
year: their URLs carry a digest of the files (rendering.static_url)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"


class ConsoleStatic(StaticFiles):
    def file_response(self, full_path: Any, stat_result: Any, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def console_static() -> ConsoleStatic:
    return ConsoleStatic(directory=STATIC_DIR)
