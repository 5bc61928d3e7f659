"""/openapi.json and the browsable /docs page, built from the route declarations."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from rest_compat.envelope import JSONResponse
from rest_compat.rate_limit import EXEMPT_PATHS as RATE_LIMIT_EXEMPT
from rest_compat.spec import Operation, api_route

ERROR_SCHEMA = {
    "type": "object", "required": ["success", "error"], "additionalProperties": False,
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {"type": "object", "required": ["code", "message", "details"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}},
    },
}
OUTCOME_SCHEMA = {"type": "object", "required": ["resourceType", "issue"], "properties": {
    "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
    "issue": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["severity", "code"],
        "properties": {"severity": {"type": "string"}, "code": {"type": "string"},
                       "diagnostics": {"type": "string"},
                       "expression": {"type": "array", "items": {"type": "string"}}}}}}}
STATUS_TEXT = {400: "Malformed request", 401: "Missing or invalid bearer token",
               403: "The token lacks the role", 404: "Not found", 409: "Conflict",
               406: "Format not supported", 410: "Deleted", 412: "Precondition failed",
               413: "Body too large", 415: "Wrong content type", 422: "Invalid input",
               429: "Too many requests (see Retry-After)", 500: "Internal error (masked)"}


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(operations: Sequence[Operation], *, server_url: str) -> dict[str, Any]:
    components: dict[str, Any] = {"ErrorEnvelope": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        responses: dict[str, Any] = {}
        if op.raw_responses is not None:
            responses.update(op.raw_responses)
        else:
            data = _schema_ref(op.response_model, components) if op.response_model else {}
            responses[str(op.success_status)] = {"description": "Success", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["success", "data"],
                    "properties": {"success": {"type": "boolean", "enum": [True]}, "data": data},
                }}}}
        # 400 everywhere: the input rule (rest_compat/input_guard.py) refuses a NUL, text that
        # is not UTF-8 or an over-long value in any path or query string before routing.
        statuses = set(op.error_statuses) | {400, 500}
        if op.path not in RATE_LIMIT_EXEMPT:
            statuses.add(429)
        if op.roles is not None:
            statuses |= {401, 403}
        for status in sorted(statuses):
            responses.setdefault(str(status), {
                "description": STATUS_TEXT.get(status, "Error"),
                "content": {"application/fhir+json": {"schema": OUTCOME_SCHEMA}} if op.fhir
                else {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}})
        if op.roles is not None:
            responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if "429" in responses:
            responses["429"]["headers"] = {"Retry-After": {
                "description": "Seconds until the client's bucket has a token again",
                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
        entry: dict[str, Any] = {
            "summary": op.summary, "tags": [op.tag],
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}"
            .replace("{", "").replace("}", ""),
            "responses": responses,
            "security": [{"bearerAuth": []}] if op.roles is not None else [],
        }
        if op.roles:
            entry["description"] = "Roles: " + ", ".join(sorted({"admin", *op.roles}))
        parameters = [
            {"name": p.name, "in": p.location, "required": p.required or p.location == "path",
             "description": p.description, "schema": p.schema}
            for p in (*op.params, *op.request_headers)
        ]
        if parameters:
            entry["parameters"] = parameters
        if op.request_body_schema is not None:
            entry["requestBody"] = {"required": True, "content": op.request_body_schema}
        if op.request_model is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema_ref(op.request_model, components)}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cari integration gateway", "version": "0.1.0",
                 "description": "REST routes of the Cari integration gateway. GraphQL is served "
                                "at /graphql (federation subgraph)."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "PASETO v4.public"}}},
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


def _docs_html(spec: dict[str, Any]) -> str:
    esc = html.escape
    rows: list[str] = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = "".join(
                f"<li><code>{esc(p['name'])}</code> ({esc(p['in'])}) {esc(p['description'])}</li>"
                for p in op.get("parameters", []))
            body = ""
            if "requestBody" in op:
                media, content = next(iter(op["requestBody"]["content"].items()))
                ref = content["schema"].get("$ref", "")
                name = ref.rsplit("/", 1)[-1] if ref else media
                shown = spec["components"]["schemas"][name] if ref else content["schema"]
                schema = json.dumps(shown, indent=2)
                body = f"<details><summary>Body: {esc(name)}</summary><pre>{esc(schema)}</pre></details>"
            statuses = ", ".join(op["responses"])
            rows.append(
                f"<section><h3><span class='m {esc(method)}'>{esc(method.upper())}</span> "
                f"<code>{esc(path)}</code></h3><p>{esc(op['summary'])}</p>"
                f"<p class='meta'>{esc(op.get('description', 'Public'))} · responses {esc(statuses)}"
                f"</p><ul>{params}</ul>{body}</section>")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Cari gateway API</title><style>body{font-family:system-ui,sans-serif;max-width:60rem;"
        "margin:2rem auto;padding:0 1rem}section{border-top:1px solid #ddd;padding:.5rem 0}"
        ".m{display:inline-block;min-width:4rem;font-weight:bold}.get{color:#06c}.post{color:#080}"
        ".put{color:#a60}.meta{color:#555;font-size:.9rem}pre{background:#f6f6f6;padding:.5rem;"
        "overflow:auto}</style></head><body><h1>Cari integration gateway: REST API</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. GraphQL: "
        "<a href='/graphql'>/graphql</a>. Send <code>Authorization: Bearer v4.public...</code>."
        "</p>" + "".join(rows) + "</body></html>")


async def docs_page(request: Request) -> Response:
    return HTMLResponse(_docs_html(request.app.state.openapi))


operations: list[Operation] = [
    api_route("GET", "/openapi.json", openapi_json, summary="This OpenAPI document", tag="docs",
              envelope=False, raw_responses={"200": {"description": "OpenAPI 3.1", "content": {
                  "application/json": {"schema": {"type": "object"}}}}}),
    api_route("GET", "/docs", docs_page, summary="Browsable API documentation", tag="docs",
              envelope=False, raw_responses={"200": {"description": "HTML", "content": {
                  "text/html": {"schema": {"type": "string"}}}}}),
]
