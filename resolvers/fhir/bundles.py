"""Bundle transaction (all or nothing) and batch (each entry on its own)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from resolvers.audit.model import AuditAction
from resolvers.clock import Clock
from resolvers.errors import DomainError, Forbidden
from resolvers.fhir.errors import FhirProblem, invalid_resource, problem
from resolvers.fhir.issues import Issue, is_error, operation_outcome
from resolvers.fhir.model import StoredResource
from resolvers.fhir.ports import FhirUnitOfWork, FhirUnitOfWorkFactory
from resolvers.fhir.search import parse_search
from resolvers.fhir.service import FhirUseCases, check_type
from resolvers.fhir.smart_scopes import SmartDenied
from resolvers.fhir.writer import delete_resource, write_resource
from resolvers.ids import new_id
from resolvers.principal import Caller

MAX_ENTRIES = 1000
class _MissingRead(Exception):
    """A transaction's GET of a resource that is not there: the bundle fails with the 404,
    and the read is audited once the transaction is rolled back."""

    def __init__(self, resource_type: str, resource_id: str, problem: FhirProblem) -> None:
        super().__init__(resource_type, resource_id)
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.problem = problem


ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}


@dataclass
class _Entry:
    index: int
    method: str
    url: str
    resource: dict[str, Any] | None
    full_url: str | None
    if_none_exist: str | None
    if_match: int | None


def _parse_entries(bundle: Any, expected_type: str) -> list[_Entry]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise problem(400, "structure", "the body must be a Bundle", "Bundle")
    if bundle.get("type") != expected_type:
        raise problem(400, "value", f"Bundle.type must be {expected_type!r}", "Bundle.type")
    raw = bundle.get("entry") or []
    if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
        raise problem(400, "too-long" if isinstance(raw, list) else "structure",
                      f"a Bundle may carry at most {MAX_ENTRIES} entries", "Bundle.entry")
    entries, issues = [], []
    for i, e in enumerate(raw):
        request = e.get("request") if isinstance(e, dict) else None
        where = f"Bundle.entry[{i}].request"
        if not isinstance(request, dict) or request.get("method") not in ORDER or not isinstance(
                request.get("url"), str):
            issues.append(Issue("error", "required", "each entry needs request.method "
                                "(GET, POST, PUT, DELETE) and request.url", where))
            continue
        if_match = None
        if isinstance(request.get("ifMatch"), str):
            digits = request["ifMatch"].removeprefix("W/").strip('"')
            if_match = int(digits) if digits.isdigit() else None
        resource = e.get("resource")
        entries.append(_Entry(i, request["method"], request["url"].lstrip("/"),
                              resource if isinstance(resource, dict) else None,
                              e.get("fullUrl"), request.get("ifNoneExist"), if_match))
    if issues:
        raise FhirProblem(400, issues)
    return entries


def _rewrite_references(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (ids.get(v, v) if k == "reference" and isinstance(v, str)
                    else _rewrite_references(v, ids)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_references(v, ids) for v in node]
    return node


def _response(status: int, stored: StoredResource | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"response": {"status": STATUS_TEXT.get(status, str(status))}}
    if stored is not None:
        entry["response"].update({
            "location": f"{stored.resource_type}/{stored.id}/_history/{stored.version}",
            "etag": stored.etag, "lastModified": stored.last_updated.isoformat()})
        if stored.document:
            entry["resource"] = stored.document
    return entry


class BundleProcessor:
    def __init__(self, fhir: FhirUseCases, uow_factory: FhirUnitOfWorkFactory, clock: Clock) -> None:
        self._fhir = fhir
        self._uow_factory = uow_factory
        self._clock = clock

    async def transaction(self, caller: Caller, bundle: Any) -> dict[str, Any]:
        entries = _parse_entries(bundle, "transaction")
        for e in entries:
            check_type(e.url.split("?")[0].split("/")[0])
        await self._fhir.authorize(caller, AuditAction.EXECUTE, "Bundle")
        # Every entry is validated before anything is written; all problems are reported.
        issues: list[Issue] = []
        for e in entries:
            if e.method in ("POST", "PUT"):
                resource_type = e.url.split("?")[0].split("/")[0]
                try:
                    self._fhir.check_body(resource_type, e.resource,
                                          path=f"Bundle.entry[{e.index}].resource")
                except FhirProblem as exc:
                    issues.extend(exc.issues)
        if any(is_error(i) for i in issues):
            raise invalid_resource(issues)
        ids = {e.full_url: f"{e.url.split('?')[0]}/{new_id()}" for e in entries
               if e.method == "POST" and e.full_url}
        now = self._clock.now()
        results: dict[int, dict[str, Any]] = {}
        try:
            async with self._uow_factory() as uow:
                for e in sorted(entries, key=lambda x: ORDER[x.method]):
                    try:
                        results[e.index] = await self._apply(uow, caller, e, ids, now)
                    except FhirProblem as exc:
                        raise FhirProblem(exc.status, [
                            Issue(i.severity, i.code, f"entry {e.index}: {i.diagnostics}",
                                  i.expression or f"Bundle.entry[{e.index}]")
                            for i in exc.issues]) from None
                await uow.commit()  # all or nothing: any failure above left nothing applied
        except SmartDenied as denied:  # audited now that the transaction is rolled back
            raise await self._fhir.smart.deny(caller, denied.action, denied.resource_type,
                                              denied.resource_id, denied.patient,
                                              denied.problem) from None
        except _MissingRead as missing:
            # Rolled back, its audit rows with it: the not-found read is audited in a commit
            # of its own, now that the bundle no longer holds the (SQLite: only) writer.
            await self._fhir.record_not_found(caller, missing.resource_type, missing.resource_id)
            raise missing.problem from None
        return {"resourceType": "Bundle", "type": "transaction-response",
                "entry": [results[e.index] for e in entries]}

    async def _apply(self, uow: FhirUnitOfWork, caller: Caller, e: _Entry, ids: dict[str, str],
                     now: datetime) -> dict[str, Any]:
        path = e.url.partition("?")[0]
        parts = path.split("/")
        resource_type = parts[0]
        self._smart_entry(caller, e, resource_type, [e.resource])
        if e.method == "POST":
            assert e.resource is not None
            if e.if_none_exist:
                request = parse_search(resource_type, parse_qsl(e.if_none_exist), strict=True)
                page = await uow.fhir.search(request)
                if page.total > 1:
                    raise problem(412, "multiple-matches", "ifNoneExist matches several resources")
                if page.resources:
                    if e.full_url:
                        ids[e.full_url] = f"{resource_type}/{page.resources[0].id}"
                    # The existing resource is answered: a read of it.
                    await uow.audit.append(self._fhir.audit_write(
                        caller, page.resources[0], AuditAction.READ, now))
                    return _response(200, page.resources[0])
            new_ref = ids.get(e.full_url or "", f"{resource_type}/{new_id()}")
            doc = _rewrite_references({k: v for k, v in e.resource.items() if k != "id"}, ids)
            stored = await write_resource(uow, doc, resource_id=new_ref.split("/", 1)[1],
                                          expected_version=None, now=now, mirror=self._fhir.mirror,
                                          twin=self._fhir.twins.bound(resource_type, uow))
            await uow.audit.append(self._fhir.audit_write(caller, stored, AuditAction.CREATE, now))
            return _response(201, stored)
        if len(parts) != 2:
            raise problem(400, "not-supported", f"unsupported request.url {e.url!r} for {e.method}")
        resource_id = parts[1]
        current = (await uow.fhir.get_many(resource_type, [resource_id])).get(resource_id)
        if current is not None and not current.deleted:
            self._smart_entry(caller, e, resource_type, [current.document], resource_id)
        if e.method == "PUT":
            assert e.resource is not None
            if e.if_match is not None and (current is None or current.version != e.if_match):
                raise problem(412, "conflict", "ifMatch does not match the current version")
            doc = _rewrite_references(e.resource, ids)
            stored = await write_resource(uow, doc, resource_id=resource_id,
                                          expected_version=current.version if current else None,
                                          now=now, mirror=self._fhir.mirror,
                                          twin=self._fhir.twins.bound(resource_type, uow))
            created = current is None or current.deleted
            await uow.audit.append(self._fhir.audit_write(
                caller, stored, AuditAction.CREATE if created else AuditAction.UPDATE, now))
            return _response(201 if created else 200, stored)
        if e.method == "DELETE":
            if current is not None and not current.deleted:
                await delete_resource(uow, current, now, mirror=self._fhir.mirror)
                await uow.audit.append(self._fhir.audit_write(
                    caller, current, AuditAction.DELETE, now))
            return _response(204, None)
        if current is None or current.deleted:
            raise _MissingRead(resource_type, resource_id, FhirProblem(404, [Issue(
                "error", "not-found", f"entry {e.index}: {resource_type}/{resource_id} is not "
                "known", f"Bundle.entry[{e.index}]")]))
        await uow.audit.append(self._fhir.audit_write(caller, current, AuditAction.READ, now))
        return _response(200, current)

    def _smart_entry(self, caller: Caller, e: _Entry, resource_type: str,
                     documents: list[dict[str, Any] | None],
                     resource_id: str | None = None) -> None:
        """A SMART token's scopes, entry by entry (raises SmartDenied: audited after the
        rollback)."""
        letter = {"POST": "c", "PUT": "u", "PATCH": "u", "DELETE": "d"}.get(e.method, "r")
        found = self._fhir.smart.refused(caller, letter, resource_type,
                                         [d for d in documents if d])
        if found is not None:
            refusal, patient = found
            raise SmartDenied(AuditAction.CREATE if letter == "c" else AuditAction.UPDATE
                              if letter == "u" else AuditAction.DELETE if letter == "d"
                              else AuditAction.READ, resource_type, resource_id, patient,
                              FhirProblem(refusal.status, [Issue(
                                  i.severity, i.code, f"entry {e.index}: {i.diagnostics}",
                                  f"Bundle.entry[{e.index}]") for i in refusal.issues]))

    async def batch(self, caller: Caller, bundle: Any) -> dict[str, Any]:
        entries = _parse_entries(bundle, "batch")
        out: list[dict[str, Any]] = []
        for e in entries:
            out.append(await self._batch_entry(caller, e))
        return {"resourceType": "Bundle", "type": "batch-response", "entry": out}

    async def _batch_entry(self, caller: Caller, e: _Entry) -> dict[str, Any]:
        path = e.url.split("?")[0]
        parts = path.split("/")
        try:
            if e.method == "POST":
                result = await self._fhir.create(caller, parts[0], e.resource,
                                                 if_none_exist=e.if_none_exist)
                return _response(result.status, result.resource)
            if len(parts) != 2:
                raise problem(400, "not-supported", f"unsupported request.url {e.url!r}")
            if e.method == "PUT":
                result = await self._fhir.update(caller, parts[0], parts[1], e.resource,
                                                 if_match=e.if_match)
                return _response(result.status, result.resource)
            if e.method == "DELETE":
                await self._fhir.delete(caller, parts[0], parts[1])
                return _response(204, None)
            return _response(200, await self._fhir.read(caller, parts[0], parts[1]))
        except FhirProblem as exc:
            status, issues = exc.status, exc.issues
        except Forbidden as exc:
            status, issues = 403, [Issue("error", "forbidden", exc.message)]
        except DomainError as exc:
            status, issues = 400, [Issue("error", "invalid", exc.message)]
        return {"response": {"status": str(status), "outcome": operation_outcome(issues)}}


__all__ = ["BundleProcessor"]
