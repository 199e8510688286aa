"""dbt's secret environment variables: a ``DBT_ENV_SECRET*`` value in any rendered ``dbt_sync.yml`` setting
never reaches any output of the CLI (stdout, stderr, errors, warnings, --debug tracebacks and logs), whatever
the setting, the filter or the characters of the value (property-based).

Both a value ``dbt_sync.yml`` reads and one it does not (dbt masks every ``DBT_ENV_SECRET*`` value) are
checked. The real-run paths (audit rows, alerts, the results file) are covered end to end in
tests/integration/test_dbt_conventions.py.
"""

from __future__ import annotations

import secrets as pysecrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_sync import masking, secrets
from dbt_sync.cli import main
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync

SECRET = "{{ env_var('DBT_ENV_SECRET_VALUE') }}"

#: dbt_sync.yml with the secret rendered into one setting ({slot}: the yaml text of that setting's value)
CONFIG = """
version: 1
destinations:
  salesforce:
    type: salesforce
    auth: session
    session_id: {session_id}
    instance_url: {instance_url}
  hubspot:
    type: hubspot
    access_token: {access_token}
    host: {host}
    tier: {tier}
{extra_destination}
channels:
  ops: {{type: webhook, url: {url}}}
defaults:
  retry_budget_seconds: {budget}
report_url: {report_url}
"""
FINE = {
    "session_id": "00Dxx!session", "instance_url": "https://example.my.salesforce.com",
    "access_token": "pat-na1-token", "host": "https://api.hubapi.com", "tier": "starter",
    "extra_destination": "", "url": "http://127.0.0.1:9/hook", "budget": "60",
    "report_url": "https://reports.example.com/sync",
}
#: settings a secret can be rendered into: secret-named ones, ones checked for a value (so an error quotes
#: it), a URL, a number, a key given in error (unknown keys are named in errors)
SLOTS = ["session_id", "instance_url", "access_token", "host", "tier", "url", "budget", "report_url",
         "extra_destination"]
#: how the setting uses the variable: as is, inside other text, through filters
FORMS = [
    "\"{s}\"", "\"https://{s}.example.com/x\"", "\"{s2}\"", "\"{s3}\"", "\"{s4}\"", "\"prefix {s} suffix\"",
]


def write_project(root: Path, slot: str, form: str, unused: str | None = None) -> None:
    """The project; ``unused``: a DBT_ENV_SECRET* value dbt_sync.yml does not read, named by a sync spec
    (as a destination that does not exist, so errors quote it)."""
    b = ProjectBuilder(root)
    b.model("dim_contacts", [sf_sync("contacts_sf"), hs_sync("contacts_hs")])
    if unused is not None:
        b.model("dim_deals", hs_sync("deals_hs", "deals", destination=unused))
    b.write({"dim_contacts": "success"})
    template = form.format(
        s=SECRET,
        s2="{{ env_var('DBT_ENV_SECRET_VALUE') | upper }}",
        s3="{{ env_var('DBT_ENV_SECRET_VALUE') | as_number }}",
        s4="{{ env_var('DBT_ENV_SECRET_VALUE') | as_native }}",
    )
    values = dict(FINE)
    if slot == "extra_destination":
        values[slot] = f"  extra:\n    type: hubspot\n    acces_token: {template}\n"
    else:
        values[slot] = template
    b.write_config(CONFIG.format(**values))


def leaks(value: str, text: str) -> list[str]:
    folded = masking.fold(text)
    return sorted(form for form in masking.variants(value) if form in folded)


def run_cli(root: Path, value: str, *args: str) -> str:
    result = CliRunner().invoke(
        main, [*args, "--project-dir", str(root), "--debug"],
        env={"DBT_ENV_SECRET_VALUE": value, "DBT_ENV_SECRET_UNUSED": unused_of(value)},
    )
    return result.output + (f"\n{result.exception!r}" if result.exception and result.exit_code not in (0, 1, 2)
                            else "")


#: a value with enough entropy to never occur in output by chance, plus whatever characters hypothesis picks
VALUES = st.builds(
    lambda core, tail: f"{core}{tail}",
    st.sampled_from(["Sk7Qz9Lm", "42424242.5", "[1, 2, 3]", "zZ9_secret_Token"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6),
)


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slot=st.sampled_from(SLOTS), form=st.sampled_from(FORMS), value=VALUES, with_unused=st.booleans())
def test_a_secret_in_any_rendered_setting_never_reaches_output(
    tmp_path_factory: pytest.TempPathFactory, slot: str, form: str, value: str, with_unused: bool
) -> None:
    secrets.clear()
    root = tmp_path_factory.mktemp("secret")
    unused = unused_of(value)
    write_project(root, slot, form, unused if with_unused else None)
    outputs = {
        "validate": run_cli(root, value, "validate"),
        "plan": run_cli(root, value, "plan", "--all", "--json"),
    }
    for secret in (value, unused):
        leaked = {command: found for command, text in outputs.items() if (found := leaks(secret, text))}
        assert leaked == {}, outputs


def test_a_secret_nothing_reads_is_masked_too(tmp_path: Path) -> None:
    """dbt masks every DBT_ENV_SECRET* value, read or not: here a sync names it as its destination."""
    value = f"Sk7Qz9Lm-{pysecrets.token_hex(4)}"
    root = tmp_path / "project"
    write_project(root, "tier", "starter", unused_of(value))
    output = run_cli(root, value, "validate")
    assert "unknown destination '****'" in output, output
    assert leaks(unused_of(value), output) == [], output


def unused_of(value: str) -> str:
    return "unused-" + "".join(c for c in value if c.isalnum())[::-1] + "-zQ"


def test_a_secret_in_a_channel_url_never_reaches_output(tmp_path: Path) -> None:
    """The alert path: a webhook URL that cannot be reached is named by requests; its secret part is masked."""
    value = f"hook-{pysecrets.token_hex(6)}"
    root = tmp_path / "project"
    write_project(root, "url", "\"http://127.0.0.1:9/{s}?k={s}\"")
    output = run_cli(root, value, "alerts", "test", "--channel", "ops", "--no-record")
    assert "cannot reach the server" in output, output
    assert leaks(value, output) == [], output


def test_every_line_the_cli_prints_is_masked(tmp_path: Path) -> None:
    """As dbt scrubs every message: a line no code path masks itself (here plan's ordering lines, which
    name models) is masked on its way to stdout."""
    b = ProjectBuilder(tmp_path)
    b.model("dim_accounts_x9", sf_sync("accounts_sf", "Account"))
    b.model("dim_contacts", sf_sync("contacts_sf"), depends_on=("dim_accounts_x9",))
    b.write({"dim_accounts_x9": "success", "dim_contacts": "success"})
    done = CliRunner().invoke(main, ["plan", "--project-dir", str(tmp_path)])
    assert done.exit_code == 0 and "contacts_sf after accounts_sf" in done.output
    assert "depends on dim_accounts_x9" in done.output
    secrets.clear()
    done = CliRunner().invoke(main, ["plan", "--project-dir", str(tmp_path)],
                              env={"DBT_ENV_SECRET_MODEL": "dim_accounts_x9"})
    assert done.exit_code == 0 and "depends on ****" in done.output, done.output
    assert "dim_accounts_x9" not in done.output


def test_the_host_of_a_secret_url_is_masked_where_http_errors_name_it_alone() -> None:
    """A ``DBT_ENV_SECRET*`` URL (``host: "{{ env_var('DBT_ENV_SECRET_HS_HOST') }}"``) is secret as a whole:
    requests/urllib3 errors name its host on its own (``HTTPConnectionPool(host='...', port=...)``), which
    reached the run's output, results, lifecycle events and ``dbt_sync_runs`` unmasked."""
    import socket

    import requests

    with socket.socket() as sock:  # a port nothing listens on: the request fails before a response
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secrets.clear()
    try:
        secrets.register_env({"DBT_ENV_SECRET_HS_HOST": f"http://localhost:{port}"})
        with pytest.raises(requests.ConnectionError) as info:
            requests.get(f"http://localhost:{port}/crm/v3/objects/contacts", timeout=5)
        message = str(info.value)
        assert "localhost" in message  # what the library prints: the host, apart from the URL
        masked = secrets.redact(message)
        assert "localhost" not in masked.lower(), masked
    finally:
        secrets.clear()


def test_the_host_of_a_url_rendered_from_a_secret_variable_is_masked(tmp_path: Path) -> None:
    from dbt_sync.project.config import load_config

    (tmp_path / "dbt_sync.yml").write_text(
        "version: 1\ndestinations:\n  hubspot:\n    type: hubspot\n    access_token: pat-na1-token\n"
        "    host: \"{{ env_var('HUBSPOT_HOST_SECRET') }}\"\n",
        encoding="utf-8",
    )
    secrets.clear()
    try:
        load_config(tmp_path, environ={"HUBSPOT_HOST_SECRET": "https://crm-gateway.internal.example:8443"})
        assert secrets.redact("HTTPSConnectionPool(host='crm-gateway.internal.example', port=8443)") == (
            "HTTPSConnectionPool(host='****', port=8443)"
        )
        assert secrets.redact("could not reach crm-gateway.internal.example:8443") == "could not reach ****"
    finally:
        secrets.clear()
