"""Write random_plants.csv: 400 plants, 6 regions, 5 industries (seed 20261128), used as the common
input of our indices and of the R reference implementations (make_reference.R)."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20261128)
n = 400
regions = np.array(["R1", "R2", "R3", "R4", "R5", "R6"])
industries = np.array(["A", "B", "C", "D", "E"])
industry = rng.choice(industries, size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
# Industry A leans to R1, E to R6; the rest pick regions at random.
p_base = np.array([0.25, 0.2, 0.2, 0.15, 0.1, 0.1])
region = np.empty(n, dtype=object)
for ind in industries:
    p = p_base.copy()
    if ind == "A":
        p = np.array([0.6, 0.1, 0.1, 0.1, 0.05, 0.05])
    if ind == "E":
        p = np.array([0.05, 0.05, 0.05, 0.05, 0.1, 0.7])
    mask = industry == ind
    region[mask] = rng.choice(regions, size=int(mask.sum()), p=p)
employment = np.round(rng.lognormal(3.0, 1.0, size=n)) + 1
frame = pd.DataFrame({"est_id": [f"P{i:03d}" for i in range(n)], "region_code": region,
                      "industry": industry, "employment": employment})
frame.to_csv(Path(__file__).with_name("random_plants.csv"), index=False)
