"""RegisterProfile: what kind of register the gateway matches against, read off the register.

An agreeing address or phone means different things on different registers. Where families
are registered together (most African clinic registers: a household shares a phone and a
village or plot), it says "same household", a few bits of evidence; where each person has a
contact of their own (FEBRL, many insurance and urban registers), it says "same person", a
dozen bits. No single parameter set serves both (defaults.py), so the gateway measures which
kind it has, without labels: in a sample of registered patients, the share who share a phone
or an address with another registered patient of *another given name* (a household member:
a duplicate of the same person would have the same given name).

Measured on the data the figures in the README come from: FEBRL 1-4 0.0% to 0.6%; the
synthetic African register 84% to 85% (three seeds). Anything from 10% to 80% would separate
them; the threshold sits low (20%) because the household parameters are the safe side: on an
individual register they cost recall, while the individual ones on a household register link
relatives.

Too small a sample (a new register) says nothing, and the household parameters stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from resolvers.mpi.scoring.comparators import (
    DOB_DIFFERENT,
    DOB_YEAR,
    NAME_DIFFERENT,
    address_level,
    birth_date_level,
    name_level,
)
from resolvers.mpi.scoring.febrl_parameters import febrl_parameters
from resolvers.mpi.scoring.fellegi_sunter import FsParameters
from resolvers.mpi.scoring.record import MatchRecord
from resolvers.mpi.scoring.register_parameters import register_parameters

HOUSEHOLD_THRESHOLD = 0.20
MIN_SAMPLE = 200        # patients with a phone or an address to judge by
SAMPLE_SIZE = 1000      # patients looked at per profiling (random, each with its candidates)
SAME_ADDRESS = 3
STALE_GROWTH = 0.2      # re-profile once the register changed size by more than this share


class RegisterKind(StrEnum):
    HOUSEHOLDS = "households"    # relatives registered side by side: the default
    INDIVIDUALS = "individuals"  # one person per phone and address
    UNKNOWN = "unknown"          # too few patients to tell: treated as households


@dataclass(frozen=True)
class RegisterProfile:
    sampled: int          # patients with a phone or an address, of those looked at
    household_share: float
    register_size: int = 0  # patients indexed when the profile was taken

    @property
    def kind(self) -> RegisterKind:
        if self.sampled < MIN_SAMPLE:
            return RegisterKind.UNKNOWN
        if self.household_share >= HOUSEHOLD_THRESHOLD:
            return RegisterKind.HOUSEHOLDS
        return RegisterKind.INDIVIDUALS

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "sampled": self.sampled,
                "household_share": round(self.household_share, 4),
                "register_size": self.register_size, "threshold": HOUSEHOLD_THRESHOLD,
                "parameters": parameters_name(self.kind)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegisterProfile:
        return cls(sampled=int(data.get("sampled", 0)),
                   household_share=float(data.get("household_share", 0.0)),
                   register_size=int(data.get("register_size", 0)))


def household_member(record: MatchRecord, other: MatchRecord) -> bool:
    """Another person on the same phone or at the same address: another given name (also
    read swapped) and another birth date. A copy of the same person with a slip in one of
    them does not count; twins do not either, but their older siblings do."""
    if not record.given or not other.given:
        return False
    if name_level(record.given, other.given) != NAME_DIFFERENT or \
            name_level(record.given, other.family) != NAME_DIFFERENT:
        return False
    if birth_date_level(record.birth_date, other.birth_date) not in (DOB_YEAR, DOB_DIFFERENT):
        return False
    same_phone = bool(record.phone) and record.phone == other.phone
    return same_phone or address_level(record.address, other.address) == SAME_ADDRESS


def profile_register(samples: Iterable[tuple[str, MatchRecord, Sequence[tuple[str, MatchRecord]]]],
                     *, register_size: int = 0) -> RegisterProfile:
    """``samples``: (patient id, its record, its blocking candidates) for sampled patients.
    Household members share a phone or a family name with the patient, so the blocking
    candidates hold them."""
    judged = members = 0
    for patient_id, record, candidates in samples:
        if not (record.phone or record.address) or not record.given:
            continue
        judged += 1
        members += any(pid != patient_id and household_member(record, other)
                       for pid, other in candidates)
    return RegisterProfile(judged, members / judged if judged else 0.0, register_size)


def profile_is_stale(profile: RegisterProfile, register_size: int) -> bool:
    """The register changed size by more than a fifth since the profile was taken."""
    return abs(register_size - profile.register_size) > STALE_GROWTH * profile.register_size


def parameters_name(kind: RegisterKind) -> str:
    return "individuals (EM on FEBRL 1-3)" if kind is RegisterKind.INDIVIDUALS \
        else "households (EM on the synthetic training register)"


def single_link_for(kind: RegisterKind) -> bool:
    """Link at most one candidate per lookup (engine.MatchScorer): on a register of households
    the runner-up is a relative; on one of individuals it may be a duplicate registration."""
    return kind is not RegisterKind.INDIVIDUALS


def parameters_for(kind: RegisterKind) -> FsParameters:
    """The default parameters for a register of this kind (both estimated without labels)."""
    return febrl_parameters() if kind is RegisterKind.INDIVIDUALS else register_parameters()


__all__ = ["HOUSEHOLD_THRESHOLD", "SAMPLE_SIZE", "RegisterKind", "RegisterProfile",
           "household_member", "parameters_for", "profile_is_stale", "profile_register",
           "single_link_for"]
