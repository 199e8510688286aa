"""The report as one self-contained HTML file: styles, scripts and data inline, nothing fetched.

The data (see :func:`dbt_sync.report.data.collect`) goes into a
``<script type="application/json">`` element with ``<``, ``>``, ``&`` and
the two JavaScript line separators escaped as ``\\uXXXX``, so no value can
close the element or open a comment (``</script>``, ``<!--``); the page's
script builds every element from it with ``textContent``, never as HTML.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files
from typing import Any

from dbt_sync.alerts.render import human_time
from dbt_sync.secrets import redact

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def embed_json(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element (see the module docstring)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    for char, escaped in _ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def _asset(name: str) -> str:
    return files("dbt_sync.report").joinpath("assets", name).read_text(encoding="utf-8")


def render(data: dict[str, Any]) -> str:
    """The whole page for ``data``; the result is redacted once more as a whole."""
    title = "dbt-sync report"
    window = f"runs and alerts of the last {data['days']} days"
    target = f", target {data['target']}" if data.get("target") else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_asset('uPlot.min.css')}</style>",
        f"<style>{_asset('report.css')}</style>",
        "</head><body>",
        f'<header id="top"><h1>{html.escape(title)}</h1><p>Generated {html.escape(human_time(data["generated_at"]))}'
        f"{html.escape(target)}; {html.escape(window)}. Read from the dbt_sync audit and alert tables.</p></header>",
        '<main id="report"><noscript>This report needs JavaScript to draw its tables and charts.</noscript></main>',
        f'<script type="application/json" id="dbt-sync-report-data">{embed_json(data)}</script>',
        f"<script>{_asset('uPlot.iife.min.js')}</script>",
        f"<script>{_asset('report.js')}</script>",
        "</body></html>",
        "",
    ]
    return redact("\n".join(parts))
