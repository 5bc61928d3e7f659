"""The MPI patient matcher: blocking index in SQL, scoring in resolvers.mpi.scoring.

Wiring (composition root)::

    matcher = SqlPatientMatcher(session_factory(engine))
    await matcher.load_parameters()          # stored EM parameters, else the register defaults

Indexing, in the same transaction as the patient row (SqlPatientRepository.add/update)::

    await index_patient(session, patient)
"""

from adapters.db.match_index import (
    bulk_index,
    candidates,
    index_patient,
    index_record,
    load_parameters,
    remove_patient,
    save_parameters,
)
from adapters.mpi.matcher import Reestimate, SqlPatientMatcher, reestimate
from adapters.mpi.memory import InMemoryMatchIndex, InMemoryPatientMatcher

__all__ = [
    "InMemoryMatchIndex", "InMemoryPatientMatcher", "Reestimate", "SqlPatientMatcher",
    "bulk_index", "candidates", "index_patient", "index_record", "load_parameters",
    "reestimate", "remove_patient", "save_parameters",
]
