"""Patient matching as pure domain logic: normalisation, African-aware phonetic keys,
comparators, blocking keys, Fellegi-Sunter with EM, grading. No I/O (see adapters/mpi)."""

from resolvers.mpi.scoring.blocking import query_keys, record_keys
from resolvers.mpi.scoring.comparators import FIELDS, Comparison, compare
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.engine import MatchScorer, Thresholds
from resolvers.mpi.scoring.fellegi_sunter import EmResult, FsParameters, estimate
from resolvers.mpi.scoring.phonetics import canonical, phonetic_key
from resolvers.mpi.scoring.record import (
    MatchRecord,
    build_record,
    record_from_candidate,
    record_from_patient,
)

__all__ = [
    "FIELDS", "Comparison", "EmResult", "FsParameters", "MatchRecord", "MatchScorer",
    "Thresholds", "build_record", "canonical", "compare", "default_parameters", "estimate",
    "phonetic_key", "query_keys", "record_from_candidate", "record_from_patient",
    "record_keys",
]
