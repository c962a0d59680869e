"""The Grafana dashboards, as code (grafana-foundation-sdk, pinned to the Grafana in compose).

``python -m grafana.dashboards`` writes ``grafana/dashboards/*.json``; a test checks the
committed files are current, valid for the SDK's Grafana schema, and that every query in
them returns data from a real Prometheus scraping a worker.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row, ThresholdsConfig
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

FOLDER = Path(__file__).parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
Q = 'queue=~"$queue"'
SL_GAP = (
    f"queue:callcenter_service_level:ratio_15m{{{Q}}}"
    " - on (queue) queue:callcenter_service_level_target:ratio"
)


def query(expr: str, legend: str = "{{queue}}", ref: str = "A") -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def steps(*pairs: tuple[float | None, str]) -> ThresholdsConfig:
    """Colour steps: ``(None, base colour), (from value, colour), ...``."""
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=v, color=c) for v, c in pairs])
    )


def big_number(title: str, expr: str, unit: str, colours: ThresholdsConfig, width: int = 8) -> stat.Panel:
    """A stat panel readable across a room: one big coloured number per queue."""
    return (
        stat.Panel()
        .title(title)
        .with_target(query(expr))
        .unit(unit)
        .thresholds(colours)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .height(8)
        .span(width)
        .datasource(DATASOURCE)
    )


def trend(title: str, unit: str, *queries: Dataquery, width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).height(8).span(width).datasource(DATASOURCE)
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(q.ref_id(ref))
    return panel


def by_window(title: str, metric: str, unit: str) -> bargauge.Panel:
    """One bar per window (5m, 15m, 1h, today) side by side."""
    expr = f'max by (window) (callcenter_{metric}{{queue=~"$queue"}})'
    return (
        bargauge.Panel()
        .title(title)
        .with_target(query(expr, "{{window}}"))
        .unit(unit)
        .height(8)
        .span(8)
        .datasource(DATASOURCE)
    )


def timezone_variable() -> QueryVariable:
    """Pick a site by its time zone: the queues whose 'today' is that zone's day."""
    return (
        QueryVariable("timezone")
        .label("Time zone")
        .query("label_values(callcenter_queue_info, timezone)")
        .datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
    )


def queue_variable(multi: bool) -> QueryVariable:
    variable = (
        QueryVariable("queue")
        .label("Queue")
        .query('label_values(callcenter_queue_info{timezone=~"$timezone"}, queue)')
        .datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    return variable.multi(True).include_all(True) if multi else variable


def _base(uid: str, title: str, refresh: str, since: str) -> Dashboard:
    return (
        Dashboard(title).uid(uid).tags(["ccmetrics"]).refresh(refresh).time(since, "now").timezone("browser")
    )


def wallboard() -> Dashboard:
    sl_colours = steps((None, "red"), (0.7, "orange"), (0.8, "green"))
    return (
        _base("ccmetrics-wallboard", "Contact center wallboard", "5s", "now-15m")
        .description("For a screen across the room (open with ?kiosk). Windows are the service's own.")
        .with_variable(timezone_variable())
        .with_variable(queue_variable(multi=True))
        .with_panel(
            big_number(
                "Waiting now",
                f"max by (queue) (callcenter_waiting_calls{{{Q}}})",
                "none",
                steps((None, "green"), (5, "orange"), (10, "red")),
            )
        )
        .with_panel(
            big_number(
                "Longest wait",
                f"max by (queue) (callcenter_longest_wait_seconds{{{Q}}})",
                "s",
                steps((None, "green"), (60, "orange"), (120, "red")),
            )
        )
        .with_panel(
            big_number(
                "Agents available",
                f'max by (queue) (callcenter_agents{{state="available", {Q}}})',
                "none",
                steps((None, "red"), (1, "green")),
            )
        )
        .with_panel(
            big_number(
                "Service level, 15 min",
                f"queue:callcenter_service_level:ratio_15m{{{Q}}}",
                "percentunit",
                sl_colours,
            )
        )
        .with_panel(
            big_number(
                "Service level against target, 15 min",
                SL_GAP,
                "percentunit",
                steps((None, "red"), (-0.05, "orange"), (0, "green")),
            )
        )
        .with_panel(
            big_number(
                "Service level today",
                f'max by (queue) (callcenter_service_level_ratio{{window="today", {Q}}})',
                "percentunit",
                sl_colours,
            )
        )
        .with_panel(
            big_number(
                "Answer speed (ASA), 15 min",
                f'max by (queue) (callcenter_answer_speed_seconds{{window="15m", {Q}}})',
                "s",
                steps((None, "green"), (20, "orange"), (40, "red")),
            )
        )
        .with_panel(
            big_number(
                "Abandoned, 15 min",
                f"queue:callcenter_abandon:ratio_15m{{{Q}}}",
                "percentunit",
                steps((None, "green"), (0.05, "orange"), (0.1, "red")),
            )
        )
        .with_panel(
            big_number(
                "Offered today",
                f'max by (queue) (callcenter_offered_calls{{window="today", {Q}}})',
                "none",
                steps((None, "blue")),
            )
        )
        .with_panel(
            big_number(
                "Agent occupancy, 15 min",
                f"queue:callcenter_occupancy:ratio_15m{{{Q}}}",
                "percentunit",
                steps((None, "blue"), (0.85, "orange"), (0.9, "red")),
            )
        )
        .with_panel(
            big_number(
                "Agents short of target (Erlang C, 15 min)",
                f"queue:callcenter_staffing_gap:agents_15m{{{Q}}}",
                "none",
                steps((None, "green"), (1, "orange"), (3, "red")),
            )
        )
        .with_panel(
            big_number(
                "Resolved first time (no repeat call), 1 h",
                f"queue:callcenter_first_contact_resolution:ratio_1h{{{Q}}}",
                "percentunit",
                steps((None, "red"), (0.6, "orange"), (0.7, "green")),
            )
        )
    )


def queue_detail() -> Dashboard:
    one = 'queue="$queue"'
    return (
        _base("ccmetrics-queue", "Queue detail", "30s", "now/d")
        .description("One queue through the day; 'today' panels use the service's own local day.")
        .with_variable(timezone_variable())
        .with_variable(queue_variable(multi=False))
        .with_row(Row("Windows side by side"))
        .with_panel(by_window("Service level", "service_level_ratio", "percentunit"))
        .with_panel(by_window("Answer speed (ASA)", "answer_speed_seconds", "s"))
        .with_panel(by_window("Handle time (AHT)", "handle_time_seconds", "s"))
        .with_panel(by_window("Agents short of target (Erlang C)", "staffing_gap_agents", "none"))
        .with_row(Row("Through the day"))
        .with_panel(
            trend(
                "Calls per minute",
                "cpm",
                query(f"60 * queue:callcenter_calls_offered:rate5m{{{one}}}", "offered"),
                query(f"60 * queue:callcenter_calls_answered:rate5m{{{one}}}", "answered"),
            )
        )
        .with_panel(
            trend(
                "Service level, 15 min and today",
                "percentunit",
                query(f"queue:callcenter_service_level:ratio_15m{{{one}}}", "15 min"),
                query(f'max(callcenter_service_level_ratio{{window="today", {one}}})', "today"),
                query(f"queue:callcenter_service_level_target:ratio{{{one}}}", "target"),
            )
        )
        .with_panel(
            trend(
                "Waiting and longest wait",
                "none",
                query(f"queue:callcenter_waiting_calls:max{{{one}}}", "waiting"),
                query(f"queue:callcenter_longest_wait_seconds:max{{{one}}}", "longest wait (s)"),
            )
        )
        .with_panel(
            trend(
                "Answer wait, 90th percentile (5 min)",
                "s",
                query(f"queue:callcenter_answer_wait_seconds:p90_5m{{{one}}}", "p90"),
            )
        )
        .with_panel(
            trend(
                "Calls today",
                "none",
                *(
                    query(f'max(callcenter_{m}_calls{{window="today", {one}}})', m)
                    for m in ("offered", "answered", "abandoned", "short_abandoned", "flowed_out")
                ),
            )
        )
        .with_panel(
            trend(
                "Abandon ratio, 15 min",
                "percentunit",
                query(f"queue:callcenter_abandon:ratio_15m{{{one}}}", "abandoned"),
            )
        )
        .with_panel(
            trend(
                "Staffing by Erlang C, 15 min",
                "none",
                query(f'max(callcenter_required_agents{{window="15m", {one}}})', "required"),
                query(f"queue:callcenter_agents_working:sum{{{one}}}", "staffed now"),
                query(f'max(callcenter_offered_load_erlangs{{window="15m", {one}}})', "load (erlangs)"),
            )
        )
        .with_panel(
            trend(
                "Satisfaction from surveys, 1 h",
                "percentunit",
                query(f"queue:callcenter_csat:ratio_1h{{{one}}}", "CSAT (4-5 of 5)"),
                query(f'max(callcenter_nps_ratio{{window="1h", {one}}})', "NPS (-100%..100%)"),
            )
        )
        .with_panel(
            trend(
                "Repeat calls, 1 h (callers who called within the repeat window before)",
                "percentunit",
                query(f"queue:callcenter_repeat_call:ratio_1h{{{one}}}", "repeat calls"),
                query(f"queue:callcenter_first_contact_resolution:ratio_1h{{{one}}}", "first contact"),
            )
        )
        .with_panel(
            trend(
                "Offered in the past hour (the day's peak hour is the highest point)",
                "none",
                query(f"sum(increase(callcenter_calls_offered_total{{{one}}}[1h]))", "offered"),
            )
        )
        .with_panel(
            trend(
                "Service level predicted at the agents staffed now, 15 min",
                "percentunit",
                query(f'max(callcenter_predicted_service_level_ratio{{window="15m", {one}}})', "predicted"),
                query(f"queue:callcenter_service_level_target:ratio{{{one}}}", "target"),
            )
        )
    )


STAFFED_TODAY = (
    f'sum by (state) (max by (queue, state) (callcenter_queue_agent_seconds{{window="today", {Q}}}))'
)
SERVES = f"and on (agent) max by (agent) (callcenter_agent_queue_info{{{Q}}})"  # agents serving $queue
REASON = "max by (agent, reason) (callcenter_agent_state_reason_info)"  # a label, not a value
# (column, query of one value per agent, unit): the agent list's value columns
AGENT_COLUMNS = (
    ("In state for", "agent:callcenter_agent_state_age_seconds:current", "s"),
    ("Handled today", 'max by (agent) (callcenter_agent_handled_calls{window="today"})', "none"),
    ("AHT today", 'max by (agent) (callcenter_agent_handle_time_seconds{window="today"})', "s"),
    ("Missed today", 'max by (agent) (callcenter_agent_missed_calls{window="today"})', "none"),
    ("Occupancy today", 'max by (agent) (callcenter_agent_occupancy_ratio{window="today"})', "percentunit"),
)


def instant(expr: str, ref: str) -> Dataquery:
    """A query for a table: the latest value of each series, one row each."""
    return query(expr, "", ref).instant().format(PromQueryFormat.TABLE)


def agent_list() -> table.Panel:
    """Who is doing what, and since when: one row per agent serving the chosen queues."""
    panel = (
        table.Panel()
        .title("Agents now")
        .description("State, reason and time in it (ticking), and today's calls, in the agents' time zone.")
        .datasource(DATASOURCE)
        .span(24)
        .height(12)
        .align(common.FieldTextAlignment.AUTO)
        .inspect(False)
        .with_target(instant(f"max by (agent, state) (callcenter_agent_state == 1) {SERVES}", "A"))
        .with_target(instant(f"{REASON} {SERVES}", "B"))
    )
    for ref, (_, expr, _) in zip("CDEFG", AGENT_COLUMNS, strict=True):
        panel = panel.with_target(instant(f"{expr} {SERVES}", ref))
    names = {"agent": "Agent", "state": "State", "reason": "Reason"}
    names.update({f"Value #{ref}": c[0] for ref, c in zip("CDEFG", AGENT_COLUMNS, strict=True)})
    panel = panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    organize = {"excludeByName": {"Time": True, "Value #A": True, "Value #B": True}, "renameByName": names}
    panel = panel.with_transformation(DataTransformerConfig(id_val="organize", options=organize))
    for column, _, unit in AGENT_COLUMNS:
        panel = panel.override_by_name(column, [DynamicConfigValue(id_val="unit", value=unit)])
    return panel


def agents() -> Dashboard:
    return (
        _base("ccmetrics-agents", "Agents", "10s", "now-6h")
        .with_variable(timezone_variable())
        .with_variable(queue_variable(multi=True))
        .with_panel(agent_list())
        .with_panel(
            trend(
                "Occupancy by queue, 15 min",
                "percentunit",
                query(f"queue:callcenter_occupancy:ratio_15m{{{Q}}}"),
            )
        )
        .with_panel(
            bargauge.Panel()
            .title("Staffed time today by state (agent hours)")
            .span(12)
            .height(8)
            .datasource(DATASOURCE)
            .unit("h")
            .with_target(query(f"{STAFFED_TODAY} / 3600", "{{state}}"))
        )
        .with_panel(
            bargauge.Panel()
            .title("Agents by state now")
            .span(8)
            .height(8)
            .datasource(DATASOURCE)
            .with_target(
                query(f"sum by (state) (max by (queue, state) (callcenter_agents{{{Q}}}))", "{{state}}")
            )
        )
        .with_panel(
            trend(
                "Agents by state",
                "none",
                query(f"sum by (state) (max by (queue, state) (callcenter_agents{{{Q}}}))", "{{state}}"),
                width=16,
            )
        )
        .with_panel(
            bargauge.Panel()
            .title("Time in state over the range (average agents)")
            .span(12)
            .height(8)
            .datasource(DATASOURCE)
            .unit("none")
            .with_target(
                query(f"sum by (state) (avg_over_time(callcenter_agents{{{Q}}}[$__range]))", "{{state}}")
            )
        )
        .with_panel(
            trend(
                "Agents working each queue", "none", query("queue:callcenter_agents_working:sum{" + Q + "}")
            )
        )
    )


def pipeline() -> Dashboard:
    return (
        _base("ccmetrics-pipeline", "Event pipeline", "10s", "now-1h")
        .with_panel(
            trend(
                "Events per second, by type",
                "ops",
                query("sum by (type) (rate(callcenter_events_total[$__rate_interval]))", "{{type}}"),
            )
        )
        .with_panel(
            trend(
                "Rejected events per second, by reason",
                "ops",
                query(
                    "sum by (reason) (rate(callcenter_events_rejected_total[$__rate_interval]))", "{{reason}}"
                ),
                query("sum(rate(callcenter_events_duplicate_total[$__rate_interval]))", "duplicates"),
            )
        )
        .with_panel(
            trend(
                "Consumer lag (messages)",
                "none",
                query("sum by (topic) (callcenter_consumer_lag_messages)", "{{topic}}"),
            )
        )
        .with_panel(
            trend(
                "Where events wait: 99th percentile of each stage, per batch",
                "s",
                query(
                    "histogram_quantile(0.99, sum by (stage, le) "
                    "(rate(callcenter_pipeline_stage_seconds_bucket[$__rate_interval])))",
                    "{{stage}}",
                ),
            )
        )
        .with_panel(
            trend(
                "Age of the newest event and of the metrics",
                "s",
                query("job:callcenter_last_event_age_seconds:min", "newest event"),
                query("time() - max(callcenter_snapshot_timestamp_seconds)", "metrics"),
            )
        )
        .with_panel(
            big_number("Workers up", 'sum(up{job="ccmetrics"})', "none", steps((None, "red"), (1, "green")))
        )
    )


BOARDS: dict[str, Callable[[], Dashboard]] = {
    "wallboard": wallboard,
    "queue-detail": queue_detail,
    "agents": agents,
    "pipeline": pipeline,
}


def rendered(name: str) -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(BOARDS[name]().build()) + "\n"


def main() -> int:
    FOLDER.mkdir(exist_ok=True)
    for name in BOARDS:
        (FOLDER / f"{name}.json").write_text(rendered(name))
    print(f"wrote {len(BOARDS)} dashboards to {FOLDER}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
