"""``dbt-sync validate`` says when a setting will not be used as written.

A value the run would clamp or ignore (a batch_size above what the
destination takes, a batch_size that keeps batches from ever reaching Bulk,
options a HubSpot destination does not read) is a warning naming the sync's
yaml path, the maximum and what will be used; a value that would break or be
dropped by the run (an unknown Salesforce option, an out-of-range default in
dbt_sync.yml) is an error. No API call is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync import secrets
from dbt_sync.checks import value_warnings
from dbt_sync.cli import main
from dbt_sync.destinations.hubspot.batches import MAX_BATCH
from dbt_sync.errors import ConfigError, SpecError
from dbt_sync.project import ProjectOptions, load_project
from dbt_sync.project.config import load_config
from tests.core.builders import ProjectBuilder, hs_sync, sf_sync

LOC = "models/schema.yml: dim_contacts.config.meta.dbt_sync"


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    secrets.clear()


def validate(tmp_path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", "--project-dir", str(tmp_path)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_sync(tmp_path: Path, spec: dict[str, Any], config: dict[str, Any] | None = None) -> ProjectBuilder:
    b = ProjectBuilder(tmp_path)
    if config is not None:
        b.write_config(yaml.safe_dump(config))
    b.model("dim_contacts", spec)
    b.write()
    return b


def test_batch_size_above_the_hubspot_maximum_is_a_warning(tmp_path: Path) -> None:
    one_sync(tmp_path, hs_sync("contacts_hs", batch_size=500))
    code, out, err = validate(tmp_path)
    assert code == 0 and "OK: 1 sync(s)" in out
    assert err.strip() == (
        f"Warning: {LOC}.batch_size: sync contacts_hs: 500 is above the largest batch destination 'hubspot' takes "
        "(100: HubSpot's batch APIs take at most 100 records a request); batches of 100 will be used."
    )


def test_batch_size_above_the_salesforce_maximum_names_why(tmp_path: Path) -> None:
    one_sync(tmp_path, sf_sync("contacts_sf", batch_size=1000, options={"all_or_none": True}))
    code, _, err = validate(tmp_path)
    assert code == 0
    assert "1000 is above the largest batch destination 'salesforce' takes (200: an all_or_none batch" in err
    assert "batches of 200 will be used" in err


def test_batch_size_below_bulk_threshold_says_bulk_is_never_used(tmp_path: Path) -> None:
    one_sync(tmp_path, sf_sync("contacts_sf", batch_size=500))
    code, _, err = validate(tmp_path)
    assert code == 0
    assert (f"Warning: {LOC}.batch_size: sync contacts_sf: 500 is at or below the bulk_threshold of destination "
            "'salesforce' (2000)") in err


def test_options_a_hubspot_destination_ignores_are_a_warning(tmp_path: Path) -> None:
    one_sync(tmp_path, hs_sync("contacts_hs", options={"all_or_none": True}))
    code, _, err = validate(tmp_path)
    assert code == 0
    assert (f"Warning: {LOC}.options: sync contacts_hs: HubSpot destinations take no options; all_or_none will "
            "be ignored.") in err


def test_unknown_salesforce_option_is_an_error(tmp_path: Path) -> None:
    one_sync(tmp_path, sf_sync("contacts_sf", options={"bulk_treshold": 10}))
    code, _, err = validate(tmp_path)
    assert code == 2
    assert f"{LOC}.options: unknown option(s) bulk_treshold for a Salesforce destination" in err


def test_nothing_to_say_for_values_within_limits(tmp_path: Path) -> None:
    one_sync(tmp_path, hs_sync("contacts_hs", batch_size=100))
    assert validate(tmp_path) == (0, "OK: 1 sync(s) in 1 model(s) are valid.\n", "")


@settings(max_examples=40, deadline=None)
@given(batch_size=st.integers(min_value=1, max_value=50_000), concurrency=st.integers(min_value=1, max_value=10),
       bulk=st.one_of(st.none(), st.integers(min_value=1, max_value=20_000)), hubspot=st.booleans())
def test_every_clamped_batch_size_is_reported(tmp_path_factory: Any, batch_size: int, concurrency: int,
                                              bulk: int | None, hubspot: bool) -> None:
    """Whatever the destination and its settings: a warning exactly when the engine will not use batch_size."""
    root = tmp_path_factory.mktemp("p")
    config = {"version": 1, "destinations": {
        "salesforce": {"type": "salesforce", "auth": "session", "session_id": "00Dx!s",
                       "instance_url": "https://example.my.salesforce.com", "concurrency": concurrency,
                       "bulk_threshold": bulk if bulk is not None else False},
        "hubspot": {"type": "hubspot", "access_token": "pat-na1-x"}}}
    spec = hs_sync("s", batch_size=batch_size) if hubspot else sf_sync("s", batch_size=batch_size)
    one_sync(root, spec, config)
    project = load_project(ProjectOptions(project_dir=root))
    warned = [w for w in value_warnings(project) if "is above the largest batch" in w.message]
    if hubspot:
        used = min(batch_size, MAX_BATCH)
    else:
        used = min(batch_size, 200 * concurrency if bulk is None else max(10_000, bulk + 1))
    assert bool(warned) == (used != batch_size)
    if warned:
        assert f"batches of {used} will be used" in warned[0].message


@pytest.mark.parametrize(("defaults", "expected"), [
    ({"delete_threshold": 5}, "defaults.delete_threshold: expected a share between 0 and 1"),
    ({"retry_budget_seconds": "300"}, "defaults.retry_budget_seconds: expected a positive number of seconds"),
    ({"retry_budget_seconds": -1}, "defaults.retry_budget_seconds: expected a positive number of seconds"),
    ({"alerts": {"failed_share": 5}}, "defaults.alerts.failed_share: expected a share between 0 and 1"),
    ({"alerts": {"failed_records": "ten"}}, "defaults.alerts.failed_records: expected a whole number >= 0"),
])
def test_out_of_range_defaults_are_errors(tmp_path: Path, defaults: dict[str, Any], expected: str) -> None:
    (tmp_path / "dbt_sync.yml").write_text(yaml.safe_dump({"version": 1, "defaults": defaults}))
    with pytest.raises(ConfigError, match="invalid dbt-sync config") as info:
        load_config(tmp_path)
    assert expected in str(info.value)


def test_defaults_delete_threshold_is_used(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    config = yaml.safe_load((tmp_path / "dbt_sync.yml").read_text())
    config["defaults"] = {"delete_threshold": 0.1}
    b.write_config(yaml.safe_dump(config))
    b.model("dim_contacts", [sf_sync("a", mode="mirror"), sf_sync("b", mode="mirror", delete_threshold=0.9)])
    b.write()
    specs = {s.name: s for s in load_project(ProjectOptions(project_dir=tmp_path)).specs}
    assert specs["a"].delete_threshold == 0.1 and specs["b"].delete_threshold == 0.9


def test_spec_error_is_raised_for_bad_bulk_threshold_option(tmp_path: Path) -> None:
    one_sync(tmp_path, sf_sync("contacts_sf", batch_size=10, options={"bulk_threshold": "many"}))
    with pytest.raises(SpecError, match="bulk_threshold"):
        value_warnings(load_project(ProjectOptions(project_dir=tmp_path)))


# -- a manifest older than the files it was parsed from ------------------------------------------


def test_stale_manifest_is_said_by_validate_and_plan(tmp_path: Path) -> None:
    import os
    import time

    b = one_sync(tmp_path, hs_sync("contacts_hs"))
    assert validate(tmp_path)[2] == ""
    schema = tmp_path / "models" / "schema.yml"
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_text("models: []\n")
    later = time.time() + 5
    os.utime(schema, (later, later))
    warning = (f"Warning: {tmp_path / 'target' / 'manifest.json'} is older than models/schema.yml: the specs and "
               "DAG read from it may be out of date. Run `dbt parse` (or dbt run / dbt build) to write it again.")
    code, _, err = validate(tmp_path)
    assert code == 0 and err.strip() == warning
    plan = CliRunner().invoke(main, ["plan", "--all", "--project-dir", str(tmp_path)], catch_exceptions=False)
    assert plan.exit_code == 0 and plan.stderr.strip() == warning
    # a spec problem read from the stale manifest also says the manifest is stale
    b.model("dim_contacts", hs_sync("contacts_hs", mode="sideways"))
    b.write()
    os.utime(schema, (later + 5, later + 5))
    code, _, err = validate(tmp_path)
    assert code == 2 and "'sideways' is not a mode" in err and "manifest.json is older than models/schema.yml" in err
    # written again after the edit: nothing to say
    b.model("dim_contacts", hs_sync("contacts_hs"))
    b.write()
    os.utime(tmp_path / "target" / "manifest.json", (later + 10, later + 10))
    assert validate(tmp_path) == (0, "OK: 1 sync(s) in 1 model(s) are valid.\n", "")


def test_settings_a_mode_or_option_makes_unused_are_warnings(tmp_path: Path) -> None:
    b = ProjectBuilder(tmp_path)
    b.model("dim_contacts", [
        sf_sync("upsert_sf", delete_threshold=0.2),
        sf_sync("mirror_sf", mode="mirror", delete_threshold=0.2),
        sf_sync("atomic_sf", options={"all_or_none": True, "bulk_threshold": 50}),
    ])
    b.write()
    code, _, err = validate(tmp_path)
    assert code == 0
    lines = err.strip().splitlines()
    assert lines == [
        f"Warning: {LOC}[0].delete_threshold: sync upsert_sf: only mirror syncs delete; with mode 'upsert' "
        "delete_threshold will be ignored.",
        f"Warning: {LOC}[2].options.bulk_threshold: sync atomic_sf: all_or_none batches always go through sObject "
        "Collections (Bulk API 2.0 has no all-or-none mode); bulk_threshold will be ignored.",
    ]
