"""The pipeline's steps, free of faust: replay and the worker run exactly these.

Start reading here:

- :mod:`metrics.steps.clock`: what a batch is judged against; the only thing that differs
  between replay (:class:`~metrics.steps.clock.ReplayClock`) and live (the wall clock).
- :mod:`metrics.steps.admission`: too late and too early, once for both.
- :mod:`metrics.steps.messages`: what goes into a step and comes out of it.
- :mod:`metrics.steps.entities`: the per-call and per-agent steps (fold, tell the queues).
- :mod:`metrics.steps.queues`: the per-queue step (apply updates, snapshot, expire, pack).

:mod:`metrics.engine` wires them to dicts; :mod:`stream.worker` to faust tables and topics.
"""
