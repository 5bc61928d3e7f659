"""GraphiQL served from the gateway itself: strawberry's page loads React and GraphiQL from
unpkg.com, which a clinic with poor connectivity (or none beyond the gateway) cannot reach.
The same page, with the same library versions vendored under ``assets/`` (see
VERSIONS.txt), served at /graphql/assets/."""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
ASSETS_PATH = "/graphql/assets"


@functools.cache
def graphiql_html() -> str:
    return (HERE / "graphiql.html").read_text(encoding="utf-8")


def graphiql_assets() -> StaticFiles:
    return StaticFiles(directory=HERE / "assets")
