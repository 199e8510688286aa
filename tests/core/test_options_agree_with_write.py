"""A Salesforce sync's `options` that reading the specs accepts are options a write accepts.

`options` used to be checked at the first write (an unknown key) or never
(`all_or_none: "yes"` was read as true). Whatever the options, when
`load_specs` accepts them the destination's write path takes them as they
are: its option check, its batch size and its Bulk threshold raise nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_sync.destinations.base import Operation
from dbt_sync.destinations.salesforce import SalesforceDestination
from dbt_sync.destinations.salesforce.rules import WRITE_OPTIONS
from dbt_sync.errors import SpecError
from dbt_sync.manifest import load_manifest
from dbt_sync.project.config import load_config
from dbt_sync.spec import load_specs
from tests.core.builders import ProjectBuilder, sf_sync

SETTINGS = {"type": "salesforce", "auth": "session", "session_id": "00Dtest!secret",
            "instance_url": "https://example.my.salesforce.com"}
KEYS = st.one_of(st.sampled_from(sorted(WRITE_OPTIONS)), st.sampled_from(["all_or_nothing", "bulk_treshold", "x"]))
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 20_000), st.floats(-1, 5000, allow_nan=False),
    st.sampled_from(["", "yes", "false", "2000", "lots"]),
    st.dictionaries(st.sampled_from(["AccountId", "Owner__c"]), st.one_of(st.sampled_from(["Account", "Owner__r"]),
                                                                         st.integers(0, 3)), max_size=2),
    st.lists(st.sampled_from(["AccountId"]), max_size=2),
)


@settings(max_examples=120, deadline=None)
@given(options=st.dictionaries(KEYS, VALUES, max_size=3))
def test_options_validate_accepts_are_options_a_write_accepts(options: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        b = ProjectBuilder(Path(tmp))
        b.model("dim_contacts", sf_sync("contacts_sf", options=options))
        target = b.write()
        try:
            specs = load_specs(load_manifest(target), load_config(b.root))
        except SpecError:
            return
    destination = SalesforceDestination("salesforce", SETTINGS)
    try:
        accepted = specs[0].options
        destination._check_options(accepted)
        for operation in (Operation.UPSERT, Operation.DELETE):
            assert destination.max_batch_size(operation, accepted) >= 1
        assert isinstance(accepted.get("all_or_none", False), bool)
    finally:
        destination.close()
