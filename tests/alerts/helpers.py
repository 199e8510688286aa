"""Building blocks for alert tests: a project (real dbt_sync.yml), specs and run results."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from dbt_sync.engine.results import ERROR, PARTIAL, SUCCESS, OperationCounts, RunResult, SyncResult
from dbt_sync.project.config import load_config
from dbt_sync.spec import AlertSpec, FieldMapping, SyncSpec

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "alert-payload.schema.json"
SMTP_USER = "alerts"
SMTP_PASSWORD = "smtp-pa55word"
T0 = dt.datetime(2024, 5, 6, 8, 0, 0)
WEBHOOK_SECRET = "whsec-7f3a9c1e-test-signing"
SLACK_PATH = "/services/T000/B000/slack-hook-secret"


def channels(smtp: Any, http: Any, cert: str, *, webhook_url: str | None = None) -> dict[str, Any]:
    """email + slack + webhook pointing at the test servers; tiny backoff."""
    return {
        "ops_email": {
            "type": "email", "host": smtp.host, "port": smtp.port, "security": "starttls",
            "username": SMTP_USER, "password": SMTP_PASSWORD, "from": "dbt-sync@example.com",
            "to": ["data-team@example.com", "oncall@example.com"], "subject_prefix": "[dbt-sync prod]",
            "ca_bundle": cert, "attempts": 3, "backoff_seconds": 0.01, "timeout_seconds": 5,
        },
        "slack_data": {
            "type": "slack", "webhook_url": http.url + SLACK_PATH, "attempts": 3, "backoff_seconds": 0.01,
        },
        "pager": {
            "type": "webhook", "url": webhook_url or http.url + "/hooks/dbt-sync", "secret": WEBHOOK_SECRET,
            "headers": {"X-Team": "data"}, "attempts": 3, "backoff_seconds": 0.01, "timeout_seconds": 2,
        },
    }


def project(tmp_path: Path, channel_settings: dict[str, Any], defaults: dict[str, Any] | None = None,
            specs: list[SyncSpec] | None = None) -> Any:
    """A project whose config is loaded from a real dbt_sync.yml (so secrets are registered)."""
    doc: dict[str, Any] = {"version": 1, "channels": channel_settings}
    if defaults is not None:
        doc["defaults"] = {"alerts": defaults}
    (tmp_path / "dbt_sync.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    config = load_config(tmp_path, environ={})
    return SimpleNamespace(config=config, specs=specs or [])


def spec(name: str, alerts: AlertSpec | None = None) -> SyncSpec:
    return SyncSpec(
        name=name, model_unique_id=f"model.crm.{name}", model_name="dim_contacts", location="models/crm.yml",
        destination="hubspot", destination_type="hubspot", object="contacts", mode="upsert",
        primary_key=("contact_id",), match="email", fields=(FieldMapping("email", column="email"),),
        alerts=alerts or AlertSpec(),
    )


def sync_result(name: str = "contacts_to_hubspot", *, status: str = SUCCESS, attempted: int = 200,
                failed: int = 0, errors: dict[str, tuple[int, str]] | None = None, message: str | None = None,
                at: dt.datetime = T0, retries: int = 0) -> SyncResult:
    result = SyncResult(name=name, model="dim_contacts", destination="hubspot", object="contacts", mode="upsert",
                        status=status, planned=attempted, updated=attempted - failed, failed=failed,
                        started_at=at.isoformat(), finished_at=(at + dt.timedelta(minutes=2)).isoformat(),
                        message=message, retries=retries)
    if attempted:
        result.operations["upsert"] = OperationCounts(attempted=attempted, succeeded=attempted - failed,
                                                      failed=failed)
    for code, (count, sample) in (errors or {}).items():
        result.error_codes[code] = count
        result.error_samples[code] = sample
    return result


def ok(name: str = "contacts_to_hubspot", at: dt.datetime = T0, **kw: Any) -> SyncResult:
    return sync_result(name, at=at, **kw)


def bad_records(name: str = "contacts_to_hubspot", at: dt.datetime = T0, failed: int = 40) -> SyncResult:
    return sync_result(name, status=PARTIAL, failed=failed, at=at, errors={
        "INVALID_EMAIL": (failed - 5, "Property values were not valid: email 'bob@@example' is not a valid email"),
        "PROPERTY_DOESNT_EXIST": (5, "Property \"lead_grade\" does not exist"),
    })


def sync_error(name: str = "contacts_to_hubspot", at: dt.datetime = T0,
               message: str = "401 Unauthorized") -> SyncResult:
    return sync_result(name, status=ERROR, attempted=0, message=message, at=at,
                       errors={"AUTHENTICATION": (1, "Authentication credentials not found")})


def run(run_id: str, *syncs: SyncResult, at: dt.datetime = T0) -> RunResult:
    return RunResult(run_id=run_id, started_at=at.isoformat(), finished_at=(at + dt.timedelta(minutes=3)).isoformat(),
                     target="prod", syncs=list(syncs))


def record(warehouse: Any, result: RunResult) -> None:
    """Write what ``result`` says each sync did to the audit tables, as the engine would.

    Records ``k-0`` .. ``k-<attempted - 1>``: the first ``failed`` of them fail
    (spread over the result's error codes), the others are confirmed.
    """
    from dbt_sync.warehouse import FailureRow

    warehouse.ensure_tables()
    for sync in result.syncs:
        if sync.status in ("skipped", "dry_run", "error") or not sync.attempted:
            continue
        codes = [code for code, count in sorted(sync.error_codes.items()) for _ in range(count)] or ["FAILED"]
        failures = [FailureRow(f"k-{i}", "upsert", codes[i % len(codes)], sync.error_samples.get(codes[i % len(codes)],
                                                                                              "refused"))
                    for i in range(sync.failed)]
        successes = [(f"k-{i}", f"h{i}", f"id-{i}") for i in range(sync.failed, sync.attempted)]
        warehouse.commit(sync.name, result.run_id, successes, (), failures)


def evaluate(project: Any, warehouse: Any, result: RunResult, **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`record` the run, then evaluate its alerts, as ``dbt-sync run`` does."""
    from dbt_sync.alerts import evaluate_alerts

    record(warehouse, result)
    return evaluate_alerts(project, warehouse, result, **kwargs)


def validate_payload(payload: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``payload`` follows docs/alert-payload.schema.json."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(payload, schema, cls=jsonschema.Draft202012Validator)


def webhook_bodies(http: Any, path: str = "/hooks/dbt-sync") -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in http.to(path)]


def slack_bodies(http: Any) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in http.to(SLACK_PATH)]


def webhook_sql(payload: dict[str, Any]) -> str:
    """The failed-records SQL an alert carries, as a person would paste it."""
    sql = payload["failures_sql"]
    assert isinstance(sql, str) and "dbt_sync_open_failures" in sql
    return sql
