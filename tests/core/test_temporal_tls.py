"""core/temporal.py: what `Client.connect(tls=...)` gets from the TEMPORAL_TLS_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from core.settings import ConfigurationError, Settings
from core.temporal import tls_config

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_plain_grpc_by_default_and_system_roots_with_an_api_key() -> None:
    assert tls_config(settings()) is False
    assert tls_config(settings(temporal_api_key="key")) is True
    assert tls_config(settings(temporal_tls=True)) is True


def test_mtls_reads_the_pem_files(tmp_path: Path) -> None:
    for name in ("client.pem", "client.key", "ca.pem"):
        (tmp_path / name).write_bytes(PEM)
    config = tls_config(
        settings(
            temporal_tls_cert=tmp_path / "client.pem",
            temporal_tls_key=tmp_path / "client.key",
            temporal_tls_ca=tmp_path / "ca.pem",
            temporal_tls_server_name="ns.acct.tmprl.cloud",
        )
    )
    assert isinstance(config, TLSConfig)
    assert config.client_cert == config.client_private_key == config.server_root_ca_cert == PEM
    assert config.domain == "ns.acct.tmprl.cloud"


def test_a_missing_or_wrong_file_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(PEM)
    missing = settings(
        temporal_tls_cert=tmp_path / "nope.pem", temporal_tls_key=tmp_path / "key.pem"
    )
    with pytest.raises(ConfigurationError) as info:
        tls_config(missing)
    assert str(info.value).startswith("invalid configuration: TEMPORAL_TLS_CERT: cannot read ")
    assert "\n" not in str(info.value)

    (tmp_path / "ca.txt").write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"TEMPORAL_TLS_CA: .* is not a PEM file"):
        tls_config(settings(temporal_tls_ca=tmp_path / "ca.txt"))
