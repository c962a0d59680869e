"""KPI arithmetic and the pipeline's steps in plain Python: no faust, no Kafka.

Start reading here:

- :mod:`metrics.contract.events` is the decoded form of a contract event (and a rejection's).
- :mod:`metrics.calls` folds one call's events into order-independent facts, per queue a
  :class:`~metrics.visits.Visit`; :mod:`metrics.agents` keeps an agent's state changes.
- :mod:`metrics.rules` turns a visit into contributions ``(event time, slot, value)``: the
  metric definitions of docs/metrics.md, and nothing else.
- :mod:`metrics.windows` sums contributions over rolling windows, ``today`` and all time.
- :mod:`metrics.queue_state` keeps one queue (visits, agents, sums) and takes snapshots.
- :mod:`metrics.steps` are the pipeline's steps (per call, per agent, per queue) and its
  clock: replay and the worker run exactly these.
- :mod:`metrics.engine` wires the steps in one process (``ccmetrics replay``, tests); the
  worker in :mod:`stream` wires them to faust tables and Kafka topics.
- :mod:`metrics.storage` is retention: expire, pack, restore (the worker's memory).
"""
