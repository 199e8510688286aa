"""docs/sync_spec.schema.json: generated from the typed sync spec models, and every example spec fits it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from dbt_sync.project.spec_models import SyncEntry, json_schema, parse_entry, schema_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "sync_spec.schema.json"


def test_committed_schema_is_what_the_models_generate() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/sync_spec.schema.json is stale: python -c \"from dbt_sync.project.spec_models import schema_text; "
        "open('docs/sync_spec.schema.json', 'w').write(schema_text())\"")
    Draft202012Validator.check_schema(json_schema())


def _specs_in(node: Any) -> list[Any]:
    """Every value under a ``dbt_sync`` key inside ``node`` (a model's meta, or a bare ``dbt_sync:`` block)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend([value] if key == "dbt_sync" else _specs_in(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_specs_in(item))
    return found


#: what an abridged example (one whose block says ``# ...``) leaves out
SYNC = {"destination": "salesforce", "object": "Contact", "primary_key": "id", "match": "Ext__c",
        "fields": {"Ext__c": "id"}}


def _complete(spec: Any) -> Any:
    if isinstance(spec, list):
        return [_complete(entry) for entry in spec]
    return {**SYNC, **spec} if isinstance(spec, dict) else spec


def example_specs() -> list[tuple[str, Any]]:
    """Every sync spec in a yaml block of README.md and docs/*.md, and in integration_tests' model files.

    An abridged example (its block says ``# ...``) gets the required keys it leaves out.
    """
    found: list[tuple[str, Any]] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for i, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)):
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            abridged = "# ..." in block
            found += [(f"{doc.relative_to(ROOT)}[{i}]", _complete(spec) if abridged else spec)
                      for spec in _specs_in(data)]
    for path in sorted((ROOT / "integration_tests" / "models").rglob("*.yml")):
        found += [(str(path.relative_to(ROOT)), spec) for spec in _specs_in(yaml.safe_load(path.read_text()))]
    return found


EXAMPLES = example_specs()


def test_the_docs_have_example_specs() -> None:
    names = {name.split("[")[0] for name, _ in EXAMPLES}
    assert {"README.md", "docs/spec.md"} <= names, names


@pytest.mark.parametrize(("name", "spec"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_spec_fits_the_schema_and_the_models(name: str, spec: Any) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in Draft202012Validator(json_schema()).iter_errors(spec)]
    assert errors == []
    for entry in spec if isinstance(spec, list) else [spec]:
        assert parse_entry(entry)[1] == []


@pytest.mark.parametrize("mistake", [
    {**SYNC, "primry_key": "id"},
    {**SYNC, "mode": "upsret"},
    {**SYNC, "batch_size": 0},
    {**SYNC, "enabled": "yes"},
    {**SYNC, "delete_threshold": 1.5},
    {**SYNC, "fields": {"Ext__c": {"colum": "id"}}},
    {**SYNC, "fields": {"Ext__c": {"column": "id", "value": 1}}},
    {**SYNC, "fields": {"Ext__c": {"lookup": {"object": "Account", "column": "account_id"}}}},
    {**SYNC, "associations": [{"to": "companies", "column": "a", "category": "MINE"}]},
    {**SYNC, "alerts": {"failed_records": -1}},
    {**SYNC, "failure_payload": {"mask": ["email"], "hide": ["phone"]}},
    {k: v for k, v in SYNC.items() if k != "destination"},
], ids=["unknown-key", "mode", "batch_size", "enabled", "share", "field-key", "two-sources", "lookup-match", "category",
        "failed_records", "payload-key", "no-destination"])
def test_an_editor_flags_what_validate_refuses(mistake: dict[str, Any]) -> None:
    assert not Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).is_valid(mistake)
    assert parse_entry(mistake)[1] != []


def test_the_keys_table_of_docs_spec_lists_every_key_of_the_model() -> None:
    table = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8").split("## Keys")[1].split("\n## ")[0]
    assert sorted(re.findall(r"^\| `(\w+)` \|", table, re.M)) == sorted(SyncEntry.model_fields)
