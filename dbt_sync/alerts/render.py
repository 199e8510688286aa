"""What an alert says, rendered for each channel from one payload.

An alert exists to make a person act, so it carries everything needed to
act: which sync, model, destination and object; which run and when; how many
records were attempted, succeeded and failed; the top error codes with a
sample message each; how long the sync has been failing; and the exact SQL
that lists the failed records. :func:`build_payload` assembles that once
(it is also the documented webhook body, see docs/alerts.md); the other
functions only format it. Every string passes through
:func:`dbt_sync.secrets.redact` on the way in.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from dbt_sync.alerts.health import FAILURE, RECOVERY, REMINDER, TEST, OpenFailures, attempted
from dbt_sync.engine.results import RunResult, SyncResult
from dbt_sync.secrets import redact, redact_obj

SCHEMA_VERSION = 1
TOP_ERRORS = 5
SAMPLE_CHARS = 300

_TITLES = {
    FAILURE: "FAILING",
    REMINDER: "STILL FAILING",
    RECOVERY: "RECOVERED",
    TEST: "TEST",
}
_EMOJI = {FAILURE: ":red_circle:", REMINDER: ":red_circle:", RECOVERY: ":large_green_circle:", TEST: ":bell:"}


def iso(value: dt.datetime | str | None) -> str | None:
    """UTC ISO-8601 with a ``Z``; naive datetimes are UTC (the audit clock)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def human_time(value: str | None) -> str:
    return value.replace("T", " ").replace("Z", " UTC") if value else "unknown"


def duration(seconds: float | None) -> str | None:
    """``45 min``, ``3 h 12 min``, ``2 d 4 h``: precise enough to act on."""
    if seconds is None:
        return None
    minutes = int(seconds // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def sync_report_url(report_url: str | None, sync_name: str) -> str | None:
    """The link to one sync's part of the published report (its anchor ``#sync-<name>``); None without one."""
    return f"{report_url}#sync-{sync_name}" if report_url else None


def build_payload(
    kind: str,
    sync: SyncResult,
    run: RunResult,
    *,
    reason: str,
    failures_sql: str | None,
    failing_since: dt.datetime | None,
    failing_seconds: float | None,
    dominant_error: str | None,
    created_at: dt.datetime,
    open_failures: OpenFailures | None = None,
    failing_kind: str | None = None,
    report_url: str | None = None,
) -> dict[str, Any]:
    """The alert's content, channel-independent and JSON-serializable (redacted).

    ``report_url``: where the ``dbt-sync report`` page is published
    (``dbt_sync.yml``'s ``report_url``); the payload then links to the sync's
    part of it, ``<report_url>#sync-<name>``.

    Its fields are documented in docs/alerts.md and, as a JSON Schema, in
    docs/alert-payload.schema.json.
    """
    open_failures = open_failures or OpenFailures()
    errors = [
        {"code": code, "count": count, "sample": (sync.error_samples.get(code) or "")[:SAMPLE_CHARS]}
        for code, count in sorted(sync.error_codes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ERRORS]
    ]
    payload = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "sync": sync.name,
        "model": sync.model,
        "destination": sync.destination,
        "object": sync.object,
        "mode": sync.mode,
        "run": {
            "run_id": run.run_id,
            "status": sync.status,
            "started_at": iso(sync.started_at or run.started_at),
            "finished_at": iso(sync.finished_at or run.finished_at),
            "target": run.target,
        },
        "records": {
            "attempted": attempted(sync),
            "succeeded": max(attempted(sync) - sync.failed, 0),
            "failed": sync.failed,
            "created": sync.created,
            "updated": sync.updated,
            "deleted": sync.deleted,
        },
        "reason": reason,
        "failing_kind": failing_kind,
        "open_failures": {"count": open_failures.count, "records": open_failures.records},
        "failing_records": [
            {"record_key": str(r["record_key"]), "error_code": str(r["error_code"]),
             "error_message": str(r["error_message"] or "")[:SAMPLE_CHARS]}
            for r in open_failures.sample
        ],
        "message": sync.message,
        "errors": errors,
        "other_error_codes": max(len(sync.error_codes) - len(errors), 0),
        "dominant_error": dominant_error,
        "failing_since": iso(failing_since),
        "failing_seconds": None if failing_seconds is None else int(failing_seconds),
        "failing_for": duration(failing_seconds),
        "failures_sql": failures_sql,
        "report_url": sync_report_url(report_url, sync.name),
        "created_at": iso(created_at),
    }
    redacted: dict[str, Any] = redact_obj(payload)
    return redacted


# -- subject and plain text ----------------------------------------------------


def subject(payload: dict[str, Any], prefix: str = "[dbt-sync]") -> str:
    kind = payload["kind"]
    name = payload["sync"]
    if kind == RECOVERY:
        text = f"RECOVERED: {name} after {payload.get('failing_for') or 'a failure'}"
    elif kind == REMINDER:
        text = f"STILL FAILING: {name} for {payload.get('failing_for')}"
    elif kind == TEST:
        text = f"TEST alert from dbt-sync ({name})"
    else:
        text = f"FAILING: {name} ({_headline(payload)})"
    return redact(f"{prefix} {text}".strip())


def _headline(payload: dict[str, Any]) -> str:
    rec = payload["records"]
    if payload["run"]["status"] == "error":
        top = payload["errors"][0]["code"] if payload["errors"] else payload.get("dominant_error")
        return f"sync failed: {top}" if top else "sync failed"
    return f"{rec['failed']} of {rec['attempted']} records failed"


def _what(payload: dict[str, Any]) -> str:
    kind = payload["kind"]
    name = payload["sync"]
    if kind == RECOVERY:
        return f"Sync {name} has RECOVERED after failing for {payload.get('failing_for') or 'a while'}."
    if kind == REMINDER:
        return f"Sync {name} is STILL FAILING, for {payload.get('failing_for')} now."
    if kind == TEST:
        return f"This is a test alert from dbt-sync. If you can read it, channel delivery works ({name})."
    return f"Sync {name} is FAILING."


def _facts(payload: dict[str, Any]) -> list[tuple[str, str]]:
    rec = payload["records"]
    run = payload["run"]
    facts = [
        ("Why", payload["reason"]),
        ("Sync", payload["sync"]),
        ("Model", payload["model"]),
        ("Destination", f"{payload['destination']} / {payload['object']} ({payload['mode']})"),
        ("Run", f"{run['run_id']} ({run['status']}), started {human_time(run['started_at'])}"),
        ("Records", f"{rec['attempted']} attempted, {rec['succeeded']} succeeded, {rec['failed']} failed"),
    ]
    if payload["kind"] == RECOVERY:
        facts.append(("Was failing", f"since {human_time(payload['failing_since'])} "
                                     f"({payload.get('failing_for')})"))
    elif payload.get("failing_since"):
        facts.append(("Failing since", f"{human_time(payload['failing_since'])} ({_for(payload)})"))
    open_failures = payload.get("open_failures") or {}
    if payload["kind"] != RECOVERY and open_failures.get("count"):
        facts.append(("Failing now", f"{open_failures['count']} of {open_failures['records']} records"))
    if payload.get("message"):
        facts.append(("Message", payload["message"]))
    if payload.get("report_url"):
        facts.append(("Report", payload["report_url"]))
    return facts


def _failing_records(payload: dict[str, Any]) -> list[dict[str, str]]:
    return [] if payload["kind"] == RECOVERY else list(payload.get("failing_records") or [])


def _for(payload: dict[str, Any]) -> str:
    if payload["kind"] == FAILURE:
        return "started with this run"
    return f"for {payload.get('failing_for')}"


def _footer(payload: dict[str, Any]) -> str:
    if payload["kind"] == TEST:
        return "Sent by `dbt-sync alerts test`."
    return ("dbt-sync alerts once when a sync starts failing and once when it recovers; "
            "it stays silent while nothing changes.")


def render_text(payload: dict[str, Any]) -> str:
    """The plain-text body (email text part, and the basis of every fallback)."""
    lines = [_what(payload), ""]
    width = max(len(k) for k, _ in _facts(payload))
    lines += [f"{k + ':':<{width + 1}} {v}" for k, v in _facts(payload)]
    if payload["errors"]:
        lines += ["", "Top errors:"]
        for err in payload["errors"]:
            lines.append(f"  {err['code']} x{err['count']}")
            if err["sample"]:
                lines.append(f"    e.g. {err['sample']}")
        if payload.get("other_error_codes"):
            lines.append(f"  ... and {payload['other_error_codes']} more error codes")
    if _failing_records(payload):
        lines += ["", "Failing records (newest first):"]
        lines += [f"  {r['record_key']}  {r['error_code']}: {r['error_message']}" for r in _failing_records(payload)]
    if payload["kind"] != RECOVERY and payload.get("failures_sql"):
        lines += ["", "List the failed records in your warehouse:", "", payload["failures_sql"]]
    lines += ["", _footer(payload), ""]
    return redact("\n".join(lines))


# -- HTML ------------------------------------------------------------------------

_COLORS = {FAILURE: "#b42318", REMINDER: "#b42318", RECOVERY: "#067647", TEST: "#1d4ed8"}


def render_html(payload: dict[str, Any]) -> str:
    """The HTML email part: the same content as the text, as a readable table."""
    e = html.escape
    color = _COLORS.get(payload["kind"], "#111111")
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #111;">',
        f'<h2 style="color: {color}; margin: 0 0 12px 0;">{e(_what(payload))}</h2>',
        '<table style="border-collapse: collapse;">',
    ]
    for key, value in _facts(payload):
        value_html = f'<a href="{e(str(value))}">{e(str(value))}</a>' if key == "Report" else e(str(value))
        parts.append(
            f'<tr><th style="text-align: left; padding: 2px 12px 2px 0; vertical-align: top;">{e(key)}</th>'
            f'<td style="padding: 2px 0;">{value_html}</td></tr>'
        )
    parts.append("</table>")
    if payload["errors"]:
        parts.append("<h3>Top errors</h3>")
        parts.append('<table style="border-collapse: collapse;">')
        parts.append('<tr><th style="text-align: left; padding: 2px 12px 2px 0;">Code</th>'
                     '<th style="text-align: right; padding: 2px 12px 2px 0;">Count</th>'
                     '<th style="text-align: left;">Sample message</th></tr>')
        for err in payload["errors"]:
            parts.append(
                f'<tr><td style="padding: 2px 12px 2px 0;"><code>{e(err["code"])}</code></td>'
                f'<td style="text-align: right; padding: 2px 12px 2px 0;">{err["count"]}</td>'
                f"<td>{e(err['sample'])}</td></tr>"
            )
        parts.append("</table>")
        if payload.get("other_error_codes"):
            parts.append(f"<p>... and {payload['other_error_codes']} more error codes</p>")
    if _failing_records(payload):
        parts.append("<h3>Failing records (newest first)</h3>")
        parts.append('<table style="border-collapse: collapse;">')
        for r in _failing_records(payload):
            parts.append(
                f'<tr><td style="padding: 2px 12px 2px 0;"><code>{e(r["record_key"])}</code></td>'
                f'<td style="padding: 2px 12px 2px 0;"><code>{e(r["error_code"])}</code></td>'
                f"<td>{e(r['error_message'])}</td></tr>"
            )
        parts.append("</table>")
    if payload["kind"] != RECOVERY and payload.get("failures_sql"):
        parts.append("<h3>List the failed records in your warehouse</h3>")
        parts.append(f'<pre style="background: #f4f4f5; padding: 8px;">{e(payload["failures_sql"])}</pre>')
    parts.append(f'<p style="color: #555; font-size: 12px;">{e(_footer(payload))}</p>')
    parts.append("</body></html>")
    return redact("\n".join(parts) + "\n")


# -- Slack -------------------------------------------------------------------------


def _mrkdwn(text: Any) -> str:
    """Slack's three escapes; everything else is literal."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_slack(payload: dict[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: Block Kit blocks that read well on a phone, plus ``text``.

    Short fields in a two-column grid, one block per topic, the SQL in a code
    block; Slack's limits (150 chars for headers, 3000 per text) are respected.
    """
    kind = payload["kind"]
    rec = payload["records"]
    run = payload["run"]
    title = f"{_TITLES.get(kind, kind.upper())}: {payload['sync']}"
    fields = [
        f"*Model*\n{_mrkdwn(payload['model'])}",
        f"*Destination*\n{_mrkdwn(payload['destination'])} / {_mrkdwn(payload['object'])}",
        f"*Records*\n{rec['attempted']} attempted\n{rec['succeeded']} ok, {rec['failed']} failed",
        f"*Run*\n{_mrkdwn(run['run_id'])}\n{_mrkdwn(human_time(run['started_at']))}",
    ]
    if kind == RECOVERY:
        fields.append(f"*Was failing for*\n{_mrkdwn(payload.get('failing_for'))}")
    elif payload.get("failing_since"):
        fields.append(
            f"*Failing since*\n{_mrkdwn(human_time(payload['failing_since']))}"
            f"\n({_mrkdwn(_for(payload))})"
        )
    open_failures = payload.get("open_failures") or {}
    if kind != RECOVERY and open_failures.get("count"):
        fields.append(f"*Failing now*\n{open_failures['count']} of {open_failures['records']} records")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"{_EMOJI.get(kind, '')} {title}".strip(), 150),
                                    "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(_mrkdwn(_what(payload) + " " + payload["reason"]),
                                                                      3000)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(f, 2000)} for f in fields]},
    ]
    if payload.get("report_url"):
        link = f"<{_mrkdwn(payload['report_url'])}|Open the report for {_mrkdwn(payload['sync'])}>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(link, 3000)}})
    if payload.get("message"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _clip("*Message*\n" + _mrkdwn(payload["message"]), 3000)}})
    if payload["errors"]:
        lines = ["*Top errors*"]
        for err in payload["errors"]:
            line = f"• `{_mrkdwn(err['code'])}` ×{err['count']}"
            if err["sample"]:
                line += f"\n      {_mrkdwn(err['sample'])}"
            lines.append(line)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines), 3000)}})
    if _failing_records(payload):
        lines = ["*Failing records*"]
        lines += [f"• `{_mrkdwn(r['record_key'])}` `{_mrkdwn(r['error_code'])}` {_mrkdwn(r['error_message'])}"
                  for r in _failing_records(payload)]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines), 3000)}})
    if kind != RECOVERY and payload.get("failures_sql"):
        sql = _clip(_mrkdwn(payload["failures_sql"]), 2900)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Failed records*\n```{sql}```"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(_footer(payload))}]})
    text = f"{title}: {payload['reason']}"
    slack: dict[str, Any] = redact_obj({"text": text, "blocks": blocks})
    return slack


# -- webhook -------------------------------------------------------------------------


def render_webhook(payload: dict[str, Any], alert_id: str, channel: str) -> dict[str, Any]:
    """The webhook JSON body: the payload plus which delivery this is.

    ``alert_id`` is stable across retries of the same alert, so a receiver can
    deduplicate on it.
    """
    body: dict[str, Any] = redact_obj({"alert_id": alert_id, "channel": channel, **payload})
    return body
