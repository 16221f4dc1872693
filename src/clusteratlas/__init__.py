"""Cluster Atlas (集群图谱): identify, measure, evaluate and tier industrial clusters.

The package is laid out as the pipeline it implements::

    ingest -> store -> geo -> measure / detect -> evaluate / balance / network / tiers -> report

Every analysis returns a :class:`clusteratlas.result.Result` with ``.table`` (a tidy DataFrame),
``.params`` (every input that shaped it, the seed included), ``.summary()`` and ``.plot()``.
"""

__version__ = "0.1.0"
