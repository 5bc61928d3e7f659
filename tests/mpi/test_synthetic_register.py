"""The matcher on a seeded synthetic African register (benchmarks/synthetic_register.py):
2,000 clinic patients in households, the lab's error-laden copies of 1,200 of them, and 200
unregistered twins, siblings and namesakes. Seed 424242 was never used while developing."""

from __future__ import annotations

from benchmarks.register_accuracy import evaluate_register
from benchmarks.synthetic_register import generate

SEED = 424242


def test_generator_is_deterministic_and_has_every_kind_of_record() -> None:
    first, again = generate(500, SEED), generate(500, SEED)
    assert first.queries == again.queries and first.truth == again.truth
    assert {"copy", "twin", "sibling", "namesake"} <= set(first.kinds.values())
    assert len(first.patients) == 500 and len(first.truth) == 300


def test_default_parameters_link_copies_and_never_a_wrong_certain() -> None:
    # The defaults, the register parameters: constrained EM on a training register of seed 1.
    scores = evaluate_register(generate(2000, SEED))
    assert scores.wrong_certain == 0, scores
    assert scores.f1 >= 0.95, scores
