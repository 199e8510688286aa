"""``python -m dbt_sync_emulators.salesforce`` serves in the foreground and prints how to connect."""

from __future__ import annotations

import subprocess
import sys

from simple_salesforce import Salesforce

from dbt_sync_emulators.salesforce.client import RewritingSession, verified_session


def test_cli_prints_connection_details_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbt_sync_emulators.salesforce", "--port", "0", "--username", "u@x.example",
         "--password", "pw", "--token", "tk"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        info = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
        assert info["instance_url"].startswith("https://127.0.0.1:")
        direct = Salesforce(session_id=info["session_id"], instance_url=info["instance_url"],
                            session=verified_session(info["ca_cert_path"]))
        assert direct.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
        login = Salesforce(username="u@x.example", password="pw", security_token="tk",
                           session=RewritingSession(info["instance_url"], info["ca_cert_path"]))
        assert login.Contact.create({"LastName": "Cli"})["success"] is True
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
