"""``ccmetrics worker``: the faust app. Topics, tables and partitions around the processors.

Flow (docs/architecture.md has the diagram)::

    callcenter.calls  (key call id)  -> calls step  [table <app id>-calls]  --+
    callcenter.agents (key agent id) -> agents step [table <app id>-agents] --+-> <app id>-queue-updates
    <app id>-queue-updates (key queue) -> queues step [tables <app id>-queue-visits, -agents, -settled]
    invalid events -> callcenter.rejected
    a timer takes a snapshot every second; GET /metrics renders the latest one.

Each step gets the records of one fetch at a time from :mod:`stream.batch_consumer` and
sends its table entries and messages together (:mod:`stream.direct_producer`).
Every table is written only with the key its source topic is partitioned by, so
changelog partitions line up with source partitions and recovery restores each
partition's state where its events are processed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import StreamT
from faust.web import Request, Response, View

from metrics.cold import ColdStore, HotThenCold, Row
from metrics.exporter import render
from metrics.pipeline import PipelineStats
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from metrics.visits import Visit
from stream.basic_auth import BasicAuth
from stream.batch_consumer import BatchHandler, BatchTransport, Records
from stream.cold_store import SqliteCold, open_cold_database
from stream.deploy import Deployment
from stream.direct_producer import DirectProducer, Message, table_deletion, table_entry
from stream.heap import give_back_free_memory
from stream.http_guard import HttpGuard
from stream.kafka_out import ensure_topics
from stream.problems import RuntimeProblem, UsageProblem
from stream.processors import SEPARATOR, AgentProcessor, CallProcessor, Incoming, Outgoing, QueueRegistry
from stream.spilling_store import spill_recovery
from stream.state_codecs import register_codecs

log = logging.getLogger("ccmetrics.worker")
QUEUE_TOPIC = "{app_id}-queue-updates"  # internal; named after the app so deployments never share it
PRUNE_EVERY_SECONDS = 10.0
# Kafka compacts only closed segments; with its default of 1 GiB a changelog stays mostly
# uncompacted for days, and a restart reads every entry ever written (each call's state is
# written several times). Small segments let the cleaner keep about one entry per key.
CHANGELOG_CONFIG = {"segment.bytes": str(16 * 2**20), "segment.ms": str(3_600_000)}
SERVED_PATHS = ("/metrics", "/healthz", "/readyz")  # all the HTTP side answers (docs/configuration.md)
FRESH_ON_SCRAPE_US = 200_000  # a scrape takes a new snapshot if the latest is older than this
GIVE_BACK_MEMORY_SECONDS = 10.0  # see stream/heap.py; each time takes a few milliseconds


def now_us() -> int:
    return time.time_ns() // 1000


class LatestSnapshot:
    """The snapshot ``/metrics`` serves, rendered at most once per snapshot."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self._rendered: bytes | None = None

    def replace(self, snapshot: Snapshot) -> None:
        self.snapshot, self._rendered = snapshot, None

    def text(self) -> bytes:
        if self.snapshot is None:
            return b""
        if self._rendered is None:
            self._rendered = render(self.snapshot)
        return self._rendered


class Pruner:
    """Lets go of old table entries now and then, from inside the partition's own stream."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, int], float] = defaultdict(float)

    def due(self, step_partition: tuple[str, int]) -> bool:
        """Whether the step's partition should prune now (at most every PRUNE_EVERY_SECONDS)."""
        moment = time.monotonic()
        if moment - self._last[step_partition] < PRUNE_EVERY_SECONDS:
            return False
        self._last[step_partition] = moment
        return True


def create_app(deployment: Deployment, settings: Settings) -> faust.App:
    """Build the faust app with its topics, tables, agents, timer and web page."""
    register_codecs()
    app = faust.App(
        deployment.app_id,
        broker=[f"kafka://{server}" for server in deployment.kafka_servers.split(",")],
        broker_credentials=_credentials(deployment),
        store="memory://",
        topic_partitions=deployment.partitions,
        topic_replication_factor=1,
        datadir=str(deployment.data_dir),
        web_port=deployment.metrics_port,
        web_bind=deployment.metrics_host,
        web_in_thread=False,
        web_ssl_context=deployment.metrics_ssl_context(),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_session_timeout=deployment.kafka_session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, deployment.kafka_session_timeout_seconds / 4),
        table_standby_replicas=0,
        # faust's own pages (router, tables, statistics, graph) are off; the guard answers
        # 404 to any path the product does not document, and 401 without credentials
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        web_application_options={"middlewares": [HttpGuard(SERVED_PATHS, _auth(deployment)).middleware]},
    )
    # Each step takes what the consumer fetched as one batch: a call's or agent's state is
    # stored once per batch, and each queue gets one message per batch.
    app.transport = BatchTransport(app.conf.broker_consumer, app)
    _wire(app, deployment, settings)
    return app


def _auth(deployment: Deployment) -> BasicAuth | None:
    if not deployment.metrics_username:
        return None
    return BasicAuth(deployment.metrics_username, deployment.metrics_password)


def _credentials(deployment: Deployment) -> Any:
    protocol = deployment.kafka_security_protocol
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=deployment.kafka_sasl_username,
            password=deployment.kafka_sasl_password,
            ssl_context=deployment.ssl_context(),
            mechanism=deployment.kafka_sasl_mechanism,
        )
    if protocol == "SSL":
        return faust.SSLCredentials(deployment.ssl_context())
    return None


def _wire(app: faust.App, deployment: Deployment, settings: Settings) -> None:
    calls_topic, agents_topic = (
        _raw_topic(app, deployment.calls_topic),
        _raw_topic(app, deployment.agents_topic),
    )
    rejected_topic = _raw_topic(app, deployment.rejected_topic)
    queue_topic = app.topic(
        QUEUE_TOPIC.format(app_id=deployment.app_id),
        internal=True,
        partitions=deployment.partitions,
        key_serializer="raw",
        value_serializer="raw",
    )
    calls_table = _table(app, "calls", "ccm-call", deployment)
    agents_table = _table(app, "agents", "ccm-agent", deployment)
    visits_table = _table(app, "queue-visits", "ccm-visit", deployment)
    queue_agents_table = _table(app, "queue-agents", "ccm-agent", deployment)
    settled_table = _table(app, "queue-settled", "ccm-settled", deployment)

    stats = PipelineStats()
    calls, agents = CallProcessor(settings, stats), AgentProcessor(settings, stats)
    database = open_cold_database(deployment.data_dir, deployment.cold_cache_mb)
    cold_calls, cold_visits = SqliteCold(database, "calls"), SqliteCold(database, "visits")
    registry, latest, pruner = QueueRegistry(settings, cold_visits), LatestSnapshot(), Pruner()
    spill_recovery(calls_table, cold_calls, lambda key, data: calls.expiry(data))
    spill_recovery(visits_table, cold_visits, registry.expiry)
    # partition -> call ids or agent ids stored from it, so each partition prunes its own
    indexes: dict[str, dict[int, set[str]]] = {"calls": defaultdict(set), "agents": defaultdict(set)}
    direct = DirectProducer(deployment.aiokafka_options(), stats)

    @app.on_before_shutdown.connect
    async def stop_direct_producer(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await direct.stop()

    names = {"rejected": rejected_topic.get_topic_name(), "queues": queue_topic.get_topic_name()}

    def to_topics(outgoing: list[Outgoing]) -> list[Message]:
        return [Message(names[m.destination], None, m.key, m.value) for m in outgoing]

    def entity_step(
        step: str, processor: CallProcessor | AgentProcessor, table: Any, cold: ColdStore | None
    ) -> BatchHandler:
        index = indexes[step]
        stored = table.data if cold is None else HotThenCold(table.data, cold)

        async def handle(records: Records) -> Awaitable[None]:
            batch = processor.handle_batch(_incoming(records), stored, now_us())
            for entity, (_, partition) in batch.writes.items():
                index[partition].add(entity)
            messages = _entries(table, batch.writes) + to_topics(batch.outgoing)
            for partition in _due(pruner, step, records):
                messages += _prune(processor, table, cold, index[partition], partition)
            return await direct.hand_over(messages)

        return handle

    async def queue_step(records: Records) -> Awaitable[None]:
        visits: dict[str, tuple[Any, int]] = {}
        queue_agents: dict[str, tuple[Any, int]] = {}
        for record in records:
            stored = registry.apply(cast(bytes, record.key).decode(), record.partition, record.value)
            for key, value in stored:
                (visits if isinstance(value, Visit) else queue_agents)[key] = (value, record.partition)
        messages = _entries(visits_table, visits) + _entries(queue_agents_table, queue_agents)
        for partition in _due(pruner, "queues", records):
            messages += _prune_queues(registry, partition, visits_table, queue_agents_table, settled_table)
        return await direct.hand_over(messages)

    transport = cast(BatchTransport, app.transport)
    transport.handlers.update(
        {
            calls_topic.get_topic_name(): entity_step("calls", calls, calls_table, cold_calls),
            agents_topic.get_topic_name(): entity_step("agents", agents, agents_table, None),
            queue_topic.get_topic_name(): queue_step,
        }
    )
    for topic in (calls_topic, agents_topic, queue_topic):
        # The agents subscribe the topics and take part in partition assignment; their
        # messages reach the handlers above in batches, never these streams.
        app.agent(topic, name=f"subscribe-{topic.get_topic_name()}")(_subscribed)

    consumed = {t.get_topic_name() for t in (calls_topic, agents_topic, queue_topic)}

    def owned_partitions(topic: Any) -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic.get_topic_name()}

    async def rebuild_queues() -> None:
        owned = owned_partitions(queue_topic)
        registry.keep_partitions(set())
        cold_visits.keep_partitions(owned)
        cold = list(cold_visits.items())  # read once: for the queues' names, then their visits
        queue_tables = (visits_table, queue_agents_table, settled_table)
        partition_of = _owned_queues(
            queue_tables, [key for key, _ in cold], lambda q: _partition_for(app, queue_topic, q), owned
        )
        for table in queue_tables:
            _keep_owned_queues(table, partition_of)
        items = list(visits_table.items()) + list(queue_agents_table.items())
        registry.rebuild(items, cold, list(settled_table.items()), partition_of, now_us())
        _reindex(calls_table, indexes["calls"], owned_partitions(calls_topic))
        cold_calls.keep_partitions(owned_partitions(calls_topic))
        _reindex(agents_table, indexes["agents"], owned_partitions(agents_topic))
        give_back_free_memory()  # what reading the changelogs took
        log.info("recovered %d queues on partitions %s", len(registry.states), sorted(owned))

    visits_table.on_recover(rebuild_queues)

    @app.on_partitions_revoked.connect
    async def forget_changelog_read_offsets(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Work around a faust recovery hang after a rebalance.

        Recovery re-reads a changelog from its start with ``seek_wait``, which, unlike
        ``Consumer.seek``, keeps the last read offset; the fetch loop then drops every re-read
        message as already seen and recovery waits forever ("No event received for active
        tp ..."). Forgetting changelog read offsets before the next assignment avoids that.
        """
        consumer: Any = app.consumer
        read_offsets = consumer._read_offset
        for tp in [tp for tp in read_offsets if tp.topic.endswith("-changelog")]:
            read_offsets[tp] = None

    def snapshot_now() -> None:
        registry.keep_partitions(owned_partitions(queue_topic))
        moment = now_us()
        pipeline = replace(stats.snapshot(), lag_by_topic=_lag(app, consumed))
        latest.replace(Snapshot(moment, registry.snapshot(moment), pipeline))

    @app.timer(deployment.snapshot_interval_seconds)  # type: ignore[untyped-decorator]
    async def take_snapshot() -> None:
        snapshot_now()

    @app.timer(GIVE_BACK_MEMORY_SECONDS)  # type: ignore[untyped-decorator]
    async def give_back_memory() -> None:
        give_back_free_memory()  # fetched batches and let-go state leave holes in the heap

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            if latest.snapshot is not None and now_us() - latest.snapshot.at_us > FRESH_ON_SCRAPE_US:
                snapshot_now()  # a scrape sees what was processed until now, not up to a second ago
            return self.bytes(latest.text(), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    class Health(View):
        """Alive: the event loop answers."""

        async def get(self, request: Request) -> Response:
            return self.json({"alive": True})

    @app.page("/readyz")
    class Readiness(View):
        """Ready: a snapshot has been taken, so /metrics has something to say."""

        async def get(self, request: Request) -> Response:
            ready = latest.snapshot is not None
            return self.json({"ready": ready, "queues": len(registry.states)}, status=200 if ready else 503)


def _raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def _table(app: faust.App, name: str, codec: str, deployment: Deployment) -> Any:
    table: Any = app.Table(name, partitions=deployment.partitions, extra_topic_configs=CHANGELOG_CONFIG)
    # faust takes changelog serializers from these attributes, and made the changelog topic
    # (used to decode during recovery) when the table was registered: make it again.
    table.key_serializer, table.value_serializer = "ccm-str", codec
    table.changelog_topic = table._new_changelog_topic()
    return table


def _lag(app: faust.App, topics: set[str]) -> dict[str, int]:
    """Messages between each assigned partition's read position and its end, summed by topic."""
    consumer: Any = app.consumer
    lag: dict[str, int] = defaultdict(int)
    for tp in app.assignor.assigned_actives():
        if tp.topic not in topics:
            continue  # changelogs are read by recovery, not by the streams
        read = consumer._read_offset.get(tp)  # faust keeps the last offset it read per partition
        end = consumer.highwater(tp)
        if end is not None:
            lag[tp.topic] += max(0, end - (read + 1 if read is not None else 0))
    return dict(lag)


def _origin(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _incoming(records: Records) -> list[Incoming[int]]:
    """The records as the processors take them; the token is the record's partition."""
    return [Incoming(r.key, cast(bytes, r.value), _origin(r), r.partition) for r in records]


async def _subscribed(stream: StreamT[bytes]) -> AsyncIterator[None]:
    async for _ in stream:
        yield None


def _entries(table: Any, writes: dict[str, tuple[Any, int]]) -> list[Message]:
    """Store each value; its changelog goes to the partition of the message it came from."""
    return [table_entry(table, key, value, partition) for key, (value, partition) in writes.items()]


def _due(pruner: Pruner, step: str, records: Records) -> list[int]:
    """The partitions among the records' whose turn to prune has come."""
    return [p for p in sorted({r.partition for r in records}) if pruner.due((step, p))]


def _prune_queues(
    registry: QueueRegistry, partition: int, visits: Any, agents: Any, settled: Any
) -> list[Message]:
    tidied = registry.tidy(partition, now_us())
    for key in tidied.visits_cold:  # the same visits, in the registry's cold store: nothing to send
        visits.data.pop(key, None)
    deletions = [table_deletion(visits, key, partition) for key in tidied.visits_let_go]
    deletions += [table_deletion(agents, key, partition) for key in tidied.agents_let_go]
    return deletions + [table_entry(settled, queue, s, partition) for queue, s in tidied.settled.items()]


def _prune(
    processor: CallProcessor | AgentProcessor,
    table: Any,
    cold: ColdStore | None,
    index: set[str],
    partition: int,
) -> list[Message]:
    moment = now_us()
    tidied = processor.tidy(table.data, index, moment)
    stale = tidied.stale
    index.difference_update(stale)
    if cold is not None:
        _to_cold(table, cold, index, partition, tidied.packed)
        cold.delete(stale)  # older copies of states that had turned hot again
        stale += [key for key, _ in cold.expire(partition, moment) if key not in table.data]
    return [table_deletion(table, entity, partition) for entity in stale]


def _to_cold(table: Any, cold: ColdStore, index: set[str], partition: int, packed: list[Row]) -> None:
    """Move packed states out of a table's memory into its cold store: nothing to send."""
    cold.put(partition, packed)
    for key, _, _ in packed:
        del table.data[key]
        index.discard(key)


def _reindex(table: Any, index: dict[int, set[str]], owned: set[int]) -> None:
    """After a recovery: index the keys it read, and let go of partitions no longer owned.

    faust's memory store knows the partition of a key it read back (``_key_partition``), not
    of one written since: ``index`` alone knows those. (Indexing from the store alone lost
    every key written live at each rebalance, never to be let go, and a revoked partition's
    keys stayed in memory.) The store's list is cleared once read: the index keeps up.
    """
    recovered: dict[str, int] = table.data._key_partition
    for key, partition in recovered.items():
        index[partition].add(key)
    recovered.clear()
    for partition in [p for p in index if p not in owned]:
        for key in index.pop(partition):
            table.data.pop(key, None)


def _queue_of(key: str) -> str:
    """The queue of a queue-side table key (the queue, or queue, separator, id)."""
    return key.split(SEPARATOR, 1)[0]


def _owned_queues(
    tables: Iterable[Any], cold_keys: Iterable[str], partition_for: Callable[[str], int], owned: set[int]
) -> dict[str, int]:
    """Queue -> partition of each queue in the queue-side tables or cold visits whose partition is owned.

    The settled sums count: a queue whose visits were all let go has nothing else left.
    """
    queues = {_queue_of(key) for table in tables for key in table.data}
    queues.update(_queue_of(key) for key in cold_keys)
    return {queue: p for queue in queues if (p := partition_for(queue)) in owned}


def _keep_owned_queues(table: Any, owned: Container[str]) -> None:
    """After a recovery: let go of a queue-side table's entries of queues no longer owned."""
    for key in [key for key in table.data if _queue_of(key) not in owned]:
        del table.data[key]
    table.data._key_partition.clear()  # read back only to be let go on revocation: done here


def _partition_for(app: faust.App, topic: Any, queue: str) -> int:
    """The partition our own producer sends a queue's messages to (aiokafka's murmur2)."""
    from aiokafka.partitioner import DefaultPartitioner

    count = app.consumer.topic_partitions(topic.get_topic_name()) or app.conf.topic_partitions
    partitioner: Callable[[bytes, list[int], list[int]], int] = DefaultPartitioner()
    return partitioner(queue.encode(), list(range(count)), list(range(count)))


def _check_port_free(host: str, port: int) -> None:
    """Fail in one sentence now, rather than in faust's web server after the consumer started."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        where = "CCMETRICS_METRICS_HOST, CCMETRICS_METRICS_PORT"
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise RuntimeProblem(f"cannot serve /metrics on {host}:{port} ({where}): {reason}") from None


def _check_data_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageProblem(f"CCMETRICS_DATA_DIR={folder}: cannot make the folder: {error.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageProblem(f"CCMETRICS_DATA_DIR={folder}: the folder is not writable")


def run_worker(config: Path | None) -> int:
    """Run until interrupted (Ctrl-C or SIGTERM)."""
    deployment = Deployment.from_env(os.environ)
    settings = Settings.load(config or deployment.config)
    _check_data_dir(deployment.data_dir)
    _check_port_free(deployment.metrics_host, deployment.metrics_port)
    # faust leaves a source topic that does not exist yet out of the partition assignment until
    # a metadata refresh minutes later; its own internal topic included (seen on a first start)
    asyncio.run(ensure_topics(deployment, QUEUE_TOPIC.format(app_id=deployment.app_id)))
    app = create_app(deployment, settings)
    worker = faust.Worker(app, loglevel=deployment.log_level, redirect_stdouts=False)
    # At warning level and above faust shows a spinner that sets the root logger to DEBUG, so
    # every aiokafka debug call builds a log record: a tenth of the worker's time.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
