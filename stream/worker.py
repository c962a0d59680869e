"""``ccmetrics worker``: the steps of :mod:`metrics.steps` wired to faust tables and Kafka topics.

Read top to bottom, in the order of the diagram in docs/architecture.md::

    callcenter.calls  (key call id)  -> calls step  [table <app id>-calls]  --+
    callcenter.agents (key agent id) -> agents step [table <app id>-agents] --+-> <app id>-queue-updates
                                                                              +-> <app id>-agent-board
    <app id>-queue-updates (key queue) -> queues step [tables <app id>-queue-visits, -agents, -settled]
    <app id>-agent-board (by agent) -> agent board [tables <app id>-board-agents, -calls, -settled]
    calls step -> <app id>-callers (by caller hash; repeat calls on) -> callers step
                  [table <app id>-callers] -> <app id>-queue-updates (verdicts)
    invalid events -> callcenter.rejected
    a timer takes a snapshot every second; GET /metrics renders the latest one.
    another timer reads the agent list every second, in slices (stream/exporter/agent_page.py).

The parts: :mod:`stream.topology` (topics, tables, partitions), :mod:`stream.handlers`
(a fetched batch through a step), :mod:`stream.housekeeping` (expire, pack),
:mod:`stream.recovery` (rebuild after a restart or rebalance), :mod:`stream.exporter.http`
(snapshots, ``/metrics``, health). faust's private internals live in :mod:`stream.faust_internals`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import faust
from faust.types import StreamT

from metrics.callers import CallerHasher
from metrics.pipeline import PipelineStats
from metrics.settings import Settings
from metrics.steps.agent_board import AgentBoard
from metrics.steps.callers import CallerStep
from metrics.steps.clock import WallClock
from metrics.steps.entities import AgentStep, CallStep
from metrics.steps.queues import QueueStep
from metrics.storage.cold_agent_calls import ColdAgentCalls
from metrics.storage.cold_entities import ColdCallers, ColdCalls
from metrics.storage.cold_visits import ColdVisits
from stream.allocator import allocator_in_use
from stream.cold_store import SqliteCold, open_cold_database
from stream.deploy import Deployment
from stream.direct_producer import DirectProducer
from stream.exporter.http import Snapshots, serve_pages, web_options
from stream.faust_internals import BatchTransport, forget_changelog_read_offsets, pack_on_recovery
from stream.gc_pauses import GcPauses
from stream.handlers import BoardHandler, CallerHandler, EntityHandler, Outputs, QueueHandler
from stream.heap import give_back_free_memory
from stream.housekeeping import BoardHousekeeping, EntityHousekeeping, KeyIndex, QueueHousekeeping
from stream.kafka_out import ensure_topics
from stream.problems import RuntimeProblem, UsageProblem
from stream.recovery import Recovery
from stream.requests_waiting import RequestsWaiting
from stream.stage_timings import StageTimings
from stream.state_codecs import register_codecs
from stream.topology import INTERNAL_TOPICS, Topology

GIVE_BACK_MEMORY_SECONDS = 10.0  # see stream/heap.py; each time takes a few milliseconds


def create_app(deployment: Deployment, settings: Settings) -> faust.App:
    """Build the faust app with its topics, tables, handlers, timers and pages."""
    register_codecs()
    requests = RequestsWaiting()
    app = faust.App(deployment.app_id, **_app_options(deployment, requests))
    # Each step takes what the consumer fetched as one batch: a call's or agent's state is
    # stored once per batch, and each queue gets one message per batch.
    app.transport = BatchTransport(app.conf.broker_consumer, app)
    app.transport.requests = requests  # batches in pieces while the pages answer
    _wire(app, Topology.build(app, deployment), deployment, settings)
    return app


def _app_options(deployment: Deployment, requests: RequestsWaiting) -> dict[str, Any]:
    return {
        "broker": [f"kafka://{server}" for server in deployment.kafka_servers.split(",")],
        "broker_credentials": _credentials(deployment),
        "store": "memory://",
        "topic_partitions": deployment.partitions,
        "topic_replication_factor": 1,
        "datadir": str(deployment.data_dir),
        "web_port": deployment.metrics_port,
        "web_bind": deployment.metrics_host,
        "web_in_thread": False,
        "web_ssl_context": deployment.metrics_ssl_context(),
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "broker_session_timeout": deployment.kafka_session_timeout_seconds,
        "broker_heartbeat_interval": min(3.0, deployment.kafka_session_timeout_seconds / 4),
        "table_standby_replicas": 0,
        **web_options(deployment, requests),
    }


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


def _wire(app: faust.App, topology: Topology, deployment: Deployment, settings: Settings) -> None:
    """The steps, their handlers, recovery, timers and pages, in the order records flow."""
    stats, clock = PipelineStats(), WallClock()
    database = open_cold_database(deployment.data_dir, deployment.cold_cache_mb)
    cold_calls = ColdCalls(SqliteCold(database, "calls"), settings.limits.expire_call_after_us)
    callers = CallerStep(settings)
    cold_callers = ColdCallers(SqliteCold(database, "callers"), callers.keep_us)
    queues = QueueStep(settings, ColdVisits(SqliteCold(database, "visits"), settings))
    board = AgentBoard(settings, ColdAgentCalls(SqliteCold(database, "agent_calls"), settings))
    producer = DirectProducer(deployment.librdkafka_config(), stats)
    timings = StageTimings()
    GcPauses(timings.collected).start()  # for the process's life, as the worker's
    outputs = Outputs.of(topology, producer, clock, timings)
    # first: this replaces the tables' stores, which the handlers then read
    pack_on_recovery(topology.calls_table, cold_calls.store, cold_calls.expiry)
    pack_on_recovery(topology.visits_table, queues.cold.store, queues.cold.expiry)
    pack_on_recovery(topology.board_calls_table, board.cold.store, board.cold.expiry)
    pack_on_recovery(topology.callers_table, cold_callers.store, cold_callers.expiry)
    hasher = CallerHasher.from_secret(deployment.caller_secret)
    handlers = _handlers(topology, (settings, stats, hasher), cold_calls, (queues, board), outputs)
    handlers[topology.callers] = _caller_handler(topology, callers, cold_callers, outputs)
    _subscribe(app, handlers)

    indexes = {name: handlers[getattr(topology, name)].index for name in ("calls", "agents", "callers")}
    colds = {"calls": cold_calls.store, "callers": cold_callers.store}
    recovery = Recovery(topology, queues, colds, indexes, clock, board)
    topology.visits_table.on_recover(recovery.rebuild)
    _on_start_stop_and_revoke(app, producer)

    snapshots = Snapshots(topology, queues, board, stats, clock, timings)
    _timers(app, snapshots, deployment.snapshot_interval_seconds)
    serve_pages(app, snapshots, deployment.wallboard_stale_seconds)


def _handlers(
    topology: Topology,
    for_calls: tuple[Settings, PipelineStats, CallerHasher | None],
    cold_calls: ColdCalls,
    owners: tuple[QueueStep, AgentBoard],
    outputs: Outputs,
) -> dict[Any, Any]:
    """Topic -> its handler: the calls step, the agents step, the queues step, the agent board."""
    queues, board = owners
    settings, stats, hasher = for_calls
    calls, agents = CallStep(settings, stats, hasher), AgentStep(settings, stats)
    calls_table, agents_table = topology.calls_table, topology.agents_table
    call_keys: KeyIndex = defaultdict(set)
    agent_keys: KeyIndex = defaultdict(set)
    queue_tables = (topology.visits_table, topology.queue_agents_table, topology.settled_table)
    board_tables = (topology.board_agents_table, topology.board_calls_table, topology.board_settled_table)
    return {
        topology.calls: EntityHandler(
            "calls",
            calls,
            calls_table,
            cold_calls.behind(calls_table.data),
            EntityHousekeeping(calls, calls_table, call_keys, cold_calls),
            outputs,
        ),
        topology.agents: EntityHandler(
            "agents",
            agents,
            agents_table,
            agents_table.data,
            EntityHousekeeping(agents, agents_table, agent_keys, None),
            outputs,
        ),
        topology.queues: QueueHandler(queues, topology, QueueHousekeeping(queues, *queue_tables), outputs),
        topology.board: BoardHandler(board, topology, BoardHousekeeping(board, *board_tables), outputs),
    }


def _caller_handler(
    topology: Topology, callers: CallerStep, cold: ColdCallers, outputs: Outputs
) -> CallerHandler:
    """The callers step behind its table and its cold store (a week of callers stays on disk)."""
    table, keys = topology.callers_table, defaultdict[int, set[str]](set)
    housekeeping = EntityHousekeeping(callers, table, keys, cold)
    return CallerHandler(callers, table, cold.behind(table.data), housekeeping, outputs)


def _subscribe(app: faust.App, handlers: dict[Any, Any]) -> None:
    """Give each topic its batch handler, and an agent that subscribes it.

    The agents take part in partition assignment; the topics' records reach the handlers in
    batches, never these streams.
    """
    transport = cast(BatchTransport, app.transport)
    for topic, handler in handlers.items():
        transport.handlers[topic.get_topic_name()] = handler
        app.agent(topic, name=f"subscribe-{topic.get_topic_name()}")(_subscribed)


async def _subscribed(stream: StreamT[bytes]) -> AsyncIterator[None]:
    async for _ in stream:
        yield None


def _on_start_stop_and_revoke(app: faust.App, producer: DirectProducer) -> None:
    @app.task  # type: ignore[untyped-decorator]
    async def start_producer() -> None:
        producer.start()

    @app.on_before_shutdown.connect
    async def stop_producer(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await producer.stop()

    @app.on_partitions_revoked.connect
    async def before_reassignment(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        forget_changelog_read_offsets(app)


def _timers(app: faust.App, snapshots: Snapshots, snapshot_seconds: float) -> None:
    @app.timer(snapshot_seconds)  # type: ignore[untyped-decorator]
    async def take_snapshot() -> None:
        await snapshots.take()

    @app.timer(snapshot_seconds)  # type: ignore[untyped-decorator]
    async def refresh_agents() -> None:
        await snapshots.refresh_agents()

    @app.timer(GIVE_BACK_MEMORY_SECONDS)  # type: ignore[untyped-decorator]
    async def give_back_memory() -> None:
        started = time.monotonic()
        give_back_free_memory()  # fetched batches and expired state leave holes in the heap
        snapshots.timings.observe("give_back_memory", time.monotonic() - started)


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
    internal = (name.format(app_id=deployment.app_id) for name in INTERNAL_TOPICS)
    asyncio.run(ensure_topics(deployment, *internal))
    app = create_app(deployment, settings)
    print(f"ccmetrics worker: memory allocator {allocator_in_use()}", file=sys.stderr, flush=True)
    worker = faust.Worker(app, loglevel=deployment.log_level, redirect_stdouts=False)
    # At warning level and above faust shows a spinner that sets the root logger to DEBUG, so
    # every aiokafka debug call builds a log record: a tenth of the worker's time.
    worker.spinner = None
    worker.execute_from_commandline()
    return 0
