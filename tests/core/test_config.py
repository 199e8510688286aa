"""dbt_sync.yml: env_var rendering like dbt's profiles.yml, validation, secret registration."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync import secrets
from dbt_sync.errors import ConfigError
from dbt_sync.project.config import load_config, render_document


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


RENDERED = """
destinations:
  hs:
    type: hubspot
    access_token: pat-na1-abc123
    host: "{{ VALUE }}"
"""


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        # env_var() gives text; only a filter makes it something else (dbt's native rendering)
        ("{{ env_var('N') }}", "5", "5"),
        ("{{ env_var('N') | as_number }}", "5", 5),
        ("{{ env_var('N') | as_number }}", "2.5", 2.5),
        ("{{ env_var('N') | as_number }}", "1e3", 1000.0),
        ("{{ env_var('N') | as_text }}", "5", "5"),
        ("{{ env_var('N') | as_bool }}", "True", True),
        ("{{ env_var('N') | as_bool }}", "False", False),
        ("{{ env_var('N') | as_native }}", "[1, 'a']", [1, "a"]),
        ("{{ env_var('N') | as_native }}", "{'k': 2}", {"k": 2}),
        ("{{ env_var('N') | as_native }}", "None", None),
        ("{{ env_var('N') | as_native }}", "not a literal", "not a literal"),  # stays text, as in dbt
        # several output nodes join into text, filter or not
        ("{{ env_var('N') | as_number }} rows", "5", "5 rows"),
        (" {{ env_var('N') | as_number }}", "5", " 5"),
        ("{{ env_var('N') | as_number }}{{ env_var('N') | as_number }}", "5", "55"),
        # jinja folds a constant expression into text, as in dbt
        ("{{ 1 + 1 }}", "", "2"),
        ("{# a comment #}", "", ""),
    ],
)
def test_settings_render_as_dbt_renders_profiles_yml(
    tmp_path: Path, template: str, env: str, expected: object
) -> None:
    """dbt_common.clients.jinja's native rendering (NATIVE_FILTERS, quoted_native_concat), setting by setting."""
    value = render_document({"a": {"b": template}}, tmp_path / "dbt_sync.yml", {"N": env})["a"]["b"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("template", "env", "message"),
    [
        # dbt's as_bool reads Python's True/False (ast.literal_eval), not YAML's true
        ("{{ env_var('N') | as_bool }}", "true",
         "destinations.hs.host: as_bool cannot read 'true': it takes True or False"),
        ("{{ env_var('N') | as_bool }}", "1", "as_bool cannot read '1'"),
        ("{{ env_var('N') | as_number }}", "lots", "as_number cannot read 'lots': it takes an integer or a decimal"),
        ("{{ env_var('N') | as_number }}", "True", "as_number cannot read 'True'"),
        ("{{ env_var('N') | as_number }}", "[1]", "as_number cannot read '[1]'"),
    ],
)
def test_filters_refuse_what_dbt_refuses(tmp_path: Path, template: str, env: str, message: str) -> None:
    write(tmp_path, RENDERED.replace("{{ VALUE }}", template))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={"N": env})
    assert message in str(info.value)


def test_every_dbt_env_secret_value_is_masked_used_or_not(tmp_path: Path) -> None:
    """dbt scrubs the value of every DBT_ENV_SECRET* variable from its output, whether or not it is read."""
    write(tmp_path, RENDERED.replace("{{ VALUE }}", "https://{{ env_var('DBT_ENV_SECRET_HOST') | replace('-', '.') }}"))
    cfg = load_config(tmp_path, environ={
        "DBT_ENV_SECRET_HOST": "api-xyz-example", "DBT_ENV_SECRET_UNUSED": "s3cr3t-v4l",
        "DBT_ENV_SECRETS_TOO": "prefix-w1thout-underscore", "OTHER": "plain-v4lue",
    })
    assert cfg.destinations["hs"].settings["host"] == "https://api.xyz.example"
    text = secrets.redact("https://api.xyz.example api-xyz-example s3cr3t-v4l prefix-w1thout-underscore plain-v4lue")
    assert text == "**** **** **** **** plain-v4lue"
    # echoed back escaped (a JSON error body, a URL) it is masked as well
    assert secrets.redact('{"msg": "s3cr3t-v4l"} /x?q=S3CR3T-V4L') == '{"msg": "****"} /x?q=****'


def test_a_filter_error_on_a_secret_does_not_quote_it(tmp_path: Path) -> None:
    write(tmp_path, RENDERED.replace("{{ VALUE }}", "{{ env_var('DBT_ENV_SECRET_N') | lower | as_number }}"))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={"DBT_ENV_SECRET_N": "Not-A-Number-42"})
    assert "not-a-number-42" not in str(info.value).lower()
    assert "as_number cannot read the value of a secret environment variable (not shown)" in str(info.value)


FILTERS = st.sampled_from(["", " | as_number", " | as_bool", " | as_native", " | as_text", " | upper"])
VALUES = st.sampled_from(
    ["5", "2.5", "1e3", "True", "false", "[1, 'a']", "{'k': 2}", "None", "x y", "", " 7 ", "0x1F", "1_000", "'quoted'"]
) | st.text(alphabet="0123456789.eE+-TrueFalsn[]{}', ", max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(
        st.one_of(
            st.builds(lambda f: "{{ env_var('N')" + f + " }}", FILTERS),
            st.builds(lambda f: "{{ env_var('UNSET', '3')" + f + " }}", FILTERS),
            st.sampled_from(["text", " ", "{# c #}"]),
        ),
        min_size=1, max_size=3,
    ),
    value=VALUES,
)
def test_rendering_agrees_with_dbts_own_renderer(tmp_path: Path, parts: list[str], value: str) -> None:
    """Whatever the template, dbt_sync.yml gives what dbt gives for the same profiles.yml value (or both refuse)."""
    from dbt.clients.jinja import get_rendered
    from dbt_common.context import set_invocation_context

    template = "".join(parts)
    set_invocation_context({"N": value})
    context = {"env_var": lambda name, default=None: {"N": value}.get(name, default)}
    try:
        expected: object = get_rendered(template, context, native=True)
        if isinstance(expected, str):
            expected = str(expected)  # dbt hands back its marker (a str subclass) for text a filter left alone
    except Exception:
        expected = ConfigError
    try:
        got: object = render_document({"k": template}, tmp_path / "dbt_sync.yml", {"N": value})["k"]
    except ConfigError:
        got = ConfigError
    assert got == expected and type(got) is type(expected), (template, value)
