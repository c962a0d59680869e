"""What ``/metrics`` shows: every metric family, its help text, and where its values come from.

Read by :func:`stream.exporter.text.render` (the text written directly) and, in the tests, by
a prometheus_client collector that serves as its oracle.
Names follow docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter  # a C getter: no Python call per sample, as a lambda was
from typing import NamedTuple

from metrics import rules
from metrics.contract.events import AGENT_STATES
from metrics.erlang import Staffing
from metrics.snapshot import (
    AgentSnapshot,
    AgentWindow,
    PipelineSnapshot,
    QueueSnapshot,
    WindowValues,
)
from metrics.timeutil import US

# (name suffix, slot, help): one gauge per queue and window
COUNTS = (
    ("offered_calls", rules.OFFERED, "Calls that entered the queue"),
    ("answered_calls", rules.ANSWERED, "Calls answered"),
    (
        "abandoned_calls",
        rules.ABANDONED,
        "Calls abandoned after waiting at least the short-abandon threshold",
    ),
    ("short_abandoned_calls", rules.SHORT_ABANDONED, "Calls abandoned before the short-abandon threshold"),
    ("flowed_out_calls", rules.FLOWED_OUT, "Calls that left the queue unanswered for another reason"),
    ("service_level_met_calls", rules.SL_MET, "Service-level events that met the threshold"),
    ("service_level_counted_calls", rules.SL_COUNTED, "Service-level events counted"),
    ("handled_calls", rules.HANDLED, "Calls whose handling (talk, hold, after-call work) completed"),
    ("transferred_calls", rules.TRANSFERRED, "Calls an agent transferred out"),
    ("blocked_calls", rules.BLOCKED, "Calls rejected before they could queue"),
    ("expired_calls", rules.EXPIRED, "Calls still unresolved at the maximum call age"),
)
# (name suffix, derivation, help): per queue and window; absent when undefined (0 / 0)
DERIVED: tuple[tuple[str, Callable[[WindowValues], float | None], str], ...] = (
    (
        "service_level_ratio",
        attrgetter("service_level_ratio"),
        "Service level, met / counted (0..1)",
    ),
    ("answer_speed_seconds", attrgetter("answer_speed_seconds"), "Average speed of answer"),
    (
        "abandon_ratio",
        attrgetter("abandon_ratio"),
        "Abandoned / (answered + abandoned + flowed out)",
    ),
    ("handle_time_seconds", attrgetter("handle_time_seconds"), "Average handle time"),
    ("transfer_ratio", attrgetter("transfer_ratio"), "Transferred / answered"),
    ("blocked_ratio", attrgetter("blocked_ratio"), "Blocked / (offered + blocked)"),
    ("csat_ratio", attrgetter("csat_ratio"), "Survey CSAT answers of 4 or 5 / CSAT answers"),
    (
        "nps_ratio",
        attrgetter("nps_ratio"),
        "Net promoter score, (promoters 9-10 - detractors 0-6) / NPS answers (-1..1)",
    ),
    ("customer_effort_score", attrgetter("customer_effort_score"), "Mean survey CES answer (1-7)"),
    ("repeat_call_ratio", attrgetter("repeat_call_ratio"), "Repeat calls / identified calls"),
)
# (name suffix, count, help): per queue and window, for queues that have had an identified call
REPEAT_COUNTS: tuple[tuple[str, Callable[[WindowValues], int], str], ...] = (
    (
        "identified_calls",
        attrgetter("identified_calls"),
        "Offered calls that named their caller, counted at their queued time",
    ),
    (
        "repeat_calls",
        attrgetter("repeat_calls"),
        "Identified calls whose caller queued another call within the repeat window before",
    ),
)
SURVEY_RESPONSES = (
    "callcenter_survey_responses",
    "Survey answers by score (csat, nps, ces), counted at the survey's time; queues with surveys only",
)
FLOWED_OUT_BY_REASON = (
    "callcenter_flowed_out_by_reason_calls",
    "Calls that flowed out, by reason (reasons the queue has seen; callback: a promise, not an abandon)",
)
# (name suffix, value, help): per queue and rolling window, by Erlang C (metrics/erlang.py);
# absent for ``today`` and without handled calls in the window
STAFFING: tuple[tuple[str, Callable[[Staffing], float | None], str], ...] = (
    ("offered_load_erlangs", attrgetter("load_erlangs"), "Offered load: offered / window x AHT"),
    ("required_agents", attrgetter("required_agents"), "Fewest agents meeting the service-level target"),
    (
        "staffing_gap_agents",
        attrgetter("gap_agents"),
        "Required agents minus agents available, on a call or in wrap-up now (positive: short)",
    ),
    (
        "predicted_service_level_ratio",
        attrgetter("predicted_service_level"),
        "Service level the agents staffed now would give (Erlang C)",
    ),
    (
        "predicted_answer_speed_seconds",
        attrgetter("predicted_answer_speed_s"),
        "Average speed of answer the agents staffed now would give (absent: unbounded)",
    ),
)
# (name, help, value): one gauge per queue
PER_QUEUE: tuple[tuple[str, str, Callable[[QueueSnapshot], float]], ...] = (
    ("callcenter_waiting_calls", "Calls waiting in the queue now", attrgetter("waiting")),
    (
        "callcenter_longest_wait_seconds",
        "Wait of the oldest waiting call (0 if none)",
        attrgetter("longest_wait_seconds"),
    ),
    (
        "callcenter_service_level_threshold_seconds",
        "Service-level threshold T",
        attrgetter("threshold_seconds"),
    ),
    ("callcenter_service_level_target_ratio", "Service-level target", attrgetter("target_ratio")),
    (
        "callcenter_alert_min_counted_calls",
        "Service-level alerts need this many calls in 15m",
        attrgetter("alert_min_counted_calls"),
    ),
    (
        "callcenter_alert_longest_wait_seconds",
        "Longest-wait alert threshold",
        attrgetter("alert_longest_wait_seconds"),
    ),
    ("callcenter_alert_abandon_ratio", "Abandon-ratio alert threshold", attrgetter("alert_abandon_ratio")),
    (
        "callcenter_alert_agent_wrap_up_seconds",
        "Long wrap-up alert threshold for agents serving the queue",
        attrgetter("alert_agent_wrap_up_seconds"),
    ),
    ("callcenter_alert_occupancy_ratio", "Occupancy alert threshold", attrgetter("alert_occupancy_ratio")),
    (
        "callcenter_alert_csat_ratio",
        "Satisfaction (CSAT, 1h) alert threshold",
        attrgetter("alert_csat_ratio"),
    ),
    (
        "callcenter_alert_min_survey_responses",
        "The satisfaction alert needs this many CSAT answers in 1h",
        attrgetter("alert_min_survey_responses"),
    ),
    (
        "callcenter_alert_repeat_call_ratio",
        "Repeat-call (1h) alert threshold",
        attrgetter("alert_repeat_call_ratio"),
    ),
    (
        "callcenter_alert_min_identified_calls",
        "The repeat-call alert needs this many identified calls in 1h",
        attrgetter("alert_min_identified_calls"),
    ),
)
AGENTS = ("callcenter_agents", "Agents serving the queue, by state")
# the queues' agent time: per queue and window (occupancy only where defined), and away now
QUEUE_OCCUPANCY = (
    "callcenter_occupancy_ratio",
    "(on_call + wrap_up) / (on_call + wrap_up + available) seconds of the agents serving the queue",
)
QUEUE_AGENT_SECONDS = (
    "callcenter_queue_agent_seconds",
    "Seconds the agents serving the queue spent in each state in the window",
)
AGENTS_AWAY = ("callcenter_agents_away", "Agents serving the queue away now, by reason")
QUEUE_INFO = ("callcenter_queue_info", "Each queue's time zone (of its 'today')")
# (name without _total, slot): all-time counters per queue
TOTALS = (
    ("callcenter_calls_offered", rules.OFFERED),
    ("callcenter_calls_answered", rules.ANSWERED),
    ("callcenter_calls_abandoned", rules.ABANDONED),
    ("callcenter_calls_short_abandoned", rules.SHORT_ABANDONED),
    ("callcenter_calls_flowed_out", rules.FLOWED_OUT),
    ("callcenter_calls_handled", rules.HANDLED),
    ("callcenter_calls_transferred", rules.TRANSFERRED),
    ("callcenter_calls_blocked", rules.BLOCKED),
    ("callcenter_calls_expired", rules.EXPIRED),
)
WAIT_HISTOGRAM = ("callcenter_answer_wait_seconds", "Wait of answered calls")
SNAPSHOT_TIME = ("callcenter_snapshot_timestamp_seconds", "The instant these metrics describe (now)")
AGENT_SNAPSHOT_TIME = (
    "callcenter_agent_snapshot_timestamp_seconds",
    "The instant the agent-keyed families describe (the worker reads agents apart from queues)",
)

Samples = list[tuple[dict[str, str], float]]


def pipeline_families(p: PipelineSnapshot) -> list[tuple[str, str, str, Samples]]:
    """(name without ``_total``, type, help, samples) of the feed's health metrics."""
    families: list[tuple[str, str, str, Samples]] = [
        ("callcenter_events", "counter", "Valid events accepted, by type", _by("type", p.events_by_type)),
        (
            "callcenter_events_rejected",
            "counter",
            "Invalid events, by reason",
            _by("reason", p.rejected_by_reason),
        ),
        (
            "callcenter_events_ignored",
            "counter",
            "Events ignored (unknown type), by reason",
            _by("reason", p.ignored_by_reason),
        ),
        ("callcenter_events_duplicate", "counter", "Events seen before (same id)", _one(p.duplicates)),
        ("callcenter_event_unknown_fields", "counter", "Unknown fields ignored", _one(p.unknown_fields)),
        (
            "callcenter_events_by_agent_id_form",
            "counter",
            "Events naming an agent, by the form of its id: an interface (TECH/resource) or a name",
            _by("form", p.agent_id_forms),
        ),
    ]
    families += _worker_families(p)
    if p.last_event_us is not None:
        newest: Samples = [({}, p.last_event_us / US)]
        families.append(
            (
                "callcenter_last_event_timestamp_seconds",
                "gauge",
                "Event time of the newest event seen",
                newest,
            )
        )
    return families


def _worker_families(p: PipelineSnapshot) -> list[tuple[str, str, str, Samples]]:
    """What only the worker has: Kafka's lag and the messages Kafka refused."""
    refused: Samples = [({"topic": t, "reason": r}, n) for (t, r), n in sorted(p.output_failures.items())]
    return [
        (
            "callcenter_output_failures",
            "counter",
            "Messages Kafka refused for good and the worker skipped, by topic and reason",
            refused,
        ),
        (
            "callcenter_consumer_lag_messages",
            "gauge",
            "Messages not yet read, by topic",
            _by("topic", p.lag_by_topic),
        ),
    ]


def _one(value: float) -> Samples:
    return [({}, value)]


def _by(label: str, values: dict[str, int]) -> Samples:
    return [({label: key}, values[key]) for key in sorted(values)]


Row = tuple[tuple[str, ...], float]  # a sample's label values, and its value


class Family(NamedTuple):
    """A gauge family with its label names in the order written, and its rows."""

    name: str
    help: str
    labels: tuple[str, ...]
    rows: list[Row]


def agent_families(agents: tuple[AgentSnapshot, ...], export: str) -> list[Family]:
    """The agent list: agent-keyed families, as many as ``[agents] export`` asks for."""
    if export == "off":
        return []
    families = _agent_state_families(agents)
    if export == "full":
        families += _agent_window_families(agents)
    return families


def _agent_state_families(agents: tuple[AgentSnapshot, ...]) -> list[Family]:
    state = Family(
        "callcenter_agent_state", "1 for the agent's state now, 0 for the others", ("agent", "state"), []
    )
    reason = Family(
        "callcenter_agent_state_reason_info", "The reason of an agent away now", ("agent", "reason"), []
    )
    since = Family(
        "callcenter_agent_state_since_timestamp_seconds",
        "When the agent's state (and reason) now began",
        ("agent",),
        [],
    )
    served = Family("callcenter_agent_queue_info", "The queues each agent serves now", ("agent", "queue"), [])
    for a in agents:
        state.rows.extend([((a.agent, name), 1 if name == a.state else 0) for name in AGENT_STATES])
        if a.state is not None:  # every known agent: the reason is empty unless away
            reason.rows.append(((a.agent, a.reason or ""), 1))
        if a.since_us is not None:
            since.rows.append(((a.agent,), a.since_us / US))
        served.rows.extend([((a.agent, queue), 1) for queue in a.queues])
    return [state, reason, since, served]


# (name, help, value): one gauge per agent and window; absent when the value is None
AGENT_WINDOWED: tuple[tuple[str, str, Callable[[AgentWindow], float | None]], ...] = (
    ("callcenter_agent_handled_calls", "Calls whose handling by the agent completed", attrgetter("handled")),
    (
        "callcenter_agent_handle_time_seconds",
        "The agent's average handle time",
        attrgetter("handle_time_seconds"),
    ),
    ("callcenter_agent_transferred_calls", "Calls the agent transferred out", attrgetter("transferred")),
    ("callcenter_agent_missed_calls", "Offers the agent did not answer", attrgetter("missed")),
    (
        "callcenter_agent_occupancy_ratio",
        "(on_call + wrap_up) / (on_call + wrap_up + available) seconds",
        attrgetter("occupancy_ratio"),
    ),
    ("callcenter_agent_csat_ratio", "Survey CSAT answers of 4 or 5 / CSAT answers", attrgetter("csat_ratio")),
    ("callcenter_agent_nps_ratio", "(Promoters - detractors) / NPS answers (-1..1)", attrgetter("nps_ratio")),
    (
        "callcenter_agent_customer_effort_score",
        "Mean survey CES answer (1-7)",
        attrgetter("customer_effort_score"),
    ),
)


def _agent_window_families(agents: tuple[AgentSnapshot, ...]) -> list[Family]:
    families = [Family(name, text, ("agent", "window"), []) for name, text, _ in AGENT_WINDOWED]
    seconds = Family(
        "callcenter_agent_state_seconds",
        "Seconds the agent spent in each state in the window",
        ("agent", "state", "window"),
        [],
    )
    for a in agents:
        for window, values in a.windows.items():
            for family, (_, _, value_of) in zip(families, AGENT_WINDOWED, strict=True):
                value = value_of(values)
                if value is not None:
                    family.rows.append(((a.agent, window), value))
            seconds.rows.extend([((a.agent, state, window), v) for state, v in values.state_seconds.items()])
    return [*families, seconds]


def has_surveys(queue: QueueSnapshot) -> bool:
    """Whether a queue has ever had a survey: its response series are exported from then on."""
    return any(queue.total.survey_responses().values())


def has_callers(queue: QueueSnapshot) -> bool:
    """Whether a queue has ever had an identified call: its repeat counts are exported from then on."""
    return queue.total.identified_calls > 0


def flow_out_reasons_seen(queue: QueueSnapshot) -> list[str]:
    """The reasons a queue has flowed calls out for, ever: their series never come and go."""
    return [reason for reason, count in queue.total.flowed_out_by_reason().items() if count]
