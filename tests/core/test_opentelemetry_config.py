"""``opentelemetry:`` in dbt_sync.yml: read into the typed config, its header values secret, mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_sync import secrets
from dbt_sync.errors import ConfigError
from dbt_sync.project.config import load_config


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "dbt_sync.yml").write_text("version: 1\nopentelemetry:\n" + body)
    return tmp_path


def test_the_settings_are_read_and_header_values_are_secret(tmp_path: Path) -> None:
    key = "collector-key-7f3a91"
    config = load_config(write(tmp_path, f"""\
  endpoint: "{{{{ env_var('OTEL_TEST_URL', 'https://otel.example.com:4318') }}}}"
  headers: {{x-api-key: "{key}"}}
  timeout_seconds: 2.5
"""), environ={})
    assert config.opentelemetry == {"endpoint": "https://otel.example.com:4318", "headers": {"x-api-key": key},
                                    "timeout_seconds": 2.5}
    assert secrets.redact(f"refused {key}") == f"refused {secrets.MASK}"


def test_no_section_is_an_empty_mapping(tmp_path: Path) -> None:
    (tmp_path / "dbt_sync.yml").write_text("version: 1\n")
    assert load_config(tmp_path, environ={}).opentelemetry == {}


def test_mistakes_are_named_with_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, "  endpoint: ftp://collector\n  timeout_seconds: 0\n  endpont: x\n"), environ={})
    message = str(raised.value)
    assert "opentelemetry.endpoint: expected an http:// or https:// URL, got 'ftp://collector'." in message
    assert "opentelemetry.timeout_seconds: expected a positive number of seconds, got 0." in message
    assert "opentelemetry.endpont: unknown key. Did you mean 'endpoint'?" in message


def test_an_endpoint_from_an_unset_variable_with_an_empty_default_is_no_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``endpoint: "{{ env_var('OTEL_COLLECTOR_URL', '') }}"`` (the file's usual way to make a setting optional)
    stopped every command with ``expected an http:// or https:// URL, got ''``: empty is unset, nothing exported."""
    from dbt_sync import telemetry

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", *telemetry.SIGNAL_ENDPOINT_ENV.values()):
        monkeypatch.delenv(name, raising=False)
    body = "  endpoint: \"{{ env_var('OTEL_COLLECTOR_URL', '') }}\"\n  timeout_seconds: 2\n"
    config = load_config(write(tmp_path, body), environ={})
    assert config.opentelemetry == {"timeout_seconds": 2}
    assert telemetry.start(config.opentelemetry) is telemetry.DISABLED
    set_ = load_config(write(tmp_path, body), environ={"OTEL_COLLECTOR_URL": "http://127.0.0.1:4318"})
    assert set_.opentelemetry["endpoint"] == "http://127.0.0.1:4318"
