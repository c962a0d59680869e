"""The committed dashboards are current and valid for the pinned Grafana schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from grafana_foundation_sdk.models.prometheus import Dataquery

from grafana import dashboards

register_default_plugins()


def without_empty_custom(value: Any) -> Any:
    """The decoder adds an empty ``fieldConfig.defaults.custom`` to time series: not a change."""
    if isinstance(value, dict):
        return {k: without_empty_custom(v) for k, v in value.items() if not (k == "custom" and v == {})}
    if isinstance(value, list):
        return [without_empty_custom(v) for v in value]
    return value


def committed(name: str) -> dict[str, Any]:
    return dict(json.loads((dashboards.FOLDER / f"{name}.json").read_text()))


@pytest.mark.parametrize("name", sorted(dashboards.BOARDS))
def test_committed_json_is_generated_from_the_code(name: str) -> None:
    assert (dashboards.FOLDER / f"{name}.json").read_text() == dashboards.rendered(name), (
        "run: python -m grafana.dashboards"
    )


@pytest.mark.parametrize("name", sorted(dashboards.BOARDS))
def test_dashboards_decode_with_the_pinned_schema_and_lose_nothing(name: str) -> None:
    raw = committed(name)
    typed = Dashboard.from_json(raw)
    again = json.loads(JSONEncoder(sort_keys=True).encode(typed))
    assert without_empty_custom(again) == raw  # nothing unknown, nothing dropped
    for panel in typed.panels or []:
        assert panel.type_val in {"stat", "timeseries", "bargauge", "table", "row"}
        for target in getattr(panel, "targets", None) or []:
            assert isinstance(target, Dataquery) and target.expr and target.ref_id


def test_every_board_has_a_unique_uid_and_the_provisioned_datasource() -> None:
    uids = [committed(name)["uid"] for name in dashboards.BOARDS]
    assert len(set(uids)) == len(uids)
    text = "".join((dashboards.FOLDER / f"{name}.json").read_text() for name in dashboards.BOARDS)
    assert '"uid": "prometheus"' in text and "${DS" not in text
