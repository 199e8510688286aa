"""Run the emulator in the foreground: ``python -m dbt_sync_emulators.salesforce --port 8443``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import SalesforceEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dbt_sync_emulators.salesforce",
                                     description="Local HTTPS Salesforce API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--username", help="user for SOAP / OAuth password login")
    parser.add_argument("--password")
    parser.add_argument("--token", default="", help="security token appended to the password")
    parser.add_argument("--consumer-key", help="connected app for OAuth flows")
    parser.add_argument("--consumer-secret")
    parser.add_argument("--api-usage-max", type=int, default=15000)
    args = parser.parse_args(argv)

    emu = SalesforceEmulator(host=args.host, port=args.port, api_usage_max=args.api_usage_max)
    if args.username:
        emu.add_user(args.username, args.password or "", args.token)
    if args.consumer_key:
        emu.add_connected_app(args.consumer_key, args.consumer_secret)
    emu.start()
    print(f"instance_url={emu.instance_url}")
    print(f"ca_cert_path={emu.ca_cert_path}")
    # A session id for direct session auth in a local terminal; it is not a real credential.
    print(f"session_id={emu.issue_session()}")
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
