"""Accuracy of the matcher on a synthetic register (benchmarks/synthetic_register.py).

Every lab record is looked up against the clinic register with the in-memory index (the
same blocking keys and the same scorer as the SQL matcher behind ``$match``). A pair is
*linked* when the lookup returns it as certain or probable; precision, recall and F1 are
over (lab record, patient) pairs. Wrong ``certain`` answers are counted on their own: each
would attach a result to the wrong person without review. Parameters default to the
gateway's defaults (resolvers/mpi/scoring/defaults.py: the register parameters, constrained
EM on a training register of another seed; no pair labels).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.synthetic_register import Person, Register


@dataclass
class RegisterScores:
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    wrong_certain: int
    wrong_by_kind: dict[str, int] = field(default_factory=dict)   # false links by query kind
    certain_share: float = 0.0  # share of copies linked as certain (auto-linked)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def match_record(person: Person) -> Any:
    from resolvers.mpi.scoring.record import build_record

    return build_record(given=person.given, family=person.family,
                        birth_date=person.birth_date, gender=person.sex or None,
                        phone=person.phone, address=person.address)


def evaluate_register(register: Register, parameters: Any = None) -> RegisterScores:
    from adapters.mpi.memory import InMemoryMatchIndex, InMemoryPatientMatcher
    from resolvers.mpi.matching import MatchGrade
    from resolvers.mpi.scoring.engine import MatchScorer
    from resolvers.mpi.scoring.profile import parameters_for, single_link_for

    index = InMemoryMatchIndex()
    for pid, person in register.patients.items():
        index.put(pid, match_record(person))
    kind = index.profile().kind  # as the gateway does: the defaults for the register's kind
    matcher = InMemoryPatientMatcher(index, MatchScorer(
        parameters or parameters_for(kind), single_link=single_link_for(kind)))
    tp = fp = wrong_certain = certain = 0
    wrong: Counter[str] = Counter()
    for qid, person in register.queries.items():
        truth = register.truth.get(qid)
        for match in matcher.match_record(match_record(person), limit=5):
            if match.grade not in (MatchGrade.CERTAIN, MatchGrade.PROBABLE):
                continue
            if match.patient_id == truth:
                tp += 1
                certain += match.grade is MatchGrade.CERTAIN
            else:
                fp += 1
                wrong[register.kinds.get(qid, "copy")] += 1
                wrong_certain += match.grade is MatchGrade.CERTAIN
    fn = len(register.truth) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return RegisterScores(precision, recall, f1, tp, fp, fn, wrong_certain, dict(wrong),
                          certain / len(register.truth) if register.truth else 0.0)
