"""EM recovers known m/u parameters from unlabelled vectors; parameters serialise."""

from __future__ import annotations

import random

import pytest

from resolvers.mpi.scoring.comparators import FIELD_LEVELS, FIELDS, MISSING
from resolvers.mpi.scoring.defaults import default_parameters
from resolvers.mpi.scoring.febrl_parameters import febrl_parameters
from resolvers.mpi.scoring.fellegi_sunter import FsParameters, estimate

TRUE_M = {"given": (0.05, 0.05, 0.1, 0.8), "family": (0.04, 0.06, 0.1, 0.8),
          "birth_date": (0.05, 0.03, 0.07, 0.85), "sex": (0.02, 0.98),
          "phone": (0.2, 0.05, 0.75), "address": (0.1, 0.1, 0.3, 0.5),
          "identifier": (0.1, 0.05, 0.85)}
TRUE_U = {"given": (0.7, 0.15, 0.1, 0.05), "family": (0.5, 0.2, 0.1, 0.2),
          "birth_date": (0.4, 0.05, 0.5, 0.05), "sex": (0.5, 0.5),
          "phone": (0.97, 0.02, 0.01), "address": (0.6, 0.3, 0.08, 0.02),
          "identifier": (0.98, 0.015, 0.005)}


def _draw(rng: random.Random, probs: tuple[float, ...]) -> int:
    return rng.choices(range(len(probs)), weights=probs)[0]


def _vectors(n: int, p: float, seed: int = 7) -> list[tuple[int, ...]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        table = TRUE_M if rng.random() < p else TRUE_U
        out.append(tuple(MISSING if rng.random() < 0.1 else _draw(rng, table[f]) for f in FIELDS))
    return out


def test_em_recovers_the_generating_parameters() -> None:
    result = estimate(_vectors(20000, 0.2))
    params = result.parameters
    assert result.converged
    assert params.prior == pytest.approx(0.2, abs=0.02)
    for name in FIELDS:
        for level in range(FIELD_LEVELS[name]):
            assert params.fields[name].m[level] == pytest.approx(TRUE_M[name][level], abs=0.03)
            assert params.fields[name].u[level] == pytest.approx(TRUE_U[name][level], abs=0.03)


def test_em_is_not_fooled_by_label_switching() -> None:
    # Starting with m and u swapped still ends with names agreeing more among matches.
    start = febrl_parameters()
    swapped = FsParameters.from_dict({**start.to_dict(), "fields": {
        n: {"m": list(f.u), "u": list(f.m)} for n, f in start.fields.items()}})
    params = estimate(_vectors(5000, 0.3), start=swapped).parameters
    assert params.fields["given"].m[3] > params.fields["given"].u[3]
    assert params.prior == pytest.approx(0.3, abs=0.05)


def test_unobserved_fields_keep_their_prior() -> None:
    vectors = [(*v[:3], MISSING, MISSING, *v[5:]) for v in _vectors(3000, 0.2)]
    params = estimate(vectors).parameters
    assert not params.fields["sex"].estimated and not params.fields["phone"].estimated
    assert params.fields["given"].estimated


def test_parameters_serialise_and_weights_follow_m_over_u() -> None:
    params = febrl_parameters()
    again = FsParameters.from_json(params.to_json())
    assert again.to_dict() == FsParameters.from_dict(params.to_dict()).to_dict()
    exact = params.fields["family"].weight(3)
    different = params.fields["family"].weight(0)
    assert exact > 0 > different
    assert params.fields["family"].weight(MISSING) == 0.0
    assert params.probability(40) > 0.999999 and params.probability(-40) < 1e-6
    with pytest.raises(ValueError, match="levels"):
        FsParameters.from_dict({**params.to_dict(), "fields": {"sex": {"m": [1], "u": [1]}}})
    with pytest.raises(ValueError, match="EM needs"):
        estimate([])


def test_febrl_parameters_were_estimated_on_febrl() -> None:
    params = febrl_parameters()
    assert "febrl" in params.trained_on
    assert params.fields["family"].estimated and params.fields["birth_date"].estimated
    assert not params.fields["phone"].estimated  # FEBRL has no phone numbers


def test_u_only_estimation_keeps_m_and_p() -> None:
    start = febrl_parameters()
    vectors = _vectors(5000, 0.0)  # a de-duplicated register: strangers only
    params = estimate(vectors, start=start, fix_m=True).parameters
    assert params.prior == start.prior
    for name in FIELDS:
        assert params.fields[name].m == start.fields[name].m
        for level in range(FIELD_LEVELS[name]):
            assert params.fields[name].u[level] == pytest.approx(TRUE_U[name][level], abs=0.03)


def test_constrained_em_holds_what_it_is_told_and_decides_on_the_evidence() -> None:
    start = febrl_parameters()
    vectors = _vectors(5000, 0.2)
    person = frozenset({"given", "family", "birth_date"})
    params = estimate(vectors, start=start, fixed_u=frozenset(FIELDS), fixed_m=person,
                      evidence=person).parameters
    for name in FIELDS:
        assert params.fields[name].u == start.fields[name].u
    for name in person:
        assert params.fields[name].m == start.fields[name].m
    # m of a field outside the evidence is still learnt from the posteriors.
    assert params.fields["phone"].m != start.fields["phone"].m
    assert params.fields["phone"].m[2] > params.fields["phone"].u[2]


def test_the_gateway_default_is_the_register_parameters() -> None:
    # African registers of households: an agreeing address is weak evidence there.
    params = default_parameters()
    assert "synthetic training register" in params.trained_on
    assert params.fields["address"].weight(3) < 6 < febrl_parameters().fields["address"].weight(3)
