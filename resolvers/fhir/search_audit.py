"""Whose data a search touched: the patients it names and those of each result (for the
audit trail's one record per patient)."""

from __future__ import annotations

from resolvers.fhir.model import SearchPage, SearchRequest, StoredResource
from resolvers.fhir.search_params import patient_of, patient_reference


def patients_searched(request: SearchRequest) -> list[str]:
    """The patients a search names (patient=, subject=, Patient?_id=), as bare ids."""
    named: list[str] = []
    for condition in request.conditions:
        if condition.kind == "reference" and condition.param in ("patient", "subject"):
            named += [str(v).split("/", 1)[1] for v in condition.values
                      if str(v).startswith("Patient/")]
        elif condition.kind == "id" and request.resource_type == "Patient":
            named += [str(v) for v in condition.values]
    return list(dict.fromkeys(named))


def patients_of_page(page: SearchPage) -> list[tuple[str, str | None]]:
    """Each result's id and patient. From the subject reference the store read where it
    did (a Patient is its own patient), decoding a document only where that does not say."""
    if page.matches is None:
        return [(r.id, patient_of(r.document)) for r in page.resources]
    found: list[tuple[str, str | None]] = []
    decoded: list[StoredResource] | None = None
    for n, m in enumerate(page.matches):
        if m.resource_type == "Patient":
            found.append((m.id, m.id))
            continue
        subject = patient_reference(m.subject_reference)
        if subject is None:  # no subject, or not a Patient's: the document says (patient...)
            decoded = decoded or page.resources
            subject = patient_of(decoded[n].document)
        found.append((m.id, subject))
    return found
