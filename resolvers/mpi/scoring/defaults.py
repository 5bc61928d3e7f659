"""The parameters the gateway matches with until the operator stores re-estimated ones.

The register parameters (register_parameters.py): the gateway serves African registers,
where households share a phone and an address and relatives are registered side by side.
No single parameter set found serves both such a register and FEBRL (one person per
address): the agreement of an address is household evidence (~3 bits) on the one and
identity evidence (~12 bits) on the other. The FEBRL-trained set stays in
febrl_parameters.py for comparison and as the EM starting point of the register training.

Before going live, re-estimate u (how often strangers agree) on the real register:
``adapters.mpi.reestimate(session, save=True)`` (see its docstring).
"""

from __future__ import annotations

from resolvers.mpi.scoring.fellegi_sunter import FsParameters
from resolvers.mpi.scoring.register_parameters import register_parameters


def default_parameters() -> FsParameters:
    return register_parameters()
