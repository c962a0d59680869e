"""librdkafka's producer (confluent-kafka) over the lines of a file: its CPU time a message.

Usage (``benchmarks.kafka_relay`` runs it in the quix-streams peer's virtual environment,
``.cache/quix-venv``, which has confluent-kafka: it is not a dependency of ccmetrics)::

    .cache/quix-venv/bin/python benchmarks/librdkafka_produce.py BOOTSTRAP TOPIC FILE

Each line of FILE is one message's value, keyed as ``kafka_relay`` keys its own; sent with the
worker's producer settings (acks from all replicas, 5 ms linger) and flushed. Prints one JSON
line: messages, seconds, and this process's CPU seconds (librdkafka's threads included).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def send_all(producer: Any, topic: str, values: list[bytes]) -> None:
    for number, value in enumerate(values):
        while True:
            try:
                producer.produce(topic, value, b"k%d" % (number % 5000))
                break
            except BufferError:  # its queue is full: let it deliver
                producer.poll(0.01)
        if number % 1000 == 0:
            producer.poll(0)
    producer.flush()


def main(bootstrap: str, topic: str, path: str) -> None:
    from confluent_kafka import Producer  # type: ignore[import-not-found]  # the quix venv's, not ours

    values = Path(path).read_bytes().splitlines()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    producer.list_topics(topic)  # metadata first, as the relay's producer has it: not timed
    started, cpu = time.monotonic(), time.process_time()
    send_all(producer, topic, values)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu
    print(json.dumps({"messages": len(values), "seconds": seconds, "cpu_seconds": cpu_seconds}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
