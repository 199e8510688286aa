"""Reading dbt's artifacts: ``target/manifest.json`` and ``run_results.json``.

dbt-sync never parses the dbt project itself to plan: the manifest already
holds every model, its meta, its documented columns and the DAG. Only the
fields dbt-sync needs are kept, so a large manifest costs one JSON parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_sync.errors import ProjectError

#: manifest schema versions written by the dbt-core releases dbt-sync supports
SUPPORTED_MANIFEST_VERSIONS = {12: "dbt-core 1.8 to 1.11"}
SUPPORTED_RUN_RESULTS_VERSIONS = {5, 6}
#: run_results statuses that mean "the model was built"
BUILT_STATUSES = frozenset({"success"})
#: dbt commands whose run_results.json reports models built (materialized, so the capture post-hook ran);
#: `dbt compile` and `dbt show` report models "success" without building them
BUILDING_COMMANDS = frozenset({"run", "build", "retry"})


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str | None


@dataclass(frozen=True)
class Model:
    unique_id: str
    name: str
    package_name: str
    original_file_path: str
    patch_path: str | None
    relation_name: str | None
    database: str | None
    schema: str | None
    alias: str | None
    tags: tuple[str, ...]
    config_meta: Mapping[str, Any]
    meta: Mapping[str, Any]
    columns: Mapping[str, Column]
    depends_on: tuple[str, ...]
    fqn: tuple[str, ...]
    enabled: bool = True

    @property
    def properties_file(self) -> str:
        """The file a person edits to change this model's meta."""
        if self.patch_path:
            return self.patch_path.split("://", 1)[-1]
        return self.original_file_path


@dataclass(frozen=True)
class Manifest:
    path: Path
    dbt_version: str | None
    invocation_id: str | None
    project_name: str | None
    models: Mapping[str, Model]
    parent_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the dbt adapter that wrote the manifest (``duckdb``, ``postgres``, ``redshift``); None when not recorded
    adapter_type: str | None = None

    def ancestors(self, unique_id: str) -> set[str]:
        """Every node ``unique_id`` depends on, directly or not."""
        seen: set[str] = set()
        stack = list(self.parent_map.get(unique_id, ()))
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(self.parent_map.get(node, ()))
        return seen


@dataclass(frozen=True)
class RunResults:
    path: Path
    invocation_id: str | None
    generated_at: str | None
    statuses: Mapping[str, str]
    messages: Mapping[str, str]
    #: the dbt command that wrote the file (``args.which``: run, build, compile, ...), when recorded
    command: str | None = None

    def status(self, unique_id: str) -> str | None:
        """The model's status in the latest invocation; None when that invocation did not build it.

        A command that does not build models (``dbt compile``, ``dbt show``)
        builds none, whatever status it reports.
        """
        if self.command is not None and self.command not in BUILDING_COMMANDS:
            return None
        return self.statuses.get(unique_id)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"{path}: the {what} is not valid JSON ({exc.msg} at line {exc.lineno}). Re-run dbt to write it again."
        ) from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: the {what} is not a JSON object. Re-run dbt to write it again.")
    return data


def _schema_version(data: Mapping[str, Any]) -> int | None:
    url = str((data.get("metadata") or {}).get("dbt_schema_version") or "")
    tail = url.rstrip("/").rsplit("/", 1)[-1]  # e.g. v12.json
    digits = tail.removeprefix("v").removesuffix(".json")
    return int(digits) if digits.isdigit() else None


def load_manifest(target_dir: Path) -> Manifest:
    """Load ``manifest.json`` from dbt's target directory."""
    path = target_dir / "manifest.json"
    if not target_dir.exists():
        raise ProjectError(
            f"{target_dir}: no dbt target directory. Run dbt first (`dbt run` or `dbt build`), then dbt-sync."
        )
    if not path.exists():
        raise ProjectError(f"{path}: not found. Run dbt first (`dbt run`, `dbt build` or `dbt parse`).")
    data = _read_json(path, "dbt manifest")
    version = _schema_version(data)
    if version not in SUPPORTED_MANIFEST_VERSIONS:
        supported = "; ".join(f"v{v} ({who})" for v, who in SUPPORTED_MANIFEST_VERSIONS.items())
        found = f"v{version}" if version is not None else "an unknown version"
        raise ProjectError(
            f"{path}: manifest schema {found} is not supported. dbt-sync reads {supported}. "
            "Re-run a supported dbt-core to write the manifest again."
        )
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        raise ProjectError(f"{path}: malformed manifest: 'nodes' is missing or not an object.")
    metadata = data.get("metadata") or {}
    models: dict[str, Model] = {}
    for unique_id, node in nodes.items():
        if not isinstance(node, dict) or node.get("resource_type") != "model":
            continue
        try:
            models[unique_id] = _model(unique_id, node)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProjectError(f"{path}: malformed manifest node {unique_id}: {exc!r}") from None
    parent_map_raw = data.get("parent_map") or {}
    parent_map = {k: tuple(v) for k, v in parent_map_raw.items() if isinstance(v, list)}
    if not parent_map:
        parent_map = {uid: m.depends_on for uid, m in models.items()}
    return Manifest(
        path=path,
        dbt_version=metadata.get("dbt_version"),
        invocation_id=metadata.get("invocation_id"),
        project_name=metadata.get("project_name"),
        models=models,
        parent_map=parent_map,
        adapter_type=metadata.get("adapter_type"),
    )


def _model(unique_id: str, node: Mapping[str, Any]) -> Model:
    config = node.get("config") or {}
    columns = {
        str(name): Column(name=str(col.get("name") or name), data_type=col.get("data_type"))
        for name, col in (node.get("columns") or {}).items()
    }
    return Model(
        unique_id=unique_id,
        name=node["name"],
        package_name=node.get("package_name", ""),
        original_file_path=node.get("original_file_path", ""),
        patch_path=node.get("patch_path"),
        relation_name=node.get("relation_name"),
        database=node.get("database"),
        schema=node.get("schema"),
        alias=node.get("alias"),
        tags=tuple(node.get("tags") or ()),
        config_meta=config.get("meta") or {},
        meta=node.get("meta") or {},
        columns=columns,
        depends_on=tuple((node.get("depends_on") or {}).get("nodes") or ()),
        fqn=tuple(node.get("fqn") or ()),
        enabled=bool(config.get("enabled", True)),
    )


def load_run_results(target_dir: Path) -> RunResults | None:
    """Load ``run_results.json`` if dbt wrote one; ``None`` when absent."""
    path = target_dir / "run_results.json"
    if not path.exists():
        return None
    data = _read_json(path, "dbt run results")
    version = _schema_version(data)
    if version is not None and version not in SUPPORTED_RUN_RESULTS_VERSIONS:
        raise ProjectError(
            f"{path}: run results schema v{version} is not supported (dbt-core 1.8 to 1.11 write v5/v6)."
        )
    statuses: dict[str, str] = {}
    messages: dict[str, str] = {}
    for result in data.get("results") or []:
        if isinstance(result, dict) and "unique_id" in result:
            statuses[result["unique_id"]] = str(result.get("status"))
            if result.get("message"):
                messages[result["unique_id"]] = str(result["message"])
    metadata = data.get("metadata") or {}
    args = data.get("args")
    command = args.get("which") if isinstance(args, dict) else None
    return RunResults(
        path=path,
        invocation_id=metadata.get("invocation_id"),
        generated_at=metadata.get("generated_at"),
        statuses=statuses,
        messages=messages,
        command=str(command) if command else None,
    )
