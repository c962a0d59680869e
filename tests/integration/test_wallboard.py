"""The wallboard page in Debian's Chromium, against a live worker fed through the real broker.

The page must show the numbers ``/metrics`` shows, colour a queue below target red, warn when
the feed and then the worker go quiet, honour its filters and kiosk mode, give nothing without
credentials, and stay readable across a room. Screenshots go to ``.cache/screenshots/``.
"""

from __future__ import annotations

import base64
import itertools
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from metrics.contract.events import Event
from metrics.timeutil import US, parse_rfc3339_us
from stream.encode import to_json_line
from tests.integration.conftest import REPO, Tenant, Worker, wait_for

pytestmark = pytest.mark.kafka
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"  # Debian's (make test installs them)
SCREENSHOTS = REPO / ".cache" / "screenshots"
AUTH = ("wallboard", "board-secret")
STALE_SECONDS = 6
_ids = itertools.count()


def event(kind: str, at_us: int, **fields: object) -> Event:
    return Event(f"wb-{next(_ids)}", kind, at_us, "test", **fields)  # type: ignore[arg-type]


def call(queue: str, queued_us: int, wait_s: int, agent: str) -> list[Event]:
    call_id = f"call-{next(_ids)}"
    answered = queued_us + wait_s * US
    return [
        event("call.queued", queued_us, call_id=call_id, queue=queue),
        event("call.answered", answered, call_id=call_id, queue=queue, agent_id=agent),
        event("call.ended", answered + 90 * US, call_id=call_id, queue=queue, agent_id=agent),
    ]


def a_morning(now_us: int) -> list[Event]:
    """Support answers within 5 s; sales after a minute (service level 0 against 80 %), with one
    caller still waiting and one agent at lunch."""
    start = now_us - 300 * US
    events = [
        event("agent.state", start, agent_id="a1", state="available", queues=("sales",)),
        event("agent.state", start, agent_id="a2", state="available", queues=("support",)),
        event("agent.state", start, agent_id="a3", state="away", reason="Lunch", queues=("sales",)),
    ]
    for n in range(4):
        events += call("sales", start + n * 40 * US, 60, "a1") + call("support", start + n * 40 * US, 5, "a2")
    events.append(event("call.queued", now_us - 30 * US, call_id="still-waiting", queue="sales"))
    return events


class Heartbeats(threading.Thread):
    """Keeps the feed alive: agent a2 says it is still available, every second, until stopped."""

    def __init__(self, feed: Path) -> None:
        super().__init__(daemon=True)
        self.feed, self.stopped = feed, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            beat = event("agent.state", time.time_ns() // 1000, agent_id="a2", state="available")
            with self.feed.open("ab") as out:
                out.write(to_json_line(beat) + b"\n")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1920,1080"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def fed_worker(tenant: Tenant, tmp_path: Path) -> Iterator[tuple[Worker, Heartbeats]]:
    tenant.metrics_auth = AUTH
    tenant.settings.update(
        CCMETRICS_METRICS_USERNAME=AUTH[0],
        CCMETRICS_METRICS_PASSWORD=AUTH[1],
        CCMETRICS_WALLBOARD_STALE_SECONDS=str(STALE_SECONDS),
        CCMETRICS_CONFIG=str(tmp_path / "ccmetrics.toml"),
    )
    (tmp_path / "ccmetrics.toml").write_text('[agents]\nreasons = ["Lunch"]\n')
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"".join(to_json_line(e) + b"\n" for e in a_morning(time.time_ns() // 1000)))
    worker = tenant.start_worker()
    tenant.children.append(tenant.ccmetrics_background("publish", "--follow", str(feed)))
    beats = Heartbeats(feed)
    beats.start()
    wait_for(lambda: worker.scrape().get(OFFERED_SALES) == 5, 60, "the morning's calls on /metrics")
    try:
        yield worker, beats
    finally:
        beats.stopped.set()


OFFERED_SALES = ("callcenter_offered_calls", (("queue", "sales"), ("window", "15m")))


def open_board(driver: WebDriver, worker: Worker, query: str = "", auth: bool = True) -> None:
    token = base64.b64encode(":".join(AUTH).encode()).decode()
    headers = {"Authorization": f"Basic {token}"} if auth else {}
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
    driver.get(f"http://127.0.0.1:{worker.port}/{query}")


def shown(driver: WebDriver, selector: str) -> list[str]:
    found: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.dataset.queue || e.dataset.agent)",
        selector,
    )
    return sorted(found)


def banner(driver: WebDriver) -> str:
    text: str = driver.execute_script(
        "const b = document.getElementById('stale'); return b.hidden ? '' : b.textContent"
    )
    return text


def page_numbers(driver: WebDriver) -> tuple[float, dict[tuple[str, ...], str]]:
    """The page's snapshot instant (seconds) and every number it shows, keyed like /metrics."""
    at, rows = driver.execute_script(
        """
        const numbers = [];
        for (const tile of document.querySelectorAll('.tile')) {
          for (const v of tile.querySelectorAll('.value[data-metric]')) {
            const qualifier = v.dataset.window || v.dataset.state || '';
            numbers.push([tile.dataset.queue, v.dataset.metric, qualifier, v.dataset.value]);
          }
        }
        return [document.getElementById('tiles').dataset.at, numbers];
        """
    )
    return parse_rfc3339_us(at) / US, {tuple(row[:3]): row[3] for row in rows}


def test_the_wallboard_shows_what_metrics_shows_and_says_when_it_is_stale(
    fed_worker: tuple[Worker, Heartbeats], browser: WebDriver
) -> None:
    worker, beats = fed_worker
    open_board(browser, worker)
    wait_for(
        lambda: shown(browser, ".tile") == ["sales", "support"] and not banner(browser),
        30,
        "the tiles, fresh",
    )
    at, numbers = page_numbers(browser)
    metrics = worker.scrape()
    the_same_as_metrics(numbers, metrics, at)
    assert "bad" in browser.find_element(By.CSS_SELECTOR, '.tile[data-queue="sales"]').get_attribute("class")
    assert "good" in browser.find_element(By.CSS_SELECTOR, '.tile[data-queue="support"]').get_attribute(
        "class"
    )
    red = browser.find_element(By.CSS_SELECTOR, '.tile[data-queue="sales"] .sl .value')
    assert red.value_of_css_property("color") == "rgba(248, 113, 113, 1)"
    agents_as_on_metrics(browser, metrics)
    readable(browser)
    save_screenshots(browser)

    beats.stopped.set()  # the feed stops: within the stale limit the page says so
    wait_for(lambda: "no events" in banner(browser), STALE_SECONDS + 20, "the feed's stale warning")
    worker.stop(signal.SIGKILL)  # the worker stops answering
    wait_for(lambda: "not answered" in banner(browser), STALE_SECONDS + 20, "the worker's stale warning")
    assert "stale" in browser.find_element(By.TAG_NAME, "body").get_attribute("class")


def the_same_as_metrics(numbers: dict[tuple[str, ...], str], metrics: dict, at: float) -> None:  # type: ignore[type-arg]
    metrics_at = metrics[("callcenter_snapshot_timestamp_seconds", ())]
    compared = 0
    for (queue, metric, qualifier), value in numbers.items():
        if metric == "agents":
            key = ("callcenter_agents", (("queue", queue), ("state", qualifier)))
        elif qualifier:
            key = (f"callcenter_{metric}", (("queue", queue), ("window", qualifier)))
        else:
            key = (f"callcenter_{metric}", (("queue", queue),))
        expected = metrics.get(key)
        if metric == "longest_wait_seconds" and float(value):  # grows: compare when the wait began
            assert at - float(value) == pytest.approx(metrics_at - expected, abs=1e-3)
        else:
            assert (float(value) if value else None) == expected, key
        compared += 1
    assert compared >= 2 * 11


def agents_as_on_metrics(driver: WebDriver, metrics: dict) -> None:  # type: ignore[type-arg]
    rows = driver.execute_script(
        """return [...document.querySelectorAll('#agent-list tr.agent')].map(r => [r.dataset.agent,
           r.querySelector('.chip').className, r.querySelector('.reason').textContent,
           r.querySelector('[data-metric=handled_calls]').dataset.value])"""
    )
    assert [r[0] for r in rows] == ["a1", "a2", "a3"]
    for agent, chip, reason, handled in rows:
        state = next(
            k[1][1][1]
            for k, v in metrics.items()
            if k[0] == "callcenter_agent_state" and k[1][0][1] == agent and v == 1
        )
        assert f"state-{state}" in chip
        assert (
            float(handled)
            == metrics[("callcenter_agent_handled_calls", (("agent", agent), ("window", "today")))]
        )
        assert reason == ("Lunch" if agent == "a3" else "")

    def lunch() -> str:  # rows are drawn anew each second: look the cell up each time
        text: str = driver.execute_script(
            "return document.querySelector('#agent-list tr[data-agent=\"a3\"] td.since').textContent"
        )
        return text

    first = lunch()
    assert re.fullmatch(r"\d+:\d\d", first) and first >= "5:00", first  # away since 5 minutes ago
    wait_for(lambda: lunch() != first, 5, "time in state to tick")


def contrast(first: list[int], second: list[int]) -> float:
    def luminance(rgb: list[int]) -> float:
        linear = [
            (c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def readable(driver: WebDriver) -> None:
    """Every state and service-level colour at 4.5:1 or more on both grounds; big numbers 32 px+."""
    colours = driver.execute_script(
        """
           const rgb = (name) => { const probe = document.createElement('i');
             probe.style.color = `var(${name})`;
             document.body.append(probe); const c = getComputedStyle(probe).color; probe.remove();
             return c.match(/\\d+/g).slice(0, 3).map(Number); };
           const names = ['--available', '--on_call', '--wrap_up', '--away', '--offline', '--good', '--warn',
                          '--bad', '--none', '--text', '--muted'];
           return [rgb('--ground'), rgb('--tile'), names.map(n => [n, rgb(n)])];"""
    )
    ground, tile, named = colours
    for name, colour in named:
        assert min(contrast(colour, ground), contrast(colour, tile)) >= 4.5, name
    sizes = driver.execute_script(
        "return [...document.querySelectorAll('.tile .value')]"
        ".map(v => parseFloat(getComputedStyle(v).fontSize))"
    )
    assert sizes and min(sizes) >= 32


def save_screenshots(driver: WebDriver) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "wallboard.png"))
    driver.find_element(By.ID, "agents").screenshot(str(SCREENSHOTS / "agent-list.png"))


def test_filters_and_kiosk_mode(fed_worker: tuple[Worker, Heartbeats], browser: WebDriver) -> None:
    worker, _ = fed_worker
    open_board(browser, worker, "?queue=support")
    wait_for(lambda: shown(browser, ".tile") == ["support"], 30, "only the support tile")
    # the agent list comes from its own request, which may answer after the queues' one
    wait_for(lambda: shown(browser, "#agent-list tr.agent") == ["a2"], 30, "the agents serving support")
    open_board(browser, worker, "?agent=a3,a1")
    wait_for(lambda: shown(browser, "#agent-list tr.agent") == ["a1", "a3"], 30, "only agents a1 and a3")
    assert shown(browser, ".tile") == ["sales", "support"]
    open_board(browser, worker, "?kiosk")
    wait_for(lambda: shown(browser, ".tile") == ["sales", "support"], 30, "the kiosk's tiles")
    for hidden in ("top", "agents", "legend"):
        assert not browser.find_element(By.ID, hidden).is_displayed(), hidden
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "kiosk.png"))


def test_no_data_without_the_right_credentials(
    fed_worker: tuple[Worker, Heartbeats], browser: WebDriver
) -> None:
    worker, _ = fed_worker
    for path in ("/", "/wallboard.js", "/wallboard.css", "/api/v1/queues", "/api/v1/agents", "/metrics"):
        assert worker.status(path, auth=False) == 401, path
        wrong = urllib.request.Request(f"http://127.0.0.1:{worker.port}{path}")
        wrong.add_header("Authorization", "Basic " + base64.b64encode(b"wallboard:guess").decode())
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wrong, timeout=5)
        assert refused.value.code == 401, path
    open_board(browser, worker, auth=False)
    time.sleep(2)
    assert "sales" not in browser.page_source and not browser.find_elements(By.CSS_SELECTOR, ".tile")
