"""``python -m dbt_sync_emulators.hubspot --port 8080``: run the emulator in the foreground."""

from __future__ import annotations

import argparse
import threading

from .emulator import HubSpotEmulator
from .ratelimit import DEFAULT_DAILY_LIMIT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local HubSpot CRM API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--rate-limit", type=int, default=190, help="requests per interval")
    parser.add_argument("--rate-interval", type=float, default=10.0, help="seconds")
    parser.add_argument("--daily-limit", type=int, default=DEFAULT_DAILY_LIMIT)
    parser.add_argument("--token", default=None, help="private-app token to accept (default: random)")
    args = parser.parse_args(argv)

    emu = HubSpotEmulator(args.host, args.port, args.rate_limit, args.rate_interval, args.daily_limit)
    if args.token:
        emu.token = args.token
        emu.add_token(args.token)
    emu.start()
    print(f"HubSpot emulator listening on {emu.url}", flush=True)
    print(f"token: {emu.token}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
