"""Asterisk queue_log mapping: line by line, and a whole log through replay."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from metrics.contract.events import Rejection
from metrics.settings import Settings, SettingsError
from metrics.timeutil import parse_rfc3339_us
from stream.queue_log import QueueLogMapper
from stream.replay import replay_files, replay_items
from stream.sources import Accepted, Ignored, Rejected, read_lines

LOG = """\
1767607200|NONE|sales|SIP/1001|ADDMEMBER|
1767607200|NONE|sales|SIP/1002|ADDMEMBER|
1767607201|NONE|support|SIP/1002|ADDMEMBER|
1767607300|1767607300.10|sales|NONE|ENTERQUEUE||5551234|1
1767607300|1767607300.11|sales|NONE|ENTERQUEUE||5559876|2
1767607308|1767607300.10|sales|SIP/1001|RINGNOANSWER|3000
1767607310|1767607300.10|sales|SIP/1002|CONNECT|10|1767607310.12|2
1767607335|1767607300.11|sales|NONE|ABANDON|1|2|35
1767607400|1767607400.20|sales|NONE|ENTERQUEUE||5550000|1
1767607403|1767607400.20|sales|NONE|EXITWITHKEY|5|1
1767607430|1767607300.10|sales|SIP/1002|COMPLETECALLER|10|120|1
1767607440|NONE|sales|SIP/1001|PAUSE|Lunch
1767607450|1767607450.30|sales|NONE|ENTERQUEUE||5551111|1
1767607451|1767607450.30|sales|SIP/1002|CONNECT|1|1767607451.31|1
1767607500|1767607450.30|sales|SIP/1002|TRANSFER|200|default|1|49
1767607501|NONE|NONE|NONE|QUEUESTART|
1767607502|NONE|sales|NONE|SOMETHINGNEW|x
not a queue_log line
"""


def items(text: str = LOG) -> list[Accepted | Ignored | Rejected]:
    return list(read_lines(text.encode().splitlines(), "asterisk-queue-log", "queue_log"))


def test_lines_map_onto_contract_events() -> None:
    events = [i.event for i in items() if isinstance(i, Accepted)]
    kinds = [e.type for e in events if e.type != "agent.state"]
    assert kinds == [
        "call.queued", "call.queued", "call.agent_no_answer", "call.answered", "call.abandoned",
        "call.queued", "call.flowed_out", "call.ended", "call.queued", "call.answered", "call.transferred",
        "call.ended",
    ]  # fmt: skip
    flowed = next(e for e in events if e.type == "call.flowed_out")
    assert (flowed.reason, flowed.call_id, flowed.queue) == ("exit_key", "1767607400.20", "sales")


def test_enterqueue_names_its_caller_and_a_replay_with_a_secret_finds_the_repeat() -> None:
    from metrics.engine import Engine

    log = LOG + "1767607600|1767607600.40|support|NONE|ENTERQUEUE||5551234|1\n"  # 5551234 again
    queued = [i.event for i in items(log) if isinstance(i, Accepted) and i.event.type == "call.queued"]
    assert [e.caller for e in queued] == ["5551234", "5559876", "5550000", "5551111", "5551234"]
    engine = Engine(Settings(), caller_secret=b"queue_log")
    for event in queued:
        engine.apply(event)
    found = {
        q.queue: (q.total.identified_calls, q.total.repeat_calls)
        for q in engine.snapshot(1_767_607_700_000_000).queues
    }
    assert found == {"sales": (4, 0), "support": (1, 1)}


def test_agent_states_follow_membership_pauses_and_calls() -> None:
    states = [(e.agent_id, e.state, e.queues) for i in items() if isinstance(i, Accepted) for e in [i.event]
              if e.type == "agent.state"]  # fmt: skip
    assert ("SIP/1002", "available", ("sales", "support")) in states
    assert ("SIP/1002", "on_call", ("sales", "support")) in states
    assert ("SIP/1001", "away", ("sales",)) in states


def test_a_static_member_is_known_from_its_first_call() -> None:
    mapper = QueueLogMapper()
    events = mapper.map_line("1767607310|1767607300.10|sales|SIP/2000|CONNECT|10|1767607310.12|2")
    assert events is not None
    agent = next(e for e in events if e.type == "agent.state")
    assert (agent.state, agent.queues) == ("on_call", ("sales",))


def test_unknown_verbs_are_ignored_and_bad_lines_rejected() -> None:
    found = items()
    ignored = [(i.type, i.reason) for i in found if isinstance(i, Ignored)]
    assert ignored == [
        ("QUEUESTART", "nothing_to_measure"),
        ("SOMETHINGNEW", "unknown_type"),
    ]
    rejected = [i for i in found if isinstance(i, Rejected)]
    assert [(r.reason, r.where) for r in rejected] == [("bad_queue_log_line", "queue_log:18")]


@pytest.mark.parametrize("line", ["abc|x|q|NONE|ENTERQUEUE", "1|NONE|q|NONE|ENTERQUEUE", "1|u|q|NONE|PAUSE"])
def test_malformed_lines_raise_rejection(line: str) -> None:
    with pytest.raises(Rejection):
        QueueLogMapper().map_line(line)


def test_a_queue_log_replays_to_known_metrics() -> None:
    now = parse_rfc3339_us("2026-01-05T10:05:00Z")  # 1767607500
    snapshot, report = replay_items(items(), Settings(), now)
    sales = next(q for q in snapshot.queues if q.queue == "sales").windows["15m"]
    assert report.accepted > 0 and len(report.rejected) == 1
    assert (sales.sums[0], sales.sums[1], sales.sums[2], sales.sums[4]) == (4, 2, 1, 1)  # offered ans ab flow
    assert sales.answer_speed_seconds == 5.5  # (10 + 1) / 2
    assert sales.handle_time_seconds == 84.5  # (120 + 49) / 2
    agents = {a.agent: a for a in snapshot.agents}
    lunch = agents["SIP/1001"]  # rang at 10:01:48 and did not answer; paused for lunch at 10:04
    assert (lunch.state, lunch.reason, lunch.windows["today"].missed) == ("away", "other", 1)
    busy = agents["SIP/1002"].windows["today"]  # two calls: 120 s, and 49 s until it transferred
    assert (busy.handled, busy.handle_time_seconds, busy.transferred) == (2, 84.5, 1)


SAME_SECOND = """\
1767607200|NONE|sales|SIP/1001|ADDMEMBER|
1767607200|NONE|sales|SIP/1002|ADDMEMBER|
1767607200|NONE|sales|SIP/1003|ADDMEMBER|
1767607210|1767607210.1|sales|NONE|ENTERQUEUE||5551234|1
1767607220|1767607210.1|sales|SIP/1001|CONNECT|10|1767607220.2|0
1767607220|1767607210.1|sales|SIP/1001|COMPLETEAGENT|10|0|1
1767607230|NONE|sales|SIP/1002|PAUSE|Lunch
1767607230|NONE|sales|SIP/1002|UNPAUSE|
1767607240|NONE|sales|SIP/1003|REMOVEMEMBER|
1767607240|NONE|sales|SIP/1003|ADDMEMBER|
"""


def agents_at(events: list[object], at: str) -> dict[str, int]:
    from metrics.engine import Engine

    engine = Engine(Settings())
    for event in events:
        engine.apply(event)  # type: ignore[arg-type]
    return next(q for q in engine.snapshot(parse_rfc3339_us(at)).queues if q.queue == "sales").agents


def test_lines_of_one_second_apply_in_the_order_written_whatever_the_delivery_order() -> None:
    events = [i.event for i in items(SAME_SECOND) if isinstance(i, Accepted)]
    written = agents_at(events, "2026-01-05T10:01:00Z")
    assert (written["available"], written["on_call"], written["away"], written["offline"]) == (3, 0, 0, 0)
    assert agents_at(list(reversed(events)), "2026-01-05T10:01:00Z") == written


def test_an_agent_login_names_no_queue_and_makes_none() -> None:
    log = (
        "1767607200|NONE|NONE|Agent/1001|AGENTLOGIN|SIP/1001-0000001\n"
        "1767607210|1767607210.1|sales|Agent/1001|CONNECT|10|1767607210.2|0\n"
        "1767607300|NONE|NONE|Agent/1001|AGENTLOGOFF|SIP/1001-0000001|90\n"
    )
    snapshot, _ = replay_items(items(log), Settings(), parse_rfc3339_us("2026-01-05T10:05:00Z"))
    assert [q.queue for q in snapshot.queues] == ["sales"]
    sales = snapshot.queues[0].agents
    assert sales["on_call"] == 0 and sales["available"] == 0  # logged off, out of sales too


def test_a_line_after_a_crash_is_read_after_its_nul_bytes() -> None:
    found = items("\0\0\0\x001767607210|1767607210.1|sales|NONE|ENTERQUEUE||5551234|1\n")
    assert [type(i).__name__ for i in found] == ["Accepted"]
    assert found[0].event.call_id == "1767607210.1"  # type: ignore[union-attr]


CURRENT_ASTERISK = """\
1767607200|NONE|sales|PJSIP/1001|ADDMEMBER|
1767607201|NONE|NONE|NONE|QUEUESTART|
1767607202|NONE|NONE|NONE|CONFIGRELOAD|
1767607203|1767607203.1|sales|NONE|ENTERQUEUE||5551234|1
1767607204|1767607203.1|sales|PJSIP/1001|RINGNOANSWER|1000
1767607205|1767607203.1|sales|PJSIP/1001|RINGCANCELED|1000
1767607206|1767607203.1|sales|PJSIP/1001|AGENTDUMP|
1767607207|1767607203.1|sales|NONE|EXITWITHKEY|5|1|2
1767607210|1767607210.2|sales|NONE|ENTERQUEUE||5552222|1
1767607211|1767607210.2|sales|NONE|EXITEMPTY|1|1|1
1767607212|NONE|NONE|PJSIP/1001|PAUSEALL|Training
1767607213|NONE|NONE|PJSIP/1001|UNPAUSEALL|
1767607214|NONE|NONE|NONE|SYSCOMPAT|
1767607220|1767607220.3|sales|NONE|ENTERQUEUE||5553333|1|extra|fields|from|a|newer|layout
"""


@pytest.mark.parametrize("kind", ["BRIDGE", "APP", "LINK"])
def test_an_attended_transfer_of_every_link_kind_ends_the_agents_handling(kind: str) -> None:
    data = {
        "BRIDGE": "BRIDGE|1767607300.9|5|60|1",
        "APP": "APP|Playback|5|60|1",
        "LINK": "LINK|PJSIP/2000-0000|5|60|1",
    }
    log = (
        "1767607240|1767607240.4|sales|NONE|ENTERQUEUE||5554444|1\n"
        "1767607245|1767607240.4|sales|PJSIP/1001|CONNECT|5|1767607245.5|1\n"
        f"1767607305|1767607240.4|sales|PJSIP/1001|ATTENDEDTRANSFER|{data[kind]}\n"
    )
    kinds = [i.event.type for i in items(log) if isinstance(i, Accepted) and i.event.type != "agent.state"]
    assert kinds == ["call.queued", "call.answered", "call.transferred", "call.ended"]


def test_every_event_of_current_asterisk_is_mapped_or_ignored_on_purpose() -> None:
    found = items(CURRENT_ASTERISK)
    assert not [i for i in found if isinstance(i, Rejected)]
    ignored = {i.type: i.reason for i in found if isinstance(i, Ignored)}
    assert set(ignored.values()) == {"nothing_to_measure"}
    assert set(ignored) == {
        "QUEUESTART",
        "CONFIGRELOAD",
        "RINGCANCELED",
        "AGENTDUMP",
        "SYSCOMPAT",
    }
    events = [i.event for i in found if isinstance(i, Accepted)]
    flowed = [(e.call_id, e.reason) for e in events if e.type == "call.flowed_out"]
    assert flowed == [("1767607203.1", "exit_key"), ("1767607210.2", "empty")]
    paused = [
        (e.state, e.reason) for e in events if e.type == "agent.state" and e.time_us >= 1767607212_000000
    ]
    assert paused == [("away", "Training"), ("available", None)]
    assert events[-1].type == "call.queued" and events[-1].call_id == "1767607220.3"


# An agent of sales transfers its caller into billing, attended: Asterisk logs billing's CONNECT
# under the caller's uniqueid and the ATTENDEDTRANSFER under the consultation call's
# (asterisk/asterisk issue 759); billing's COMPLETECALLER names either, by version.
SWAPPED_TRANSFER = """\
1767607200|NONE|sales|PJSIP/1001|ADDMEMBER|
1767607200|NONE|billing|PJSIP/2001|ADDMEMBER|
1767607300|1767607300.10|sales|NONE|ENTERQUEUE||5551234|1
1767607305|1767607300.10|sales|PJSIP/1001|CONNECT|5|1767607305.11|2
1767607360|1767607360.12|billing|NONE|ENTERQUEUE||1001|1
1767607367|1767607300.10|billing|PJSIP/2001|CONNECT|7|1767607367.13|3
1767607390|1767607360.12|sales|PJSIP/1001|ATTENDEDTRANSFER|BRIDGE|1767607367.13|5|85|1
1767607500|{completed}|billing|PJSIP/2001|COMPLETECALLER|7|133|1
"""


@pytest.mark.parametrize("completed", ["1767607360.12", "1767607300.10"])
def test_an_attended_transfer_into_another_queue_reads_as_a_person_reads_it(completed: str) -> None:
    """Billing answered one call after 7 s and nobody waits there; sales answered one after 5 s,
    whose agent transferred it after 85 s."""
    log = SWAPPED_TRANSFER.format(completed=completed)
    snapshot, _ = replay_items(items(log), Settings(), parse_rfc3339_us("2026-01-05T10:06:00Z"))
    queues = {q.queue: q for q in snapshot.queues}
    billing, sales = queues["billing"].windows["15m"], queues["sales"].windows["15m"]
    assert queues["billing"].waiting == 0 and queues["sales"].waiting == 0
    assert (billing.sums[0], billing.sums[1], billing.answer_speed_seconds) == (1, 1, 7.0)
    assert (billing.handle_time_seconds, queues["billing"].total.sums[0]) == (133.0, 1)
    assert (sales.sums[0], sales.sums[1], sales.answer_speed_seconds, sales.handle_time_seconds) == (
        1,
        1,
        5.0,
        85.0,
    )
    agents = {a.agent: a.windows["today"] for a in snapshot.agents}
    assert (agents["PJSIP/1001"].transferred, agents["PJSIP/2001"].handled) == (1, 1)


def test_a_connect_with_no_matching_wait_keeps_its_own_call() -> None:
    """A log that starts while a call waits: its CONNECT answers the call it names."""
    log = (
        "1767607300|1767607300.20|sales|NONE|ENTERQUEUE||5550000|1\n"
        "1767607330|1767607200.19|sales|PJSIP/1001|CONNECT|100|1767607330.21|2\n"
    )
    answered = [
        i.event.call_id for i in items(log) if isinstance(i, Accepted) and i.event.type == "call.answered"
    ]
    assert answered == ["1767607200.19"]


# Without log_membername_as_agent, membership lines name the interface, call lines the name.
TWO_FORMS = """\
1767607200|NONE|sales|PJSIP/1001|ADDMEMBER|
1767607300|1767607300.10|sales|NONE|ENTERQUEUE||5551234|1
1767607305|1767607300.10|sales|Alice|CONNECT|5|1767607305.11|2
1767607400|1767607300.10|sales|Alice|COMPLETECALLER|5|95|1
1767607500|NONE|sales|PJSIP/1001|REMOVEMEMBER|
"""


def test_a_member_logged_two_ways_is_two_agents_and_the_log_says_so() -> None:
    mapper = QueueLogMapper()
    found = list(read_lines(TWO_FORMS.encode().splitlines(), "asterisk-queue-log", "queue_log", mapper))
    snapshot, _ = replay_items(found, Settings(), parse_rfc3339_us("2026-01-05T10:06:00Z"))
    states = {a.agent: a.state for a in snapshot.agents}
    assert states == {"PJSIP/1001": "offline", "Alice": "available"}  # Alice stays on for hours
    assert mapper.forms.unlinked() == [("sales", ["PJSIP/1001"], ["Alice"])]
    assert "link them in [asterisk] members" in mapper.forms.advice()[0]
    forms = snapshot.pipeline.agent_id_forms
    assert forms["interface"] == 2 and forms["name"] >= 3  # ADDMEMBER, REMOVEMEMBER; CONNECT...


def test_members_linked_in_the_settings_are_one_agent() -> None:
    settings = Settings.from_toml('[asterisk]\nmembers = { "PJSIP/1001" = "Alice" }')
    mapper = QueueLogMapper(members=settings.asterisk.members)
    found = list(read_lines(TWO_FORMS.encode().splitlines(), "asterisk-queue-log", "queue_log", mapper))
    snapshot, _ = replay_items(found, settings, parse_rfc3339_us("2026-01-05T10:06:00Z"))
    alice = {a.agent: a for a in snapshot.agents}
    assert list(alice) == ["Alice"] and alice["Alice"].state == "offline"
    assert alice["Alice"].windows["today"].handled == 1
    assert mapper.forms.unlinked() == [] and snapshot.pipeline.agent_id_forms == {"name": 6}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[asterisk]\nmembers = { "PJSIP/1001" = 7 }', "must map to a member name"),
        ('[asterisk]\nmembers = { "PJSIP/1001" = " " }', "must map to a member name"),
        ("[asterisk]\nmembers = 3", "must be a table"),
        ('[asterisk]\nmember = { "PJSIP/1001" = "Alice" }', "member"),
    ],
)
def test_a_bad_member_link_is_a_clear_error(toml: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_toml(toml)


def test_replay_says_what_the_log_reveals_and_reads_the_link_from_its_settings(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text(TWO_FORMS)
    err = io.StringIO()
    replay_files([log], "asterisk-queue-log", Settings(), err=err)
    assert (
        "queue sales names PJSIP/1001 only on membership lines and Alice only on call lines" in err.getvalue()
    )
    linked = Settings.from_toml('[asterisk]\nmembers = { "PJSIP/1001" = "Alice" }')
    err = io.StringIO()
    snapshot = replay_files([log], "asterisk-queue-log", linked, err=err)
    assert "membership lines" not in err.getvalue() and [a.agent for a in snapshot.agents] == ["Alice"]


def test_a_call_whose_end_was_never_logged_is_forgotten_after_a_day() -> None:
    """Its wait cannot be taken for a CONNECT's hold time a day later."""
    log = (
        "1767607200|1767607200.1|sales|NONE|ENTERQUEUE||5551234|1\n"
        "1767697200|1767697200.2|sales|NONE|ENTERQUEUE||5559876|1\n"  # 25 hours later
        "1767697201|1767697201.3|sales|PJSIP/1001|CONNECT|90001|1767697201.4|1\n"
    )
    answered = [
        i.event.call_id for i in items(log) if isinstance(i, Accepted) and i.event.type == "call.answered"
    ]
    assert answered == ["1767697201.3"]
