"""Events in: decoding, input formats, Kafka topics and the faust worker.

Start reading here:

- :mod:`stream.decode` validates contract events (CloudEvents, JSON) and says why not.
- :mod:`stream.queue_log` maps Asterisk's queue_log onto contract events.
- :mod:`stream.replay` runs files through :mod:`metrics.engine` (``ccmetrics replay``).
- :mod:`stream.worker` is the faust app (``ccmetrics worker``): topics, tables, agents.
- :mod:`stream.simulate` and :mod:`stream.publish` put events on Kafka.
"""
