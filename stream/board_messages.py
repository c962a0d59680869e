"""Messages of the internal agent-board topic: agents' histories and calls, one message per partition.

The board topic is keyed by agent, partitioned by our own producer's partitioner
(:meth:`stream.topology.Topology.board_partition`), whatever partitioner publishers used for
``callcenter.agents``: an agent's history and its calls then meet in one partition. A batch's
states for one partition travel together, split to stay well under Kafka's limits. Usage::

    for value in encode_board(states):           # usually one message
        send(topic, partition, value)
    decode_board(value)                           # the states: AgentHistory or AgentCall
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from metrics.agent_calls import AgentCall
from metrics.agents import AgentHistory
from stream.queue_messages import split_encoded

BoardState = AgentHistory | AgentCall
_HISTORY, _CALL = "history", "call"


def encode_board(states: Sequence[BoardState]) -> list[bytes]:
    """The states as messages of at most :data:`MAX_QUEUE_MESSAGE_BYTES` each (halved until they fit)."""
    rows = [[_HISTORY if isinstance(s, AgentHistory) else _CALL, s.to_json()] for s in states]
    return split_encoded(rows, orjson.dumps)


def decode_board(value: bytes) -> list[BoardState]:
    return [
        AgentHistory.from_json(row) if kind == _HISTORY else AgentCall.from_json(row)
        for kind, row in orjson.loads(value)
    ]
