"""Events in and out: decoding, input formats, Kafka, and the faust worker.

Start reading here:

- :mod:`metrics.contract.decode` validates contract events (CloudEvents, JSON) and says why not.
- :mod:`stream.queue_log` maps Asterisk's queue_log onto contract events.
- :mod:`stream.exporter` renders snapshots for Prometheus and serves them.
- :mod:`stream.replay` runs files through :mod:`metrics.engine` (``ccmetrics replay``).
- :mod:`stream.worker` is ``ccmetrics worker``: the steps of :mod:`metrics.steps` wired to
  faust, as named parts (topology, intake, handlers, housekeeping, recovery, exporter);
  faust's private internals live in :mod:`stream.faust_internals` alone.
- :mod:`stream.simulate` and :mod:`stream.publish` put events on Kafka.
"""
