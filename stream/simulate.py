"""``ccmetrics simulate``: realistic call and agent traffic, to Kafka or to a file.

A discrete-event simulation in event time: calls arrive by a time-of-day profile, wait for
a free agent who serves their queue, abandon when their patience runs out (one in four takes
a callback instead, when offered after a minute) or flow out at a timeout, and one in three
answers a survey after the call; agents talk, hold, transfer, wrap up, take breaks and send
heartbeats. The same seed gives the same events. Usage::

    ccmetrics simulate --rate 30 --seed 7                       # live, to Kafka
    ccmetrics simulate --output day.jsonl --start 2026-01-05T00:00:00Z --duration 86400
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from metrics.contract.events import MAX_QUEUE_CHARS, Event
from metrics.timeutil import US, parse_rfc3339_us
from stream.encode import to_json_line
from stream.problems import UsageProblem
from stream.returning_callers import ABANDONED_RETURN_US, UNHAPPY_RETURN_US, ReturningCallers
from stream.stop_request import StopRequest

if TYPE_CHECKING:  # the producer pulls in aiokafka, which a file-mode run never needs
    from stream.kafka_out import EventProducer

Action = Callable[[], list[Event]]
MAX_AGENTS = 10_000
MAX_RATE_PER_MINUTE = 100_000.0
ONE_DAY_SECONDS = 86_400.0
# Events older than the worker's max_call_age (default 4 h) would be rejected as too_late.
MAX_HISTORY_SECONDS = 3 * 3600.0
SECONDS_FLAGS = {
    "talk_seconds": "--talk",
    "wrapup_seconds": "wrap-up seconds",
    "patience_seconds": "--patience",
    "timeout_seconds": "queue timeout seconds",
}


def _check_positive(flag: str, value: float, most: float) -> None:
    if not (math.isfinite(value) and 0 < value <= most):
        raise UsageProblem(f"{flag} must be a number above 0 and at most {most:g}, not {value:g}")


BREAK_REASONS = ("Break", "Lunch", "Training")
MISSED_OFFER_SHARE = 0.1  # calls that first rang an agent who did not answer


@dataclass(frozen=True)
class Traffic:
    """What to simulate. Rates are per minute at the daily peak."""

    queues: tuple[str, ...] = ("sales", "support", "billing")
    agents: int = 12
    rate_per_minute: float = 20.0
    talk_seconds: float = 180.0
    wrapup_seconds: float = 30.0
    patience_seconds: float = 90.0
    timeout_seconds: float = 600.0
    seed: int = 1
    flat: bool = False  # same rate all day (benchmarks) instead of the daily profile
    shares: tuple[float, ...] | None = None  # each queue's share of the calls (default: even)

    def __post_init__(self) -> None:
        if not self.queues or any(not 0 < len(q) <= MAX_QUEUE_CHARS for q in self.queues):
            raise UsageProblem(f"--queues must name one or more queues of 1 to {MAX_QUEUE_CHARS} characters")
        if not 1 <= self.agents <= MAX_AGENTS:
            raise UsageProblem(f"--agents must be a whole number from 1 to {MAX_AGENTS}, not {self.agents}")
        for name, flag in SECONDS_FLAGS.items():
            _check_positive(flag, getattr(self, name), ONE_DAY_SECONDS)
        _check_positive("--rate", self.rate_per_minute, MAX_RATE_PER_MINUTE)
        if self.shares is not None:
            if len(self.shares) != len(self.queues):
                raise UsageProblem(
                    f"--shares needs one number per queue ({len(self.queues)}), not {len(self.shares)}"
                )
            for share in self.shares:
                _check_positive("--shares", share, MAX_RATE_PER_MINUTE)


@dataclass
class _Call:
    call_id: str
    queue: str
    queued_us: int
    done: bool = False
    takes_callback: bool = False  # offered a callback after a long wait, this caller takes it
    surveyed: bool = False  # answers the post-call survey
    answered_us: int = 0
    caller: str = ""  # the caller's number (docs/metrics.md, "Repeat calls")
    number: int = 0  # the arrival's: what this caller does is decided by it, not drawn


CALLBACK_AFTER_US = 60 * US  # a caller out of patience after this long may take a callback
SURVEY_AFTER_US = 30 * US  # one caller in three answers a survey this long after the call
SURVEY_WAIT_BANDS_S = (15, 30, 60)  # the longer the wait, the lower the scores


@dataclass
class _Agent:
    agent_id: str
    queues: tuple[str, ...]
    state: str = "offline"
    calls: int = 0
    reason: str | None = None


LONG_WAIT_US = SURVEY_WAIT_BANDS_S[1] * US  # waited longer than this: unhappy


def daily_profile(local_hour: float) -> float:
    """Share of the peak arrival rate at a local hour: quiet nights, peaks at 10:00 and 15:00."""
    morning = math.exp(-(((local_hour - 10.0) / 2.2) ** 2))
    afternoon = 0.8 * math.exp(-(((local_hour - 15.0) / 2.5) ** 2))
    return max(0.05, morning + afternoon)


@dataclass
class Simulation:
    """The event-time simulation; :meth:`run` yields events in time order."""

    traffic: Traffic
    start_us: int
    random: random.Random = field(init=False)
    agents: list[_Agent] = field(init=False)
    waiting: list[_Call] = field(default_factory=list)
    _heap: list[tuple[int, int, Action]] = field(default_factory=list)
    _seq: Iterator[int] = field(default_factory=itertools.count)
    now_us: int = 0
    callers: ReturningCallers = field(default_factory=ReturningCallers)

    def __post_init__(self) -> None:
        self.random = random.Random(self.traffic.seed)
        self.now_us = self.start_us
        self.agents = [self._new_agent(i) for i in range(self.traffic.agents)]
        for agent in self.agents:
            self._at(self.start_us + self._seconds(0, 30), partial(self._log_in, agent))
            self._at(self.start_us + self._seconds(1800, 5400), partial(self._break, agent))
            self._at(self.start_us + 60 * US, partial(self._heartbeat, agent))
        self._at(self.start_us + self._next_arrival_gap(), self._arrive)

    def run(self, until_us: int) -> Iterator[Event]:
        while self._heap and self._heap[0][0] <= until_us:
            self.now_us, _, action = heapq.heappop(self._heap)
            yield from action()

    def _new_agent(self, index: int) -> _Agent:
        queues = self.traffic.queues
        count = self.random.randint(1, min(3, len(queues)))
        return _Agent(f"agent-{index:03d}", tuple(sorted(self.random.sample(queues, count))))

    def _at(self, when_us: int, action: Action) -> None:
        heapq.heappush(self._heap, (when_us, next(self._seq), action))

    def _seconds(self, low: float, high: float) -> int:
        return round(self.random.uniform(low, high) * US)

    def _exp(self, mean_seconds: float) -> int:
        return max(1, round(self.random.expovariate(1.0 / mean_seconds) * US))

    def _event(self, kind: str, **fields: object) -> Event:
        return Event(f"sim-{self.traffic.seed}-{next(self._seq)}", kind, self.now_us, "simulator", **fields)  # type: ignore[arg-type]

    def _next_arrival_gap(self) -> int:
        hour = (self.now_us / US / 3600.0) % 24
        rate = self.traffic.rate_per_minute * (1.0 if self.traffic.flat else daily_profile(hour)) / 60.0
        return max(1, round(self.random.expovariate(rate) * US))

    def _arrive(self) -> list[Event]:
        self._at(self.now_us + self._next_arrival_gap(), self._arrive)
        queues, shares = self.traffic.queues, self.traffic.shares
        queue = self.random.choice(queues) if shares is None else self.random.choices(queues, shares)[0]
        number = next(self._seq)
        # one caller in four takes a callback; decided by number, not drawn, so that the random
        # sequence (and every simulation seeded before callbacks) stays the same
        call = _Call(
            f"call-{self.traffic.seed}-{number}",
            queue,
            self.now_us,
            takes_callback=number % 4 == 0,
            surveyed=number % 3 == 0,
            number=number,
            caller=self.callers.caller_for(number, queue, self.now_us),
        )
        return self._enqueue(call)

    def _enqueue(self, call: _Call) -> list[Event]:
        call.queued_us, call.done = self.now_us, False
        self.waiting.append(call)
        self._at(
            self.now_us + self._exp(self.traffic.patience_seconds), lambda: self._give_up(call, "abandon")
        )
        self._at(
            self.now_us + round(self.traffic.timeout_seconds * US), lambda: self._give_up(call, "timeout")
        )
        events = [self._event("call.queued", call_id=call.call_id, queue=call.queue, caller=call.caller)]
        return events + self._dispatch()

    def _give_up(self, call: _Call, why: str) -> list[Event]:
        if call.done or call not in self.waiting:
            return []
        self.waiting.remove(call)
        call.done = True
        if why == "abandon" and call.takes_callback and self.now_us - call.queued_us >= CALLBACK_AFTER_US:
            why = "callback"
        if why != "callback" and call.number % 2:  # not helped: half of them try again soon
            self.callers.call_back_later(call.caller, call.queue, self.now_us + ABANDONED_RETURN_US)
        if why == "abandon":
            return [self._event("call.abandoned", call_id=call.call_id, queue=call.queue)]
        return [self._event("call.flowed_out", call_id=call.call_id, queue=call.queue, reason=why)]

    def _dispatch(self) -> list[Event]:
        events: list[Event] = []
        starved: set[str] = set()  # answering only takes agents: a queue without one stays so
        for call in list(self.waiting):
            agent = None if call.queue in starved else self._free_agent(call.queue)
            if agent is None:
                starved.add(call.queue)
                continue
            self.waiting.remove(call)
            events += self._answer(call, agent)
        return events

    def _free_agent(self, queue: str) -> _Agent | None:
        free = [a for a in self.agents if a.state == "available" and queue in a.queues]
        return min(free, key=lambda a: a.calls) if free else None

    def _answer(self, call: _Call, agent: _Agent) -> list[Event]:
        call.done, call.answered_us = True, self.now_us
        agent.calls += 1
        # one in eight is not helped this time, and one in two who waited long: they call again
        if call.number % 8 == 0 or (self.now_us - call.queued_us > LONG_WAIT_US and call.number % 2):
            self.callers.call_back_later(call.caller, call.queue, self.now_us + UNHAPPY_RETURN_US)
        events = [
            *self._missed_offer(call, agent),
            self._event("call.answered", call_id=call.call_id, queue=call.queue, agent_id=agent.agent_id),
            *self._set_state(agent, "on_call"),
        ]
        talk = self._exp(self.traffic.talk_seconds)
        if self.random.random() < 0.2:
            hold_at = self.now_us + talk // 3
            self._at(
                hold_at, lambda: [self._event("call.held", call_id=call.call_id, agent_id=agent.agent_id)]
            )
            resume = lambda: [self._event("call.resumed", call_id=call.call_id, agent_id=agent.agent_id)]  # noqa: E731
            self._at(hold_at + self._seconds(10, 60), resume)
        self._at(self.now_us + talk, lambda: self._hang_up(call, agent))
        return events

    def _missed_offer(self, call: _Call, answering: _Agent) -> list[Event]:
        """Now and then the call first rang another agent of the queue, who did not answer."""
        others = [
            a for a in self.agents if a is not answering and call.queue in a.queues and a.state != "offline"
        ]
        if not others or self.random.random() >= MISSED_OFFER_SHARE:
            return []
        missed = self.random.choice(others)
        return [
            self._event(
                "call.agent_no_answer", call_id=call.call_id, queue=call.queue, agent_id=missed.agent_id
            )
        ]

    def _hang_up(self, call: _Call, agent: _Agent) -> list[Event]:
        events: list[Event] = []
        others = [q for q in self.traffic.queues if q != call.queue]
        if others and self.random.random() < 0.05:
            target = self.random.choice(others)
            events.append(
                self._event(
                    "call.transferred", call_id=call.call_id, agent_id=agent.agent_id, to_queue=target
                )
            )
            moved = _Call(call.call_id, target, self.now_us, surveyed=call.surveyed)
            moved.caller, moved.number = call.caller, call.number  # the same caller, the same call
            self._at(self.now_us, lambda: self._enqueue(moved))
        elif call.surveyed:
            self._at(self.now_us + SURVEY_AFTER_US, lambda: [self._survey(call)])
        wrapup = self.random.random() < 0.6
        events.append(self._event("call.ended", call_id=call.call_id, agent_id=agent.agent_id, wrapup=wrapup))
        if not wrapup:
            return events + self._set_state(agent, "available") + self._dispatch()
        self._at(self.now_us + self._exp(self.traffic.wrapup_seconds), lambda: self._wrapped(call, agent))
        return events + self._set_state(agent, "wrap_up")

    def _survey(self, call: _Call) -> Event:
        """The caller's scores follow their wait (no random draw: seeded simulations stay the same)."""
        wait_s = (call.answered_us - call.queued_us) / US
        band = sum(wait_s > limit for limit in SURVEY_WAIT_BANDS_S)  # 0: quick .. 3: long
        csat, nps, ces = ((5, 10, 2), (4, 8, 3), (3, 6, 5), (2, 3, 6))[band]
        return self._event("survey.completed", call_id=call.call_id, csat=csat, nps=nps, ces=ces)

    def _wrapped(self, call: _Call, agent: _Agent) -> list[Event]:
        done = self._event("call.wrapup_ended", call_id=call.call_id, agent_id=agent.agent_id)
        return [done, *self._set_state(agent, "available"), *self._dispatch()]

    def _log_in(self, agent: _Agent) -> list[Event]:
        return self._set_state(agent, "available", queues=True) + self._dispatch()

    def _break(self, agent: _Agent) -> list[Event]:
        self._at(self.now_us + self._seconds(3600, 7200), lambda: self._break(agent))
        if agent.state != "available":
            return []
        self._at(self.now_us + self._seconds(300, 900), lambda: self._back(agent))
        return self._set_state(agent, "away", reason=self.random.choice(BREAK_REASONS))

    def _back(self, agent: _Agent) -> list[Event]:
        return self._set_state(agent, "available") + self._dispatch() if agent.state == "away" else []

    def _heartbeat(self, agent: _Agent) -> list[Event]:
        self._at(self.now_us + 60 * US, lambda: self._heartbeat(agent))
        fields = {"reason": agent.reason} if agent.reason else {}
        return [
            self._event(
                "agent.state", agent_id=agent.agent_id, state=agent.state, queues=agent.queues, **fields
            )
        ]

    def _set_state(
        self, agent: _Agent, state: str, reason: str | None = None, queues: bool = False
    ) -> list[Event]:
        agent.state, agent.reason = state, reason
        listed = agent.queues if queues else None
        return [
            self._event("agent.state", agent_id=agent.agent_id, state=state, reason=reason, queues=listed)
        ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Traffic()
    parser.add_argument("--queues", default=",".join(defaults.queues), help="comma-separated queue ids")
    parser.add_argument("--agents", type=int, default=defaults.agents)
    parser.add_argument(
        "--rate", type=float, default=defaults.rate_per_minute, help="calls per minute at the daily peak"
    )
    parser.add_argument("--talk", type=float, default=defaults.talk_seconds, help="mean talk seconds")
    parser.add_argument(
        "--patience", type=float, default=defaults.patience_seconds, help="mean caller patience, seconds"
    )
    parser.add_argument("--shares", help="each queue's share of the calls, comma-separated (default: even)")
    parser.add_argument(
        "--history",
        type=float,
        help="live: begin this many seconds ago, sending the past at once (the windows start full)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--flat", action="store_true", help="the peak rate all day, no daily profile")
    parser.add_argument(
        "--output", type=Path, help="write JSON lines here, as fast as possible, instead of Kafka"
    )
    parser.add_argument("--start", help="event time to start at (file mode; default: now)")
    parser.add_argument(
        "--duration", type=float, help="seconds of event time to simulate (default: forever live)"
    )
    parser.set_defaults(run=run_simulate)


def traffic_from(args: argparse.Namespace) -> Traffic:
    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    return Traffic(
        queues,
        args.agents,
        args.rate,
        args.talk,
        patience_seconds=args.patience,
        seed=args.seed,
        flat=args.flat,
        shares=_shares(args.shares),
    )


def _shares(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UsageProblem(f"--shares must be numbers separated by commas, not {text!r}") from None


def run_simulate(args: argparse.Namespace) -> int:
    traffic = traffic_from(args)
    start = _start(args.start)
    if args.history is not None:
        _check_positive("--history", args.history, MAX_HISTORY_SECONDS)
        start -= round(args.history * US)
    if args.duration is not None:
        _check_positive("--duration", args.duration, 366 * ONE_DAY_SECONDS)
    simulation = Simulation(traffic, start)
    if args.output:
        until = start + round((args.duration or 3600) * US)
        try:
            count = write_events(simulation.run(until), args.output)
        except OSError as error:
            raise UsageProblem(f"--output {args.output}: cannot write: {error.strerror}") from None
        print(f"wrote {count} events to {args.output}", file=sys.stderr)
        return 0
    until = start + round(args.duration * US) if args.duration else 2**62
    return asyncio.run(_publish_live(simulation, until))


def _start(text: str | None) -> int:
    if text is None:
        return time.time_ns() // 1000
    try:
        return parse_rfc3339_us(text)
    except ValueError as error:
        raise UsageProblem(f"--start: {error}") from None


def write_events(events: Iterator[Event], path: Path) -> int:
    count = 0
    with path.open("wb") as out:
        for event in events:
            out.write(to_json_line(event) + b"\n")
            count += 1
    return count


async def _publish_live(simulation: Simulation, until_us: int) -> int:
    """Send events as their time comes, until ``until_us`` or SIGINT/SIGTERM (flushed first)."""
    from stream.deploy import Deployment
    from stream.kafka_out import EventProducer

    async with EventProducer(Deployment.from_env(os.environ)) as producer, StopRequest() as stop:
        await _send_as_time_comes(simulation, until_us, producer, stop)
    return 0


async def _send_as_time_comes(
    simulation: Simulation, until_us: int, producer: EventProducer, stop: StopRequest
) -> None:
    last_report = time.monotonic()
    for sent, event in enumerate(simulation.run(until_us), start=1):
        delay = (event.time_us - time.time_ns() // 1000) / US
        if delay > 0 and not await _flushed_and_slept(producer, stop, delay):
            return
        await producer.send_event(event)
        if time.monotonic() - last_report > 10:
            print(f"simulate: {sent} events sent, {len(simulation.waiting)} calls waiting", file=sys.stderr)
            last_report = time.monotonic()


async def _flushed_and_slept(producer: EventProducer, stop: StopRequest, seconds: float) -> bool:
    """Flush, then sleep until the next event is due; False if a stop was asked for meanwhile."""
    return await stop.unless_stopped(producer.flush()) and not await stop.wait(seconds)
