"""SMART on FHIR routes: discovery, JWKS, the app registry, EHR launch and the
authorization server (authorize, token, introspect, revoke).

The OAuth endpoints answer RFC 6749 JSON errors ({"error", "error_description"}); the
registry and launch routes answer like the other REST routes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from resolvers.principal import Role
from resolvers.smart.authorize import AuthorizeRefused
from resolvers.smart.model import OAuthError
from resolvers.smart.tokens import ClientAuth
from rest_compat.body import read_body
from rest_compat.envelope import ok
from rest_compat.request_context import caller, parse_body, services
from rest_compat.smart_models import (
    LaunchAnswer,
    LaunchBody,
    SmartAppBody,
    SmartAppList,
    SmartAppView,
)
from rest_compat.spec import Operation, QueryParam, api_route

MAX_FORM = 65_536
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CORS = {"Access-Control-Allow-Origin": "*"}


def oauth_error(exc: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="smart", error="invalid_client"'
    return JSONResponse({"error": exc.error, "error_description": exc.description},
                        status_code=exc.status, headers=headers)


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    raw = await read_body(request, MAX_FORM)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the body is not UTF-8") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError("invalid_request", f"{key} is given more than once")
        form[key] = value
    return form


def _client_auth(request: Request, form: dict[str, str]) -> ClientAuth:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
        user, _, password = decoded.partition(":")
        client_id, secret = unquote_plus(user), unquote_plus(password)
    return ClientAuth(client_id=client_id, secret=secret,
                      assertion_type=form.get("client_assertion_type"),
                      assertion=form.get("client_assertion"))


# -- discovery ------------------------------------------------------------------------------

async def smart_configuration(request: Request) -> Response:
    return JSONResponse(services(request).smart.discovery(), headers=CORS)


async def jwks(request: Request) -> Response:
    return JSONResponse(services(request).smart.jwks(), headers=CORS)


# -- registry and launch -------------------------------------------------------------------

async def register_app(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, SmartAppBody)
    found = await services(request).smart.apps.register(who, body.to_domain())
    return ok(SmartAppView.registered(found), status=201,
              headers={"Location": f"/api/smart/apps/{found.app.client_id}", **NO_STORE})


async def list_apps(request: Request) -> Response:
    apps = await services(request).smart.apps.list(caller(request))
    return ok(SmartAppList(items=[SmartAppView.of(a) for a in apps]))


async def get_app(request: Request) -> Response:
    app = await services(request).smart.apps.get(caller(request),
                                                 request.path_params["client_id"])
    return ok(SmartAppView.of(app))


async def launch(request: Request) -> Response:
    who = caller(request)
    body = await parse_body(request, LaunchBody)
    view = await services(request).smart.apps.launch(who, body.patient, body.encounter,
                                                     body.launch_url)
    return JSONResponse(LaunchAnswer(launch_id=view.launch_id, context=view.context)
                        .model_dump(mode="json"), headers=NO_STORE)


# -- the authorization server -----------------------------------------------------------

async def authorize(request: Request) -> Response:
    who = caller(request)
    try:
        params = dict(request.query_params) if request.method == "GET" else await _form(request)
        target = await services(request).smart.authorizer.authorize(who, params)
    except AuthorizeRefused as exc:
        return oauth_error(exc)
    except OAuthError as exc:  # a malformed POST body: no redirect URI known yet
        return oauth_error(exc)
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


async def token(request: Request) -> Response:
    try:
        form = await _form(request)
        answer = await services(request).smart.tokens.token(form, _client_auth(request, form))
    except OAuthError as exc:
        return oauth_error(exc)
    return JSONResponse(answer, headers=NO_STORE)


async def introspect(request: Request) -> Response:
    caller(request)
    try:
        form = await _form(request)
    except OAuthError as exc:
        return oauth_error(exc)
    if not form.get("token"):
        return oauth_error(OAuthError("invalid_request", "token is required"))
    return JSONResponse(await services(request).smart.tokens.introspect(form["token"]),
                        headers=NO_STORE)


async def revoke(request: Request) -> Response:
    try:
        form = await _form(request)
        if "token" not in form:
            raise OAuthError("invalid_request", "token is required")
        await services(request).smart.tokens.revoke(form["token"], _client_auth(request, form))
    except OAuthError as exc:
        return oauth_error(exc)
    return Response(status_code=200, headers=NO_STORE)


# -- declarations --------------------------------------------------------------------------

def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": schema or {"type": "object"}}}}


# RFC 6749's error, or the gateway's envelope when the input rule refuses the URL first.
OAUTH_ERROR = _json("RFC 6749 error", {"anyOf": [
    {"type": "object", "required": ["error"],
     "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}},
    {"$ref": "#/components/schemas/ErrorEnvelope"}]})


def _form_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "properties": {k: {"type": "string", "description": v}
                                         for k, v in properties.items()},
        "required": required}}}


CLIENT_FIELDS = {
    "client_id": "Public clients and client_secret_post", "client_secret": "client_secret_post",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": "private_key_jwt: a JWT signed RS384 or ES384"}
TOKEN_FORM = _form_schema({
    "grant_type": "authorization_code, refresh_token or client_credentials",
    "code": "authorization_code", "redirect_uri": "authorization_code",
    "code_verifier": "authorization_code (PKCE)", "refresh_token": "refresh_token",
    "scope": "client_credentials; refresh_token (narrowing)", **CLIENT_FIELDS}, ["grant_type"])
AUTHORIZE_FIELDS = {
    "response_type": "code", "client_id": "The app", "redirect_uri": "A registered redirect URI",
    "scope": "Space-separated scopes", "state": "Opaque; returned", "aud": "The FHIR base URL",
    "code_challenge": "PKCE S256 challenge", "code_challenge_method": "S256",
    "launch": "EHR launch id", "patient": "Standalone launch/patient: the picked patient",
    "nonce": "Returned in the id_token"}
REDIRECT = {"302": {"description": "To the app's redirect URI with code (or error) and state",
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "400": OAUTH_ERROR}
CLINICIAN = (Role.CLINICIAN.value,)
ADMIN = (Role.ADMIN.value,)
_CLIENT_ID = QueryParam("client_id", "The app's client_id", location="path", required=True)
_DISCOVERY = {"200": _json("SMART App Launch 2.x configuration")}


def _discovery_route(path: str) -> Operation:
    return api_route("GET", path, smart_configuration, summary="SMART configuration "
                     "(discovery; public, CORS)", tag="smart", envelope=False,
                     raw_responses=_DISCOVERY)


operations: list[Operation] = [
    _discovery_route("/.well-known/smart-configuration"),
    _discovery_route("/api/fhir/.well-known/smart-configuration"),
    api_route("GET", "/.well-known/jwks.json", jwks, summary="The id_token signing keys "
              "(JWKS; public)", tag="smart", envelope=False,
              raw_responses={"200": _json("JWKS")}),
    api_route("POST", "/api/smart/apps", register_app, summary="Register a SMART app (the "
              "client secret is shown once)", tag="smart", roles=ADMIN,
              request_model=SmartAppBody, response_model=SmartAppView, success_status=201,
              error_statuses=(413, 415, 422)),
    api_route("GET", "/api/smart/apps", list_apps, summary="Registered SMART apps", tag="smart",
              roles=ADMIN, response_model=SmartAppList),
    api_route("GET", "/api/smart/apps/{client_id}", get_app, summary="A registered SMART app",
              tag="smart", roles=ADMIN, response_model=SmartAppView, params=(_CLIENT_ID,),
              error_statuses=(404,)),
    api_route("POST", "/api/smart/launch", launch, summary="EHR launch of a SMART app: a "
              "single-use launch id and its context", tag="smart", roles=CLINICIAN,
              request_model=LaunchBody, envelope=False, error_statuses=(413, 415, 422),
              raw_responses={"200": _json("{launch_id, context}", {
                  "type": "object", "required": ["launch_id", "context"],
                  "properties": {"launch_id": {"type": "string"},
                                 "context": {"type": "object"}}})}),
    api_route("GET", "/api/smart/authorize", authorize, summary="Authorization endpoint "
              "(code + PKCE S256), approved by the caller", tag="smart", roles=CLINICIAN,
              envelope=False, raw_responses=REDIRECT,
              params=tuple(QueryParam(k, v) for k, v in AUTHORIZE_FIELDS.items())),
    api_route("POST", "/api/smart/authorize", authorize, summary="Authorization endpoint "
              "(form POST)", tag="smart", roles=CLINICIAN, envelope=False,
              raw_responses=REDIRECT,
              request_body_schema=_form_schema(AUTHORIZE_FIELDS, ["client_id"])),
    api_route("POST", "/api/smart/token", token, summary="Token endpoint", tag="smart",
              envelope=False, request_body_schema=TOKEN_FORM, raw_responses={
                  "200": _json("Access token"), "400": OAUTH_ERROR, "401": OAUTH_ERROR}),
    api_route("POST", "/api/smart/introspect", introspect, summary="Token introspection "
              "(RFC 7662; any authenticated caller)", tag="smart", roles=(), envelope=False,
              request_body_schema=_form_schema({"token": "The token"}, ["token"]),
              raw_responses={"200": _json("{active, ...}"), "400": OAUTH_ERROR}),
    api_route("POST", "/api/smart/revoke", revoke, summary="Token revocation (RFC 7009)",
              tag="smart", envelope=False,
              request_body_schema=_form_schema({"token": "The token", **CLIENT_FIELDS},
                                               ["token"]),
              raw_responses={"200": {"description": "Revoked (or nothing to revoke)"},
                             "400": OAUTH_ERROR, "401": OAUTH_ERROR}),
]

