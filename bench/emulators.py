"""Both emulators in a separate process, driven through a pipe.

The benchmark process (dbt-sync, or an alternative) and the emulators must
not share a GIL: with two cores, the emulator gets one and the client the
other, as it would with a real CRM on the other side of the network. The
emulator process's CPU time is read from /proc so the push time can be
split into the client's share and the emulator's.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

SF_USERNAME = "bench@dbt-sync.example"
SF_CONSUMER_KEY = "bench-consumer-key"
SF_CONSUMER_SECRET = "bench-consumer-secret"
CONTACT_FIELDS = ("External_Id__c", "FirstName", "LastName", "Email", "Lead_Score__c")


def _serve(conn: Any, password: str, hubspot_rate_limit: int, latency: float, nodelay: bool) -> None:
    from dbt_sync_emulators.hubspot import HubSpotEmulator
    from dbt_sync_emulators.salesforce import SalesforceEmulator

    sf = SalesforceEmulator(host="127.0.0.1", port=0, api_usage_max=10**9)
    hs = HubSpotEmulator(host="127.0.0.1", port=0, rate_limit=hubspot_rate_limit)
    sf.start()
    hs.start()
    if nodelay:
        # Neither emulator sets TCP_NODELAY: a response written in two send() calls then waits for the
        # client's delayed ACK, ~40 ms per request on loopback (docs/benchmarks.md, "Emulator issue").
        # Accepted sockets inherit the option from the listening socket on Linux.
        for server in (sf._server, hs._server):
            server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sf.add_user(SF_USERNAME, password)
    sf.add_connected_app(SF_CONSUMER_KEY, SF_CONSUMER_SECRET)
    sf.faults.latency = latency
    hs.faults.latency = latency
    conn.send({"sf_url": sf.instance_url, "sf_ca": sf.ca_cert_path, "hs_url": hs.url, "hs_token": hs.token,
               "pid": os.getpid(), "tcp_nodelay": nodelay})
    try:
        while True:
            cmd, args = conn.recv()
            if cmd == "stop":
                conn.send(None)
                return
            try:
                conn.send(_command(sf, hs, cmd, args))
            except Exception as exc:  # report, keep serving
                conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        hs.stop()
        sf.stop()


def _command(sf: Any, hs: Any, cmd: str, args: dict[str, Any]) -> Any:
    if cmd == "latency":
        sf.faults.latency = hs.faults.latency = float(args["seconds"])
        return None
    if cmd == "hubspot_rate_limit":
        hs.set_rate_limit(int(args["requests"]), float(args.get("interval", 10.0)))
        return None
    if cmd == "reset":
        latency = sf.faults.latency
        sf.reset()
        sf.faults.latency = latency
        hs_latency = hs.faults.latency
        hs.reset()
        hs.add_token(hs.token)
        hs.faults.latency = hs_latency
        return None
    if cmd == "session":
        return sf.issue_session()
    if cmd == "stats":
        st = hs.stats
        return {
            "hubspot_requests": st.requests,
            "hubspot_429": st.rate_limited,
            "hubspot_by_status": dict(st.by_status),
            "salesforce_requests": len(sf.request_log),
            "salesforce_errors": len(sf.errors),
        }
    if cmd == "clear_logs":
        sf.request_log.clear()
        with hs._log_lock:
            hs._log.clear()
            hs._status.clear()
        return None
    if cmd == "contents":  # the mapped fields of every record, for checking a run's result
        if args["system"] == "salesforce":
            return [[r.get(f) for f in CONTACT_FIELDS] for r in sf.records("Contact")]
        props = ("email", "contact_key", "firstname", "lastname", "lead_score")
        return [[r["properties"].get(p) for p in props] for r in hs.records("contacts")]
    if cmd == "count":
        if args["system"] == "salesforce":
            return len(sf.records(args["object"]))
        return len(hs.records(args["object"]))
    raise ValueError(f"unknown command {cmd}")


@dataclass
class Emulators:
    """Handle on the emulator process."""

    info: dict[str, Any]
    password: str
    _conn: Any
    _proc: Any

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    def call(self, cmd: str, **args: Any) -> Any:
        self._conn.send((cmd, args))
        out = self._conn.recv()
        if isinstance(out, dict) and "error" in out:
            raise RuntimeError(out["error"])
        return out

    def cpu_seconds(self) -> float:
        """user + system CPU seconds of the emulator process so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def env(self) -> dict[str, str]:
        """The DBT_SYNC_* variables the bench project's dbt_sync.yml reads."""
        return {
            "DBT_SYNC_SF_USERNAME": SF_USERNAME,
            "DBT_SYNC_SF_PASSWORD": self.password,
            "DBT_SYNC_SF_TOKEN": "",
            "DBT_SYNC_SF_LOGIN_URL": self.info["sf_url"],
            "DBT_SYNC_SF_CA_BUNDLE": self.info["sf_ca"],
            "DBT_SYNC_HUBSPOT_TOKEN": self.info["hs_token"],
            "DBT_SYNC_HUBSPOT_HOST": self.info["hs_url"],
        }

    def stop(self) -> None:
        with contextlib.suppress(EOFError, BrokenPipeError, OSError):
            self.call("stop")
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()

    def __enter__(self) -> Emulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(hubspot_rate_limit: int = 190, latency: float = 0.0) -> Emulators:
    nodelay = os.environ.get("BENCH_EMULATOR_NODELAY", "1") != "0"
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    password = secrets.token_urlsafe(12)
    proc = ctx.Process(target=_serve, args=(child, password, hubspot_rate_limit, latency, nodelay), daemon=True,
                       name="bench-emulators")
    proc.start()
    info = parent.recv()
    return Emulators(info, password, parent, proc)
