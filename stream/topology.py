"""The worker's topics, tables and partitions: the boxes and arrows of docs/architecture.md.

Every table is written only with the key its source topic is partitioned by, so changelog
partitions line up with source partitions and recovery restores each partition's state
where its events are processed. Usage::

    topology = Topology.build(app, deployment)
    topology.owned_partitions(topology.calls)     # this worker's partitions of the calls topic
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from stream.deploy import Deployment
from stream.faust_internals import new_changelog_topic
from stream.partitioner import partition_of

QUEUE_TOPIC = "{app_id}-queue-updates"  # internal; named after the app so deployments never share it
BOARD_TOPIC = "{app_id}-agent-board"  # internal: agents' histories and calls, by agent
CALLERS_TOPIC = "{app_id}-callers"  # internal: calls queued by named callers, by the callers' hashes
INTERNAL_TOPICS = (QUEUE_TOPIC, BOARD_TOPIC, CALLERS_TOPIC)
# Kafka compacts only closed segments; with its default of 1 GiB a changelog stays mostly
# uncompacted for days, and a restart reads every entry ever written (each call's state is
# written several times). Small segments let the cleaner keep about one entry per key.
CHANGELOG_CONFIG = {"segment.bytes": str(16 * 2**20), "segment.ms": str(3_600_000)}


@dataclass(frozen=True)
class Topology:
    """Source topics, the internal queue, board and callers topics, the rejected topic, and the
    nine tables."""

    app: faust.App
    calls: Any
    agents: Any
    queues: Any
    rejected: Any
    calls_table: Any  # call id -> CallRecord
    agents_table: Any  # agent id -> AgentHistory
    visits_table: Any  # queue, separator, call id -> Visit
    queue_agents_table: Any  # queue, separator, agent id -> AgentTimeline
    settled_table: Any  # queue -> Settled
    board: Any  # the internal agent-board topic
    board_agents_table: Any  # agent id -> AgentTimeline
    board_calls_table: Any  # agent id, separator, call id -> AgentCall
    board_settled_table: Any  # agent id -> Settled
    callers: Any  # the internal callers topic
    callers_table: Any  # caller hash -> CallerHistory

    @classmethod
    def build(cls, app: faust.App, deployment: Deployment) -> Topology:
        queues, board, callers = (_internal_topic(app, name, deployment) for name in INTERNAL_TOPICS)
        return cls(
            app,
            _raw_topic(app, deployment.calls_topic),
            _raw_topic(app, deployment.agents_topic),
            queues,
            _raw_topic(app, deployment.rejected_topic),
            _table(app, "calls", "ccm-call", deployment),
            _table(app, "agents", "ccm-agent", deployment),
            _table(app, "queue-visits", "ccm-visit", deployment),
            _table(app, "queue-agents", "ccm-told", deployment),
            _table(app, "queue-settled", "ccm-settled", deployment),
            board,
            _table(app, "board-agents", "ccm-told", deployment),
            _table(app, "board-calls", "ccm-agent-call", deployment),
            _table(app, "board-settled", "ccm-settled", deployment),
            callers,
            _table(app, "callers", "ccm-caller", deployment),
        )

    def consumed(self) -> set[str]:
        """The topics the steps read (changelogs are read by recovery)."""
        topics = (self.calls, self.agents, self.queues, self.board, self.callers)
        return {topic.get_topic_name() for topic in topics}

    def owned_partitions(self, topic: Any) -> set[int]:
        name = topic.get_topic_name()
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == name}

    def queue_partition(self, queue: str) -> int:
        """The partition our own producer sends a queue's updates to (Kafka's murmur2)."""
        return self._partition(self.queues, queue)

    def board_partition(self, agent: str) -> int:
        """The partition of the board topic an agent's states go to (the same partitioner)."""
        return self._partition(self.board, agent)

    def caller_partition(self, caller: str) -> int:
        """The partition of the callers topic a caller's marks go to (the same partitioner)."""
        return self._partition(self.callers, caller)

    def _partition(self, topic: Any, key: str) -> int:
        count = self.app.consumer.topic_partitions(topic.get_topic_name()) or self.app.conf.topic_partitions
        return partition_of(key.encode(), count)


def _internal_topic(app: faust.App, name: str, deployment: Deployment) -> Any:
    return app.topic(
        name.format(app_id=deployment.app_id),
        internal=True,
        partitions=deployment.partitions,
        key_serializer="raw",
        value_serializer="raw",
    )


def _raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def _table(app: faust.App, name: str, codec: str, deployment: Deployment) -> Any:
    table: Any = app.Table(name, partitions=deployment.partitions, extra_topic_configs=CHANGELOG_CONFIG)
    # faust takes changelog serializers from these attributes, and made the changelog topic
    # (used to decode during recovery) when the table was registered: make it again.
    table.key_serializer, table.value_serializer = "ccm-str", codec
    new_changelog_topic(table)
    return table
