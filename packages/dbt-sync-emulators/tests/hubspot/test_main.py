"""``python -m dbt_sync_emulators.hubspot`` runs a usable server in the foreground."""

from __future__ import annotations

import subprocess
import sys

from hubspot import HubSpot


def test_module_entry_point_prints_url_and_token() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbt_sync_emulators.hubspot", "--port", "0", "--token", "pat-na1-cli"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        token = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and token == "pat-na1-cli"
        assert HubSpot(access_token=token, host=url).crm.contacts.basic_api.get_page().results == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
