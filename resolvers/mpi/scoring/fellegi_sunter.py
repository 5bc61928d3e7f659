"""Fellegi-Sunter model: m/u probabilities per field level, EM estimation, match probability.

For a candidate pair with agreement vector ``x`` (one level per field, conditionally
independent given the match status), the weight of a field at level ``l`` is
``log2(m_l / u_l)``, the pair's weight ``W`` is their sum (missing fields add 0), and the
match probability is ``1 / (1 + (1 - p) / p * 2**-W)`` with ``p`` the share of true matches
among *blocked candidate pairs* (the only pairs the matcher ever scores).

``m`` and ``u`` are estimated from data with expectation-maximisation (:func:`estimate`)
over the agreement vectors of blocked pairs, without labels; identical vectors are grouped,
so EM over a million pairs costs as much as over the few hundred distinct vectors.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from resolvers.mpi.scoring.comparators import FIELD_LEVELS, FIELDS, MISSING

FLOOR = 1e-4  # no probability is ever ~0: one field alone never adds or removes > ~13 bits


def _normalise(values: list[float]) -> tuple[float, ...]:
    """Counts or weights -> probabilities, none below FLOOR."""
    total = sum(values)
    if total <= 0:
        raise ValueError("probabilities need a positive total")
    clipped = [max(v / total, FLOOR) for v in values]
    total = sum(clipped)
    return tuple(v / total for v in clipped)


def _checked(values: list[float]) -> tuple[float, ...]:
    """Stored probabilities are taken as they are (exact round trip) when valid."""
    if all(v > 0 for v in values) and abs(sum(values) - 1.0) < 1e-6:
        return tuple(values)
    return _normalise(values)


@dataclass(frozen=True)
class FieldParameters:
    m: tuple[float, ...]  # P(level | match), index = level
    u: tuple[float, ...]  # P(level | non-match)
    estimated: bool = True  # False: a prior default, the training data had no such field

    def weight(self, level: int) -> float:
        if level == MISSING:
            return 0.0
        return math.log2(self.m[level] / self.u[level])


@dataclass(frozen=True)
class FsParameters:
    fields: dict[str, FieldParameters]
    prior: float  # p: share of matches among blocked candidate pairs
    trained_on: str = ""
    iterations: int = 0
    pairs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def weights(self, levels: tuple[int, ...]) -> dict[str, float]:
        return {name: self.fields[name].weight(level)
                for name, level in zip(FIELDS, levels, strict=True)}

    def probability(self, total_weight: float) -> float:
        log_odds = total_weight + math.log2(self.prior / (1.0 - self.prior))
        if log_odds > 60:
            return 1.0
        if log_odds < -60:
            return 0.0
        return 1.0 / (1.0 + math.pow(2.0, -log_odds))

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1, "prior": self.prior, "trained_on": self.trained_on,
            "iterations": self.iterations, "pairs": self.pairs, "extra": self.extra,
            "fields": {name: {"m": list(p.m), "u": list(p.u), "estimated": p.estimated}
                       for name, p in self.fields.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FsParameters:
        fields = {}
        for name in FIELDS:
            raw = data["fields"].get(name)
            if raw is None:
                fields[name] = default_field(name)
                continue
            m, u = tuple(float(v) for v in raw["m"]), tuple(float(v) for v in raw["u"])
            if len(m) != FIELD_LEVELS[name] or len(u) != FIELD_LEVELS[name]:
                raise ValueError(f"parameters for {name!r} need {FIELD_LEVELS[name]} levels")
            fields[name] = FieldParameters(_checked(list(m)), _checked(list(u)),
                                           bool(raw.get("estimated", True)))
        prior = float(data["prior"])
        if not 0.0 < prior < 1.0:
            raise ValueError("prior must be between 0 and 1")
        return cls(fields, prior, str(data.get("trained_on", "")), int(data.get("iterations", 0)),
                   int(data.get("pairs", 0)), dict(data.get("extra") or {}))

    @classmethod
    def from_json(cls, text: str) -> FsParameters:
        return cls.from_dict(json.loads(text))


# Starting points for EM, and the prior used for a field no training data has (sex and
# phone: FEBRL has neither). Deliberately modest: the live index re-estimates them.
_PRIOR_M: dict[str, tuple[float, ...]] = {
    "given": (0.05, 0.05, 0.1, 0.8), "family": (0.05, 0.05, 0.1, 0.8),
    "birth_date": (0.05, 0.05, 0.1, 0.8), "sex": (0.03, 0.97), "phone": (0.15, 0.05, 0.8),
    "address": (0.1, 0.1, 0.2, 0.6), "identifier": (0.1, 0.1, 0.8),
}
_PRIOR_U: dict[str, tuple[float, ...]] = {
    "given": (0.8, 0.1, 0.07, 0.03), "family": (0.8, 0.1, 0.07, 0.03),
    "birth_date": (0.8, 0.1, 0.09, 0.01), "sex": (0.5, 0.5), "phone": (0.97, 0.02, 0.01),
    "address": (0.7, 0.2, 0.07, 0.03), "identifier": (0.97, 0.02, 0.01),
}


def default_field(name: str) -> FieldParameters:
    return FieldParameters(_PRIOR_M[name], _PRIOR_U[name], estimated=False)


def starting_parameters() -> FsParameters:
    return FsParameters({name: default_field(name) for name in FIELDS}, prior=0.1)


@dataclass(frozen=True)
class EmResult:
    parameters: FsParameters
    converged: bool
    iterations: int
    log_likelihood: float


def estimate(vectors: Iterable[tuple[int, ...]], *, start: FsParameters | None = None,
             max_iterations: int = 200, tolerance: float = 1e-7,
             trained_on: str = "", fix_m: bool = False,
             fixed_m: frozenset[str] = frozenset(), fixed_u: frozenset[str] = frozenset(),
             fix_prior: bool | None = None,
             evidence: frozenset[str] | None = None) -> EmResult:
    """Expectation-maximisation of m, u and p from unlabelled agreement vectors.

    A field that is missing in every vector keeps its ``start`` value (marked not estimated).

    ``fix_m`` keeps m and p from ``start`` and estimates only u. Use it on a register that is
    (nearly) free of duplicates: there the blocked pairs hold too few true matches for EM to
    find the match class, and unconstrained EM latches onto another split (say, pairs that
    share a given name), while u -- how often strangers in one block agree -- is exactly what
    such a register tells. p stays: the share of matches among a *lookup's* candidates is
    not the (near zero) share among pairs inside a de-duplicated register.

    ``fixed_m`` / ``fixed_u`` keep m or u of the named fields from ``start``; ``fix_prior``
    keeps p (default: as ``fix_m``). A constrained EM learns what the data can tell (say, u
    from a register's own blocked pairs, then m and p from lookups with that u held).

    ``evidence`` names the fields whose agreement decides which class a pair belongs to (the
    E step reads only them); every observed field still gets m and u from those posteriors.
    On a register of households, phone, address and family name are shared by relatives:
    left in the E step they make "same household" the class EM finds. With the person's own
    fields (given name, birth date, sex) as evidence, the household fields are measured
    against the person, not the other way round.
    """
    counts = Counter(vectors)
    if not counts:
        raise ValueError("EM needs at least one candidate pair")
    params = start or starting_parameters()
    patterns = list(counts.items())
    total = sum(counts.values())
    observed = {name: any(v[i] != MISSING for v, _ in patterns) for i, name in enumerate(FIELDS)}
    deciding = tuple(name in (evidence if evidence is not None else FIELDS) for name in FIELDS)
    if fix_m:
        fixed_m = frozenset(FIELDS)
    keep_prior = fix_m if fix_prior is None else fix_prior
    m = {name: list(params.fields[name].m) for name in FIELDS}
    u = {name: list(params.fields[name].u) for name in FIELDS}
    p = params.prior
    previous = -math.inf
    converged = False
    log_likelihood = previous
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - reported afterwards
        # E step: posterior match probability of each distinct vector.
        m_counts = {name: [0.0] * FIELD_LEVELS[name] for name in FIELDS}
        u_counts = {name: [0.0] * FIELD_LEVELS[name] for name in FIELDS}
        matched = 0.0
        log_likelihood = 0.0
        for vector, n in patterns:
            pm, pu = p, 1.0 - p
            for name, level, decides in zip(FIELDS, vector, deciding, strict=True):
                if level != MISSING and decides:
                    pm *= m[name][level]
                    pu *= u[name][level]
            g = pm / (pm + pu)
            log_likelihood += n * math.log(pm + pu)
            matched += n * g
            for name, level in zip(FIELDS, vector, strict=True):
                if level != MISSING:
                    m_counts[name][level] += n * g
                    u_counts[name][level] += n * (1.0 - g)
        # M step.
        if not keep_prior:
            p = min(max(matched / total, 1e-9), 1.0 - 1e-9)
        for name in FIELDS:
            if observed[name]:
                if name not in fixed_m:
                    m[name] = list(_normalise(m_counts[name]))
                if name not in fixed_u:
                    u[name] = list(_normalise(u_counts[name]))
        if abs(log_likelihood - previous) < tolerance * max(1.0, abs(log_likelihood)):
            converged = True
            break
        previous = log_likelihood
    # Label switching: the "match" class must be the one in which names agree more often.
    agree = [name for name in ("family", "given", "birth_date") if observed[name]]
    if not fixed_m and not fixed_u and agree and sum(m[n][-1] for n in agree) < sum(u[n][-1] for n in agree):
        m, u, p = u, m, 1.0 - p
    fields = {
        name: FieldParameters(tuple(m[name]), tuple(u[name]),
                              estimated=name not in fixed_m & fixed_u and (
                                  name not in fixed_m or params.fields[name].estimated))
        if observed[name]
        else replace(params.fields[name], estimated=False)
        for name in FIELDS}
    result = FsParameters(fields, p, trained_on=trained_on, iterations=iteration, pairs=total)
    return EmResult(result, converged, iteration, log_likelihood)
