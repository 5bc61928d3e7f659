"""The drug-interaction knowledge base (data with sources under ``data/``) and its checker.

``InteractionChecker.from_data()`` loads, validates and indexes it once; ``check`` finds
interactions, duplicate therapy and pregnancy warnings; ``pregnancy_evidence`` reads a
patient's Conditions and Observations for a current pregnancy. Pure domain code: no I/O
besides reading the data files when asked to.
"""

from resolvers.cds.knowledge.checker import InteractionChecker
from resolvers.cds.knowledge.loading import KnowledgeBaseError
from resolvers.cds.knowledge.pregnancy import pregnancy_evidence

__all__ = ["InteractionChecker", "KnowledgeBaseError", "pregnancy_evidence"]
