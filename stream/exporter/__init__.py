"""The Prometheus exporter in one place: what ``/metrics`` shows and how it is served.

Start reading here: :mod:`stream.exporter.catalogue` (every family, its help and where its
values come from), :mod:`stream.exporter.text` (a :class:`~metrics.snapshot.Snapshot` as the
text exposition, also what ``ccmetrics replay`` prints) and :mod:`stream.exporter.http` (the
worker's snapshots, ``/metrics``, ``/healthz``, ``/readyz`` and auth). A scrape reads a
snapshot already taken, so it never waits on the stream.
"""
