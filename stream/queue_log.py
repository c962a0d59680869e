"""Asterisk's stock ``queue_log`` mapped onto contract events (see docs/asterisk.md).

Lines read ``epoch|uniqueid|queue|agent|EVENT|data1|data2|...``. Agent states are derived
from membership (ADDMEMBER, REMOVEMEMBER), pauses and the agent's calls, so the mapper
keeps a little state per agent and must see a log's lines in order. Usage::

    mapper = QueueLogMapper(members={"PJSIP/1001": "Alice"})   # [asterisk] members
    for line in open("/var/log/asterisk/queue_log"):
        events = mapper.map_line(line)       # [] for a verb with no event, None if ignored
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from metrics.contract.events import Event, Rejection
from metrics.pipeline import agent_id_form
from metrics.timeutil import US

SOURCE = "asterisk"
FORGET_WAITING_US = 24 * 3600 * US  # a call logged as waiting this long had its end lost
_FLOW_OUT = {"EXITWITHTIMEOUT": "timeout", "EXITWITHKEY": "exit_key", "EXITEMPTY": "empty"}
_TRANSFERS = ("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")
_SILENT = (
    *("RINGCANCELED", "QUEUESTART", "CONFIGRELOAD", "DID", "INFO", "SYSCOMPAT"),
    "AGENTDUMP",  # the agent hung up during the announcement; the caller waits on for another
)


@dataclass(frozen=True, slots=True)
class Line:
    """One parsed queue_log line."""

    time_us: int
    call_id: str
    queue: str
    agent: str
    verb: str
    data: tuple[str, ...]


@dataclass
class _Calls:
    """What a log has said of its calls so far: who waits in each queue, and the calls each
    member answered in each queue and has not finished. Asterisk can log a line under another
    channel's uniqueid (asterisk/asterisk issue 759: an attended transfer into a second queue
    swaps the two calls' ids), so a line is taken for the call a person reading the log would
    see: a CONNECT answers a call that waits in its queue, an ending line ends a call its
    member answered there (docs/asterisk.md, "Attended transfer into another queue")."""

    # queue -> uniqueid -> entered, in the order entered (the order of the log's lines)
    waiting: dict[str, dict[str, int]] = field(default_factory=dict)
    answered: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (member, queue) -> uniqueids

    def entered(self, line: Line) -> None:
        waiting = self.waiting.setdefault(line.queue, {})
        cutoff, forgotten = line.time_us - FORGET_WAITING_US, []
        for call_id, at in waiting.items():  # the oldest first: stop at the first kept
            if at >= cutoff:
                break
            forgotten.append(call_id)  # its end was never logged
        for call_id in forgotten:
            del waiting[call_id]
        waiting.pop(line.call_id, None)  # entered again: it goes last
        waiting[line.call_id] = line.time_us

    def left(self, line: Line) -> None:
        self.waiting.get(line.queue, {}).pop(line.call_id, None)

    def answering(self, line: Line) -> str:
        """The call a CONNECT answers: its own if it waits in the queue, else the one waiting
        there whose wait is the CONNECT's hold time (data1), else its own."""
        waiting = self.waiting.get(line.queue, {})
        chosen = line.call_id if line.call_id in waiting else _waited_for(waiting, line) or line.call_id
        waiting.pop(chosen, None)
        self.answered.setdefault((line.agent, line.queue), set()).add(chosen)
        return chosen

    def ending(self, line: Line) -> str:
        """The call a COMPLETE or transfer line ends: its own if its member answered it in the
        queue, else the only call the member answered there, else its own."""
        answered = self.answered.get((line.agent, line.queue), set())
        chosen = line.call_id
        if chosen not in answered and len(answered) == 1:
            chosen = next(iter(answered))
        answered.discard(chosen)
        return chosen


def _waited_for(waiting: dict[str, int], line: Line) -> str | None:
    held = line.data[0] if line.data else ""
    if not held.isdigit():
        return None
    entered = line.time_us - int(held) * US
    matching = [c for c, at in waiting.items() if abs(at - entered) <= US]  # whole seconds
    return min(matching, key=waiting.__getitem__) if matching else None


@dataclass
class MemberForms:
    """Which members each queue's membership lines and call lines name, to tell an operator
    what the log reveals when it names members two ways (docs/asterisk.md, "Interface or
    member name"): an interface only ever added or removed, beside a name only ever on calls."""

    on_membership: dict[str, set[str]] = field(default_factory=dict)  # queue -> members
    on_calls: dict[str, set[str]] = field(default_factory=dict)

    def unlinked(self) -> list[tuple[str, list[str], list[str]]]:
        """Per queue: the interfaces seen only on membership lines, the names only on calls."""
        found = []
        for queue, members in sorted(self.on_membership.items()):
            calls = self.on_calls.get(queue, set())
            interfaces = sorted(m for m in members - calls if agent_id_form(m) == "interface")
            names = sorted(m for m in calls - members if agent_id_form(m) == "name")
            if interfaces and names:
                found.append((queue, interfaces, names))
        return found

    def advice(self) -> list[str]:
        return [
            f"note: queue {queue} names {', '.join(interfaces)} only on membership lines and "
            f"{', '.join(names)} only on call lines: if they are the same people, link them in "
            "[asterisk] members or set log_membername_as_agent (docs/asterisk.md)"
            for queue, interfaces, names in self.unlinked()
        ]


@dataclass
class _Agent:
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    busy: bool = False
    reason: str | None = None

    def state(self) -> str:
        if not self.queues:
            return "offline"
        if self.busy:
            return "on_call"
        return "away" if self.paused else "available"


def parse_line(text: str) -> Line:
    """Split one line; raise :class:`Rejection` if it is not a queue_log line."""
    parts = text.lstrip("\x00").rstrip("\r\n").split("|")  # a crash can leave NULs before a line
    if len(parts) < 5 or not parts[4]:
        raise Rejection("bad_queue_log_line", "expected epoch|uniqueid|queue|agent|EVENT|...")
    return Line(_epoch_us(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))


def _epoch_us(text: str) -> int:
    whole, _, fraction = text.strip().partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise Rejection("bad_time", f"queue_log epoch {text[:32]!r} is not a number")
    return int(whole) * 1_000_000 + int((fraction + "000000")[:6])


class QueueLogMapper:
    """Turns queue_log lines into contract events, one log at a time, in order."""

    def __init__(self, source: str = SOURCE, members: Mapping[str, str] | None = None) -> None:
        self.source = source
        self.members = dict(members or {})  # interface -> member name ([asterisk] members)
        self._agents: dict[str, _Agent] = {}
        self._last_us: dict[str, int] = {}  # agent -> time of its latest state event
        self._calls = _Calls()
        self.forms = MemberForms()

    def map_line(self, text: str) -> list[Event] | None:
        """The events of one line; ``None`` when the verb carries nothing for the metrics."""
        line = parse_line(text)
        if line.agent in self.members:
            line = replace(line, agent=self.members[line.agent])
        handler = _HANDLERS.get(line.verb)
        if handler is None:
            return None
        if line.verb not in _AGENT_VERBS and line.call_id in ("", "NONE"):
            raise Rejection("missing_field", f"{line.verb} without a call uniqueid")
        return handler(self, line)

    def _call(self, line: Line, kind: str, suffix: str = "", call_id: str = "", **fields: object) -> Event:
        """An event of the line's call (or of ``call_id``, the call the line is taken for)."""
        event_id = f"{line.call_id}:{line.verb}{suffix}:{line.time_us}:{line.agent}"
        call = call_id or line.call_id
        return Event(event_id, kind, line.time_us, self.source, call_id=call, **fields)  # type: ignore[arg-type]

    def _agent_event(self, line: Line, agent_id: str, change: Callable[[_Agent], None]) -> Event:
        if agent_id in ("", "NONE"):
            raise Rejection("missing_field", f"{line.verb} without an agent")
        agent = self._agents.setdefault(agent_id, _Agent())
        change(agent)
        return Event(
            f"{agent_id}:{line.verb}:{line.time_us}:{line.queue}:{line.call_id}",
            "agent.state",
            self._in_line_order(agent_id, line.time_us),
            self.source,
            agent_id=agent_id,
            state=agent.state(),
            reason=agent.reason if agent.paused else None,
            queues=tuple(sorted(agent.queues)),
        )

    def _in_line_order(self, agent_id: str, time_us: int) -> int:
        """The time of an agent's state event, a microsecond after the agent's previous one when
        both fall in the same second: queue_log times are whole seconds, and the lines of one
        second must apply in the order they were written, whatever order they arrive in."""
        last = self._last_us.get(agent_id)
        if last is not None and last - US < time_us <= last:
            time_us = last + 1
        self._last_us[agent_id] = time_us
        return time_us

    def _queued(self, line: Line) -> list[Event]:
        self._calls.entered(line)
        caller = line.data[1] if len(line.data) > 1 and line.data[1] else None  # ENTERQUEUE|url|callerid|pos
        return [self._call(line, "call.queued", queue=line.queue, caller=caller)]

    def _on_call(self, line: Line) -> None:
        self.forms.on_calls.setdefault(line.queue, set()).add(line.agent)

    def _connect(self, line: Line) -> list[Event]:
        self._on_call(line)
        call_id = self._calls.answering(line)
        answered = self._call(line, "call.answered", call_id=call_id, queue=line.queue, agent_id=line.agent)

        def change(agent: _Agent) -> None:
            agent.busy = True
            agent.queues.add(line.queue)  # static members (queues.conf) never log ADDMEMBER

        return [answered, self._agent_event(line, line.agent, change)]

    def _complete(self, line: Line) -> list[Event]:
        ended = self._call(line, "call.ended", call_id=self._calls.ending(line), agent_id=line.agent)
        return [ended, self._agent_event(line, line.agent, _set_busy(False))]

    def _transfer(self, line: Line) -> list[Event]:
        call_id = self._calls.ending(line)
        transferred = self._call(line, "call.transferred", call_id=call_id, agent_id=line.agent)
        ended = self._call(line, "call.ended", ":ended", call_id=call_id, agent_id=line.agent)
        return [transferred, ended, self._agent_event(line, line.agent, _set_busy(False))]

    def _missed(self, line: Line) -> list[Event]:
        """The call rang the member, who did not answer in time (or whose device refused it)."""
        if line.agent in ("", "NONE"):
            raise Rejection("missing_field", f"{line.verb} without an agent")
        self._on_call(line)
        return [self._call(line, "call.agent_no_answer", queue=line.queue, agent_id=line.agent)]

    def _abandon(self, line: Line) -> list[Event]:
        self._calls.left(line)
        return [self._call(line, "call.abandoned", queue=line.queue)]

    def _flow_out(self, line: Line) -> list[Event]:
        self._calls.left(line)
        return [self._call(line, "call.flowed_out", queue=line.queue, reason=_FLOW_OUT[line.verb])]

    def _membership(self, line: Line) -> list[Event]:
        adding = line.verb in ("ADDMEMBER", "AGENTLOGIN", "AGENTCALLBACKLOGIN")
        queue = None if line.queue in ("", "NONE") else line.queue  # agent logins name no queue
        if queue is not None:
            self.forms.on_membership.setdefault(queue, set()).add(line.agent)

        def change(agent: _Agent) -> None:
            if queue is not None:
                (agent.queues.add if adding else agent.queues.discard)(queue)
            elif not adding:
                agent.queues.clear()  # logged off: out of every queue

        return [self._agent_event(line, line.agent, change)]

    def _pause(self, line: Line) -> list[Event]:
        paused = line.verb in ("PAUSE", "PAUSEALL")
        reason = line.data[0] if paused and line.data and line.data[0] else None

        def change(agent: _Agent) -> None:
            agent.paused, agent.reason = paused, reason

        return [self._agent_event(line, line.agent, change)]

    def _silent(self, line: Line) -> list[Event]:
        return []


def _set_busy(busy: bool) -> Callable[[_Agent], None]:
    def change(agent: _Agent) -> None:
        agent.busy = busy

    return change


_HANDLERS: dict[str, Callable[[QueueLogMapper, Line], list[Event]]] = {
    "ENTERQUEUE": QueueLogMapper._queued,
    "CONNECT": QueueLogMapper._connect,
    "COMPLETECALLER": QueueLogMapper._complete,
    "COMPLETEAGENT": QueueLogMapper._complete,
    "ABANDON": QueueLogMapper._abandon,
    "RINGNOANSWER": QueueLogMapper._missed,
    **dict.fromkeys(_FLOW_OUT, QueueLogMapper._flow_out),
    **dict.fromkeys(_TRANSFERS, QueueLogMapper._transfer),
    **dict.fromkeys(
        (
            "ADDMEMBER",
            "REMOVEMEMBER",
            "AGENTLOGIN",
            "AGENTLOGOFF",
            "AGENTCALLBACKLOGIN",
            "AGENTCALLBACKLOGOFF",
        ),
        QueueLogMapper._membership,
    ),
    **dict.fromkeys(("PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL"), QueueLogMapper._pause),
    **dict.fromkeys(_SILENT, QueueLogMapper._silent),
}
_AGENT_VERBS = frozenset(
    v
    for v, h in _HANDLERS.items()
    if h in (QueueLogMapper._membership, QueueLogMapper._pause, QueueLogMapper._silent)
)
