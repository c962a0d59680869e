"""Shared test helpers: reading an engine snapshot in the oracle's terms, building events."""

from __future__ import annotations

import itertools

from metrics import rules
from metrics.contract.events import Event
from metrics.engine import Engine
from metrics.settings import Settings
from metrics.snapshot import Snapshot
from metrics.timeutil import US, parse_rfc3339_us

SLOTS = {
    "offered": rules.OFFERED,
    "answered": rules.ANSWERED,
    "abandoned": rules.ABANDONED,
    "short_abandoned": rules.SHORT_ABANDONED,
    "flowed_out": rules.FLOWED_OUT,
    "service_level_met": rules.SL_MET,
    "service_level_counted": rules.SL_COUNTED,
    "handled": rules.HANDLED,
    "blocked": rules.BLOCKED,
    "expired": rules.EXPIRED,
    "wait_us": rules.WAIT_US,
    "handle_us": rules.HANDLE_US,
}


SURVEY_SUMS = ("csat", "csat_4_5", "nps", "promoters", "detractors", "ces", "ces_sum")  # rules' order


def observed(snapshot: Snapshot) -> dict[str, dict[str, object]]:
    """The engine's snapshot as ``{queue: {"metric/window": value, ...}}``."""
    result: dict[str, dict[str, object]] = {}
    for q in snapshot.queues:
        row: dict[str, object] = {}
        for window, values in {**q.windows, "total": q.total}.items():
            row.update({f"{name}/{window}": values[slot] for name, slot in SLOTS.items()})
            by_reason = values.flowed_out_by_reason()
            row[f"flowed_out_by_reason/{window}"] = {
                reason: by_reason[reason] for reason in sorted(by_reason)
            }
            row[f"surveys/{window}"] = dict(zip(SURVEY_SUMS, values.surveys, strict=True))
            row[f"repeats/{window}"] = {"identified": values.identified_calls, "repeat": values.repeat_calls}
        row["waiting"] = q.waiting
        row["longest_wait_us"] = round(q.longest_wait_seconds * US)
        row.update({f"agents/{state}": n for state, n in q.agents.items()})
        result[q.queue] = row
    return result


_ids = itertools.count()


def ev(kind: str, at: str, **fields: object) -> Event:
    """An event at an RFC 3339 time, with a fresh id: ``ev("call.queued", "...Z", call_id=...)``."""
    return Event(f"k{next(_ids)}", kind, parse_rfc3339_us(at), "test", **fields)  # type: ignore[arg-type]


def engine_with_calls_waiting(*queues: str) -> Engine:
    """An engine with one call queued at 10:00 on 2026-01-05 in each of ``queues``."""
    engine = Engine(Settings())
    for queue in queues:
        engine.apply(ev("call.queued", "2026-01-05T10:00:00Z", call_id=f"c-{queue}", queue=queue))
    engine.flush()
    return engine


def differences(got: dict[str, dict[str, object]], want: dict[str, dict[str, object]]) -> list[str]:
    """Readable lines for every value that differs (empty when equal)."""
    lines = []
    for queue in sorted(set(got) | set(want)):
        mine, theirs = got.get(queue, {}), want.get(queue, {})
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                lines.append(f"{queue} {key}: engine {mine.get(key)!r}, batch {theirs.get(key)!r}")
    return lines
