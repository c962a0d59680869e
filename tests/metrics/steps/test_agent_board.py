"""The agent board: calls gone cold are read back, never counted twice, and rebuilt exactly."""

from __future__ import annotations

from metrics.agent_calls import AgentCall
from metrics.settings import Limits, Settings
from metrics.snapshot import AgentWindow
from metrics.steps.agent_board import AgentBoard
from metrics.storage.packing import COLD_AFTER_US
from metrics.timeutil import US, parse_rfc3339_us

SETTINGS = Settings(limits=Limits(max_call_age_seconds=1800))
T0 = parse_rfc3339_us("2026-01-05T10:00:00Z")


def call(call_id: str, at: int, handle_s: int = 100, missed: tuple[int, ...] = ()) -> AgentCall:
    return AgentCall(call_id, "a1", at, at, handle_s * US, None, missed)


def today(board: AgentBoard, now: int) -> AgentWindow:
    return board.snapshot(now)[0].windows["today"]


def test_a_call_told_again_after_it_went_cold_counts_once_and_a_change_replaces_it() -> None:
    board = AgentBoard(SETTINGS)
    board.apply(call("c1", T0, missed=(T0 - US,)), 0)
    assert board.pack(0, T0 + COLD_AFTER_US + 1) == ["a1\x1fc1"] and not board.ledgers["a1"].calls
    board.apply(call("c1", T0, missed=(T0 - US,)), 0)  # a duplicate re-tells the same call
    window = today(board, T0 + 2 * COLD_AFTER_US)
    assert (window.handled, window.missed, window.handle_us) == (1, 1, 100 * US)
    board.apply(call("c1", T0 + US, handle_s=160, missed=(T0 - US,)), 0)  # a later fact changes it
    window = today(board, T0 + 2 * COLD_AFTER_US)
    assert (window.handled, window.missed, window.handle_us) == (1, 1, 160 * US)


def test_cold_calls_expire_into_settled_sums_and_a_rebuild_counts_the_same() -> None:
    board = AgentBoard(SETTINGS)
    for n in range(3):
        board.apply(call(f"c{n}", T0 + n * 600 * US), 0)
    board.pack(0, T0 + 600 * US + COLD_AFTER_US + 1)  # c0 and c1 go cold, c2 stays hot
    now = T0 + 3900 * US  # twice the call age (3600 s) after c0, not yet after c1
    expired = board.expire(0, now)
    assert expired == {"a1": ["c0"]}
    before = today(board, now)
    ledger = board.ledgers["a1"]
    rebuilt = AgentBoard(SETTINGS, board.cold)
    rebuilt.rebuild(
        [("a1", ledger.settled)], board.cold.items(), list(ledger.calls.values()), lambda a: 0, now
    )
    # windows start at now: no bucket is made for calls before it (as a running board keeps them)
    assert rebuilt.ledgers["a1"].sums._buckets == {} == board.ledgers["a1"].sums._buckets
    assert today(rebuilt, now) == before and before.handled == 3


def test_an_agent_known_only_from_cold_calls_stays_on_the_list_until_they_expire() -> None:
    board = AgentBoard(SETTINGS)
    board.apply(call("c1", T0), 0)
    board.pack(0, T0 + COLD_AFTER_US + 1)
    assert board.expire(0, T0 + 2 * COLD_AFTER_US) == {} and "a1" in board.ledgers
    assert board.expire(0, T0 + 3601 * US) == {"a1": ["c1"]} and "a1" not in board.ledgers
