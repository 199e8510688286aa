"""`dbt-sync validate` refuses everything `run` would, at once, naming the file and the yaml path.

Each named example was once accepted by `validate` and refused later (at
the first login, the first write, when an alert fired, or by `plan`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dbt_sync import secrets
from dbt_sync.cli import main
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync

LOC = "models/schema.yml: dim_contacts.config.meta.dbt_sync"

CONFIG: dict[str, Any] = {
    "version": 1,
    "destinations": {
        "salesforce": {"type": "salesforce", "auth": "session", "session_id": "00Dtest!secret",
                       "instance_url": "https://example.my.salesforce.com"},
        "hubspot": {"type": "hubspot", "access_token": "pat-na1-secret"},
    },
    "channels": {
        "ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"},
        "mail": {"type": "email", "host": "smtp.example.com", "from": "a@example.com", "to": "b@example.com"},
    },
}


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def validate(root: Path, config: dict[str, Any] | None = None, syncs: Any = None) -> tuple[int, str]:
    b = ProjectBuilder(root)
    b.write_config(yaml.safe_dump(config if config is not None else CONFIG))
    b.model("dim_contacts", syncs if syncs is not None else [sf_sync("contacts_sf"), hs_sync("contacts_hs")])
    b.write()
    result = CliRunner().invoke(main, ["validate", "--project-dir", str(root)], catch_exceptions=False)
    return result.exit_code, result.output


def changed(path: str, value: Any) -> dict[str, Any]:
    """CONFIG with the key at ``path`` (dots) set to ``value``."""
    config = copy.deepcopy(CONFIG)
    *parents, key = path.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[key] = value
    return config


def test_baseline_config_is_valid(tmp_path: Path) -> None:
    assert validate(tmp_path) == (0, "OK: 2 sync(s) in 1 model(s) are valid.\n")


def test_salesforce_auth_typo_pasword_is_refused(tmp_path: Path) -> None:
    code, out = validate(tmp_path, changed("destinations.salesforce.auth", "pasword"))
    assert code == 2
    assert "dbt_sync.yml: invalid dbt-sync config: destinations.salesforce.auth: 'pasword' is not allowed. " \
           "Did you mean 'password'? Allowed: password, client_credentials, jwt, session." in out


def test_hubspot_key_typo_acess_token_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    config = changed("destinations.hubspot.acess_token", "pat-na1-other")
    del config["destinations"]["hubspot"]["access_token"]
    code, out = validate(tmp_path, config)
    assert code == 2
    assert "destinations.hubspot.acess_token: unknown key. Did you mean 'access_token'?" in out
    assert "pat-na1-other" not in out


def test_hubspot_tier_typo_profesional_is_refused(tmp_path: Path) -> None:
    code, out = validate(tmp_path, changed("destinations.hubspot.tier", "profesional"))
    assert code == 2
    assert "destinations.hubspot.tier: 'profesional' is not allowed. Did you mean 'professional'?" in out


def test_email_security_typo_startls_is_refused_when_read(tmp_path: Path) -> None:
    code, out = validate(tmp_path, changed("channels.mail.security", "startls"))
    assert code == 2
    assert "channels.mail.security: 'startls' is not allowed. Did you mean 'starttls'? " \
           "Allowed: starttls, tls, none." in out


def test_email_key_typo_hots_is_refused_when_read(tmp_path: Path) -> None:
    code, out = validate(tmp_path, changed("channels.mail.hots", "smtp.example.com"))
    assert code == 2
    assert "channels.mail.hots: unknown key. Did you mean 'host'?" in out


def test_depends_on_cycle_is_refused_by_validate(tmp_path: Path) -> None:
    code, out = validate(tmp_path, syncs=[sf_sync("contacts_sf", depends_on=["contacts_hs"]),
                                          hs_sync("contacts_hs", depends_on=["contacts_sf"])])
    assert code == 2
    assert "syncs depend on each other in a cycle: contacts_hs -> contacts_sf -> contacts_hs (" in out
    assert "contacts_sf lists contacts_hs in depends_on" in out


def test_channel_typo_in_a_sync_is_refused(tmp_path: Path) -> None:
    code, out = validate(tmp_path, syncs=sf_sync("contacts_sf", alerts={"channels": ["opz"]}))
    assert code == 2
    assert f"{LOC}.alerts.channels[0]: unknown channel 'opz'. Did you mean 'ops'?" in out


@pytest.mark.parametrize(("options", "expected"), [
    ({"all_or_nothing": True}, ".options: unknown option(s) all_or_nothing for a Salesforce destination. "
                               "Did you mean 'all_or_none'?"),
    ({"all_or_none": "yes"}, ".options.all_or_none: expected true or false, got 'yes'."),
    ({"lookup_relationships": ["Account"]}, ".options.lookup_relationships: expected a mapping."),
    ({"bulk_threshold": "lots"}, ".options.bulk_threshold: 'bulk_threshold' must be a number >= 1"),
], ids=["key", "all_or_none", "lookup_relationships", "bulk_threshold"])
def test_sync_options_are_checked_by_validate_not_at_the_first_write(
    tmp_path: Path, options: dict[str, Any], expected: str
) -> None:
    code, out = validate(tmp_path, syncs=sf_sync("contacts_sf", options=options))
    assert code == 2
    assert LOC + expected in out


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    config = changed("destinations.hubspot.tier", "profesional")
    config["destinations"]["salesforce"]["auth"] = "pasword"
    config["channels"]["mail"]["security"] = "startls"
    config["channels"]["ops"]["urll"] = "x"
    code, out = validate(tmp_path, config)
    assert code == 2
    for path in ("destinations.salesforce.auth", "destinations.hubspot.tier", "channels.mail.security",
                 "channels.ops.urll"):
        assert f"  - {path}: " in out, path


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("channels.mail.port", "smtp", "channels.mail.port: expected a number >= 0, got 'smtp'."),
    ("channels.mail.to", {"a": 1}, "channels.mail.to: expected an address or a list of addresses"),
    ("channels.ops.headers", ["X-Team"], "channels.ops.headers: expected a mapping."),
    ("channels.ops.verify_tls", "no", "channels.ops.verify_tls: expected true or false, got 'no'."),
    ("destinations.salesforce.api_version", "v59", "destinations.salesforce: 'api_version' must look like '59.0'"),
    ("destinations.hubspot.rate_limit", 0, "destinations.hubspot.rate_limit:"),
    # found by test_validate_agrees_with_run: each failed only when an alert was sent, or at the first login
    ("channels.mail.port", None, "channels.mail.port: expected a number >= 0, got None."),
    ("channels.ops.timeout_seconds", 0, "channels.ops.timeout_seconds: expected a number of seconds > 0, got 0."),
    ("channels.ops.url", "127.0.0.1:9/hook", "channels.ops.url: expected an http:// or https:// URL"),
    ("channels.mail.host", "smtp..example.com", "channels.mail.host: expected a host name or an IP address"),
    ("channels.ops.ca_bundle", "/no/such/ca.pem", "channels.ops.ca_bundle: expected the path of an existing file"),
    ("destinations.salesforce.ca_bundle", "/no/such/ca.pem", "destinations.salesforce.ca_bundle: expected the path"),
], ids=["port", "to", "headers", "verify_tls", "api_version", "rate_limit", "port_null", "timeout_zero", "url",
        "host", "channel_ca_bundle", "salesforce_ca_bundle"])
def test_values_run_would_refuse_are_refused_when_read(tmp_path: Path, path: str, value: Any, expected: str) -> None:
    code, out = validate(tmp_path, changed(path, value))
    assert code == 2
    assert expected in out


def test_a_secret_url_is_not_echoed_when_it_is_no_url(tmp_path: Path) -> None:
    config = changed("channels.slack", {"type": "slack", "webhook_url": "hooks.slack.invalid/T0SECRET"})
    code, out = validate(tmp_path, config)
    assert code == 2
    assert "channels.slack.webhook_url: expected an http:// or https:// URL, got a secret." in out
    assert "T0SECRET" not in out


def test_a_secret_is_not_echoed_in_a_type_error(tmp_path: Path) -> None:
    code, out = validate(tmp_path, changed("destinations.hubspot.access_token", 123456789012))
    assert code == 2
    assert "destinations.hubspot.access_token: expected a string, got a secret." in out
    assert "123456789012" not in out


def test_config_and_spec_problems_are_reported_together(tmp_path: Path) -> None:
    code, out = validate(tmp_path, changed("channels.mail.security", "startls"),
                         syncs=sf_sync("contacts_sf", mode="upsret"))
    assert code == 2
    assert "channels.mail.security: 'startls' is not allowed." in out
    assert f"{LOC}.mode: 'upsret' is not a mode. Did you mean 'upsert'?" in out


@pytest.mark.parametrize(("sync", "expected"), [
    (sf_sync("contacts_sf", fields={"External_Id__c": "id", "AccountId": {"lookup": {
        "object": "Account", "match": "External_Id__c", "column": "account_id", "relationship": 5}}}),
     f"{LOC}.fields.AccountId.lookup.relationship: expected the relationship name"),
    (hs_sync("contacts_hs", associations=[{"to": "companies", "column": "account_id", "label": ["Billing"]}]),
     f"{LOC}.associations[0].label: expected the association label's name"),
], ids=["lookup_relationship", "association_label"])
def test_spec_values_read_only_when_sending_are_checked_by_validate(tmp_path: Path, sync: Any, expected: str) -> None:
    code, out = validate(tmp_path, syncs=sync)
    assert code == 2
    assert expected in out


@pytest.mark.parametrize("env_name", ["DBT_SYNC_SF_PASSWORD", "DBT_ENV_SECRET_HUBSPOT", "MY_API_TOKEN"])
@pytest.mark.parametrize("path", ["destinations.salesforce.auth", "destinations.hubspot.tier"])
def test_a_secret_env_var_under_the_wrong_key_is_not_echoed(tmp_path: Path, env_name: str, path: str) -> None:
    """A secret-named variable (dbt's DBT_ENV_SECRET_*, or *_PASSWORD/_TOKEN/_SECRET/_KEY) is masked wherever
    a mistake puts it; so is a secret key's value quoted under another key."""
    value = "Zq8" + "x7Kp2mW9"
    b = ProjectBuilder(tmp_path)
    b.write_config(yaml.safe_dump(changed(path, "{{ env_var('" + env_name + "') }}")))
    b.model("dim_contacts", [sf_sync("contacts_sf"), hs_sync("contacts_hs")])
    b.write()
    result = CliRunner().invoke(main, ["validate", "--project-dir", str(tmp_path)], env={env_name: value},
                                catch_exceptions=False)
    assert result.exit_code == 2 and path in result.output, result.output
    assert value not in result.output, result.output

    secrets.clear()
    reused = changed(path, "pat-na1-secret")  # the HubSpot access token's value, under a key that refuses it
    code, out = validate(tmp_path, reused)
    assert code == 2 and path in out, out
    assert "pat-na1-secret" not in out, out


def test_depends_on_a_sync_with_its_own_problem_is_not_called_unknown(tmp_path: Path) -> None:
    """Regression: a sync with any error of its own was reported as missing by every depends_on naming it."""
    broken = sf_sync("contacts_sf", options={"bulk_threshold": "lots"})
    code, out = validate(tmp_path, syncs=[broken, hs_sync("contacts_hs", depends_on=["contacts_sf"])])
    assert code == 2 and "dbt_sync[0].options.bulk_threshold" in out, out
    assert "no sync named 'contacts_sf'" not in out, out
    # a name that is declared nowhere is still unknown
    code, out = validate(tmp_path, syncs=[broken, hs_sync("contacts_hs", depends_on=["contacts_sff"])])
    assert code == 2 and "depends_on[0]: no sync named 'contacts_sff'" in out, out


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """Regression: a second `destinations:` silently replaced the first (PyYAML keeps the last key)."""
    b = ProjectBuilder(tmp_path)
    text = yaml.safe_dump(CONFIG) + "destinations: {}\n"
    b.write_config(text)
    b.model("dim_contacts", [sf_sync("contacts_sf"), hs_sync("contacts_hs")])
    b.write()
    out = CliRunner().invoke(main, ["validate", "--project-dir", str(tmp_path)], catch_exceptions=False)
    assert out.exit_code == 2, out.output
    assert "not valid YAML" in out.output and "key 'destinations' is given twice (first on line" in out.output, \
        out.output
