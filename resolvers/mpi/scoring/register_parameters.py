"""Fellegi-Sunter parameters for registers of households (generated; do not edit).

Estimated without labels on a synthetic training register (seed 1, 10000 patients; see
benchmarks/synthetic_register.py) by ``python -m tools.train_mpi_register``: u from the
register's own blocked pairs, then m of sex, phone and address and the prior from the lab
records' lookups, with the FEBRL m of names and birth date held (see that module).
"""

from __future__ import annotations

from typing import Any

from resolvers.mpi.scoring.fellegi_sunter import FsParameters

REGISTER_PARAMETERS: dict[str, Any] = {'extra': {'converged': True},
 'fields': {'address': {'estimated': True,
                        'm': [0.37847402780245354,
                              0.1384660765036318,
                              0.003717965237890069,
                              0.47934193045602463],
                        'u': [0.46999359258584167,
                              0.42005187457487986,
                              0.06488059940557364,
                              0.045073933433704874]},
            'birth_date': {'estimated': False,
                           'm': [0.06331041823015304,
                                 0.001044214731084695,
                                 0.027686051863374073,
                                 0.9079593151753882],
                           'u': [0.28062531665263113,
                                 0.6765616357133943,
                                 0.03654647028478486,
                                 0.006266577349189758]},
            'family': {'estimated': False,
                       'm': [0.09501083876459039,
                             0.025386725989688323,
                             0.2138739673692915,
                             0.6657284678764299],
                       'u': [0.6728577744143112,
                             0.0749173172607474,
                             0.0028303386052753714,
                             0.24939456971966603]},
            'given': {'estimated': False,
                      'm': [0.13259275879751142,
                            0.0251928319853145,
                            0.14461541039731993,
                            0.6975989988198542],
                      'u': [0.7288137803261442,
                            0.08553612728500815,
                            0.0056511268874519785,
                            0.1799989655013958]},
            'identifier': {'estimated': False,
                           'm': [0.06311031509756962, 0.07328265078435284, 0.8636070341180775],
                           'u': [0.9998000277545805, 9.998612270971864e-05, 9.998612270971864e-05]},
            'phone': {'estimated': True,
                      'm': [0.49228947173658594, 9.999000099990002e-05, 0.5076105382624141],
                      'u': [0.9988944426422973, 9.999000099990002e-05, 0.0010055673567028365]},
            'sex': {'estimated': True,
                    'm': [0.07213764138838774, 0.9278623586116123],
                    'u': [0.43365154884887547, 0.5663484511511246]}},
 'iterations': 8,
 'pairs': 128807,
 'prior': 0.07502007797031046,
 'trained_on': 'synthetic training register seed 1, 10000 patients (constrained EM, unsupervised)',
 'version': 1}


def register_parameters() -> FsParameters:
    return FsParameters.from_dict(REGISTER_PARAMETERS)
