"""The worker's producer reaches the broker its consumer reaches: the same servers, security
and files, in librdkafka's names."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream.deploy import Deployment, DeploymentError
from tools.certs import make_pki


def test_plaintext_names_the_servers_and_the_protocol_only() -> None:
    config = Deployment(kafka_servers="a:9092,b:9092").librdkafka_config()
    assert config == {"bootstrap.servers": "a:9092,b:9092", "security.protocol": "PLAINTEXT"}


def test_sasl_over_tls_names_the_ca_the_client_certificate_and_the_credentials(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    deployment = Deployment(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="ccm",
        kafka_sasl_password="secret",
        kafka_ssl_cafile=str(pki.ca),
        kafka_ssl_certfile=str(pki.cert),
        kafka_ssl_keyfile=str(pki.key),
    )
    assert deployment.librdkafka_config() == {
        "bootstrap.servers": "localhost:9092",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(pki.ca),
        "ssl.certificate.location": str(pki.cert),
        "ssl.key.location": str(pki.key),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "ccm",
        "sasl.password": "secret",
    }


def test_tls_without_a_ca_file_trusts_the_systems_and_a_key_may_share_the_certificates_file(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    deployment = Deployment(kafka_security_protocol="SSL", kafka_ssl_certfile=str(pki.keystore))
    config = deployment.librdkafka_config()
    assert config["ssl.ca.location"] == "probe"
    assert config["ssl.certificate.location"] == config["ssl.key.location"] == str(pki.keystore)


def test_a_ca_file_that_is_not_pem_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(DeploymentError, match="CCMETRICS_KAFKA_SSL_CAFILE"):
        Deployment(kafka_security_protocol="SSL", kafka_ssl_cafile=str(bad)).librdkafka_config()
