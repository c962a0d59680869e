"""The KPI definitions of docs/metrics.md, as contributions of one :class:`Visit`.

A contribution ``(time_us, slot, value)`` says "add ``value`` to ``slot`` at event time
``time_us``". Windows sum the contributions whose time falls inside them, so a visit's
metrics are exactly its contributions, and a changed visit is handled by taking its old
contributions back and adding the new ones. Times may lie in the future (a caller still
waiting reaches the service-level threshold at ``queued + T``); they count once "now"
reaches them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from metrics.timeutil import US
from metrics.visits import Survey, Visit

if TYPE_CHECKING:  # settings name the service-level rules defined here
    from metrics.settings import QueueSettings

OFFERED: Final = 0
ANSWERED: Final = 1
ABANDONED: Final = 2
SHORT_ABANDONED: Final = 3
FLOWED_OUT: Final = 4
SL_MET: Final = 5
SL_COUNTED: Final = 6
WAIT_US: Final = 7  # sum of waits of answered calls
HANDLED: Final = 8
HANDLE_US: Final = 9  # sum of handle times of handled calls
TRANSFERRED: Final = 10
BLOCKED: Final = 11
EXPIRED: Final = 12
HISTOGRAM: Final = 13  # first of the answer-wait histogram buckets (non-cumulative)
# Flow-outs by reason have slots of their own after every other slot of a queue (sums stored
# before them are padded at the end), in this order; a reason added later goes last.
FLOW_OUT_REASONS: Final = ("timeout", "exit_key", "empty", "full", "transfer", "callback", "other")
# Surveys' slots follow the reasons'; offsets from their first:
CSAT_ANSWERS: Final = 0
CSAT_SATISFIED: Final = 1
NPS_ANSWERS: Final = 2
NPS_PROMOTERS: Final = 3
NPS_DETRACTORS: Final = 4
CES_ANSWERS: Final = 5
CES_SUM: Final = 6
SURVEY_SLOTS: Final = 7
# Repeat calls' slots follow the surveys'; offsets from their first:
IDENTIFIED: Final = 0
REPEATED: Final = 1
REPEAT_SLOTS: Final = 2

Contribution = tuple[int, int, int]
_Rule = Callable[[Visit, "QueueSettings"], list[Contribution]]


def slot_count(wait_bounds_us: tuple[int, ...]) -> int:
    """How many slots a queue's sums need: the fixed ones plus one per bucket and +Inf."""
    return HISTOGRAM + len(wait_bounds_us) + 1


def contributions(
    visit: Visit,
    settings: QueueSettings,
    wait_bounds_us: tuple[int, ...],
    max_age_us: int,
    reasons_base: int,
) -> list[Contribution]:
    """Every contribution of one visit under the queue's settings (``reasons_base``: the slot
    of the first of :data:`FLOW_OUT_REASONS`; the survey slots follow them, then the repeats')."""
    # a survey counts at its time, whether or not the call was seen queued; so does a caller
    surveys_base = reasons_base + len(FLOW_OUT_REASONS)
    found = _handling(visit) + survey_contributions(visit.survey, surveys_base)
    found += _identified(visit, surveys_base + SURVEY_SLOTS)
    if visit.blocked_us is not None:
        found.append((visit.blocked_us, BLOCKED, 1))
    if visit.queued_us is None:
        return found  # waits are unknown until the call.queued event is seen
    found.append((visit.queued_us, OFFERED, 1))
    found += _outcome(visit, settings, wait_bounds_us)
    found += _flow_out_reason(visit, reasons_base)
    found += SERVICE_LEVEL_RULES[settings.service_level_rule](visit, settings)
    found += _expiry(visit, max_age_us)
    return found


def waiting_interval(visit: Visit, max_age_us: int) -> tuple[int, int] | None:
    """The event-time interval ``[queued, end)`` during which the call waits in the queue."""
    if visit.queued_us is None:
        return None
    end = visit.queued_us + max_age_us
    if visit.outcome_us is not None:
        end = min(end, visit.outcome_us)
    return (visit.queued_us, end)


def _handling(visit: Visit) -> list[Contribution]:
    found: list[Contribution] = []
    for handling in visit.handlings:
        found.append((handling.done_us, HANDLED, 1))
        found.append((handling.done_us, HANDLE_US, handling.handle_us))
    found += [(at, TRANSFERRED, 1) for at in visit.transfers_us]
    return found


def _outcome(visit: Visit, settings: QueueSettings, bounds: tuple[int, ...]) -> list[Contribution]:
    wait, at = visit.wait_us, visit.outcome_us
    if wait is None or at is None:
        return []
    if visit.outcome == "answered":
        bucket = HISTOGRAM + bisect_left(bounds, wait)
        return [(at, ANSWERED, 1), (at, WAIT_US, wait), (at, bucket, 1)]
    if visit.outcome == "abandoned":
        return [(at, SHORT_ABANDONED if wait < settings.short_abandon_us else ABANDONED, 1)]
    return [(at, FLOWED_OUT, 1)]


def _flow_out_reason(visit: Visit, base: int) -> list[Contribution]:
    if visit.outcome != "flowed_out" or visit.outcome_us is None or visit.wait_us is None:
        return []  # counted as flowed_out is: at the outcome, once the call is known queued
    reason = visit.flow_out_reason if visit.flow_out_reason in FLOW_OUT_REASONS else "other"
    return [(visit.outcome_us, base + FLOW_OUT_REASONS.index(reason), 1)]


def survey_contributions(survey: Survey | None, base: int) -> list[Contribution]:
    """A survey's answers, in :data:`SURVEY_SLOTS` slots from ``base`` (queues' and agents')."""
    if survey is None:
        return []
    at, csat, nps, ces = survey
    found = []
    if csat is not None:
        found += [(at, base + CSAT_ANSWERS, 1), (at, base + CSAT_SATISFIED, int(csat >= 4))]
    if nps is not None:
        found += [(at, base + NPS_ANSWERS, 1), (at, base + NPS_PROMOTERS, int(nps >= 9))]
        found.append((at, base + NPS_DETRACTORS, int(nps <= 6)))
    if ces is not None:
        found += [(at, base + CES_ANSWERS, 1), (at, base + CES_SUM, ces)]
    return found


def _identified(visit: Visit, base: int) -> list[Contribution]:
    """An identified call counts at its queued time as the callers step saw it."""
    if visit.identified is None:
        return []
    at, repeat = visit.identified
    return [(at, base + IDENTIFIED, 1), (at, base + REPEATED, int(repeat))]


def _expiry(visit: Visit, max_age_us: int) -> list[Contribution]:
    assert visit.queued_us is not None
    expires = visit.queued_us + max_age_us
    if visit.outcome_us is not None and visit.outcome_us <= expires:
        return []
    return [(expires, EXPIRED, 1)]


def _counted(at: int, met: bool) -> list[Contribution]:
    return [(at, SL_COUNTED, 1), (at, SL_MET, 1)] if met else [(at, SL_COUNTED, 1)]


def _sl_default(visit: Visit, s: QueueSettings) -> list[Contribution]:
    """The contract's rule: at most one service-level event per queued call."""
    assert visit.queued_us is not None
    wait, at, threshold = visit.wait_us, visit.outcome_us, s.threshold_us
    if wait is not None and at is not None and wait <= threshold:
        if visit.outcome == "answered":
            return _counted(at, met=True)
        if visit.outcome == "abandoned" and wait >= s.short_abandon_us:
            return _counted(at, met=False)
        return []  # a short abandon, or a flow-out within T
    return _counted(visit.queued_us + threshold, met=False)


def _sl_answered_only(visit: Visit, s: QueueSettings) -> list[Contribution]:
    """met / answered."""
    wait, at = visit.wait_us, visit.outcome_us
    if visit.outcome != "answered" or wait is None or at is None:
        return []
    return _counted(at, met=wait <= s.threshold_us)


def _sl_abandons_ignored_within_threshold(visit: Visit, s: QueueSettings) -> list[Contribution]:
    """met / (answered + abandoned after T)."""
    wait, at = visit.wait_us, visit.outcome_us
    if visit.outcome == "abandoned" and wait is not None and at is not None:
        return _counted(at, met=False) if wait > s.threshold_us else []
    return _sl_answered_only(visit, s)


def _sl_abandons_positive(visit: Visit, s: QueueSettings) -> list[Contribution]:
    """(answered within T + abandoned within T) / (answered + abandoned); short abandons excluded."""
    wait, at = visit.wait_us, visit.outcome_us
    if visit.outcome == "abandoned" and wait is not None and at is not None:
        if wait < s.short_abandon_us:
            return []
        return _counted(at, met=wait <= s.threshold_us)
    return _sl_answered_only(visit, s)


SERVICE_LEVEL_RULES: Final[dict[str, _Rule]] = {
    "default": _sl_default,
    "answered_only": _sl_answered_only,
    "abandons_ignored_within_threshold": _sl_abandons_ignored_within_threshold,
    "abandons_positive": _sl_abandons_positive,
}


# Ratios and averages of a window's sums, as exported. One whose denominator is zero is
# ``None`` (never exported as NaN).


def service_level_ratio(sums: Sequence[int]) -> float | None:
    return _ratio(sums[SL_MET], sums[SL_COUNTED])


def answer_speed_seconds(sums: Sequence[int]) -> float | None:
    return _ratio(sums[WAIT_US] / US, sums[ANSWERED])


def abandon_ratio(sums: Sequence[int]) -> float | None:
    return _ratio(sums[ABANDONED], sums[ANSWERED] + sums[ABANDONED] + sums[FLOWED_OUT])


def handle_time_seconds(sums: Sequence[int]) -> float | None:
    return _ratio(sums[HANDLE_US] / US, sums[HANDLED])


def transfer_ratio(sums: Sequence[int]) -> float | None:
    """Transferred / answered, each counted at its own time (so a short window can exceed 1)."""
    return _ratio(sums[TRANSFERRED], sums[ANSWERED])


def blocked_ratio(sums: Sequence[int]) -> float | None:
    """Blocked / (offered + blocked): the share of calls that could not even queue."""
    return _ratio(sums[BLOCKED], sums[OFFERED] + sums[BLOCKED])


def csat_ratio(surveys: Sequence[int]) -> float | None:
    """Answers of 4 or 5 / CSAT answers (of a window's survey slots)."""
    return _ratio(surveys[CSAT_SATISFIED], surveys[CSAT_ANSWERS]) if surveys else None


def nps_ratio(surveys: Sequence[int]) -> float | None:
    """(Promoters 9-10 − detractors 0-6) / NPS answers: −1..1 (boards show ×100)."""
    if not surveys:
        return None
    return _ratio(surveys[NPS_PROMOTERS] - surveys[NPS_DETRACTORS], surveys[NPS_ANSWERS])


def customer_effort_score(surveys: Sequence[int]) -> float | None:
    """The mean CES answer (1-7)."""
    return _ratio(surveys[CES_SUM], surveys[CES_ANSWERS]) if surveys else None


def repeat_call_ratio(repeats: Sequence[int]) -> float | None:
    """Repeat calls / identified calls (of a window's repeat slots)."""
    return _ratio(repeats[REPEATED], repeats[IDENTIFIED]) if repeats else None


STAFFED_STATES: Final = ("available", "on_call", "wrap_up")  # agents counted as staffed by Erlang C


def offered_load_erlangs(sums: Sequence[int], width_s: float) -> float | None:
    """Arrival rate (offered / window) times AHT; ``None`` without a handle time (0 handled,
    or every handling took no time)."""
    if not sums[HANDLED] or not sums[HANDLE_US]:
        return None
    return sums[OFFERED] / width_s * (sums[HANDLE_US] / US / sums[HANDLED])


def occupancy_ratio(state_seconds: Mapping[str, float]) -> float | None:
    """(on_call + wrap_up) / (on_call + wrap_up + available) seconds; ``None`` when 0 / 0."""
    busy = state_seconds.get("on_call", 0.0) + state_seconds.get("wrap_up", 0.0)
    staffed = busy + state_seconds.get("available", 0.0)
    return busy / staffed if staffed > 0 else None


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
