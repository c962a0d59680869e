"""The demo's first look: within 90 s of the simulator's start, a center in a busy day."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Tenant, wait_for
from tools.demo import DEMO_SIMULATION, first_look, parse_values

pytestmark = pytest.mark.kafka


def test_the_demo_shows_waits_abandons_wrap_up_and_a_queue_below_target_within_90_s(tenant: Tenant) -> None:
    worker = tenant.start_worker()
    tenant.ccmetrics_background("simulate", *DEMO_SIMULATION)
    missing: list[str] = ["no scrape yet"]

    def all_there() -> bool:
        nonlocal missing
        missing = first_look(parse_values(worker.scrape_text()))
        return not missing

    try:
        wait_for(all_there, 90, "the demo's first look", every=1)
    except AssertionError:
        raise AssertionError(f"after 90 s the demo still shows no {', no '.join(missing)}") from None
