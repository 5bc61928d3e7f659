"""How the gateway's resources are found in Medplum: match keys, identifiers and tags.

**Match key: how an upsert finds the copy it replaces.** Medplum assigns its own ids, so the
copy is found by search. We key on the *gateway identifier*
``{"system": "urn:cari:gateway:resource-id", "value": <our id>}``. The upsert adds it to the
resource's identifiers, and the conditional update is
``PUT {fhir}/{type}?identifier=urn:cari:gateway:resource-id|<our id>``.

We chose this over the first business identifier because:

- our id never changes. Business identifiers do: an MPI correction replaces an MRN, and a
  later version may list the identifiers in another order. Keyed on them, the next version
  would not find the old copy and would create a second one, which is a duplicate in
  Medplum;
- it is unique by construction. A business identifier shared by two Medplum resources makes
  every conditional update fail with 412 (multiple matches) for good;
- it only ever matches copies the gateway wrote. A business-identifier key would silently
  overwrite a record that another system created in Medplum with the same MRN. Merging
  with foreign records is an MPI decision, not a side effect of mirroring.

The business identifiers are still sent unchanged, so Medplum users can search by them. Only
a resource *without an id* is keyed on its first business identifier that has a system and
a value. A few resource types cannot carry the gateway identifier:

- those whose ``identifier`` is a single value (Composition, QuestionnaireResponse, ...) when
  it is already taken. They are keyed on that identifier;
- those that have no identifier at all (Provenance, AuditEvent, ...). They are keyed on a
  ``meta.tag`` with the same system (``_tag=urn:cari:gateway:resource-id|<our id>``).

See :func:`match_key`. The body sent is built by :func:`prepare`, which also stamps our
version as the ``meta.tag`` ``urn:cari:gateway:version|<n>`` that :func:`stored_version`
reads back (see :meth:`adapters.medplum.client.MedplumClient.upsert_versioned`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from adapters.medplum.errors import MedplumInputError

GATEWAY_ID_SYSTEM = "urn:cari:gateway:resource-id"
GATEWAY_VERSION_SYSTEM = "urn:cari:gateway:version"

# R4 resource types without an ``identifier`` element, and those where it is a single value.
NO_IDENTIFIER_TYPES = frozenset({
    "AuditEvent", "Binary", "CapabilityStatement", "CompartmentDefinition", "GraphDefinition",
    "ImplementationGuide", "Linkage", "MedicationKnowledge", "MedicinalProductContraindication",
    "MedicinalProductIndication", "MedicinalProductInteraction", "MedicinalProductManufactured",
    "MedicinalProductUndesirableEffect", "MessageHeader", "NamingSystem", "OperationDefinition",
    "OperationOutcome", "Parameters", "Provenance", "SearchParameter", "Subscription",
    "SubscriptionStatus", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
    "SubstanceReferenceInformation", "SubstanceSourceMaterial", "TerminologyCapabilities",
    "VerificationResult",
})
SINGLE_IDENTIFIER_TYPES = frozenset({
    "AdverseEvent", "Bundle", "Composition", "ConceptMap", "MedicinalProductIngredient",
    "QuestionnaireResponse", "SpecimenDefinition", "SubstanceSpecification", "TestReport",
    "TestScript",
})

TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")
ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True)
class MatchKey:
    """How the copy of a resource is found in Medplum: ``param=system|value``."""

    param: Literal["identifier", "_tag"]
    system: str
    value: str

    @property
    def search_value(self) -> str:
        return f"{_escape(self.system)}|{_escape(self.value)}"

    @property
    def query(self) -> str:
        """As a query string, e.g. for ``If-None-Exist``."""
        return f"{self.param}={quote(self.search_value, safe='')}"


def _escape(text: str) -> str:
    # FHIR search escaping: "," would split the value into alternatives.
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$")


def _usable(identifier: Any) -> bool:
    # Medplum splits token searches at "|", so a "|" inside either part can never match.
    return (isinstance(identifier, Mapping)
            and isinstance(identifier.get("system"), str) and identifier["system"] != ""
            and isinstance(identifier.get("value"), str) and identifier["value"] != ""
            and "|" not in identifier["system"] and "|" not in identifier["value"])


def resource_type_of(resource: Mapping[str, Any]) -> str:
    """``resourceType``; :class:`MedplumInputError` when it is missing or not a type name."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not TYPE_RE.fullmatch(resource_type):
        raise MedplumInputError("the resource has no valid resourceType")
    return resource_type


def _gateway_id(resource: Mapping[str, Any]) -> str | None:
    rid = resource.get("id")
    if rid is None:
        return None
    if not isinstance(rid, str) or not ID_RE.fullmatch(rid):
        raise MedplumInputError("the resource id is not a valid FHIR id")
    return rid


def match_key(resource: Mapping[str, Any]) -> MatchKey:
    """The key an upsert of ``resource`` matches on (see the module docstring)."""
    resource_type = resource_type_of(resource)
    rid = _gateway_id(resource)
    identifier = resource.get("identifier")
    if resource_type in NO_IDENTIFIER_TYPES:
        if rid is None:
            raise MedplumInputError(f"a {resource_type} without an id cannot be mirrored "
                                    "idempotently (it has no identifier)")
        return MatchKey("_tag", GATEWAY_ID_SYSTEM, rid)
    if resource_type in SINGLE_IDENTIFIER_TYPES:
        if identifier is None and rid is not None:
            return MatchKey("identifier", GATEWAY_ID_SYSTEM, rid)
        if _usable(identifier):
            assert isinstance(identifier, Mapping)
            return MatchKey("identifier", identifier["system"], identifier["value"])
        raise MedplumInputError(f"the {resource_type} has an identifier without a usable "
                                "system and value, so it cannot be matched")
    if identifier is not None and not isinstance(identifier, list):
        raise MedplumInputError(f"{resource_type}.identifier must be a list")
    if rid is not None:
        return MatchKey("identifier", GATEWAY_ID_SYSTEM, rid)
    for candidate in identifier or ():
        if _usable(candidate):
            return MatchKey("identifier", candidate["system"], candidate["value"])
    raise MedplumInputError(f"the {resource_type} has neither an id nor an identifier with a "
                            "system and value, so it cannot be mirrored idempotently")


def _set_tag(meta: dict[str, Any], system: str, code: str) -> None:
    tags = [t for t in meta.get("tag") or [] if not (isinstance(t, Mapping)
                                                      and t.get("system") == system)]
    tags.append({"system": system, "code": code})
    meta["tag"] = tags


def prepare(resource: Mapping[str, Any], key: MatchKey, version: int | None = None
            ) -> dict[str, Any]:
    """The body Medplum gets: our id, versionId and lastUpdated removed (Medplum assigns
    its own), the match key stamped on, and our version as a tag when given."""
    body = copy.deepcopy(dict(resource))
    body.pop("id", None)
    meta = dict(body.get("meta") or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if key.system == GATEWAY_ID_SYSTEM:
        if key.param == "_tag":
            _set_tag(meta, key.system, key.value)
        elif resource_type_of(resource) in SINGLE_IDENTIFIER_TYPES:
            body["identifier"] = {"system": key.system, "value": key.value}
        else:
            identifiers = [i for i in body.get("identifier") or []
                           if not (isinstance(i, Mapping) and i.get("system") == key.system)]
            identifiers.append({"system": key.system, "value": key.value})
            body["identifier"] = identifiers
    if version is not None:
        _set_tag(meta, GATEWAY_VERSION_SYSTEM, str(version))
    if meta:
        body["meta"] = meta
    else:
        body.pop("meta", None)
    return body


def stored_version(resource: Mapping[str, Any]) -> int:
    """Our version stamped on a Medplum copy; 0 when it has none (written by someone else)."""
    meta = resource.get("meta")
    for tag in (meta.get("tag") or []) if isinstance(meta, Mapping) else ():
        if isinstance(tag, Mapping) and tag.get("system") == GATEWAY_VERSION_SYSTEM:
            code = tag.get("code")
            if isinstance(code, str) and code.isdigit():
                return int(code)
    return 0
