"""Replay and the worker apply the same too-late, too-early and duplicate rules at the same clock.

The same events go through :class:`~metrics.engine.Engine` (replay) and through the worker's
handler for each source topic (intake, step, its table and producer, without faust), both
judged at one stopped clock; the callers' marks the worker sends go through its callers
handler, and the queue updates of both through its queue step.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from aiokafka.structs import ConsumerRecord

from metrics.callers import CallerHasher
from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.pipeline import PipelineStats
from metrics.settings import Limits, Settings
from metrics.steps.agent_board import AgentBoard
from metrics.steps.callers import CallerStep
from metrics.steps.clock import FixedClock
from metrics.steps.entities import AgentStep, CallStep, EntityStep
from metrics.steps.queues import QueueStep
from metrics.timeutil import US, parse_rfc3339_us
from stream.board_messages import decode_board
from stream.direct_producer import Message
from stream.encode import to_json_line
from stream.handlers import CallerHandler, EntityHandler, Outputs
from stream.housekeeping import EntityHousekeeping, Schedule
from stream.queue_messages import decode_update
from tests.helpers import ev

NOW = parse_rfc3339_us("2026-01-05T10:00:00Z")
SETTINGS = Settings(
    limits=Limits(max_call_age_seconds=600, max_agent_age_seconds=1200, max_clock_skew_seconds=30)
)
SECRET = b"same rules"


def events() -> list[Event]:
    """In time, too late, too early, and duplicates, for calls and for agents; one caller's calls."""
    queued = ev("call.queued", "2026-01-05T09:58:00Z", call_id="c1", queue="sales", caller="+1555")
    available = ev("agent.state", "2026-01-05T09:59:00Z", agent_id="a1", state="available", queues=("sales",))
    return [
        queued,
        queued,  # duplicate
        ev("call.abandoned", "2026-01-05T09:59:00Z", call_id="c1", queue="sales"),
        ev(
            "call.queued", "2026-01-05T09:49:59Z", call_id="late", queue="sales", caller="+1555"
        ),  # over 600 s old
        ev("call.queued", "2026-01-05T09:50:01Z", call_id="just", queue="sales", caller="+1555"),
        ev(
            "call.queued", "2026-01-05T10:00:31Z", call_id="early", queue="sales", caller="+1555"
        ),  # 30 s ahead
        ev("call.queued", "2026-01-05T10:00:29Z", call_id="soon", queue="sales"),
        ev("agent.state", "2026-01-05T09:39:59Z", agent_id="old", state="available", queues=("sales",)),
        available,
        available,  # duplicate
        ev("agent.state", "2026-01-05T10:01:00Z", agent_id="a2", state="away", queues=("sales",)),
        ev("call.queued", "2026-01-05T09:55:00Z", call_id="c2", queue="billing", caller=" +1555 "),
        ev("call.agent_no_answer", "2026-01-05T09:55:10Z", call_id="c2", queue="sales", agent_id="a2"),
        ev("call.answered", "2026-01-05T09:55:20Z", call_id="c2", queue="sales", agent_id="a1"),
        ev("call.ended", "2026-01-05T09:57:00Z", call_id="c2", agent_id="a1"),
    ]


class Producer:
    """Collects what a handler hands over, as Kafka would take it."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def hand_over(self, messages: list[Message]) -> asyncio.Future[None]:
        self.sent += messages
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def table() -> Any:
    return SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: "changelog"))


def as_record(offset: int, event: Event) -> ConsumerRecord[bytes, bytes]:
    key = (event.agent_id if event.type == "agent.state" else event.call_id) or ""
    return ConsumerRecord("topic", 0, offset, 0, 0, key.encode(), to_json_line(event), None, 0, 0, ())


def through_the_worker(clock: FixedClock) -> tuple[PipelineStats, QueueStep, AgentBoard, list[Message]]:
    stats, producer = PipelineStats(), Producer()
    partition = lambda key: 0  # noqa: E731
    outputs = Outputs(
        producer, "rejected", "queues", clock, Schedule(), "board", partition, "callers", partition
    )  # type: ignore[arg-type]
    steps: list[EntityStep[Any]] = [
        CallStep(SETTINGS, stats, CallerHasher(SECRET)),
        AgentStep(SETTINGS, stats),
    ]
    for step in steps:
        stored = table()
        handler = EntityHandler(
            f"{step.what}s",  # the worker names its handlers "calls" and "agents"
            step,
            stored,
            stored.data,
            EntityHousekeeping(step, stored, defaultdict(set), None),
            outputs,
        )
        mine = [as_record(n, e) for n, e in enumerate(events()) if e.type in step.kinds]
        asyncio.run(_handled(handler, mine))
    callers = table()
    handler = CallerHandler(
        CallerStep(SETTINGS),
        callers,
        callers.data,
        EntityHousekeeping(CallerStep(SETTINGS), callers, defaultdict(set), None),
        outputs,
    )
    marks = [message for message in producer.sent if message.topic == "callers"]
    records = [
        ConsumerRecord("callers", 0, n, 0, 0, None, m.value, None, 0, 0, ()) for n, m in enumerate(marks)
    ]
    asyncio.run(_handled(handler, records))
    queues, board = QueueStep(SETTINGS), AgentBoard(SETTINGS)
    for message in producer.sent:
        if message.topic == "queues":
            queues.apply(decode_update((message.key or b"").decode(), message.value or b""), 0)
        if message.topic == "board":
            for state in decode_board(message.value or b""):
                board.apply(state, 0)
    return stats, queues, board, producer.sent


async def _handled(
    handler: EntityHandler[Any] | CallerHandler, records: list[ConsumerRecord[bytes, bytes]]
) -> None:
    await (await handler(records))


def test_replay_and_the_worker_admit_the_same_events_at_the_same_clock() -> None:
    engine = Engine(SETTINGS, clock=FixedClock(NOW), caller_secret=SECRET)
    for event in events():
        engine.apply(event)
    replayed = engine.snapshot(NOW)
    stats, queues, board, sent = through_the_worker(FixedClock(NOW))
    live = stats.snapshot()
    assert live.rejected_by_reason == replayed.pipeline.rejected_by_reason == {"too_late": 2, "too_early": 2}
    assert live.duplicates == replayed.pipeline.duplicates == 2
    assert live.events_by_type == replayed.pipeline.events_by_type
    assert queues.snapshot(NOW) == replayed.queues
    assert board.snapshot(NOW) == replayed.agents
    assert [a.agent for a in replayed.agents] == ["a1", "a2"]
    # "just" (09:50:01) is first; c2 (09:55, another queue, the same caller padded) and c1 repeat it
    repeats = {q.queue: (q.total.identified_calls, q.total.repeat_calls) for q in replayed.queues}
    assert repeats == {"billing": (1, 1), "sales": (2, 1)}
    assert sum(1 for message in sent if message.topic == "rejected") == 4  # each with its record


def test_the_replay_clock_judges_nothing_before_it_is_asked_about_an_instant() -> None:
    engine = Engine(SETTINGS)
    for event in events():
        engine.apply(event)
    assert engine.snapshot(NOW + 3600 * US).pipeline.rejected_by_reason == {}
