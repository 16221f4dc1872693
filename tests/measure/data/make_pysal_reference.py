"""Write pysal_reference.csv: PySAL ``inequality`` 1.0.1's Ellison–Glaeser and Maurel–Sédillot
indices (``ellison_glaeser_egg``, ``maurel_sedillot_msg``; removed from inequality ≥ 1.1, which the
project's environment has) on the test plants.

Usage: python make_pysal_reference.py DIR   where DIR holds the unpacked inequality-1.0.1 wheel
(``pip download inequality==1.0.1 --no-deps`` and unzip). The plant Herfindahls passed as ``hs`` are
computed here with plain pandas, independently of clusteratlas.
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, sys.argv[1])
import inequality

assert inequality.__version__ == "1.0.1", inequality.__version__
from inequality import ellison_glaeser_egg, maurel_sedillot_msg  # noqa: E402

here = Path(__file__).parent
rows = []
for dataset, file, region, weight in (("random_plants", "random_plants.csv", "region_code",
                                       "employment"),
                                      ("fk2014_egc", "fk2014_egc.csv", "region", "emp_firm")):
    plants = pd.read_csv(here / file, dtype={region: str})
    mat = plants.pivot_table(index=region, columns="industry", values=weight, aggfunc="sum",
                             fill_value=0).sort_index(axis=0).sort_index(axis=1)
    shares = plants[weight] / plants.groupby("industry")[weight].transform("sum")
    hs = (shares**2).groupby(plants["industry"]).sum().reindex(mat.columns)
    for name, fn in (("gamma", ellison_glaeser_egg), ("gamma_ms", maurel_sedillot_msg)):
        values = fn(mat.to_numpy(dtype=float), hs=hs.to_numpy())
        rows += [{"dataset": dataset, "measure": name,
                  "implementation": f"inequality {inequality.__version__} {fn.__name__}",
                  "key": k, "value": v} for k, v in zip(mat.columns, values, strict=True)]
pd.DataFrame(rows).to_csv(here / "pysal_reference.csv", index=False, float_format="%.17g")
