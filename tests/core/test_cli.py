"""The CLI on bad input: one clear message, exit code 2, no traceback unless --debug; secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbt_sync import secrets
from dbt_sync.cli import main
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def project(tmp_path: Path) -> ProjectBuilder:
    b = ProjectBuilder(tmp_path)
    b.model("dim_accounts", sf_sync("accounts_sf", "Account"))
    b.model("dim_contacts", [sf_sync("contacts_sf"), hs_sync("contacts_hs")], depends_on=("dim_accounts",))
    return b


def test_validate_and_plan_json(tmp_path: Path) -> None:
    b = project(tmp_path)
    b.write({"dim_accounts": "success", "dim_contacts": "success"})
    code, out = invoke("validate", "--project-dir", str(tmp_path))
    assert code == 0 and "OK: 3 sync(s) in 2 model(s)" in out
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--json")
    assert code == 0
    data = json.loads(out)
    # contacts_hs needs nothing in Salesforce: the dbt DAG orders syncs of one destination only
    assert [[s["name"] for s in st["syncs"]] for st in data["stages"]] == [
        ["accounts_sf", "contacts_hs"],
        ["contacts_sf"],
    ]
    assert data["stages"][1]["syncs"][0]["after"] == [{
        "sync": "accounts_sf", "kind": "model",
        "reason": "model dim_contacts depends on dim_accounts and both sync to salesforce",
    }]


def test_plan_table_shows_stages_and_skips(tmp_path: Path) -> None:
    b = project(tmp_path)
    b.write({"dim_accounts": "success", "dim_contacts": "error"})
    code, out = invoke("plan", "--project-dir", str(tmp_path))
    assert code == 0
    assert out.splitlines()[0].split() == ["stage", "sync", "model", "destination", "object", "mode"]
    assert "accounts_sf" in out
    assert "skipped contacts_sf: model dim_contacts error in the latest dbt invocation" in out
    b.write({"dim_accounts": "success", "dim_contacts": "success"})
    code, out = invoke("plan", "--project-dir", str(tmp_path))
    assert code == 0
    assert ("contacts_sf after accounts_sf (model): model dim_contacts depends on dim_accounts "
            "and both sync to salesforce") in out.splitlines()


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("no_target", "no dbt target directory. Run dbt first"),
        ("no_manifest", "manifest.json: not found. Run dbt first"),
        ("malformed", "the dbt manifest is not valid JSON"),
        ("old_version", "manifest schema v10 is not supported. dbt-sync reads v12 (dbt-core 1.8 to 1.11)"),
        ("unknown_destination", "unknown destination 'hubsopt'. Did you mean 'hubspot'?"),
        ("missing_env", "environment variable 'HS_TOKEN_FOR_TEST' is not set"),
        ("unreadable_config", "not valid YAML"),
        ("no_project", "no dbt_project.yml here"),
    ],
)
def test_bad_input_gives_one_clear_message(tmp_path: Path, setup: str, expected: str) -> None:
    b = project(tmp_path)
    if setup == "no_manifest":
        (tmp_path / "target").mkdir()
    elif setup == "malformed":
        b.write()
        (tmp_path / "target" / "manifest.json").write_text("{not json")
    elif setup == "old_version":
        b.write(schema="https://schemas.getdbt.com/dbt/manifest/v10.json")
    elif setup == "unknown_destination":
        b.model("dim_deals", hs_sync("deals_hs", "deals", destination="hubsopt"))
        b.write()
    elif setup == "missing_env":
        b.write()
        b.write_config(
            "destinations:\n  hubspot: {type: hubspot, access_token: \"{{ env_var('HS_TOKEN_FOR_TEST') }}\"}\n"
        )
    elif setup == "unreadable_config":
        b.write()
        b.write_config("destinations: [")
    elif setup == "no_project":
        b.write()
        (tmp_path / "dbt_project.yml").unlink()
    code, out = invoke("plan", "--project-dir", str(tmp_path))
    assert code == 2, out
    assert expected in out
    assert "Traceback" not in out


def test_debug_shows_traceback(tmp_path: Path) -> None:
    project(tmp_path)
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--debug")
    assert code == 2 and "Traceback" in out and "Run dbt first" in out


def test_bad_selector_and_bad_vars_are_usage_errors(tmp_path: Path) -> None:
    project(tmp_path).write()
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--all", "--select", "tga:x")
    assert code == 2 and "unknown selector method" in out
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--vars", "[1, 2]")
    assert code == 2 and "expected a YAML mapping" in out


def test_secrets_never_reach_output(tmp_path: Path) -> None:
    b = project(tmp_path)
    b.write()
    token = "pat-na1-0123456789-SECRET"
    b.write_config(
        "destinations:\n"
        "  salesforce: {type: salesforce, auth: session, session_id: \"{{ env_var('SF_SID') }}\",\n"
        "               instance_url: 'https://example.my.salesforce.com'}\n"
        f"  hubspot: {{type: hubspot, access_token: '{token}'}}\n"
    )
    # a spec that echoes the secret back in an error message
    b.model("dim_deals", hs_sync("deals_hs", "deals", destination=token))
    b.write()
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--all", env={"SF_SID": "00Dxx!AQ-session-secret"})
    assert code == 2
    assert token not in out and "****" in out
    assert "session-secret" not in out


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/services/T0SECRET1/B0SECRET2/hookSecretPart42",  # refused: urllib3 names the path alone
    "http://127.0.0.1:9/hooks/catch?token=querySecretPart42",
], ids=["path", "query"])
def test_a_secret_webhook_urls_path_never_reaches_output(tmp_path: Path, url: str) -> None:
    """Regression: a Slack webhook_url that cannot be reached printed its secret path (`... with url: /services/...`).

    requests reports the host and the path of a URL separately, so masking the
    whole URL alone let the part that is the secret through.
    """
    b = project(tmp_path)
    b.write()
    b.write_config(
        "destinations:\n"
        "  hubspot: {type: hubspot, access_token: pat-na1-secret}\n"
        "channels:\n"
        "  data_team: {type: slack, webhook_url: \"{{ env_var('SLACK_WEBHOOK_URL') }}\"}\n"
    )
    code, out = invoke("alerts", "test", "--channel", "data_team", "--no-record", "--project-dir", str(tmp_path),
                       env={"SLACK_WEBHOOK_URL": url})
    assert code == 2 and "cannot reach the server" in out, out
    assert "Secret" not in out and "secret" not in out.replace("pat-na1-secret", ""), out
    assert "****" in out


def test_help_has_examples_and_exit_codes() -> None:
    code, out = invoke("--help")
    text = " ".join(out.split())
    assert code == 0 and "Exit codes: 0 all synced, 1 some records failed (0 with run --warn-on-record-failures), " \
        "2 a sync failed or bad input," in text
    # every code `run` can end with (its own --help and the README list them too)
    assert "3 a sync held by another run, 130 / 143 cancelled by SIGINT / SIGTERM" in text, out
    code, out = invoke("run", "--help")
    text = " ".join(out.split())
    for line in ("0 every record synced [0]", "[1: a node failed]", "0 with --warn-on-record-failures",
                 "[1: a handled error; 2: could not run]", "[none]", "130/143 cancelled by SIGINT / SIGTERM [2]"):
        assert line in text, line
    code, out = invoke("plan", "--help")
    assert code == 0 and "--select" in out and "Examples:" in out


@pytest.mark.parametrize("answer", ["n\n", ""], ids=["declined", "end-of-input"])
def test_declined_reset_is_a_clean_exit(tmp_path: Path, answer: str) -> None:
    """Regression: `echo n | dbt-sync reset SYNC` printed `Internal error: Abort` and exited 2."""
    project(tmp_path).write()
    result = CliRunner().invoke(main, ["reset", "accounts_sf", "--project-dir", str(tmp_path)], input=answer)
    assert result.exit_code == 0, result.output
    assert "Nothing reset: accounts_sf is unchanged." in result.output
    assert "Internal error" not in result.output and "Abort" not in result.output


def test_json_results_are_one_line_in_json_log_format(tmp_path: Path) -> None:
    """With --log-format json, stdout and stderr merged must parse line by line: a command's JSON result (here
    ``plan --json``; status, failures and alerts test print theirs the same way) is one line, not indented."""
    b = project(tmp_path)
    b.write({"dim_accounts": "success", "dim_contacts": "success"})
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--json", "--log-format", "json")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert [s["name"] for s in json.loads(lines[0])["stages"][0]["syncs"]] == ["accounts_sf", "contacts_hs"]
    code, out = invoke("plan", "--project-dir", str(tmp_path), "--json", env={"DBT_LOG_FORMAT": "json"})
    assert code == 0 and len(out.splitlines()) == 1


def test_every_json_result_of_the_cli_follows_the_log_format() -> None:
    """The next command printing JSON on stdout must print it on one line in json log format too: every
    ``to_json`` call of dbt_sync/cli passes ``compact=`` (``output.json``)."""
    import ast

    import dbt_sync.cli

    calls = []
    for path in Path(dbt_sync.cli.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "to_json":
                calls.append((path.name, node.lineno, {k.arg for k in node.keywords}))
    assert len(calls) >= 5
    assert [c for c in calls if "compact" not in c[2]] == []
