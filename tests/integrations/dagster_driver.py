"""Runs in .venv-dagster (scripts/ensure-dagster), driven by tests/integrations/test_dagster.py.

``python dagster_driver.py PROJECT_DIR OUT_JSON``: imports ``PROJECT_DIR/definitions.py`` (the README's Dagster
example), then materializes, in the instance of ``DAGSTER_HOME``:

1. ``first``: the example's dbt assets and sync assets together, as written;
2. ``second``: the sync assets again, built with ``record_failures_fatal=False``, with
   ``DBT_SYNC_HUBSPOT_TOKEN`` set to ``SECOND_HUBSPOT_TOKEN`` and ``full_refresh`` for accounts_to_salesforce.

OUT_JSON gets each run's events in order (type, step, asset, metadata, failure description);
``seconds``: wall time of each part and step; ``custom``: the deps of sync assets built with a custom
translator, key prefix and selection; ``event_log``: every event log entry of both runs, serialized, for
the test to search for secrets.
"""

import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from dbt_sync.dagster import build_dbt_sync_assets


class PrefixedTranslator(DagsterDbtTranslator):
    """dbt asset keys under warehouse/, as a project that customizes them has."""

    def get_asset_key(self, dbt_resource_props: Any) -> dg.AssetKey:
        return super().get_asset_key(dbt_resource_props).with_prefix("warehouse")


def load_example(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("definitions", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metadata(entries: Any) -> dict[str, Any]:
    return {key: value.value for key, value in (entries or {}).items()}


def events(result: Any) -> list[dict[str, Any]]:
    out = []
    for event in result.all_events:
        item: dict[str, Any] = {"type": event.event_type_value, "step": event.step_key}
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            item["asset"] = materialization.asset_key.to_user_string()
            item["metadata"] = metadata(materialization.metadata)
        elif event.is_step_failure:
            failure = event.step_failure_data
            user = failure.user_failure_data
            item["description"] = user.description if user else failure.error.message
            item["metadata"] = metadata(user.metadata) if user else {}
        out.append(item)
    return out


def deps_of(assets: list[Any]) -> dict[str, list[str]]:
    return {
        key.to_user_string(): sorted(dep.to_user_string() for dep in deps)
        for a in assets
        for key, deps in a.asset_deps.items()
    }


def custom(project_dir: Path, manifest: Path) -> dict[str, Any]:
    """A custom translator, key prefix and selection: the sync assets' deps and the dbt assets' keys."""
    translator = PrefixedTranslator()

    @dbt_assets(manifest=manifest, dagster_dbt_translator=translator)
    def prefixed_models(context: dg.AssetExecutionContext):  # type: ignore[no-untyped-def]
        raise AssertionError("not materialized")

    assets = build_dbt_sync_assets(
        project_dir, dagster_dbt_translator=translator, key_prefix=["crm"],
        select=["destination:hubspot"], exclude=["contacts_to_hubspot"],
    )
    return {
        "deps": deps_of(assets),
        "groups": sorted({group for a in assets for group in a.group_names_by_key.values()}),
        "dbt_keys": sorted(key.to_user_string() for key in prefixed_models.keys),
    }


def main(project_dir: Path, out: Path) -> None:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    example = load_example(project_dir / "definitions.py")
    timings["definitions"] = time.perf_counter() - started
    customized = custom(project_dir, example.project.manifest_path)
    instance = dg.DagsterInstance.get()
    first = dg.materialize(
        [example.dbt_models, *example.sync_assets],
        resources=example.defs.resources,
        instance=instance,
        raise_on_error=False,
    )
    timings["first"] = time.perf_counter() - started - sum(timings.values())
    os.environ["DBT_SYNC_HUBSPOT_TOKEN"] = os.environ["SECOND_HUBSPOT_TOKEN"]
    second_assets = build_dbt_sync_assets(project_dir, record_failures_fatal=False)
    second = dg.materialize(
        second_assets,
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"dbt_sync__accounts_to_salesforce": {"config": {"full_refresh": True}}}},
    )
    timings["second"] = time.perf_counter() - started - sum(timings.values())
    entries = []
    for label, run in (("first", first), ("second", second)):
        started_at: dict[str, float] = {}
        for entry in instance.all_logs(run.run_id):
            entries.append(entry)
            event = entry.dagster_event
            if event is not None and event.is_step_start:
                started_at[event.step_key] = entry.timestamp
            elif event is not None and (event.is_step_success or event.is_step_failure):
                timings[f"{label} {event.step_key}"] = entry.timestamp - started_at[event.step_key]
    log = [dg.serialize_value(entry) for entry in entries]
    out.write_text(
        json.dumps(
            {
                "first": {"success": first.success, "events": events(first)},
                "second": {"success": second.success, "events": events(second)},
                "asset_keys": sorted(key.to_user_string() for a in example.sync_assets for key in a.keys),
                "deps": deps_of(example.sync_assets),
                "custom": customized,
                "event_log": log,
                "seconds": timings,
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
