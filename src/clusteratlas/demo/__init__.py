"""The demo economy (演示经济): a seeded synthetic economy on China's real counties with planted
ground truth, and the end-to-end demo run (``clusteratlas demo``).

>>> from clusteratlas.demo import generate
>>> economy = generate("small", seed=0)          # doctest: +SKIP
>>> economy.truth.groupby("kind").size()         # doctest: +SKIP

Modules: :mod:`~clusteratlas.demo.industries` (GB/T 4754-2017 groups), :mod:`~.firms` (size law,
output, exports, founding, designations), :mod:`~.places` (counties, background, scatter),
:mod:`~.planted` (the planted truth), :mod:`~.innovation` (patents, publications, actors, links),
:mod:`~.panel` (years, entry, exit, growth), :mod:`~.economy` (:func:`generate`),
:mod:`~.calibration` (published facts beside realised values), :mod:`~.run` (the demo pipeline).
Facts and sources: ``clusteratlas/demo/README.md``.
"""

from clusteratlas.demo.economy import SCALES, DemoEconomy, generate

__all__ = ["SCALES", "DemoEconomy", "generate"]
