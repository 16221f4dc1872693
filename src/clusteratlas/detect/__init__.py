"""Detect clusters: where they are, what they contain, how they rank.

* :mod:`~clusteratlas.detect.density` — density clusters of weighted points (DBSCAN with a minimum
  weight, HDBSCAN), scored and ranked the way WIPO's Global Innovation Index ranks S&T clusters,
  with rank stability across settings;
* :mod:`~clusteratlas.detect.stars` — region × industry cluster mapping: European Cluster
  Observatory stars (with the 2020 Panorama extension) and the U.S. Cluster Mapping strong /
  strong10 / significant / qualifying flags;
* :mod:`~clusteratlas.detect.related` — related-industry cluster definitions (Delgado, Porter &
  Stern 2016) with their validation scores;
* :mod:`~clusteratlas.detect.scoring` — precision and recall against a ground-truth table.
"""

from clusteratlas.detect.density import (
    DensityClusters,
    RankStability,
    density_clusters,
    gii_scores,
    rank_stability,
    weighted_dbscan,
)
from clusteratlas.detect.related import (
    RelatedClusters,
    related_clusters,
    similarity_matrices,
    validation_scores,
)
from clusteratlas.detect.scoring import Scores, score_cells, score_pairs, score_sites
from clusteratlas.detect.stars import ClusterStars, cluster_stars, cmp_flags

__all__ = [
    "ClusterStars",
    "DensityClusters",
    "RankStability",
    "RelatedClusters",
    "Scores",
    "cluster_stars",
    "cmp_flags",
    "density_clusters",
    "gii_scores",
    "rank_stability",
    "related_clusters",
    "score_cells",
    "score_pairs",
    "score_sites",
    "similarity_matrices",
    "validation_scores",
    "weighted_dbscan",
]
