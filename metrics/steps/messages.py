"""What goes into a step and what comes out of it.

An :class:`Arrival` is one decoded event with a token the caller needs to store its state
later (the worker: its Kafka record, for the partition and a rejection). A step answers with a
:class:`StepOutput`: states to store, :class:`QueueUpdate` messages for the queue step, and
rejections. Updates carry full states, not deltas, so applying one twice is harmless.
"""

from __future__ import annotations

from typing import Generic, NamedTuple, TypeVar

from metrics.agent_calls import AgentCall
from metrics.agent_timeline import AgentTimeline
from metrics.agents import Told
from metrics.callers import CallerMark, Verdict
from metrics.contract.events import Event, Rejection
from metrics.visits import Visit

Token = TypeVar("Token")
State = TypeVar("State")


class Arrival(NamedTuple, Generic[Token]):
    """One valid event, its count of unknown fields, and the caller's token."""

    event: Event
    unknown_fields: int
    token: Token


class QueueUpdate(NamedTuple):
    """Everything one batch has to tell one queue: its visits, its agents, or the callers step's
    verdicts on its calls (``kind``).

    >>> QueueUpdate("sales", "agents", [AgentTimeline("a1", [], [])]).kind
    'agents'
    """

    queue: str
    kind: str  # "visits", "agents" or "verdicts"
    states: list[Visit] | list[Told] | list[Verdict]


class Seen(Generic[State, Token]):
    """An entity during a batch: its state, the queues to tell, the token of its latest change."""

    __slots__ = ("changed", "queues", "state", "token")

    def __init__(self, state: State) -> None:
        self.state = state
        self.queues: set[str] = set()
        self.token: Token | None = None
        self.changed = False


class StepOutput(Generic[State, Token]):
    """States to store (each with the token of an arrival of its key), updates, rejections.

    (A plain class: mypyc cannot compile a generic dataclass, mypyc/mypyc#827.)"""

    def __init__(self) -> None:
        self.writes: dict[str, tuple[State, Token]] = {}
        self.updates: list[QueueUpdate] = []
        self.rejected: list[tuple[Token, Rejection]] = []
        self.seen: dict[str, Seen[State, Token]] = {}  # every entity of the batch
        # For the agent board: each agent's timeline (agent step), or calls as their agents saw them
        self.board: list[AgentTimeline | AgentCall] = []
        # For the callers step (calls step, repeat calls on): a mark per call.queued naming a caller
        self.callers: list[tuple[CallerMark, Token]] = []
