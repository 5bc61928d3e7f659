"""Use-case refusals on console pages speak the operator's language: every reason the
console's actions can raise has a text in every locale file (with the parameters the use
case gives), and a French session sees French."""

from __future__ import annotations

import ast
import json
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.api.test_lab_ingest import WORKED_EXAMPLE, _ingest, _known_patient
from tests.console.http_support import csrf_of, sign_in
from tests.support import Harness, make_settings, running_app

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "rest_compat" / "console" / "locales"
# The use cases behind the console's pages and actions (review, alerts, failures, messages)
# and the pages themselves. Forbidden and Unauthenticated are left out: the console answers
# them with its own translated page (forbidden.role, the sign-in page), never their text.
# (A delivery replay's refusals are counted as skipped by the failures use case, not shown.)
CONSOLE_MODULES = (
    "resolvers/labs/review.py",
    "resolvers/labs/alerts.py",
    "resolvers/notifications/endpoints.py",
    "resolvers/operations/failures/report.py",
    "resolvers/operations/messages/log.py",
    "resolvers/operations/messages/records.py",
    *(str(p.relative_to(ROOT)) for p in sorted((ROOT / "rest_compat/console/pages").glob("*.py"))),
)
SHOWN_ERRORS = {"DomainError", "InvalidInput", "NotFound", "Conflict"}
HTMX = {"HX-Request": "true"}


def _raises(path: str) -> Iterator[tuple[str, ast.Call]]:
    for node in ast.walk(ast.parse((ROOT / path).read_text("utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            if isinstance(func, ast.Name) and func.id in SHOWN_ERRORS:
                yield f"{path}:{node.lineno}", node.exc


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _reasons() -> dict[str, set[str]]:
    """Each reason raised in the console's modules -> the parameter names given with it."""
    found: dict[str, set[str]] = {}
    for where, call in (r for module in CONSOLE_MODULES for r in _raises(module)):
        reason = _keyword(call, "reason_code")
        assert isinstance(reason, ast.Constant) and isinstance(reason.value, str), (
            f"{where}: a refusal the console can show needs reason_code=\"...\" (a literal)")
        params = _keyword(call, "params")
        names: set[str] = set()
        if params is not None:
            assert isinstance(params, ast.Dict), f"{where}: params as a dict literal"
            names = {k.value for k in params.keys
                     if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        found.setdefault(reason.value, set()).update(names)
    return found


def test_every_console_refusal_has_a_text_in_every_language() -> None:
    reasons = _reasons()
    assert {"review.task_already_decided", "alerts.already_acknowledged",
            "endpoints.not_found", "messages.bad_cursor"} <= set(reasons)
    catalogues = {p.stem: json.loads(p.read_text("utf-8")) for p in LOCALES.glob("*.json")}
    assert {"en", "fr"} <= set(catalogues)
    for language, table in catalogues.items():
        for reason, given in reasons.items():
            text = table.get(f"error.{reason}")
            assert text, f"{language}.json has no error.{reason}"
            named = {field for _, field, _, _ in string.Formatter().parse(text) if field}
            assert named <= given, f"{language}: error.{reason} names {named - given}"


@pytest.fixture
async def h(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Harness]:
    async with running_app(make_settings(tmp_path / "var", sqlite_url)) as harness:
        yield harness


async def test_a_french_operator_reads_a_refusal_in_french(h: Harness) -> None:
    await _known_patient(h)
    await _ingest(h, WORKED_EXAMPLE)  # certain match: the potassium of 6.9 alerts
    await sign_in(h, "lab", sub="tech-1")
    french = {"Accept-Language": "fr"}
    page = await h.client.get("/console/alerts", headers=french)
    alert_id = page.text.split('data-alert="', 1)[1].split('"', 1)[0]
    token = csrf_of(page.text)
    first = await h.client.post(f"/console/alerts/{alert_id}/acknowledge",
                                headers={**HTMX, **french, "X-CSRF-Token": token})
    assert first.status_code == 200
    twice = await h.client.post(f"/console/alerts/{alert_id}/acknowledge",
                                headers={**HTMX, **french, "X-CSRF-Token": token})
    text = twice.text.replace("&#39;", "'")
    assert "Cette alerte a déjà été prise en compte par tech-1 le " in text
    assert " UTC." in text and "already acknowledged" not in text
    # The same refusal in English for an English session.
    english = await h.client.post(f"/console/alerts/{alert_id}/acknowledge",
                                  headers={**HTMX, "Accept-Language": "en",
                                           "X-CSRF-Token": token})
    assert "This alert was already acknowledged by tech-1 at " in english.text


async def test_a_bad_cursor_and_an_unknown_endpoint_are_refused_in_french(h: Harness) -> None:
    await sign_in(h, "admin")
    french = {"Accept-Language": "fr"}
    log = await h.client.get("/console/messages", params={"after": "nonsense"},
                             headers=french)
    assert log.status_code == 200
    assert "Ce lien de page n'est plus valide" in log.text.replace("&#39;", "'")
    page = await h.client.get("/console/failures", headers=french)
    switched = await h.client.post("/console/failures/endpoints/switch", headers=french,
                                   data={"csrf_token": csrf_of(page.text),
                                         "endpoint_id": "no-such-endpoint", "enabled": "false"})
    assert switched.status_code == 404
    assert "Aucun point de terminaison webhook no-such-endpoint." in switched.text
