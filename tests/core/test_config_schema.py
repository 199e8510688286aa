"""docs/dbt_sync.schema.json: generated from the typed models, and every example config in the docs fits it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from dbt_sync.project.models import json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "dbt_sync.schema.json"
CONFIG_KEYS = {"version", "destinations", "channels", "defaults", "report_url", "opentelemetry"}


def test_committed_schema_is_what_the_models_generate() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/dbt_sync.schema.json is stale: python -c \"from dbt_sync.project.models import schema_text; "
        "open('docs/dbt_sync.schema.json', 'w').write(schema_text())\"")
    Draft202012Validator.check_schema(json_schema())


def example_configs() -> list[tuple[str, dict[str, Any]]]:
    """Every yaml block of README.md and docs/*.md that is (a part of) a dbt_sync.yml, plus integration_tests'."""
    found = [("integration_tests/dbt_sync.yml", yaml.safe_load((ROOT / "integration_tests/dbt_sync.yml").read_text()))]
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)):
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            if isinstance(data, dict) and data and set(data) <= CONFIG_KEYS:
                found.append((f"{doc.relative_to(ROOT)}[{i}]", data))
    return found


EXAMPLES = example_configs()


def test_the_docs_have_example_configs() -> None:
    assert any(name.startswith("README.md") for name, _ in EXAMPLES)
    assert any("channels" in data for _, data in EXAMPLES)


@pytest.mark.parametrize(("name", "config"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_config_fits_the_schema(name: str, config: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in Draft202012Validator(json_schema()).iter_errors(config)]
    assert errors == []


@pytest.mark.parametrize("mistake", [
    {"channels": {"mail": {"type": "email", "hots": "smtp.example.com", "host": "h", "from": "a@x", "to": "b@x"}}},
    {"channels": {"mail": {"type": "email", "host": "h", "from": "a@x", "to": "b@x", "security": "startls"}}},
    {"destinations": {"hs": {"type": "hubspot", "acess_token": "x"}}},
    {"destinations": {"hs": {"type": "hubspot", "tier": "profesional"}}},
    {"destinations": {"sf": {"type": "salesforce", "auth": "pasword"}}},
], ids=["hots", "startls", "acess_token", "profesional", "pasword"])
def test_an_editor_flags_the_typos_validate_refuses(mistake: dict[str, Any]) -> None:
    assert not Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).is_valid(mistake)


def test_a_template_is_allowed_where_a_number_goes() -> None:
    config = {"destinations": {"sf": {"type": "salesforce", "auth": "session",
                                      "bulk_threshold": "{{ env_var('SF_BULK', '2000') | as_number }}"}}}
    assert Draft202012Validator(json_schema()).is_valid(config)
