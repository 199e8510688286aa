"""Build small but real dbt artifacts (manifest v12, run_results v6) for tests.

The files have the shape dbt-core 1.8-1.11 writes, reduced to the fields
dbt-sync reads, so spec and plan tests run in milliseconds while the
integration tests cover real dbt output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"


def sf_sync(name: str, obj: str = "Contact", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "destination": "salesforce",
        "object": obj,
        "mode": "upsert",
        "primary_key": "id",
        "match": "External_Id__c",
        "fields": {"External_Id__c": "id", "Name": "name"},
    }
    spec.update(extra)
    return spec


def hs_sync(name: str, obj: str = "contacts", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "destination": "hubspot",
        "object": obj,
        "mode": "upsert",
        "primary_key": "id",
        "match": "key",
        "fields": {"key": "id", "name": "name"},
    }
    spec.update(extra)
    return spec


class ProjectBuilder:
    """A dbt project directory with a target/ holding hand-made artifacts."""

    def __init__(self, root: Path, project: str = "shop") -> None:
        self.root = root
        self.project = project
        self.nodes: dict[str, dict[str, Any]] = {}
        #: metadata.adapter_type of the written manifest (None: left out)
        self.adapter_type: str | None = None
        root.mkdir(parents=True, exist_ok=True)
        (root / "dbt_project.yml").write_text(f"name: {project}\nprofile: {project}\n")
        self.write_config()

    def write_config(self, text: str | None = None) -> None:
        (self.root / "dbt_sync.yml").write_text(
            text
            if text is not None
            else yaml.safe_dump(
                {
                    "version": 1,
                    "destinations": {
                        "salesforce": {"type": "salesforce", "auth": "session", "session_id": "00Dtest!secret",
                                       "instance_url": "https://example.my.salesforce.com"},
                        "hubspot": {"type": "hubspot", "access_token": "pat-na1-secret"},
                    },
                    "channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
                }
            )
        )

    def model(
        self,
        name: str,
        syncs: Any = None,
        *,
        depends_on: tuple[str, ...] = (),
        columns: tuple[str, ...] = ("id", "name", "email", "account_id", "score"),
        tags: tuple[str, ...] = (),
        top_level_meta: bool = False,
    ) -> str:
        uid = f"model.{self.project}.{name}"
        meta = {} if syncs is None else {"dbt_sync": syncs}
        self.nodes[uid] = {
            "resource_type": "model",
            "unique_id": uid,
            "name": name,
            "package_name": self.project,
            "original_file_path": f"models/{name}.sql",
            "patch_path": f"{self.project}://models/schema.yml",
            "relation_name": f'"db"."analytics"."{name}"',
            "database": "db",
            "schema": "analytics",
            "alias": name,
            "tags": list(tags),
            "fqn": [self.project, name],
            "config": {"enabled": True, "meta": {} if top_level_meta else meta},
            "meta": meta if top_level_meta else {},
            "columns": {c: {"name": c, "data_type": "varchar"} for c in columns},
            "depends_on": {"nodes": [f"model.{self.project}.{d}" for d in depends_on]},
        }
        return uid

    def write(self, statuses: dict[str, str] | None = None, schema: str = MANIFEST_SCHEMA) -> Path:
        target = self.root / "target"
        target.mkdir(exist_ok=True)
        manifest = {
            "metadata": {
                "dbt_schema_version": schema,
                "dbt_version": "1.11.0",
                "invocation_id": "inv-1",
                "project_name": self.project,
                **({"adapter_type": self.adapter_type} if self.adapter_type else {}),
            },
            "nodes": self.nodes,
            "parent_map": {uid: node["depends_on"]["nodes"] for uid, node in self.nodes.items()},
        }
        (target / "manifest.json").write_text(json.dumps(manifest))
        if statuses is not None:
            results = [
                {"unique_id": f"model.{self.project}.{name}", "status": status, "message": f"{status} msg"}
                for name, status in statuses.items()
            ]
            (target / "run_results.json").write_text(
                json.dumps(
                    {
                        "metadata": {"dbt_schema_version": RUN_RESULTS_SCHEMA, "invocation_id": "inv-1"},
                        "results": results,
                    }
                )
            )
        return target
