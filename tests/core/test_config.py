"""dbt_sync.yml: env_var rendering like dbt's profiles.yml, validation, secret registration."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from dbt_sync import secrets
from dbt_sync.errors import ConfigError
from dbt_sync.project.config import load_config


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "dbt_sync.yml").write_text(text)
    return tmp_path


def test_env_var_with_and_without_default(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
destinations:
  hs:
    type: hubspot
    access_token: "{{ env_var('HS_TOKEN') }}"
    host: "{{ env_var('HS_HOST', 'https://api.hubapi.com') }}"
    tier: "{{ env_var('HS_TIER', 'starter') | lower }}"
""",
    )
    cfg = load_config(tmp_path, environ={"HS_TOKEN": "pat-na1-abc123", "HS_TIER": "PROFESSIONAL"})
    settings = cfg.destinations["hs"].settings
    assert settings["access_token"] == "pat-na1-abc123"
    assert settings["host"] == "https://api.hubapi.com"
    assert settings["tier"] == "professional"


def test_as_number_as_bool_and_as_native_filters_as_in_profiles_yml(tmp_path: Path) -> None:
    """dbt_sync.yml is rendered like profiles.yml, so dbt's type filters work: a number read from the
    environment used to stay a string ("'bulk_threshold' must be a number >= 1 (got str)")."""
    write(
        tmp_path,
        """
destinations:
  sf:
    type: salesforce
    auth: session
    session_id: "{{ env_var('SF_SID') }}"
    instance_url: https://acme.my.salesforce.com
    bulk_threshold: "{{ env_var('SF_BULK', '2000') | as_number }}"
    timeout: "{{ env_var('SF_TIMEOUT', '30.5') | as_number }}"
  hs:
    type: hubspot
    access_token: "{{ env_var('HS_TOKEN') }}"
    rate_limit: "{{ env_var('HS_RATE') | as_native }}"
""",
    )
    cfg = load_config(tmp_path, environ={"SF_SID": "00D!x", "SF_BULK": "5000", "HS_TOKEN": "pat-na1-abc123",
                                         "HS_RATE": "150"})
    assert cfg.destinations["sf"].settings["bulk_threshold"] == 5000
    assert cfg.destinations["sf"].settings["timeout"] == 30.5
    assert cfg.destinations["hs"].settings["rate_limit"] == 150
    with pytest.raises(ConfigError, match=r"destinations\.sf\.bulk_threshold: as_number cannot read 'lots'"):
        load_config(tmp_path, environ={"SF_SID": "00D!x", "SF_BULK": "lots", "HS_TOKEN": "t", "HS_RATE": "1"})


def test_missing_env_var_names_variable_file_and_path(tmp_path: Path) -> None:
    write(tmp_path, "destinations:\n  sf:\n    type: salesforce\n    password: \"{{ env_var('SF_PASSWORD') }}\"\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    message = str(info.value)
    assert "destinations.sf.password" in message
    assert "environment variable 'SF_PASSWORD' is not set" in message
    assert str(tmp_path / "dbt_sync.yml") in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("destinations: [1, 2]", "destinations: expected a mapping of name -> settings."),
        (
            "destinations:\n  x:\n    type: salesfroce\n",
            "destinations.x.type: 'salesfroce' is not supported. Did you mean 'salesforce'?",
        ),
        ("destinatons: {}\n", "destinatons: unknown key. Did you mean 'destinations'?"),
        ("version: 2\n", "version: 2 is not supported; use 1."),
        (
            "channels:\n  c:\n    type: pager\n",
            "channels.c.type: 'pager' is not supported. Allowed: email, slack, webhook.",
        ),
        (
            "defaults:\n  delete_treshold: 3\n",
            "defaults.delete_treshold: unknown key. Did you mean 'delete_threshold'?",
        ),
        (
            "defaults:\n  alerts: {failed_shares: 0.1}\n",
            "defaults.alerts.failed_shares: unknown key. Did you mean 'failed_share'?",
        ),
        ("defaults:\n  alerts: {channels: [pager]}\n", "defaults.alerts.channels[0]: unknown channel 'pager'."),
        ("destinations: {a: {type: hubspot, x: '{{ oops( }}'}}", "destinations.a.x: cannot render template"),
        ("a: [unclosed", "not valid YAML"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert expected in str(info.value)


def test_missing_and_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no dbt-sync config found"):
        load_config(tmp_path)
    assert load_config(tmp_path, required=False).path is None
    (tmp_path / "dbt_sync.yml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_config_path_from_flag_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.yml"
    other.write_text("destinations: {hs: {type: hubspot, access_token: t0ken-flag}}")
    assert "hs" in load_config(tmp_path, explicit=other).destinations
    monkeypatch.setenv("DBT_SYNC_CONFIG", str(other))
    assert load_config(tmp_path).path == other


def test_secrets_are_registered_and_redacted_in_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(
        tmp_path,
        """
destinations:
  sf:
    type: salesforce
    auth: password
    username: ops@example.com
    password: "{{ env_var('P') }}"
    security_token: tok-9876
channels:
  slack: {type: slack, webhook_url: "https://hooks.slack.invalid/T000/B000/XXXXSECRET"}
""",
    )
    load_config(tmp_path, environ={"P": "hunter2-horse"})
    text = "login failed for hunter2-horsetok-9876 via https://hooks.slack.invalid/T000/B000/XXXXSECRET"
    redacted = secrets.redact(text)
    assert "hunter2" not in redacted and "tok-9876" not in redacted and "XXXXSECRET" not in redacted
    logger = logging.getLogger("dbt_sync.test")
    handler = logging.StreamHandler()
    handler.addFilter(secrets.RedactingFilter())
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="dbt_sync.test"):
            caplog.handler.addFilter(secrets.RedactingFilter())
            logger.info("token is %s", "tok-9876")
        assert "tok-9876" not in caplog.text and "****" in caplog.text
        # tracebacks are rendered after the message: the formatter masks them too
        formatter = secrets.RedactingFormatter("%(message)s")
        try:
            raise RuntimeError("server said: bad token tok-9876")
        except RuntimeError:
            record = logger.makeRecord("t", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
        rendered = formatter.format(record)
        assert "Traceback" in rendered and "tok-9876" not in rendered
    finally:
        logger.removeHandler(handler)


CHANNEL_CONFIG = """
destinations:
  hs: {type: hubspot, access_token: "{{ env_var('HS_TOKEN') }}"}
channels:
  data_team:
    type: slack
    webhook_url: "{{ env_var('SLACK_WEBHOOK_URL') }}"
"""


def test_channel_env_var_is_needed_only_to_send(tmp_path: Path) -> None:
    """Regression: the README's Slack channel made `validate` fail where SLACK_WEBHOOK_URL is unset."""
    from dbt_sync.alerts.channels.base import with_retries
    from dbt_sync.project.config import UnsetEnvVar

    write(tmp_path, CHANNEL_CONFIG)
    cfg = load_config(tmp_path, environ={"HS_TOKEN": "pat-na1-abc123"})
    channel = cfg.channels["data_team"]
    assert isinstance(channel.settings["webhook_url"], UnsetEnvVar)
    sent: list[int] = []
    delivery = with_retries(channel, lambda: sent.append(1), sleep=lambda s: None)
    assert delivery.status == "failed" and sent == []
    assert "channels.data_team.webhook_url: environment variable 'SLACK_WEBHOOK_URL' is not set" in (
        delivery.error or "")
    # destinations still need theirs when the file is read
    with pytest.raises(ConfigError, match=r"destinations\.hs\.access_token: environment variable 'HS_TOKEN'"):
        load_config(tmp_path, environ={"SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/x"})


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("{type: slack}", "channels.c: a channel of type slack needs webhook_url."),
        ("{type: webhook, secret: s}", "channels.c: a channel of type webhook needs url."),
        ("{type: email, host: smtp.example.com}", "channels.c: a channel of type email needs from, to."),
        ("{type: \"{{ env_var('KIND') }}\", url: x}", "channels.c.type:"),
    ],
)
def test_channels_are_checked_for_shape_when_read(tmp_path: Path, channel: str, message: str) -> None:
    write(tmp_path, f"channels:\n  c: {channel}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={})
    assert message in str(info.value)
