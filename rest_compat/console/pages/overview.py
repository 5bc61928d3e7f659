"""Overview: traffic per channel over the last hour, day or week (messages per minute, error
rate, latency where stored), as a table and uPlot charts drawn by static/overview.js from a
JSON data block (the console's CSP runs no inline script)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from resolvers.operations.traffic.records import Window
from resolvers.operations.traffic.stats import TrafficOverview
from rest_compat.console.framework import ConsoleRequest, Page


def chart_data(overview: TrafficOverview) -> dict[str, Any]:
    """What overview.js plots: x = bucket starts; one series per channel and measure."""
    per_minute = overview.bucket_seconds / 60
    return {
        "x": overview.starts,
        "bucket_seconds": overview.bucket_seconds,
        "channels": [{
            "name": c.channel,
            "rate": [round(n / per_minute, 3) for n in c.counts],
            "errors": [round(e / n, 4) if n else None for n, e in zip(c.counts, c.error_counts,
                                                                        strict=True)],
            "latency": [None if v is None else round(v, 1) for v in c.latencies],
        } for c in overview.channels],
    }


async def overview_page(console: ConsoleRequest) -> Response:
    chosen = console.request.query_params.get("window", Window.HOUR.value)
    window = Window(chosen) if chosen in Window.__members__.values() else Window.HOUR
    overview = await console.services.traffic.overview(console.caller, window)
    # </script> cannot end the data block early: "<" is escaped in the JSON.
    data = json.dumps(chart_data(overview), separators=(",", ":")).replace("<", "\\u003c")
    return console.render("overview.html", {
        "overview": overview, "windows": list(Window), "window": window, "chart_json": data,
        "no_latency": sorted({c.family for c in overview.channels if c.latency_meaning is None}),
    })


PAGES = [Page("/overview", overview_page, "overview", nav_key="nav.overview", order=10)]
