"""Medplum: the FHIR server that keeps the standard copy of every clinical record."""

from adapters.medplum.client import MedplumClient, Upserted
from adapters.medplum.errors import (
    MedplumAuthError,
    MedplumError,
    MedplumInputError,
    MedplumMultipleMatches,
    MedplumPermanentError,
    MedplumTransientError,
)
from adapters.medplum.matching import GATEWAY_ID_SYSTEM, GATEWAY_VERSION_SYSTEM, MatchKey, match_key
from adapters.medplum.mirror import FHIR_UPSERT, MEDPLUM, MedplumMirror

__all__ = [
    "FHIR_UPSERT",
    "GATEWAY_ID_SYSTEM",
    "GATEWAY_VERSION_SYSTEM",
    "MEDPLUM",
    "MatchKey",
    "MedplumAuthError",
    "MedplumClient",
    "MedplumError",
    "MedplumInputError",
    "MedplumMirror",
    "MedplumMultipleMatches",
    "MedplumPermanentError",
    "MedplumTransientError",
    "Upserted",
    "match_key",
]
