"""Kafka to updated state: the worker against a bare consumer and a naive faust agent.

Usage (``make bench`` runs it)::

    python -m benchmarks.kafka_throughput [--events 200000] [--tree .cache/compiled/tree]

One local broker; one set of simulated events (timed over the last two hours, so the
worker accepts them all) published once before anything reads; then each contender reads
all of them from the start with its own consumer group:

- bare: an aiokafka consumer (``getmany``) that only decodes each value with orjson, the
  ceiling for a Python consumer;
- naive: a faust agent taking one event at a time, counting into windowed tables;
- worker: ``ccmetrics worker``, done when every event is counted and its queue updates
  are consumed (lag 0 on every topic);
- quix-streams peer (``benchmarks/quix_peer.py``, in ``.cache/quix-venv``, which ``make bench``
  makes): what a Python user would write instead, doing far less (its docstring says what);
  it reads only the calls topic, so its rate is of that topic's events. The worker's and the
  peer's peak resident memory are printed beside their rates.

Also the engine alone: ``ccmetrics replay``'s engine (decode, calls, agents, queues,
windows) over the same events held in memory, no Kafka. It does the worker's arithmetic
once, without its two Kafka hops, changelogs and batching: the most such a worker can reach.
And the least a worker's Kafka work costs: a relay (``benchmarks/kafka_relay.py``) that decodes
each event and writes as many messages an event as the worker wrote of its own, computing
nothing, with the worker's producer (librdkafka) and with aiokafka's record batches; then the
two producers alone over the same messages.

``--tree``: another build's worker and engine are the ones measured (``make bench`` passes
the compiled build, ``tools/compiled.py``, as the image runs it); this checkout's
interpreted worker and engine then run too, on the same events, for comparison.

Each rate is events over the time from the first event seen to the last, so start-up and
group joins are left out. The ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from benchmarks.compiled_engine import timed
from benchmarks.kafka_relay import compare_producers, events_consumer, floors, report_floors
from benchmarks.scrape import metric_sums
from metrics.contract.events import Event
from metrics.timeutil import US
from stream.deploy import Deployment
from stream.encode import to_cloudevent
from stream.kafka_out import EventProducer
from stream.simulate import Simulation, Traffic
from tools.kafka_local import REPO, LocalKafka, free_port
from tools.processes import stop_all

RUN = REPO / ".cache" / "bench"
PREFIX = "bench."
BAD_PREFIX = "bench-bad."
BAD_EVERY = 9  # a malformed message after every 9 good ones: a tenth of the stream


@dataclass(frozen=True)
class Rate:
    name: str
    events: int
    seconds: float
    peak_mb: float | None = None  # a process of its own: its peak resident memory
    cpu_seconds: float | None = None  # a process of its own: its CPU time over the events

    @property
    def cpu_us_per_event(self) -> float | None:
        """CPU time an event: the work, without the waits on the broker (a shared host's slower
        spells still show in it, as in the rate)."""
        return None if self.cpu_seconds is None else self.cpu_seconds / self.events * 1e6

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def recent_events(count: int) -> Iterator[Event]:
    """``count`` simulated events timed over the two hours before now (seeded)."""
    now = time.time_ns() // 1000
    traffic = Traffic(
        queues=tuple(f"q{n}" for n in range(10)), agents=300, rate_per_minute=500, seed=5, flat=True
    )
    for number, event in enumerate(Simulation(traffic, now - 7200 * US).run(now)):
        if number == count:
            return
        yield event


async def publish(bootstrap: str, events: list[Event], prefix: str = PREFIX, bad_every: int = 0) -> int:
    """Publish the events; with ``bad_every``, a malformed message after every n-th. Returns the count."""
    deployment = Deployment(kafka_servers=bootstrap, topic_prefix=prefix)
    sent = 0
    async with EventProducer(deployment) as producer:
        for number, event in enumerate(events, start=1):
            await producer.send_event(event)
            if bad_every and number % bad_every == 0:
                key, raw = BAD_INPUT[number // bad_every % len(BAD_INPUT)]
                await producer.send_raw(deployment.calls_topic, key, raw)
                sent += 1
    return sent + len(events)


def _bad_input() -> list[tuple[bytes | None, bytes]]:
    """(key, value) of malformed events: every rejection reason, and an unknown type."""
    good = to_cloudevent(Event("x", "call.queued", time.time_ns() // 1000, "bench", call_id="c", queue="q"))
    past, future = dict(good, time="2001-01-01T00:00:00Z"), dict(good, time="2999-01-01T00:00:00Z")
    return [
        (b"c", b"{not json"),
        (b"c", b"\xff\xfe\x00"),
        (b"c", orjson.dumps(dict(good, data={"call_id": "c"}))),
        (b"c", orjson.dumps(dict(good, data={"call_id": 7, "queue": "q"}))),
        (b"c", b'{"pad": "' + b"x" * 200_000 + b'"}'),
        (b"c", b"\x01" * 180_000),  # six times longer escaped: it once stopped the worker for good
        (None, orjson.dumps(good)),  # missing_key
        (b"c", orjson.dumps(past)),
        (b"c", orjson.dumps(future)),
        (b"c", orjson.dumps(dict(good, type="call.sparkled"))),
        (b"other", orjson.dumps(good)),
    ]


BAD_INPUT = _bad_input()
COUNTED = ("callcenter_events_total", "callcenter_events_rejected_total", "callcenter_events_ignored_total")


async def bare_consumer(bootstrap: str, expected: int) -> Rate:
    consumer = events_consumer(bootstrap, PREFIX, "bare")
    await consumer.start()
    try:
        seen, first = 0, 0.0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                if not first:
                    first = time.monotonic()
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        return Rate("bare aiokafka getmany + orjson", seen, time.monotonic() - first)
    finally:
        await consumer.stop()


def naive_faust(bootstrap: str, expected: int) -> Rate:
    command = [
        sys.executable,
        "-m",
        "benchmarks.naive_faust",
        bootstrap,
        PREFIX,
        f"naive-{uuid.uuid4()}",
        str(expected),
    ]
    log = (RUN / "naive.log").open("wb")
    child = subprocess.Popen(  # in RUN: faust writes its data folder in the working directory
        command, cwd=RUN, stdout=subprocess.PIPE, stderr=log, env=_env(RUN / "naive-data")
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:  # faust prints its banner here too
            if line.startswith(b"RESULT "):
                break
        else:
            raise SystemExit(f"the naive faust agent stopped; see {RUN / 'naive.log'}")
        first, last, count = line.split()[1:]
        return Rate("naive faust agent (per event)", int(count), float(last) - float(first))
    finally:
        child.kill()
        child.wait()


def start_worker(
    bootstrap: str,
    port: int,
    app_id: str | None = None,
    wait: bool = True,
    prefix: str = PREFIX,
    config: Path | None = None,
    tree: Path = REPO,
) -> subprocess.Popen[bytes]:
    """``ccmetrics worker`` on the bench topics, serving ``port`` (a fresh app id unless given).

    ``tree``: the checkout whose worker runs (another one to compare, see ``worker_ab``).
    """
    env = _env(RUN / "worker-data", tree) | {
        "CCMETRICS_KAFKA_SERVERS": bootstrap,
        "CCMETRICS_TOPIC_PREFIX": prefix,
        "CCMETRICS_APP_ID": app_id or new_app_id(),
        "CCMETRICS_METRICS_PORT": str(port),
        "CCMETRICS_LOG_LEVEL": "warning",
    }
    if config is not None:
        env["CCMETRICS_CONFIG"] = str(config)
    log = (RUN / "worker.log").open("ab")
    command = [sys.executable, "-m", "stream.cli", "worker"]
    child = subprocess.Popen(command, cwd=tree, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while wait and not metric_sums(port, ("callcenter_snapshot_timestamp_seconds",)):
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start; see {RUN / 'worker.log'}")
        time.sleep(0.5)
    return child


def new_app_id() -> str:
    """A worker's app id of its own: its consumer group, and the prefix of its topics."""
    return f"bench-{uuid.uuid4().hex[:8]}"


def stop(child: subprocess.Popen[bytes]) -> None:
    stop_all([child], timeout=30)


def worker(
    bootstrap: str,
    expected: int,
    prefix: str = PREFIX,
    name: str = "ccmetrics worker",
    tree: Path = REPO,
    app_id: str | None = None,
) -> Rate:
    port = free_port()
    child = start_worker(bootstrap, port, app_id=app_id, prefix=prefix, tree=tree)
    try:
        return watch_worker(child, port, expected, name)
    finally:
        stop(child)


QUIX_PYTHON = REPO / ".cache" / "quix-venv" / "bin" / "python"
PEER_TYPES = {"call.queued", "call.answered", "call.abandoned", "call.flowed_out"}


def quix_peer(bootstrap: str, events: list[Event]) -> Rate | None:
    """The quix-streams application over the calls topic, or ``None`` without its venv."""
    if not QUIX_PYTHON.exists():
        print(f"quix-streams peer skipped: no {QUIX_PYTHON} (make bench makes it)", flush=True)
        return None
    print("the quix-streams peer ...", flush=True)
    calls = sum(1 for event in events if event.type != "agent.state")
    taken = sum(1 for event in events if event.type in PEER_TYPES)
    state = RUN / f"quix-state-{uuid.uuid4().hex[:8]}"
    command = [str(QUIX_PYTHON), str(REPO / "benchmarks" / "quix_peer.py"), bootstrap]
    command += [f"{PREFIX}callcenter.calls", str(taken), str(state)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=True)
    found = orjson.loads(done.stdout.strip().splitlines()[-1])
    return Rate("quix-streams peer (calls topic)", calls, found["seconds"], found["peak_mb"])


def report_peer(ours: Rate, peer: Rate) -> None:
    print(f"quix-streams peer: {peer.events:,} calls-topic events, {peer.per_second:,.0f}/s", end="")
    print(f", peak {peer.peak_mb:.0f} MB resident; the worker's peak: {ours.peak_mb:.0f} MB")
    print(f"worker / quix-streams peer: {ours.per_second / peer.per_second:.1f}x   (target: at least 10x)")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (``/proc/PID/stat``, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def events_seen(sums: dict[str, float]) -> float:
    """Events the worker has taken, by ``metric_sums`` of :data:`COUNTED`: counted, rejected
    or ignored."""
    return sum(sums.get(counted, 0.0) for counted in COUNTED)


def watch_worker(child: subprocess.Popen[bytes], port: int, expected: int, name: str) -> Rate:
    first: tuple[float, float, float] | None = None
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the worker stopped; see {RUN / 'worker.log'}")
        sums = metric_sums(port, (*COUNTED, "callcenter_consumer_lag_messages"))
        seen = events_seen(sums)
        lag = sums.get("callcenter_consumer_lag_messages", 0.0)
        if seen and first is None:
            first = (time.monotonic(), seen, cpu_seconds(child.pid))
        if first is not None and seen >= expected and lag == 0:
            cpu = cpu_seconds(child.pid) - first[2]
            return Rate(name, int(seen - first[1]), time.monotonic() - first[0], peak_mb(child.pid), cpu)
        time.sleep(0.1)
    raise SystemExit("the worker did not finish in 30 minutes")


BENCH_CALLER_SECRET = "ccmetrics benchmarks"  # repeat calls on wherever the tree has them


def _env(data_dir: Path, tree: Path = REPO) -> dict[str, str]:
    env = {**os.environ, "CCMETRICS_DATA_DIR": str(data_dir), "PYTHONPATH": str(tree)}
    if (tree / "metrics" / "callers.py").exists():  # an older tree refuses the variable
        env["CCMETRICS_CALLER_HASH_SECRET"] = BENCH_CALLER_SECRET
    return env


def report(rates: list[Rate], interpreted: list[Rate]) -> None:
    """Every rate, then the worker's (the measured build's) against each baseline."""
    bare, naive, ours, alone, bad = rates
    print(f"{'':44}{'events':>10}{'seconds':>10}{'events/s':>12}")
    for rate in rates + interpreted:
        print(f"{rate.name:44}{rate.events:>10,}{rate.seconds:>10.2f}{rate.per_second:>12,.0f}")
    print(f"worker / bare consumer: {ours.per_second / bare.per_second:.1%}   (target: at least 25 %)")
    print(f"worker / naive faust:   {ours.per_second / naive.per_second:.1f}x   (target: at least 5x)")
    if ours.cpu_us_per_event is not None:
        print(f"worker's CPU time an event: {ours.cpu_us_per_event:.1f} µs")
    print(f"engine alone / bare consumer: {alone.per_second / bare.per_second:.1%}   (the worker's ceiling)")
    if ours.cpu_us_per_event is not None:
        report_beyond_engine(ours.cpu_us_per_event, alone, bare)
    for other in interpreted:
        print(f"{other.name} / bare consumer: {other.per_second / bare.per_second:.1%}")
    print(
        f"worker with 1 malformed message in {BAD_EVERY + 1} / clean: {bad.per_second / ours.per_second:.0%}"
    )


def report_beyond_engine(worker_cpu_us: float, alone: Rate, bare: Rate) -> None:
    """The worker's CPU an event beyond the engine's own arithmetic (the engine alone is one
    busy process: its time an event is its CPU), and the pace that alone would allow: what
    Kafka, faust, the changelogs, the cold store and housekeeping cost, whatever the engine."""
    beyond_us = worker_cpu_us - 1e6 / alone.per_second
    if beyond_us <= 0:
        return
    share = (1e6 / beyond_us) / bare.per_second
    print(f"worker's CPU an event beyond the engine alone's: {beyond_us:.1f} µs", end="")
    print(f" (with an engine that cost nothing: at most {share:.1%} of the bare consumer)")


async def messages_by_topic(bootstrap: str, prefix: str) -> dict[str, int]:
    """How many messages each topic named ``prefix``... holds: one worker's changelogs and
    internal topics, when ``prefix`` is its app id."""
    listing = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await listing.start()
    try:
        names = sorted(name for name in await listing.topics() if name.startswith(prefix))
    finally:
        await listing.stop()
    reader = AIOKafkaConsumer(*names, bootstrap_servers=bootstrap)  # fetches their partitions
    await reader.start()
    try:
        parts = [TopicPartition(n, p) for n in names for p in reader.partitions_for_topic(n) or ()]
        ends = await reader.end_offsets(parts)
    finally:
        await reader.stop()
    return {name: sum(end for part, end in ends.items() if part.topic == name) for name in names}


def report_messages(counts: dict[str, int], events: int, app_id: str) -> None:
    """The worker's own messages (changelogs, internal topics) an event, by topic."""
    print(f"the worker's messages an event: {sum(counts.values()) / events:.2f}, of which:")
    for name, count in sorted(counts.items(), key=lambda item: -item[1]):
        if count:
            print(f"  {count / events:6.3f}  {name.removeprefix(app_id + '-')}")


def engine_alone(events: list[Event], tree: Path = REPO) -> Rate:
    """The replay engine of ``tree``'s build over the same events (held in memory, in a process
    of its own, repeat calls on as in the worker: ``benchmarks.compiled_engine``'s timing)."""
    path = RUN / "engine-events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(to_cloudevent(event)) + b"\n" for event in events))
    return Rate(f"engine alone (no Kafka){_build(tree)}", len(events), timed(tree, path, 1))


def _build(tree: Path) -> str:
    """How a rate's name says which build ran: nothing for this checkout's."""
    return "" if tree.resolve() == REPO else ", compiled"


@contextlib.contextmanager
def broker_with_events(count: int) -> Iterator[tuple[LocalKafka, list[Event]]]:
    """A fresh broker with ``count`` simulated events published on the bench topics."""
    RUN.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka.start(RUN / "kafka", port=free_port())
    try:
        events = list(recent_events(count))
        print(f"publishing {len(events):,} simulated events ...", flush=True)
        asyncio.run(publish(broker.bootstrap, events))
        yield broker, events
    finally:
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--tree", type=Path, default=REPO, help="the build whose worker is measured")
    args = parser.parse_args(argv)
    tree, build = args.tree.resolve(), _build(args.tree)
    with broker_with_events(args.events) as (broker, events):
        rates = [asyncio.run(bare_consumer(broker.bootstrap, len(events)))]
        print("bare consumer done; naive faust agent ...", flush=True)
        rates.append(naive_faust(broker.bootstrap, len(events)))
        print(f"naive faust done; the worker{build} ...", flush=True)
        app_id = new_app_id()
        rates.append(
            worker(broker.bootstrap, len(events), name=f"ccmetrics worker{build}", tree=tree, app_id=app_id)
        )
        counts = asyncio.run(messages_by_topic(broker.bootstrap, app_id + "-"))
        own = sum(counts.values()) / len(events)  # the worker's own messages an event
        print("a relay writing as many messages an event, computing nothing ...", flush=True)
        found = floors(broker.bootstrap, PREFIX, len(events), own)
        rates.append(engine_alone(events, tree))
        peer = quix_peer(broker.bootstrap, events)
        print("the worker on the same events with malformed ones among them ...", flush=True)
        mixed = asyncio.run(publish(broker.bootstrap, events, BAD_PREFIX, BAD_EVERY))
        bad = f"worker{build}, 1 in {BAD_EVERY + 1} malformed"
        rates.append(worker(broker.bootstrap, mixed, BAD_PREFIX, bad, tree))
        interpreted = [] if tree == REPO else interpreted_rates(broker.bootstrap, events)
        report(rates, interpreted)
        report_messages(counts, len(events), app_id)
        report_floors(rates[0].per_second, found, own)
        compare_producers(broker.bootstrap, [orjson.dumps(to_cloudevent(e)) for e in events])
        if peer is not None:
            report_peer(rates[2], peer)
        return 0


def interpreted_rates(bootstrap: str, events: list[Event]) -> list[Rate]:
    """This checkout's interpreted worker and engine on the same events (beside a compiled build)."""
    print("the interpreted worker and engine, for comparison ...", flush=True)
    return [worker(bootstrap, len(events), name="ccmetrics worker, interpreted"), engine_alone(events)]


if __name__ == "__main__":
    raise SystemExit(main())
