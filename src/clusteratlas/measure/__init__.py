"""Measure: specialisation, concentration and agglomeration of industries across regions.

* :mod:`~clusteratlas.measure.specialisation` — location quotients, Hoover, Krugman, locational
  Gini and Herfindahl indices for every region × industry;
* :mod:`~clusteratlas.measure.agglomeration` — Ellison–Glaeser and Maurel–Sédillot indices with
  their null moments, and the EG co-agglomeration index for every pair of industries.

All take establishment records or region × industry aggregates (see
:func:`clusteratlas.measure._prepare.prepare`).
"""

from clusteratlas.measure.agglomeration import (
    AgglomerationResult,
    CoagglomerationResult,
    coagglomeration,
    ellison_glaeser,
    maurel_sedillot,
)
from clusteratlas.measure.specialisation import (
    SpecialisationResult,
    location_quotient,
    specialisation,
)

__all__ = [
    "AgglomerationResult",
    "CoagglomerationResult",
    "SpecialisationResult",
    "coagglomeration",
    "ellison_glaeser",
    "location_quotient",
    "maurel_sedillot",
    "specialisation",
]
