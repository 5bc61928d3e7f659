"""The viewer's way in: WADO-RS, QIDO-RS and WADO-URI for the one study a token grants.

The token in the URL is the credential (viewers cannot add bearer headers to every frame
request). A path that leaves the token's study is refused (403) before the PACS is asked.

Audit: one record per token, study and series (or study-level request) the first time this
process serves it, not one per frame: a viewer opening a 300-frame CT makes a handful of
records. Each record names the person the URL was issued to and the patient. Refusals are
recorded each time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import NotFound
from resolvers.imaging.errors import ViewerTokenRefused
from resolvers.imaging.model import ViewerGrant
from resolvers.imaging.ports import Pacs, PacsAnswer, PacsRequest, ViewerTokens
from resolvers.principal import Caller, Principal

UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
FRAMES = re.compile(r"^[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,99}$")
# Resource words of DICOMweb (PS3.18) a viewer asks for below a study.
TAILS = frozenset({"metadata", "rendered", "thumbnail"})
STUDY_LEVEL = "*"
VIEWER_SURFACE = "viewer"


def _below_study(parts: Sequence[str]) -> str | None:
    """The series the rest of a study path names ("*": the study itself); None: not a
    DICOMweb path (then 404)."""
    rest = list(parts)
    if not rest or rest in (["metadata"], ["rendered"], ["thumbnail"], ["series"]):
        return STUDY_LEVEL
    if rest[0] != "series" or len(rest) < 2 or not UID.match(rest[1]):
        return None
    series, rest = rest[1], rest[2:]
    if not rest or rest in (["metadata"], ["rendered"], ["thumbnail"], ["instances"]):
        return series
    if rest[0] != "instances" or len(rest) < 2 or not UID.match(rest[1]):
        return None
    rest = rest[2:]
    if not rest or (len(rest) == 1 and rest[0] in TAILS):
        return series
    if rest[0] == "frames" and len(rest) in (2, 3) and FRAMES.match(rest[1]) and (
            len(rest) == 2 or rest[2] == "rendered"):
        return series
    return None


class ViewerProxy:
    def __init__(self, pacs: Pacs, tokens: ViewerTokens, audit: AuditTrail,
                 now: Callable[[], datetime]) -> None:
        self._pacs = pacs
        self._tokens = tokens
        self._audit = audit
        self._now = now
        self._served: dict[tuple[str, str], datetime] = {}  # (token id, series) -> expiry

    def grant(self, token: str) -> ViewerGrant:
        grant = self._tokens.read(token)
        if grant.expires_at <= self._now():
            raise ViewerTokenRefused("the viewer token has expired")
        return grant

    async def dicomweb(self, token: str, path: str, query: Sequence[tuple[str, str]],
                       accept: str | None, request_id: str, public_root: str = ""
                       ) -> AbstractAsyncContextManager[PacsAnswer]:
        """A WADO-RS or QIDO-RS path below the DICOMweb root, e.g.
        ``studies/<uid>/series/<uid>/instances/<uid>/frames/1``."""
        grant = await self._checked(token, request_id)
        parts = [p for p in path.split("/") if p]
        if parts == ["studies"]:  # QIDO-RS search: confined to the token's study
            query = [(k, v) for k, v in query if k.lower() not in ("studyinstanceuid",
                                                                   "0020000d")]
            query.append(("StudyInstanceUID", grant.study_uid))
            series = STUDY_LEVEL
        else:
            if len(parts) < 2 or parts[0] != "studies":
                raise NotFound("not a DICOMweb study path")
            if parts[1] != grant.study_uid:
                await self._refuse(grant, request_id, parts[1])
            found = _below_study(parts[2:])
            if found is None:
                raise NotFound("not a DICOMweb study path")
            series = found
        await self._served_once(grant, series, request_id)
        return self._pacs.fetch(PacsRequest(path="/".join(parts), query=tuple(query),
                                            accept=accept, public_root=public_root))

    async def wado_uri(self, token: str, query: Sequence[tuple[str, str]], request_id: str
                       ) -> AbstractAsyncContextManager[PacsAnswer]:
        """WADO-URI (PS3.18 chapter 9): requestType=WADO&studyUID=&seriesUID=&objectUID=."""
        grant = await self._checked(token, request_id)
        params = dict(query)
        if params.get("requestType") != "WADO":
            raise NotFound("WADO-URI needs requestType=WADO")
        for key in ("studyUID", "seriesUID", "objectUID"):
            if not UID.match(params.get(key, "")):
                raise NotFound(f"WADO-URI needs {key} (a DICOM UID)")
        if params["studyUID"] != grant.study_uid:
            await self._refuse(grant, request_id, params["studyUID"])
        await self._served_once(grant, params["seriesUID"], request_id)
        return self._pacs.fetch(PacsRequest(path="", query=tuple(query), wado_uri=True))

    async def _checked(self, token: str, request_id: str) -> ViewerGrant:
        try:
            return self.grant(token)
        except ViewerTokenRefused:
            await self._audit.record(audit_records(
                Caller(Principal(subject="viewer-token", roles=frozenset()), request_id,
                       VIEWER_SURFACE), action=AuditAction.READ, resource_type="ImagingStudy",
                targets=[(None, None)], outcome=AuditOutcome.DENIED, at=self._now()))
            raise

    async def _refuse(self, grant: ViewerGrant, request_id: str, asked: str) -> None:
        await self._audit.record(audit_records(
            self._caller(grant, request_id), action=AuditAction.READ,
            resource_type="ImagingStudy", targets=[(asked[:64], None)],
            outcome=AuditOutcome.DENIED, at=self._now()))
        raise ViewerTokenRefused("this viewer token grants another study")

    async def _served_once(self, grant: ViewerGrant, series: str, request_id: str) -> None:
        key = (grant.token_id, series)
        now = self._now()
        if key in self._served:
            return
        # Entries die with their token: the set stays as small as the live tokens.
        for old in [k for k, expiry in self._served.items() if expiry <= now]:
            del self._served[old]
        self._served[key] = grant.expires_at
        study_level = series == STUDY_LEVEL
        await self._audit.record(audit_records(
            self._caller(grant, request_id), action=AuditAction.READ,
            resource_type="ImagingStudy" if study_level else "ImagingSeries",
            targets=[(grant.study_uid if study_level else series, grant.patient_id)],
            outcome=AuditOutcome.SUCCESS, at=now))

    @staticmethod
    def _caller(grant: ViewerGrant, request_id: str) -> Caller:
        return Caller(Principal(subject=grant.subject, roles=frozenset()), request_id,
                      VIEWER_SURFACE,
                      purpose=f"viewer token {grant.token_id} study {grant.study_uid}"[:200])
