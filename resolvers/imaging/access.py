"""POST /api/clinical/dicom/access: is this study in the PACS, and is it this patient's?
Then a signed, expiring viewer URL for that one study and its FHIR ImagingStudy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

from resolvers.audit.model import AuditAction, AuditOutcome
from resolvers.audit.trail import AuditTrail, audit_records
from resolvers.errors import Forbidden, NotFound
from resolvers.fhir.ports import ResourceValidator
from resolvers.ids import new_id
from resolvers.imaging.errors import PacsUnavailable
from resolvers.imaging.imaging_study import imaging_study
from resolvers.imaging.model import AccessView, ImagingConfig, KnownStudy, StudySummary, ViewerGrant
from resolvers.imaging.ports import ImagingStore, Pacs, PatientIdentifiers, ViewerTokens
from resolvers.principal import Caller, Role, require_role

IMAGING_STUDY = "ImagingStudy"
ROLES = (Role.CLINICIAN,)


def belongs_to(study: StudySummary, identifiers: Sequence[tuple[str, str]],
               config: ImagingConfig) -> bool:
    """The study's PatientID is one of the patient's MPI identifiers: of a configured system
    (and issuer, when one is configured), or of any system when none is configured."""
    if not study.pacs_patient_id:
        return False
    if not config.patient_id_systems:
        return any(value == study.pacs_patient_id for _system, value in identifiers)
    for mapping in config.patient_id_systems:
        if mapping.issuer is not None and mapping.issuer != study.issuer_of_patient_id:
            continue
        if (mapping.system, study.pacs_patient_id) in identifiers:
            return True
    return False


class StudyAccess:
    def __init__(self, pacs: Pacs, tokens: ViewerTokens, store: ImagingStore,
                 patients: PatientIdentifiers, audit: AuditTrail, validator: ResourceValidator,
                 config: ImagingConfig, now: Callable[[], datetime]) -> None:
        self._pacs = pacs
        self._tokens = tokens
        self._store = store
        self._patients = patients
        self._audit = audit
        self._validator = validator
        self._config = config
        self._now = now

    async def _record(self, caller: Caller, study_uid: str, patient_id: str,
                      outcome: AuditOutcome) -> None:
        await self._audit.record(audit_records(
            caller, action=AuditAction.EXECUTE, resource_type=IMAGING_STUDY,
            targets=[(study_uid, patient_id)], outcome=outcome, at=self._now()))

    async def access(self, caller: Caller, study_uid: str, patient_id: str, *,
                     base_url: str = "") -> AccessView:
        """A study of another patient is answered like a missing one (404, audited as
        denied): the answer does not tell a caller that the UID exists elsewhere."""
        try:  # GraphQL reaches this without the REST router's check: record refusals here too
            require_role(caller, *ROLES)
        except Forbidden:
            await self._record(caller, study_uid, patient_id, AuditOutcome.DENIED)
            raise
        try:
            identifiers = await self._patients.identifiers(caller, patient_id)
            study = await self._pacs.find_study(study_uid)
        except NotFound:
            await self._record(caller, study_uid, patient_id, AuditOutcome.NOT_FOUND)
            raise
        except PacsUnavailable:
            await self._record(caller, study_uid, patient_id, AuditOutcome.FAILURE)
            raise
        if study is None or not belongs_to(study, identifiers, self._config):
            await self._record(caller, study_uid, patient_id, AuditOutcome.NOT_FOUND
                               if study is None else AuditOutcome.DENIED)
            raise NotFound(f"the PACS has no study {study_uid!r} of patient {patient_id!r}")
        now = self._now()
        await self._store.remember_study(KnownStudy(study_uid, patient_id, now))
        expires = now + timedelta(seconds=self._config.token_seconds)
        token = self._tokens.issue(ViewerGrant(token_id=new_id(), study_uid=study_uid,
                                               patient_id=patient_id,
                                               subject=caller.principal.subject,
                                               expires_at=expires))
        resource = imaging_study(study, patient_id)
        problems = [i for i in self._validator.validate(resource) if i.severity in
                    ("error", "fatal")]
        if problems:  # built here from QIDO answers: a bug or a PACS answering nonsense
            raise PacsUnavailable("the PACS described the study in a way that is not a valid "
                                  f"ImagingStudy: {problems[0].diagnostics}")
        await self._record(caller, study_uid, patient_id, AuditOutcome.SUCCESS)
        root = self._config.viewer_root(token, base_url)
        return AccessView(viewer_url=self.viewer_url(root, token, study_uid),
                          dicomweb_root=f"{root}/dicomweb",
                          expires_at=expires, study_uid=study_uid, patient_id=patient_id,
                          imaging_study=resource)

    def root(self, token: str, base_url: str = "") -> str:
        """The URL under which a token's proxy routes are."""
        return self._config.viewer_root(token, base_url)

    def viewer_url(self, root: str, token: str, study_uid: str) -> str:
        return self._config.viewer_url_template.format(
            study_uid=quote(study_uid, safe=""), dicomweb_root=quote(f"{root}/dicomweb", safe=""),
            datasource_url=quote(f"{root}/ohif-datasource.json", safe=""), token=token)
