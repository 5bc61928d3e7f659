"""The parameters the gateway matches with before it has profiled its register.

The register parameters (register_parameters.py): the gateway serves African registers,
where households share a phone and an address and relatives are registered side by side.
No single parameter set found serves both such a register and FEBRL (one person per
address): the agreement of an address is household evidence (~3 bits) on the one and
identity evidence (~12 bits) on the other. So the matcher profiles its register
(profile.py) and takes the household parameters or the FEBRL-estimated ones
(febrl_parameters.py) by what it finds; until then, and on a register too small to tell,
the household ones, the safe side.

An operator re-estimates u (how often strangers agree) on the real register with
``adapters.mpi.reestimate(session)`` and stores it with ``save=True``. Not an automatic gain:
on the synthetic training register (seed 1, 10,000) that u-only re-estimation from these
defaults lowers F1 from 0.958 to 0.932 (recall 0.943 -> 0.899, no wrong ``certain``), so
compare both on a reviewed sample of lookups before saving.
"""

from __future__ import annotations

from resolvers.mpi.scoring.fellegi_sunter import FsParameters
from resolvers.mpi.scoring.register_parameters import register_parameters


def default_parameters() -> FsParameters:
    return register_parameters()
