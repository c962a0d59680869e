"""Deployment settings, from environment variables (all documented in docs/configuration.md).

Metric definitions live in the TOML file (:mod:`metrics.settings`); where to find Kafka,
which ports to serve and where to keep data live here::

    deployment = Deployment.from_env(os.environ)
    deployment.kafka_servers          # "localhost:9092"
"""

from __future__ import annotations

import dataclasses
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from stream.problems import UsageProblem

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
CALLS_TOPIC = "callcenter.calls"
AGENTS_TOPIC = "callcenter.agents"
REJECTED_TOPIC = "callcenter.rejected"
TLS_FILES = (
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
    "METRICS_TLS_CERTFILE",
    "METRICS_TLS_KEYFILE",
)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ALLOCATORS = ("auto", "jemalloc", "python")  # stream/allocator.py
PREFIX = "CCMETRICS_"


class DeploymentError(UsageProblem):
    """A ``CCMETRICS_*`` variable is not valid; the message names it and says what is expected."""


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
    cold_cache_mb: int = 8  # memory for reading cold calls and visits, kept on disk in data_dir
    config: Path | None = None
    snapshot_interval_seconds: float = 1.0
    wallboard_stale_seconds: float = 30.0  # the wallboard warns when the feed or worker is this quiet
    kafka_session_timeout_seconds: float = 10.0  # how soon a crashed worker's partitions move
    log_level: str = "info"
    allocator: str = "auto"  # stream/allocator.py: jemalloc where installed
    caller_hash_secret: str = dataclasses.field(default="", repr=False)  # set: repeat calls on

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Deployment:
        """The deployment the ``CCMETRICS_*`` variables describe; :class:`DeploymentError` if not valid."""
        known = {f"{PREFIX}{field.name.upper()}": field for field in fields(cls)}
        unknown = sorted(name for name in environ if name.startswith(PREFIX) and name not in known)
        if unknown:
            raise DeploymentError(f"unknown setting {unknown[0]}; docs/configuration.md lists them all")
        values: dict[str, Any] = {}
        for name, field in known.items():
            raw = environ.get(name)
            if raw is not None and raw != "":
                values[field.name] = _convert(name, str(field.type), raw)
        deployment = cls(**values)
        deployment.check()
        return deployment

    @property
    def caller_secret(self) -> bytes | None:
        """The key of the callers' HMAC; ``None``: repeat calls are off and callers are dropped."""
        return self.caller_hash_secret.encode() or None

    def check(self) -> None:
        """Raise :class:`DeploymentError` for the first setting that is not valid."""
        _one_of("KAFKA_SECURITY_PROTOCOL", self.kafka_security_protocol, PROTOCOLS)
        _one_of("KAFKA_SASL_MECHANISM", self.kafka_sasl_mechanism, SASL_MECHANISMS)
        _one_of("LOG_LEVEL", self.log_level, LOG_LEVELS)
        _one_of("ALLOCATOR", self.allocator, ALLOCATORS)
        _at_least("PARTITIONS", self.partitions, 1)
        _at_least("COLD_CACHE_MB", self.cold_cache_mb, 1)
        if not 1 <= self.metrics_port <= 65535:
            raise DeploymentError(f"{PREFIX}METRICS_PORT must be a port number from 1 to 65535")
        _at_least("SNAPSHOT_INTERVAL_SECONDS", self.snapshot_interval_seconds, 0.01)
        _at_least("KAFKA_SESSION_TIMEOUT_SECONDS", self.kafka_session_timeout_seconds, 1.0)
        _at_least("WALLBOARD_STALE_SECONDS", self.wallboard_stale_seconds, 2.0)
        _paired("METRICS_USERNAME", self.metrics_username, "METRICS_PASSWORD", self.metrics_password)
        _paired(
            "METRICS_TLS_CERTFILE", self.metrics_tls_certfile, "METRICS_TLS_KEYFILE", self.metrics_tls_keyfile
        )
        if "SASL" in self.kafka_security_protocol or self.kafka_sasl_username or self.kafka_sasl_password:
            _paired(
                "KAFKA_SASL_USERNAME",
                self.kafka_sasl_username,
                "KAFKA_SASL_PASSWORD",
                self.kafka_sasl_password,
            )
        self._check_files()

    def _check_files(self) -> None:
        """Each TLS file exists and holds what it should (loaded once here to say so early)."""
        for name in TLS_FILES:
            _readable_file(name, getattr(self, name.lower()))
        self.ssl_context()
        self.metrics_ssl_context()

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
        _load_chain(context, "METRICS_TLS", self.metrics_tls_certfile, self.metrics_tls_keyfile)
        return context

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.kafka_security_protocol:
            return None
        try:
            context = ssl.create_default_context(cafile=self.kafka_ssl_cafile or None)
        except ssl.SSLError as error:
            raise DeploymentError(
                f"{PREFIX}KAFKA_SSL_CAFILE={self.kafka_ssl_cafile}: not PEM certificates ({error.reason})"
            ) from None
        if self.kafka_ssl_certfile:
            _load_chain(context, "KAFKA_SSL", self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
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

    def librdkafka_config(self) -> dict[str, Any]:
        """Settings for librdkafka's producer (:mod:`stream.direct_producer`): the same broker,
        security and files as :meth:`aiokafka_options` (whose SSL context checks the files)."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.kafka_servers,
            "security.protocol": self.kafka_security_protocol,
        }
        if "SSL" in self.kafka_security_protocol:
            self.ssl_context()  # a clear error here for files that are not PEM
            config["ssl.ca.location"] = self.kafka_ssl_cafile or "probe"  # probe: the system's CAs
            if self.kafka_ssl_certfile:
                config["ssl.certificate.location"] = self.kafka_ssl_certfile
                config["ssl.key.location"] = self.kafka_ssl_keyfile or self.kafka_ssl_certfile
        if "SASL" in self.kafka_security_protocol:
            config["sasl.mechanism"] = self.kafka_sasl_mechanism
            config["sasl.username"] = self.kafka_sasl_username
            config["sasl.password"] = self.kafka_sasl_password
        return config


def _convert(name: str, kind: str, raw: str) -> Any:
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
    except ValueError:
        expected = "a whole number" if kind == "int" else "a number"
        raise DeploymentError(f"{name}={raw!r} is not {expected}") from None
    return Path(raw) if "Path" in kind else raw


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DeploymentError(f"{PREFIX}{name}={value!r} must be one of {', '.join(allowed)}")


def _at_least(name: str, value: float, least: float) -> None:
    if value < least:
        raise DeploymentError(f"{PREFIX}{name}={value} must be at least {least}")


def _paired(name: str, value: str, other_name: str, other: str) -> None:
    if bool(value) != bool(other):
        raise DeploymentError(f"set both {PREFIX}{name} and {PREFIX}{other_name}, or neither")


def _readable_file(name: str, path: str) -> None:
    if path and not Path(path).is_file():
        raise DeploymentError(f"{PREFIX}{name}={path}: no such file")


def _load_chain(context: ssl.SSLContext, prefix: str, certfile: str, keyfile: str) -> None:
    try:
        context.load_cert_chain(certfile, keyfile or None)
    except (ssl.SSLError, OSError) as error:
        raise DeploymentError(
            f"{PREFIX}{prefix}_CERTFILE={certfile}, {PREFIX}{prefix}_KEYFILE={keyfile or '(none)'}: "
            f"not a PEM certificate and its key ({getattr(error, 'reason', None) or error})"
        ) from None
