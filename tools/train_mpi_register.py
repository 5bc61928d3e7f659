"""Train the register parameters on a synthetic *training* register and rewrite
``resolvers/mpi/scoring/register_parameters.py``::

    .venv/bin/python -m tools.train_mpi_register

Unsupervised (no pair labels are read), on a register generated with TRAINING_SEED, a seed
no reported figure or test uses. Two constrained EM steps, starting from the FEBRL parameters:

1. **u from the register itself**: the register's own blocked pairs (each patient looked up
   against the others, as a match would) are nearly all strangers, so EM with m and p held
   learns how often strangers in one block agree -- on a register of households and villages
   far more often on address and phone than in FEBRL.
2. **m and p from the lab's lookups**: the training lab records looked up against the
   register; u held from step 1, m held for given name, family name and birth date (how a
   re-typed record of one person agrees, from FEBRL), and only those three fields decide
   the class in the E step. EM learns m of sex, phone and address and the share of matches
   among a lookup's candidates. Left free, EM on these pairs finds "same household" or
   "same name" as the match class: relatives share everything but the person.
"""

from __future__ import annotations

import json
import pprint
from pathlib import Path

from adapters.mpi.memory import InMemoryMatchIndex
from benchmarks.register_accuracy import match_record
from benchmarks.synthetic_register import generate
from resolvers.mpi.scoring.comparators import FIELDS, compare
from resolvers.mpi.scoring.febrl_parameters import febrl_parameters
from resolvers.mpi.scoring.fellegi_sunter import EmResult, estimate

TRAINING_SEED = 1
TRAINING_SIZE = 10_000
REGISTER_SAMPLE = 3_000  # patients whose blocked pairs step 1 reads
# The parameters were estimated when a lookup read up to 200 candidates (now 50, see
# blocking.MAX_CANDIDATES); kept, so that the training reproduces them.
TRAINING_CANDIDATES = 200
PERSON_FIELDS = frozenset({"given", "family", "birth_date"})
TARGET = Path(__file__).resolve().parents[1] / "resolvers/mpi/scoring/register_parameters.py"
HEADER = '''"""Fellegi-Sunter parameters for registers of households (generated; do not edit).

Estimated without labels on a synthetic training register (seed {seed}, {size} patients; see
benchmarks/synthetic_register.py) by ``python -m tools.train_mpi_register``: u from the
register's own blocked pairs, then m of sex, phone and address and the prior from the lab
records' lookups, with the FEBRL m of names and birth date held (see that module).
"""

from __future__ import annotations

from typing import Any

from resolvers.mpi.scoring.fellegi_sunter import FsParameters

REGISTER_PARAMETERS: dict[str, Any] = '''
FOOTER = '''


def register_parameters() -> FsParameters:
    return FsParameters.from_dict(REGISTER_PARAMETERS)
'''


def train(seed: int = TRAINING_SEED, size: int = TRAINING_SIZE) -> EmResult:
    register = generate(size, seed)
    index = InMemoryMatchIndex()
    for pid, person in register.patients.items():
        index.put(pid, match_record(person))
    inner = [compare(a, b).levels
             for a, b in index.candidate_pairs(list(register.patients)[:REGISTER_SAMPLE],
                                           max_candidates=TRAINING_CANDIDATES)]
    strangers = estimate(inner, start=febrl_parameters(), fix_m=True).parameters
    lookups = []
    for person in register.queries.values():
        query = match_record(person)
        lookups += [compare(query, stored).levels for _, stored
                    in index.candidates(query, max_candidates=TRAINING_CANDIDATES)]
    return estimate(lookups, start=strangers, fixed_u=frozenset(FIELDS),
                    fixed_m=PERSON_FIELDS, evidence=PERSON_FIELDS,
                    trained_on=f"synthetic training register seed {seed}, {size} patients "
                               "(constrained EM, unsupervised)")


def main() -> None:
    result = train()
    data = json.loads(result.parameters.to_json())
    data["extra"] = {"converged": result.converged}
    TARGET.write_text(HEADER.format(seed=TRAINING_SEED, size=TRAINING_SIZE)
                      + pprint.pformat(data, width=100, sort_dicts=True) + FOOTER)
    print(f"wrote {TARGET}: {result.iterations} iterations over {result.parameters.pairs} "
          f"pairs, p={result.parameters.prior:.4f}")


if __name__ == "__main__":
    main()
