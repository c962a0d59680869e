"""Nothing lost, nothing counted twice: duplicates, disorder, scale-out, broker restarts, crashes."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import orjson
import pytest

from tests.integration.conftest import Samples, Tenant, Worker, wait_for
from tests.integration.histories import (
    PIPELINE_ONLY,
    converges_to_replay,
    differences,
    is_agent_family,
    replay,
    simulated_lines,
    write,
)

pytestmark = pytest.mark.kafka


def shuffled_within_calls(lines: list[bytes], seed: int) -> list[bytes]:
    """Every event twice, and each call's events in a random order over the call's own slots."""
    rng = random.Random(seed)
    doubled = [line for line in lines for _ in range(2)]
    slots: dict[str, list[int]] = {}
    for index, line in enumerate(doubled):
        data = orjson.loads(line)["data"]
        slots.setdefault(data.get("call_id") or "agent:" + data["agent_id"], []).append(index)
    result = list(doubled)
    for key, positions in slots.items():
        if key.startswith("agent:"):
            continue  # an agent's states are a sequence in time; only calls are shuffled
        events = [doubled[i] for i in positions]
        rng.shuffle(events)
        for position, event in zip(positions, events, strict=True):
            result[position] = event
    return result


def test_duplicates_and_disorder_within_calls_change_nothing(tenant: Tenant, tmp_path: Path) -> None:
    clean = simulated_lines(minutes=20, seed=31)
    messy = write(tmp_path / "messy.jsonl", shuffled_within_calls(clean, seed=31))
    worker = tenant.start_worker()
    assert tenant.ccmetrics("publish", str(messy)).returncode == 0
    converges_to_replay(worker.scrape, [write(tmp_path / "clean.jsonl", clean)], ignore=PIPELINE_ONLY)


def queues_of(samples: Samples) -> set[str]:
    """The queues a worker exports (an agent family's queue label, as in ``callcenter_agent_queue_info``,
    names a queue its agent serves, not one the worker owns)."""
    return {
        dict(labels)["queue"]
        for (name, labels) in samples
        if "queue" in dict(labels) and not is_agent_family(name)
    }


def agents_of(samples: Samples) -> set[str]:
    return {dict(labels)["agent"] for (_, labels) in samples if "agent" in dict(labels)}


def owned_by_one_and_equal_to_replay(workers: list[Worker], files: list[Path]) -> list[str]:
    """Problems, if any: a queue exported twice or by none, or a value unlike the replay."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    seen_agents: dict[str, str] = {}
    for worker in workers:
        live = worker.scrape()
        agents = agents_of(live)
        problems += [f"agent {a} on {seen_agents[a]} and {worker.name}" for a in agents & seen_agents.keys()]
        seen_agents.update(dict.fromkeys(agents, worker.name))
        instant = live[("callcenter_snapshot_timestamp_seconds", ())]
        replayed = replay(files, instant)
        mine = queues_of(live)
        problems += [f"queue {q} on {seen[q]} and {worker.name}" for q in mine & seen.keys()]
        seen.update(dict.fromkeys(mine, worker.name))
        keep = {
            k
            for k in live.keys() | replayed.keys()
            if dict(k[1]).get("queue") in mine and not is_agent_family(k[0])
        }
        problems += differences(
            {k: live[k] for k in keep if k in live},
            {k: replayed[k] for k in keep if k in replayed},
            PIPELINE_ONLY,
        )
    expected = replay(files, time.time())
    problems += [f"queue {q} exported by no worker" for q in queues_of(expected) - seen.keys()]
    problems += [f"agent {a} exported by no worker" for a in agents_of(expected) - seen_agents.keys()]
    return problems


def settle(workers: list[Worker], files: list[Path], what: str) -> None:
    last: list[str] = []

    def ok() -> bool:
        nonlocal last
        last = owned_by_one_and_equal_to_replay(workers, files)
        return not last

    try:
        wait_for(ok, 120, what, every=1.0)
    except AssertionError:
        raise AssertionError("\n".join(last[:30])) from None


@pytest.mark.soak  # slow; showed the faust recovery hang (docs/architecture.md), passing since the workaround
def test_scale_out_and_in_keeps_each_queue_on_exactly_one_worker(tenant: Tenant, tmp_path: Path) -> None:
    lines = simulated_lines(minutes=20, seed=32)
    first, rest = write(tmp_path / "first.jsonl", lines[:500]), write(tmp_path / "rest.jsonl", lines[500:])
    one = tenant.start_worker("one")
    assert tenant.ccmetrics("publish", str(first)).returncode == 0
    settle([one], [first], "one worker alone")
    two = tenant.start_worker("two")
    assert tenant.ccmetrics("publish", str(rest)).returncode == 0
    settle([one, two], [first, rest], "two workers sharing the queues")
    one.stop(signal.SIGTERM)
    settle([two], [first, rest], "the second worker alone")


def test_the_worker_rides_out_a_broker_restart(tenant: Tenant, tmp_path: Path) -> None:
    lines = simulated_lines(minutes=20, seed=33)
    first, rest = write(tmp_path / "first.jsonl", lines[:500]), write(tmp_path / "rest.jsonl", lines[500:])
    worker = tenant.start_worker()
    assert tenant.ccmetrics("publish", str(first)).returncode == 0
    converges_to_replay(worker.scrape, [first], ignore=PIPELINE_ONLY)
    tenant.kafka.restart()
    assert tenant.ccmetrics("publish", str(rest)).returncode == 0
    converges_to_replay(worker.scrape, [first, rest], ignore=PIPELINE_ONLY, timeout=180)
    assert worker.process is not None and worker.process.poll() is None


@pytest.mark.soak  # slow; showed the same hang, passing since the workaround
@pytest.mark.parametrize("seed", [41, 42, 43, 44, 45])
def test_kill_9_at_a_random_point_loses_and_doubles_nothing(
    tenant: Tenant, tmp_path: Path, seed: int
) -> None:
    history = write(tmp_path / "history.jsonl", simulated_lines(minutes=30, seed=seed))
    worker = tenant.start_worker("victim")
    publishing = tenant.ccmetrics_background("publish", str(history))
    time.sleep(random.Random(seed).uniform(0.5, 4.0))  # somewhere mid-stream
    worker.stop(signal.SIGKILL)
    assert publishing.wait(120) == 0
    survivor = tenant.start_worker("survivor")
    # A killed member stays in the group until Kafka gives up on it, so now and then the
    # survivor waits out a rebalance before it gets every partition: allow for that.
    converges_to_replay(survivor.scrape, [history], ignore=PIPELINE_ONLY, timeout=180)
