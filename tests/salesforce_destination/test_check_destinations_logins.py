"""`validate --check-destinations` logs in once per destination, however many syncs it has.

Counted at the emulator's login endpoint: with a wrong password, one failed
login per sync could lock out a real Salesforce user (the org's lockout
policy counts failed logins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dbt_sync.checks import check_destinations
from dbt_sync.errors import SpecError
from dbt_sync.project import ProjectOptions, load_project
from tests.core.builders import ProjectBuilder, sf_sync
from tests.salesforce_destination.conftest import PASSWORD, TOKEN, USER


def soap_logins(emu: Any) -> int:
    return sum(1 for method, path, _ in emu.request_log if method == "POST" and path.startswith("/services/Soap/u/"))


def three_syncs_on_one_destination(root: Path, emu: Any, password: str) -> Any:
    b = ProjectBuilder(root)
    b.write_config(yaml.safe_dump({"version": 1, "destinations": {"salesforce": {
        "type": "salesforce", "auth": "password", "username": USER, "password": password, "security_token": TOKEN,
        "login_url": emu.instance_url, "ca_bundle": str(emu.ca_cert_path), "timeout": 10,
    }}}))
    b.model("dim_accounts", sf_sync("accounts_sf", "Account", fields={"External_Id__c": "id", "Name": "name"}))
    b.model("dim_contacts", sf_sync("contacts_sf", "Contact", fields={"External_Id__c": "id", "LastName": "name"}))
    b.model("dim_leads", sf_sync("leads_sf", "Lead", fields={"External_Id__c": "id", "LastName": "name"}))
    b.write()
    return load_project(ProjectOptions(project_dir=root))


@pytest.mark.parametrize("right_password", [False, True], ids=["wrong_password", "right_password"])
def test_check_destinations_logs_in_once_per_destination(tmp_path: Path, emu: Any, right_password: bool) -> None:
    project = three_syncs_on_one_destination(tmp_path, emu, PASSWORD if right_password else "not-the-password")
    emu.request_log.clear()
    try:
        check_destinations(project)
    except SpecError as exc:
        messages = [p.message for p in exc.problems]
        if not right_password:
            assert len(messages) == 1 and "login (password) failed" in messages[0], messages
    else:
        assert right_password
    assert soap_logins(emu) == 1, emu.request_log
