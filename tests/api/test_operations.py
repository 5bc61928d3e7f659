"""Health, readiness, metrics, CORS, OpenAPI document and docs page, error masking."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from starlette.routing import Route

from rest_compat.route_index import RouteIndex
from tests.support import Harness, make_settings, running_app


async def test_healthz_and_readyz(gateway: Harness) -> None:
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    r = await gateway.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok"}


async def test_readyz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    settings = make_settings(tmp_path / "var", url, outbox_worker=False)
    import httpx

    from app import create_app

    app = create_app(settings)  # lifespan not started: it would fail to migrate, as it should
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
        assert (await client.get("/healthz")).status_code == 200


async def test_metrics_need_admin_and_count_requests_and_outbox(gateway: Harness) -> None:
    await gateway.create_patient()
    assert (await gateway.client.get("/metrics")).status_code == 401
    assert (await gateway.client.get("/metrics", headers=gateway.auth("clinician"))).status_code == 403
    r = await gateway.client.get("/metrics", headers=gateway.auth("admin"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'cari_http_requests_total{method="POST",route="/api/patients",status="201"} 1.0' in text
    assert 'cari_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/api/patients"}' in text
    assert 'cari_outbox_messages{status="dead"} 0.0' in text
    scoped = gateway.issuer.issue("prometheus", [], ["metrics:read"])
    assert (await gateway.client.get("/metrics", headers={
        "Authorization": f"Bearer {scoped}"})).status_code == 200


async def test_routes_with_ids_are_labelled_by_template(gateway: Harness) -> None:
    p = await gateway.create_patient()
    await gateway.client.get(f"/api/patients/{p['id']}", headers=gateway.auth("clinician"))
    text = (await gateway.client.get("/metrics", headers=gateway.auth("admin"))).text
    assert p["id"] not in text and 'route="/api/patients/{patient_id}"' in text


async def test_cors_for_configured_origins_only(tmp_path: Path, sqlite_url: str) -> None:
    settings = make_settings(tmp_path / "var", sqlite_url, cors_origins=("https://app.cari.health",))
    async with running_app(settings) as h:
        pre = await h.client.options("/api/patients", headers={
            "Origin": "https://app.cari.health", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://app.cari.health"
        other = await h.client.options("/api/patients", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in other.headers


async def test_openapi_describes_every_rest_route(gateway: Harness) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    documented = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    routes = [r for entry in gateway.app.routes
              for r in (entry.routes if isinstance(entry, RouteIndex) else [entry])]
    served = {(m, r.path) for r in routes if isinstance(r, Route)
              for m in (r.methods or ()) if m != "HEAD" and r.path != "/graphql"}
    assert documented == served
    create = spec["paths"]["/api/patients"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PatientBody")
    assert {"201", "401", "403", "422", "500"} <= set(create["responses"])
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "PatientView" in spec["components"]["schemas"]


async def test_docs_page_lists_routes(gateway: Harness) -> None:
    r = await gateway.client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/api/patients/{patient_id}" in r.text and "/openapi.json" in r.text


async def test_unexpected_rest_error_is_masked_and_logged_without_details(
    gateway: Harness, monkeypatch: Any, caplog: Any
) -> None:
    async def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("Traceback-ish detail for patient Kofi Annan")

    monkeypatch.setattr(gateway.app.state.services.patients, "search", explode)
    with caplog.at_level(logging.ERROR):
        r = await gateway.client.get("/api/patients", headers={
            **gateway.auth("clinician"), "X-Request-ID": "trace-me"})
    assert r.status_code == 500
    body = r.json()
    assert body["error"]["code"] == "internal_error" and "trace-me" in body["error"]["message"]
    assert "Kofi" not in r.text and "Traceback" not in r.text


def test_json_log_lines_hold_only_safe_fields() -> None:
    from adapters.observability.logging import JsonFormatter

    record = logging.LogRecord("cari", logging.INFO, __file__, 1, "request", None, None)
    record.__dict__.update({"request_id": "r1", "route": "/api/patients", "status": 200,
                            "family": "Doe", "patient_name": "Jane Doe"})
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r1" and line["route"] == "/api/patients"
    assert "family" not in line and "patient_name" not in line
    try:
        raise ValueError("patient Jane Doe has no consent")
    except ValueError:
        import sys

        record = logging.LogRecord("cari", logging.ERROR, __file__, 1, "failed", None,
                                   sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError" and "Jane" not in json.dumps(line)
