"""Deployment settings, from environment variables (all documented in docs/configuration.md).

Metric definitions live in the TOML file (:mod:`metrics.settings`); where to find Kafka,
which ports to serve and where to keep data live here::

    deployment = Deployment.from_env(os.environ)
    deployment.kafka_servers          # "localhost:9092"
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
CALLS_TOPIC = "callcenter.calls"
AGENTS_TOPIC = "callcenter.agents"
REJECTED_TOPIC = "callcenter.rejected"


@dataclass(frozen=True)
class Deployment:
    """Where the worker runs and how it reaches Kafka. Field ``x`` is ``CCMETRICS_X``."""

    kafka_servers: str = "localhost:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    partitions: int = 4
    topic_prefix: str = ""  # e.g. "site1." to share one Kafka; the contract's names need none
    app_id: str = "ccmetrics"
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 6066
    metrics_username: str = ""  # set both to require HTTP basic auth on /metrics
    metrics_password: str = ""
    metrics_tls_certfile: str = ""  # set to serve /metrics over HTTPS
    metrics_tls_keyfile: str = ""
    data_dir: Path = Path("data")
    cold_cache_mb: int = 32  # memory for reading cold calls and visits, kept on disk in data_dir
    config: Path | None = None
    snapshot_interval_seconds: float = 1.0
    kafka_session_timeout_seconds: float = 10.0  # how soon a crashed worker's partitions move
    log_level: str = "info"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Deployment:
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(f"CCMETRICS_{field.name.upper()}")
            if raw is not None and raw != "":
                values[field.name] = _convert(field.name, str(field.type), raw)
        deployment = cls(**values)
        deployment.check()
        return deployment

    def check(self) -> None:
        if self.kafka_security_protocol not in PROTOCOLS:
            raise ValueError(f"CCMETRICS_KAFKA_SECURITY_PROTOCOL must be one of {PROTOCOLS}")
        if self.kafka_sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(f"CCMETRICS_KAFKA_SASL_MECHANISM must be one of {SASL_MECHANISMS}")
        if bool(self.metrics_username) != bool(self.metrics_password):
            raise ValueError("set both CCMETRICS_METRICS_USERNAME and CCMETRICS_METRICS_PASSWORD, or neither")

    @property
    def calls_topic(self) -> str:
        return self.topic_prefix + CALLS_TOPIC

    @property
    def agents_topic(self) -> str:
        return self.topic_prefix + AGENTS_TOPIC

    @property
    def rejected_topic(self) -> str:
        return self.topic_prefix + REJECTED_TOPIC

    def metrics_ssl_context(self) -> ssl.SSLContext | None:
        if not self.metrics_tls_certfile:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.metrics_tls_certfile, self.metrics_tls_keyfile or None)
        return context

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.kafka_security_protocol:
            return None
        context = ssl.create_default_context(cafile=self.kafka_ssl_cafile or None)
        if self.kafka_ssl_certfile:
            context.load_cert_chain(self.kafka_ssl_certfile, self.kafka_ssl_keyfile or None)
        return context

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka producers, consumers and admin clients."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if "SSL" in self.kafka_security_protocol:
            options["ssl_context"] = self.ssl_context()
        if "SASL" in self.kafka_security_protocol:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password
        return options


def _convert(name: str, kind: str, raw: str) -> Any:
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if "Path" in kind:
            return Path(raw)
        return raw
    except ValueError:
        raise ValueError(f"CCMETRICS_{name.upper()}={raw!r} is not a valid {kind}") from None
