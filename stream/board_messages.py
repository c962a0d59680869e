"""Messages of the internal agent-board topic: agents' timelines and calls, one message per partition.

The board topic is keyed by agent, partitioned by our own producer's partitioner
(:meth:`stream.topology.Topology.board_partition`), whatever partitioner publishers used for
``callcenter.agents``: an agent's timeline and its calls then meet in one partition. A batch's
states for one partition travel together, split to stay well under Kafka's limits. Usage::

    for value in encode_board(states):           # usually one message
        send(topic, partition, value)
    decode_board(value)                           # the states: AgentTimeline or AgentCall
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from metrics.agent_calls import AgentCall
from metrics.agents import Told, told_from_json
from stream.queue_messages import split_encoded

BoardState = Told | AgentCall
_TOLD, _CALL = "history", "call"  # the kind's name from before timelines, read by both


def encode_board(states: Sequence[BoardState]) -> list[bytes]:
    """The states as messages of at most :data:`MAX_QUEUE_MESSAGE_BYTES` each (halved until they fit)."""
    rows = [[_CALL if isinstance(s, AgentCall) else _TOLD, s.to_json()] for s in states]
    return split_encoded(rows, orjson.dumps)


def decode_board(value: bytes) -> list[BoardState]:
    return [
        told_from_json(row) if kind == _TOLD else AgentCall.from_json(row)
        for kind, row in orjson.loads(value)
    ]
