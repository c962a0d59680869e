"""docker-compose.yml and the Dockerfile use the very files and versions the tests check.

Docker cannot run on the development machines, so these checks keep the compose stack
honest: every mounted file exists and is one the test suite exercises, and image versions
match the tools the tests run.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def services() -> dict[str, Any]:
    return dict(COMPOSE["services"])


def test_every_bind_mount_exists_in_the_repository() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts {source}, which is missing"


def test_prometheus_mounts_the_tested_config_and_rules() -> None:
    prometheus = services()["prometheus"]
    assert "./prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    targets = yaml.safe_load((REPO / "prometheus" / "targets" / "ccmetrics.json").read_text())
    assert targets[0]["targets"] == ["worker:6066"]


def test_images_match_the_versions_the_tests_use() -> None:
    promtool = subprocess.run(["promtool", "--version"], capture_output=True, text=True, check=True)
    tested = re.search(r"version (\d+\.\d+\.\d+)", promtool.stdout + promtool.stderr)
    assert tested and services()["prometheus"]["image"] == f"prom/prometheus:v{tested.group(1)}"
    pinned = re.search(r"grafana-foundation-sdk==\d+!(\d+\.\d+)", (REPO / "pyproject.toml").read_text())
    assert pinned and services()["grafana"]["image"].startswith(f"grafana/grafana:{pinned.group(1)}.")
    kafka_pom = (REPO / "kafka" / "pom.xml").read_text()
    assert f"<version>{services()['kafka']['image'].split(':')[1]}</version>" in kafka_pom


def test_the_worker_image_runs_as_a_non_root_user_on_the_contract_port() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") >= 2  # multi-stage: build tools stay out of the image
    assert re.search(r"^USER ccmetrics$", dockerfile, re.MULTILINE)
    assert "EXPOSE 6066" in dockerfile
    assert services()["worker"]["ports"] == ["6066:6066"]


def test_every_environment_variable_is_documented() -> None:
    from dataclasses import fields

    from stream.deploy import PREFIX, Deployment

    documented = (REPO / "docs" / "configuration.md").read_text()
    missing = [
        f"{PREFIX}{f.name.upper()}"
        for f in fields(Deployment)
        if f"`{PREFIX}{f.name.upper()}`" not in documented
    ]
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_compose_and_the_image_set_only_variables_the_worker_knows() -> None:
    from dataclasses import fields

    from stream.deploy import PREFIX, Deployment

    known = {f"{PREFIX}{f.name.upper()}" for f in fields(Deployment)}
    used = {name for service in services().values() for name in service.get("environment", {})}
    # the image's own stage: the build stage's variables never reach the worker
    image = (REPO / "Dockerfile").read_text().rsplit("\nFROM ", 1)[-1]
    used |= set(re.findall(rf"\b({PREFIX}[A-Z_]+)=", image))
    assert {name for name in used if name.startswith(PREFIX)} <= known  # the worker refuses unknown ones
