"""KPI arithmetic in plain Python: no faust, no Kafka.

Start reading here:

- :mod:`metrics.calls` folds one call's events into order-independent facts, per queue a
  :class:`~metrics.visits.Visit`.
- :mod:`metrics.rules` turns a visit into contributions ``(event time, slot, value)``: the
  metric definitions of docs/metrics.md, and nothing else.
- :mod:`metrics.windows` sums contributions over rolling windows, ``today`` and all time.
- :mod:`metrics.queue_state` keeps one queue (visits, agents, sums) and takes snapshots.
- :mod:`metrics.packing` keeps calls and visits gone quiet as bytes, and
  :mod:`metrics.cold` is where those bytes wait until they expire (the worker's memory).
- :mod:`metrics.engine` wires it all in one process (``ccmetrics replay``, tests);
  the worker in :mod:`stream` runs the same pieces across faust agents and tables.
- :mod:`metrics.exporter` renders a :class:`~metrics.snapshot.Snapshot` for Prometheus.
"""
